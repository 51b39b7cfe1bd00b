"""Model files: architecture + weights in one safetensors file, safe to load from anyone.

``save(model, path)`` writes (atomically, through :mod:`backprop.io.safefile`) a
file of kind ``"model"`` whose tensors are ``model.state_dict()`` and whose
metadata holds JSON strings:

* ``"config"``: the architecture, ``backprop.nn.registry.module_to_config(model)``;
* ``"training"``: what ``fit`` learnt besides weights: the loss name,
  ``classes_`` (with their dtype) and ``n_features_in_``;
* ``"user_metadata"``: the caller's ``metadata`` dict, if any (the command line
  stores its preprocessing there).

``load(path)`` rebuilds the model from the config — only registered layer
classes, by name; nothing is imported, evaluated or unpickled — and loads the
weights, whose names and shapes must match the architecture exactly. Any
problem raises :class:`~backprop.io.safefile.ModelFileError` naming the path.

Example:
    >>> import os, tempfile
    >>> from backprop import nn
    >>> model = nn.Sequential(nn.Dense(2, 3, activation="relu"), nn.Dense(3, 1))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save(model, path, metadata={"dataset": "housing"})
    >>> same, metadata = load_with_metadata(path)
    >>> metadata, same.state_dict()["0.W"].tolist() == model.state_dict()["0.W"].tolist()
    ({'dataset': 'housing'}, True)
"""

from __future__ import annotations

import json
import os

import numpy as np

from backprop.io.safefile import ModelFileError, read_json_metadata, read_safetensors, write_safetensors
from backprop.nn.conv import conv_declared_size

__all__ = ["MODEL_KIND", "save", "load", "load_with_metadata", 
           "encode_classes", "decode_classes"]

MODEL_KIND = "model"


def encode_classes(classes) -> dict | None:
    """``classes_`` as JSON: ``{"dtype": ..., "values": [...]}`` (None stays None)."""
    if classes is None:
        return None
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    dtype = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "U": "str"}.get(kind)
    if dtype is None:
        raise ValueError(f"classes_ of dtype {classes.dtype} cannot be saved")
    return {"dtype": dtype, "values": classes.tolist()}


def decode_classes(encoded, path) -> np.ndarray | None:
    """Inverse of :func:`encode_classes`, checking the JSON came from it."""
    if encoded is None:
        return None
    types = {"bool": (bool,), "int64": (int,), "float64": (int, float), "str": (str,)}
    if not isinstance(encoded, dict) or set(encoded) != {"dtype", "values"} or encoded["dtype"] not in types \
            or not isinstance(encoded["values"], list):
        raise ModelFileError(path, "classes must be {'dtype': ..., 'values': [...]}")
    allowed = types[encoded["dtype"]]
    values = encoded["values"]
    if not all(isinstance(v, allowed) and (encoded["dtype"] == "bool" or not isinstance(v, bool)) for v in values):
        raise ModelFileError(path, f"classes values do not all have dtype {encoded['dtype']}")
    try:
        return np.array(values, dtype=str if encoded["dtype"] == "str" else encoded["dtype"])
    except OverflowError:
        raise ModelFileError(path, f"classes values do not fit dtype {encoded['dtype']}") from None


# Weights per layer type, from its config: checked against the file's tensors *before*
# any layer is built, so that a tiny crafted file cannot make us allocate gigabytes.
_DECLARED_SIZE = {
    "Dense": lambda c: c["in_features"] * c["out_features"] + (c["out_features"] if c.get("use_bias", True) else 0),
    "BatchNorm": lambda c: 4 * c["num_features"],
    "Conv2d": conv_declared_size,
    "Conv1d": conv_declared_size,
}


def _declared_size(config) -> int:
    """The number of weights a (nested) architecture config declares; 0 for what it cannot tell."""
    total, stack = 0, [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            size = _DECLARED_SIZE.get(node.get("class_name"))
            inner = node.get("config")
            if size is not None and isinstance(inner, dict):
                try:
                    value = size(inner)
                except (KeyError, TypeError):
                    value = 0  # the layer's own validation names the problem
                if isinstance(value, int):
                    total += value
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def save(model, path, metadata: dict | None = None) -> None:
    """Write ``model``'s architecture, weights and fitted attributes to ``path`` (atomically).

    Args:
        model: a Module whose classes are registered (``@register_module``).
        path: destination file (``.safetensors`` is customary).
        metadata: optional JSON-serialisable dict stored alongside, returned by
            :func:`load_with_metadata`.

    Raises:
        ValueError: for an unregistered module class or metadata that is not JSON-serialisable.
    """
    from backprop.nn.registry import module_to_config

    config = module_to_config(model)
    training = {
        "loss": getattr(model, "loss_name_", None),
        "classes": encode_classes(getattr(model, "classes_", None)),
        "n_features_in": getattr(model, "n_features_in_", None),
    }
    entries = {"config": json.dumps(config), "training": json.dumps(training)}
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        try:
            entries["user_metadata"] = json.dumps(metadata, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"metadata must be JSON-serialisable: {error}") from None
    write_safetensors(path, model.state_dict(), entries, kind=MODEL_KIND)


def load_with_metadata(path):
    """Rebuild the model saved at ``path``; returns ``(model, metadata)`` (``{}`` if none was saved).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is not a valid backprop model file: not safetensors, a
            pickle, truncated, a checkpoint, an unknown layer type, weights that do not
            match the architecture... The message names the path.
    """
    from backprop.nn.registry import module_from_config

    path = os.fspath(path)
    tensors, file_metadata = read_safetensors(path, kind=MODEL_KIND)
    config = read_json_metadata(file_metadata, "config", path=path)
    declared, stored = _declared_size(config), sum(int(t.size) for t in tensors.values())
    # Far more declared than stored: refuse now. A small gap gets the precise message below.
    if declared > 2 * stored + 2**20:
        raise ModelFileError(
            path, f"the architecture declares {declared} weights but the file holds {stored} values"
        )
    try:
        model = module_from_config(config)
    except (ValueError, TypeError, KeyError, RecursionError, OverflowError, MemoryError) as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None

    expected = {key: value.shape for key, value in model.state_dict().items()}
    found = {key: value.shape for key, value in tensors.items()}
    if set(expected) != set(found):
        missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        raise ModelFileError(
            path, f"weights do not match the architecture: missing {missing}, unexpected {unexpected}"
        )
    wrong = [f"{key}: {found[key]} (architecture: {expected[key]})" for key in expected if found[key] != expected[key]]
    if wrong:
        raise ModelFileError(path, f"weight shapes do not match the architecture: {'; '.join(wrong)}")
    for key, value in tensors.items():
        if value.dtype.kind not in "fiub":
            raise ModelFileError(path, f"tensor {key!r} has non-numeric dtype {value.dtype}")
    model.load_state_dict(tensors)

    if "training" in file_metadata:
        training = read_json_metadata(file_metadata, "training", path=path)
        if not isinstance(training, dict):
            raise ModelFileError(path, "metadata 'training' must be a JSON object")
        loss = training.get("loss")
        if loss is not None and not isinstance(loss, str):
            raise ModelFileError(path, f"metadata 'training.loss' must be a string, got {loss!r}")
        if loss is not None:
            model.loss_name_ = loss
        classes = decode_classes(training.get("classes"), path)
        if classes is not None:
            model.classes_ = classes
        n_features = training.get("n_features_in")
        if n_features is not None:
            if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
                raise ModelFileError(path, f"metadata 'training.n_features_in' is invalid: {n_features!r}")
            model.n_features_in_ = n_features
    user = {}
    if "user_metadata" in file_metadata:
        user = read_json_metadata(file_metadata, "user_metadata", path=path)
        if not isinstance(user, dict):
            raise ModelFileError(path, "metadata 'user_metadata' must be a JSON object")
    return model, user


def load(path):
    """Rebuild the model saved at ``path`` by :func:`save` (see :func:`load_with_metadata`)."""
    model, _ = load_with_metadata(path)
    return model


# The names ``Module.save`` and the package ``backprop.io`` use.
