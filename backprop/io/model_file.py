"""Model files: architecture + weights in one safetensors file, safe to load from anyone.

``write_model_file(module, path)`` writes (atomically, through :mod:`backprop.io.safefile`)
a file of kind ``"model"`` whose tensors are ``module.state_dict()`` and whose metadata
holds JSON strings:

* ``"config"``: the architecture, ``backprop.layers.registry.module_to_config(module)``;
* ``"fit_record"``: what ``fit`` learnt besides the weights (the loss, the classes, the
  number of input features, the metrics), as the models layer gives it
  (:meth:`backprop.training.fitted.FitRecord.to_json`); this module stores it as bounded
  JSON and does not interpret it;
* ``"user_metadata"``: the caller's ``metadata`` dict, if any (the command line
  stores its preprocessing there).

``read_model_file(path)`` rebuilds the module from the config — only registered layer
classes, by name; nothing is imported, evaluated or unpickled — and loads the
weights, whose names and shapes must match the architecture exactly. The file is
untrusted: every value is checked, and the shapes each layer states from its config
(:meth:`~backprop.nn.Module.state_shapes`) are compared with the header's before the
data is read or anything is built, so memory stays bounded by what the file holds.
Any problem raises :class:`~backprop.io.safefile.ModelFileError` naming the path.

This is the file format of one module; the front door is above it: ``Model.save`` and
``bp.load`` (:mod:`backprop.models`) put in and check the fit record and return a Model.

Format versions: version 2 (this one) stores the fit record under ``"fit_record"``;
version 1 stored ``"training"`` (``{"loss": name, "classes", "n_features_in"}``), which
:func:`read_model_file` still reads, giving it in version 2's form.

Example:
    >>> import os, tempfile
    >>> from backprop import nn
    >>> module = nn.Sequential(nn.Dense(2, 3, activation="relu"), nn.Dense(3, 1))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> write_model_file(module, path, metadata={"dataset": "housing"})
    >>> stored = read_model_file(path)
    >>> stored.metadata, stored.fit_record, stored.module.state_dict()["0.W"].tolist() == module.state_dict()["0.W"].tolist()
    ({'dataset': 'housing'}, None, True)
"""


from __future__ import annotations

import json
import math
import os
from typing import NamedTuple

import numpy as np

from backprop.backend import get_default_dtype
from backprop.engine.tensor import Tensor, eval_mode, no_grad
from backprop.io.safefile import ModelFileError, read_json_metadata, read_safetensors, write_safetensors
from backprop.layers.registry import declared_state_shapes, module_from_config, module_to_config
from backprop.naming import short_repr

__all__ = ["MODEL_KIND", "ModelFile", "write_model_file", "read_model_file", "one_example_outputs"]

MODEL_KIND = "model"

# Limits on what a model file may ask for. Each is far above any real model; together they
# bound the work and memory of loading before the file's claims are checked against what
# it holds.
MAX_HEADER_BYTES = 16 * 2**20
"""Largest safetensors header (JSON: tensor entries and metadata) a model file may have."""
MAX_HEADER_TOKENS = 500_000
"""Most JSON values in the header, counted before parsing (parsed, each takes at most ~60 bytes)."""
MAX_TENSORS = 10_000
"""Most tensors (parameters and buffers) in a model file."""
MAX_LAYERS = 1_000
"""Most layers (``{"class_name": ...}`` entries, nested ones included) in an architecture."""
MAX_NAME_CHARS = 128
"""Longest string (layer, activation, initialiser, dtype names; config keys) in an architecture."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of lists and objects in any JSON metadata entry."""
MAX_RECORD_CHARS = 1_000
"""Longest string (a class label, a loss or metric name) in the fit record."""

_METADATA_KEYS = {
    1: frozenset({"format", "format_version", "kind", "config", "training", "user_metadata"}),
    2: frozenset({"format", "format_version", "kind", "config", "fit_record", "user_metadata"}),
}
_V1_TRAINING_KEYS = frozenset({"loss", "classes", "n_features_in"})
_STATE_DTYPE_TAGS = frozenset({"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"})
_MAX_JSON_INT = 2**62


class ModelFile(NamedTuple):
    """What a model file holds: the built ``module`` (weights loaded), its ``fit_record`` as JSON
    data (None when the file has none; checked only as bounded JSON here) and the caller's
    ``metadata`` dict (``{}`` when none was saved)."""

    module: object
    fit_record: dict | None
    metadata: dict


def write_model_file(module, path, *, fit_record: dict | None = None, metadata: dict | None = None) -> None:
    """Write ``module``'s architecture and weights, a fit record and metadata to ``path`` (atomically).

    Args:
        module: a Module whose classes are registered (``@register_module``) and state their
            parameter shapes (:meth:`~backprop.nn.Module.state_shapes`), so that the file
            can be checked when it is loaded.
        path: destination file (``.safetensors`` is customary).
        fit_record: JSON-ready data of the fit record (``FitRecord.to_json()``), or None.
        metadata: optional JSON-serialisable dict stored alongside, returned by
            :func:`read_model_file`.

    Raises:
        ValueError: for an unregistered module class, a layer whose ``state_shapes`` is
            missing or disagrees with its state, NaN or infinite weights (loading would
            refuse such a file), or metadata that is not JSON-serialisable.
        TypeError: ``metadata`` or ``fit_record`` is not a dict.
    """
    config = module_to_config(module)
    state = module.state_dict()
    try:
        declared = declared_state_shapes(config)
    except NotImplementedError as error:
        raise ValueError(f"cannot save: {error}") from None
    actual = {key: value.shape for key, value in state.items()}
    if declared != actual:
        raise ValueError(
            f"cannot save: the layers' state_shapes(config) give {short_repr(declared, 200)} but the model holds "
            f"{short_repr(actual, 200)}, so the file could not be loaded"
        )
    for key, value in state.items():
        if not _all_finite(value):
            raise ValueError(f"cannot save: {key!r} holds NaN or infinite values, which a model file may not")
    entries = {"config": json.dumps(config)}
    for key, value in (("fit_record", fit_record), ("user_metadata", metadata)):
        if value is None:
            continue
        if not isinstance(value, dict):
            raise TypeError(f"{'metadata' if key == 'user_metadata' else key} must be a dict, got {type(value).__name__}")
        try:
            entries[key] = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{'metadata' if key == 'user_metadata' else key} must be JSON-serialisable: {error}") from None
    write_safetensors(path, state, entries, kind=MODEL_KIND)


def read_model_file(path) -> ModelFile:
    """Rebuild the module saved at ``path``; returns a :class:`ModelFile` (module, fit record JSON, metadata).

    The file is untrusted. Before its tensor data is read, and so before anything is built,
    every value of its metadata is checked (types, ranges, the limits ``MAX_*`` of this
    module) and each layer states the shapes of its parameters from its config
    (:meth:`~backprop.nn.Module.state_shapes`); they must equal the stored tensors' shapes
    in the header. Only then are the data read and the layers built, so what is allocated
    is bounded by what the file really holds. The module must then hold finite weights and
    run on one example of zeros with as many features as its first layer takes (a softmax
    axis out of range fails here). Whether the fit record agrees with the module is for
    the record's reader to check (:meth:`~backprop.training.fitted.FitRecord.check_against`).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is not a valid backprop model file: not safetensors, a
            pickle, truncated, a checkpoint, an unknown layer type, weights that do not
            match the architecture, malformed metadata... The message names the path.
    """
    path = os.fspath(path)
    checked = {}

    def check_header(entries, file_metadata):
        checked.update(_checked_metadata(entries, file_metadata, path))

    tensors, _ = read_safetensors(path, kind=MODEL_KIND, max_header_bytes=MAX_HEADER_BYTES,
                                  max_header_tokens=MAX_HEADER_TOKENS, check_header=check_header)
    for key, value in tensors.items():
        if not _all_finite(value):
            raise ModelFileError(path, f"tensor {key!r} holds NaN or infinite values")
    module = _built_model(checked["config"], tensors, path)
    _check_runs(module, path)
    return ModelFile(module, checked["fit_record"], checked["user_metadata"])


def _checked_metadata(entries: dict, file_metadata: dict, path: str) -> dict:
    """Everything the header says, validated, before the data is read: config, fit record, user metadata."""
    if len(entries) > MAX_TENSORS:
        raise ModelFileError(path, f"the file holds {len(entries)} tensors, more than the limit {MAX_TENSORS}")
    for name, (tag, _) in entries.items():
        if len(name) > 2 * MAX_NAME_CHARS:
            raise ModelFileError(path, f"tensor name {short_repr(name)} is longer than {2 * MAX_NAME_CHARS} characters")
        if tag not in _STATE_DTYPE_TAGS:
            raise ModelFileError(path, f"tensor {name!r} has dtype {tag}; model weights are real numbers")
    version = int(file_metadata["format_version"])  # read_safetensors checked it: 1 ≤ version ≤ ours
    unknown = sorted(set(file_metadata) - _METADATA_KEYS[version])
    if unknown:
        raise ModelFileError(path, f"unknown metadata keys {[short_repr(key) for key in unknown[:5]]}")

    config = read_json_metadata(file_metadata, "config", path=path)
    layers = _check_json(config, "config", path, max_chars=MAX_NAME_CHARS)
    if layers > MAX_LAYERS:
        raise ModelFileError(path, f"the architecture has {layers} layers, more than the limit {MAX_LAYERS}")
    declared = _declared_shapes(config, path)
    stored = {name: shape for name, (_, shape) in entries.items()}
    if set(declared) != set(stored):
        missing, unexpected = sorted(set(declared) - set(stored)), sorted(set(stored) - set(declared))
        raise ModelFileError(
            path, f"weights do not match the architecture, which declares {_values(declared)} values where the "
            f"file holds {_values(stored)}: missing {missing[:10]}, unexpected {unexpected[:10]}"
        )
    wrong = [f"{key}: {stored[key]} (architecture: {declared[key]})" for key in declared if stored[key] != declared[key]]
    if wrong:
        raise ModelFileError(path, f"weight shapes do not match the architecture: {'; '.join(wrong[:5])}")

    record = None
    record_key = "fit_record" if version >= 2 else "training"
    if record_key in file_metadata:
        record = read_json_metadata(file_metadata, record_key, path=path)
        _check_json(record, record_key, path, max_chars=MAX_RECORD_CHARS)
        if version == 1:
            record = _record_from_version_1(record, path)
    user = {}
    if "user_metadata" in file_metadata:
        user = read_json_metadata(file_metadata, "user_metadata", path=path)
        _check_json(user, "user_metadata", path, max_chars=None)
        if not isinstance(user, dict):
            raise ModelFileError(path, "metadata 'user_metadata' must be a JSON object")
    return {"config": config, "fit_record": record, "user_metadata": user}


def _check_json(value, what: str, path: str, *, max_chars: int | None) -> int:
    """Refuse JSON that is not plain, bounded data; return the number of ``class_name`` objects.

    Checks the nesting depth (:data:`MAX_JSON_DEPTH`), the length of every string and key
    (``max_chars``; None: no limit), that numbers are finite and that integers are below 2⁶².
    The walk goes level by level, holding one reference per container of the next level
    (8 bytes each), and spells out where a bad value sits only when it finds one.
    """
    layers, level = 0, [value]
    for depth in range(MAX_JSON_DEPTH + 1):
        below = []
        for node in level:
            if isinstance(node, dict):
                layers += "class_name" in node
                if max_chars is not None and any(len(key) > max_chars for key in node):
                    _refuse_at(value, what, path, max_chars)
                children = node.values()
            elif isinstance(node, list):
                children = node
            else:
                children = (node,)
            for item in children:
                if isinstance(item, (dict, list)):
                    below.append(item)
                elif not (item is None or isinstance(item, bool)) and _bad_scalar(item, max_chars):
                    _refuse_at(value, what, path, max_chars)
        if not below:
            return layers
        level = below
    raise ModelFileError(path, f"{what}: nested deeper than {MAX_JSON_DEPTH} levels")


def _bad_scalar(item, max_chars: int | None) -> bool:
    if isinstance(item, str):
        return max_chars is not None and len(item) > max_chars
    if isinstance(item, float):
        return not math.isfinite(item)
    return isinstance(item, int) and not -_MAX_JSON_INT < item < _MAX_JSON_INT


def _refuse_at(value, what: str, path: str, max_chars: int | None):
    """Find the first bad key or value :func:`_check_json` saw (depth first) and refuse the file naming it."""
    stack = [(value, (what,))]
    while stack:
        node, where = stack.pop()
        if isinstance(node, (dict, list)):
            if isinstance(node, dict):
                for key in node:
                    if max_chars is not None and len(key) > max_chars:
                        raise ModelFileError(path, f"{_location(where)}: key {short_repr(key)} is longer than "
                                                   f"{max_chars} characters")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((item, (where, key)) for key, item in items)
        elif not (node is None or isinstance(node, bool)) and _bad_scalar(node, max_chars):
            if isinstance(node, str):
                problem = f"string {short_repr(node)} is longer than {max_chars} characters"
            elif isinstance(node, float):
                problem = f"{node} is not a finite number"
            else:
                problem = f"integer {short_repr(node)} is out of range"
            raise ModelFileError(path, f"{_location(where)}: {problem}")
    raise ModelFileError(path, f"{what}: invalid value")  # not reached: _check_json saw one


def _location(where: tuple) -> str:
    """``config.layers[0].config.in_features`` from the walk's (parent, key) chain."""
    parts = []
    while len(where) == 2:
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{short_repr(key, 40) if len(key) > 40 else key}")
    return where[0] + "".join(reversed(parts))


def _values(shapes: dict) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def _declared_shapes(config, path: str) -> dict:
    """The state shapes every layer of ``config`` states, refusing an invalid config."""
    try:
        return declared_state_shapes(config)
    except NotImplementedError as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None


def _record_from_version_1(training, path: str) -> dict:
    """A version-1 ``training`` entry (``{"loss": name, "classes", "n_features_in"}``) in version 2's form."""
    if not isinstance(training, dict):
        raise ModelFileError(path, "metadata 'training' must be a JSON object")
    unknown = sorted(set(training) - _V1_TRAINING_KEYS)
    if unknown:
        raise ModelFileError(path, f"metadata 'training' has unknown keys {[short_repr(k) for k in unknown[:5]]}; "
                                   f"known: {sorted(_V1_TRAINING_KEYS)}")
    loss = training.get("loss")
    if loss is not None and not isinstance(loss, str):
        raise ModelFileError(path, f"metadata 'training.loss' must be a loss name or null, got {short_repr(loss)}")
    return {"loss": None if loss is None else {"name": loss, "config": {}},
            "classes": training.get("classes"), "n_features_in": training.get("n_features_in"), "metrics": []}


def _built_model(config, tensors: dict, path: str):
    """The model the (checked) config describes, with the file's weights."""
    try:
        model = module_from_config(config)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None
    try:
        model.load_state_dict(tensors)
    except (TypeError, ValueError) as error:  # a layer whose state_shapes disagrees with what it builds
        raise ModelFileError(path, f"the weights do not fit the built model: {error}") from None
    return model


def _check_runs(module, path: str) -> None:
    """Refuse a module that cannot run on one example of zeros with its first layer's number of inputs.

    A module whose layers take images or sequences (N, C, ...) cannot be run on one row of
    features; its sizes were checked against the tensors already (state_shapes). Neither can
    a module whose first layer fixes no size; and where a layer such as Flatten lets the
    module take (N, d1, d2, ...) inputs instead, rows need not work.
    """
    expected = module.expected_in_features()
    if expected is None or any(layer.takes_spatial_input for layer in module.modules()):
        return
    try:
        one_example_outputs(module, expected, path)
    except ModelFileError:
        if all(layer.output_features(2) is not None for layer in module.modules() if not layer.children()):
            raise


def one_example_outputs(module, n_features: int, path) -> np.ndarray:
    """The outputs for one example of zeros with ``n_features`` features, in evaluation mode
    (no dropout mask drawn, no statistics moved, no flag changed), without a graph.

    Raises:
        ModelFileError: naming ``path``, when the module cannot run on it.
    """
    dtype = next((p.data.dtype for p in module.parameters() if p.data.dtype.kind == "f"), get_default_dtype())
    try:
        with eval_mode(), no_grad(), np.errstate(all="ignore"):
            outputs = module(Tensor(np.zeros((1, n_features), dtype=dtype)))
        return np.asarray(getattr(outputs, "data", outputs))
    except (TypeError, ValueError, IndexError, ArithmeticError, NotImplementedError) as error:
        raise ModelFileError(path, f"the model cannot run on one example of {n_features} features: {error}") from None


def _all_finite(array: np.ndarray) -> bool:
    """No NaN or ±inf: a float64 sum propagates both; only if it overflows is every value checked."""
    if array.dtype.kind != "f" or array.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(array.sum(dtype=np.float64))):
            return True
    return bool(np.isfinite(array).all())
