"""Model files: architecture + weights in one safetensors file, safe to load from anyone.

``save(model, path)`` writes (atomically, through :mod:`backprop.io.safefile`) a
file of kind ``"model"`` whose tensors are ``model.state_dict()`` and whose
metadata holds JSON strings:

* ``"config"``: the architecture, ``backprop.layers.registry.module_to_config(model)``;
* ``"training"``: what ``fit`` learnt besides weights: the loss name,
  ``classes_`` (with their dtype) and ``n_features_in_``;
* ``"user_metadata"``: the caller's ``metadata`` dict, if any (the command line
  stores its preprocessing there).

``load(path)`` rebuilds the model from the config — only registered layer
classes, by name; nothing is imported, evaluated or unpickled — and loads the
weights, whose names and shapes must match the architecture exactly. The file is
untrusted: every value is checked, and the shapes each layer states from its config
(:meth:`~backprop.nn.Module.state_shapes`) are compared with the header's before the
data is read or anything is built, so memory stays bounded by what the file holds.
Any problem raises :class:`~backprop.io.safefile.ModelFileError` naming the path.

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
import math
import os

import numpy as np

from backprop.io.safefile import ModelFileError, read_json_metadata, read_safetensors, write_safetensors
from backprop.naming import short_repr

__all__ = ["MODEL_KIND", "save", "load", "load_with_metadata",
           "encode_classes", "decode_classes"]

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
MAX_FEATURES = 2**20
"""Largest ``n_features_in`` beyond the number of stored weights (a first layer needs a weight per input)."""
MAX_CLASSES = 100_000
"""Most class labels."""
MAX_LABEL_CHARS = 1_000
"""Longest string class label."""

_METADATA_KEYS = frozenset({"format", "format_version", "kind", "config", "training", "user_metadata"})
_TRAINING_KEYS = frozenset({"loss", "classes", "n_features_in"})
_STATE_DTYPE_TAGS = frozenset({"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"})
_MAX_JSON_INT = 2**62


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
    """Inverse of :func:`encode_classes`, checking the JSON came from it.

    At most :data:`MAX_CLASSES` distinct labels, strings of at most :data:`MAX_LABEL_CHARS`
    characters, finite floats; anything else raises :class:`ModelFileError`.
    """
    if encoded is None:
        return None
    types = {"bool": (bool,), "int64": (int,), "float64": (int, float), "str": (str,)}
    if not isinstance(encoded, dict) or set(encoded) != {"dtype", "values"} or not isinstance(encoded["dtype"], str) \
            or encoded["dtype"] not in types or not isinstance(encoded["values"], list):
        raise ModelFileError(path, f"classes must be {{'dtype': one of {sorted(types)}, 'values': [...]}}")
    dtype, values = encoded["dtype"], encoded["values"]
    if len(values) > MAX_CLASSES:
        raise ModelFileError(path, f"classes lists {len(values)} labels, more than the limit {MAX_CLASSES}")
    allowed = types[dtype]
    if not all(isinstance(v, allowed) and (dtype == "bool" or not isinstance(v, bool)) for v in values):
        raise ModelFileError(path, f"classes values do not all have dtype {dtype}")
    if dtype == "str" and any(len(v) > MAX_LABEL_CHARS for v in values):
        raise ModelFileError(path, f"a class label is longer than {MAX_LABEL_CHARS} characters")
    if dtype == "float64" and not all(math.isfinite(v) for v in values if isinstance(v, float)):
        raise ModelFileError(path, "classes values must be finite numbers")
    if len(set(values)) != len(values):
        raise ModelFileError(path, "classes values must be distinct")
    try:
        return np.array(values, dtype=str if dtype == "str" else dtype)
    except OverflowError:
        raise ModelFileError(path, f"classes values do not fit dtype {dtype}") from None


def save(model, path, metadata: dict | None = None) -> None:
    """Write ``model``'s architecture, weights and fitted attributes to ``path`` (atomically).

    Args:
        model: a Module whose classes are registered (``@register_module``) and state their
            parameter shapes (:meth:`~backprop.nn.Module.state_shapes`), so that the file
            can be checked when it is loaded.
        path: destination file (``.safetensors`` is customary).
        metadata: optional JSON-serialisable dict stored alongside, returned by
            :func:`load_with_metadata`.

    Raises:
        ValueError: for an unregistered module class, a layer whose ``state_shapes`` is
            missing or disagrees with its state, NaN or infinite weights (:func:`load`
            would refuse such a file), or metadata that is not JSON-serialisable.
    """
    from backprop.layers.registry import declared_state_shapes, module_to_config

    config = module_to_config(model)
    state = model.state_dict()
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
    training = {
        "loss": _loss_description(model),
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
    write_safetensors(path, state, entries, kind=MODEL_KIND)


def _loss_description(model):
    """The fitted loss as the file stores it: its name, or ``{"name": ..., **config}`` for a loss with parameters."""
    loss = getattr(model, "_fit_loss", None)
    describe = getattr(loss, "describe", None)
    return describe() if callable(describe) else getattr(model, "loss_name_", None)


def load_with_metadata(path):
    """Rebuild the model saved at ``path``; returns ``(model, metadata)`` (``{}`` if none was saved).

    The file is untrusted. Before its tensor data is read, and so before anything is built,
    every value of its metadata is checked (types, ranges, the limits ``MAX_*`` of this
    module) and each layer states the shapes of its parameters from its config
    (:meth:`~backprop.nn.Module.state_shapes`); they must equal the stored tensors' shapes
    in the header. Only then are the data read and the layers built, so what is allocated
    is bounded by what the file really holds. The model must then agree with the rest of
    the file: finite weights, ``n_features_in`` equal to the first layer's inputs, one
    example of zeros must pass through it (a softmax axis out of range fails here), a loss
    from the registry, and ``classes`` that match its outputs (one per output for
    cross_entropy, two for one output).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is not a valid backprop model file: not safetensors, a
            pickle, truncated, a checkpoint, an unknown layer type, weights that do not
            match the architecture, contradictory metadata... The message names the path.
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
    model = _built_model(checked["config"], tensors, path)
    training = checked["training"]
    _check_consistency(model, training, path)
    if training["loss"] is not None:
        model._fit_loss = training["loss"]
        model.loss_name_ = training["loss"].name
    if training["classes"] is not None:
        model.classes_ = training["classes"]
    if training["n_features_in"] is not None:
        model.n_features_in_ = training["n_features_in"]
    return model, checked["user_metadata"]


def _checked_metadata(entries: dict, file_metadata: dict, path: str) -> dict:
    """Everything the header says, validated, before the data is read: config, training, user metadata."""
    if len(entries) > MAX_TENSORS:
        raise ModelFileError(path, f"the file holds {len(entries)} tensors, more than the limit {MAX_TENSORS}")
    for name, (tag, _) in entries.items():
        if len(name) > 2 * MAX_NAME_CHARS:
            raise ModelFileError(path, f"tensor name {short_repr(name)} is longer than {2 * MAX_NAME_CHARS} characters")
        if tag not in _STATE_DTYPE_TAGS:
            raise ModelFileError(path, f"tensor {name!r} has dtype {tag}; model weights are real numbers")
    unknown = sorted(set(file_metadata) - _METADATA_KEYS)
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

    training = None
    if "training" in file_metadata:
        training = read_json_metadata(file_metadata, "training", path=path)
        _check_json(training, "training", path, max_chars=MAX_LABEL_CHARS)
    user = {}
    if "user_metadata" in file_metadata:
        user = read_json_metadata(file_metadata, "user_metadata", path=path)
        _check_json(user, "user_metadata", path, max_chars=None)
        if not isinstance(user, dict):
            raise ModelFileError(path, "metadata 'user_metadata' must be a JSON object")
    return {"config": config, "training": _checked_training(training, path), "user_metadata": user}


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
    from backprop.layers.registry import declared_state_shapes

    try:
        return declared_state_shapes(config)
    except NotImplementedError as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None


def _checked_training(training, path: str) -> dict:
    """``{"loss", "classes", "n_features_in"}`` from the ``training`` entry, each checked (None if absent)."""
    if training is None:
        return {"loss": None, "classes": None, "n_features_in": None}
    from backprop.losses import LOSSES, get_loss

    if not isinstance(training, dict):
        raise ModelFileError(path, "metadata 'training' must be a JSON object")
    unknown = sorted(set(training) - _TRAINING_KEYS)
    if unknown:
        raise ModelFileError(path, f"metadata 'training' has unknown keys {[short_repr(k) for k in unknown[:5]]}; "
                                   f"known: {sorted(_TRAINING_KEYS)}")
    loss = training.get("loss")
    if loss is not None:
        name = loss.get("name") if isinstance(loss, dict) else loss
        if not isinstance(name, str) or name not in LOSSES.names():  # the registry name itself, not an alias
            raise ModelFileError(path, f"metadata 'training.loss' must be one of {LOSSES.names()} (or a dict of "
                                       f"its 'name' and config) or null, got {short_repr(loss)}")
        try:
            loss = get_loss(loss)  # a registered class, built from its checked config; nothing else is called
        except (TypeError, ValueError) as error:
            raise ModelFileError(path, f"metadata 'training.loss': {error}") from None
    n_features = training.get("n_features_in")
    if n_features is not None and (isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1):
        raise ModelFileError(path, f"metadata 'training.n_features_in' must be a positive int, got {short_repr(n_features)}")
    return {"loss": loss, "classes": decode_classes(training.get("classes"), path), "n_features_in": n_features}


def _built_model(config, tensors: dict, path: str):
    """The model the (checked) config describes, with the file's weights."""
    from backprop.layers.registry import module_from_config

    try:
        model = module_from_config(config)
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as error:
        raise ModelFileError(path, f"invalid architecture config: {error}") from None
    try:
        model.load_state_dict(tensors)
    except (TypeError, ValueError) as error:  # a layer whose state_shapes disagrees with what it builds
        raise ModelFileError(path, f"the weights do not fit the built model: {error}") from None
    return model


def _check_consistency(model, training: dict, path: str) -> None:
    """Refuse a file whose parts contradict each other (see :func:`load_with_metadata`)."""
    expected = model.expected_in_features()
    n_features = training["n_features_in"]
    stored = sum(int(parameter.data.size) for parameter in model.parameters())
    if n_features is not None and n_features > max(MAX_FEATURES, stored):
        # The example of zeros below must not cost more than the file holds.
        raise ModelFileError(path, f"metadata 'training.n_features_in' is {n_features}, more than the model's "
                                   f"{stored} weights or the limit {MAX_FEATURES}")
    if n_features is not None and expected is not None and n_features != expected:
        raise ModelFileError(path, f"metadata 'training.n_features_in' is {n_features} but the first layer "
                                   f"takes {expected} inputs")
    n_outputs = model.output_features(None)
    # A model whose layers take images or sequences (N, C, ...) cannot be run on one row of
    # features; its sizes were checked against the tensors already (state_shapes).
    spatial = any(module.takes_spatial_input for module in model.modules())
    if not spatial and (n_features is not None or expected is not None):
        try:
            outputs = _one_example(model, expected if n_features is None else n_features, path)
            n_outputs = int(np.prod(outputs.shape[1:])) if outputs.ndim > 1 else 1
        except ModelFileError:
            # Rows of n_features_in features are what fit saw. Without it, rows of the first
            # layer's inputs are what the model takes unless a layer such as Flatten lets it
            # take (N, d1, d2, ...) inputs instead: only then may this example fail.
            if n_features is not None or all(
                    layer.output_features(2) is not None for layer in model.modules() if not layer.children()):
                raise

    loss, classes = training["loss"], training["classes"]
    if classes is None:
        return
    kind = loss.kind if loss is not None else None
    if kind == "regression":
        raise ModelFileError(path, f"the file lists classes but its loss {loss.name!r} is a regression loss")
    if n_outputs is None:
        return
    if kind == "multiclass" or (kind is None and n_outputs > 1):
        needed = n_outputs
    elif n_outputs == 1:
        needed = 2
    else:
        raise ModelFileError(path, f"the file lists classes but the model has {n_outputs} independent binary "
                                   f"outputs ({loss}), which have none")
    if len(classes) != needed:
        raise ModelFileError(path, f"the file lists {len(classes)} classes but the model has {n_outputs} "
                                   f"output{'s' * (n_outputs != 1)}, which need {needed}")


def _one_example(model, n_features: int, path: str) -> np.ndarray:
    """The outputs for one example of zeros, in evaluation mode (no dropout mask drawn, no statistics moved).

    A freshly loaded model is no one else's yet, so flipping its ``training`` flags is safe.
    """
    from backprop.backend import get_default_dtype
    from backprop.engine.tensor import Tensor

    dtype = next((p.data.dtype for p in model.parameters() if p.data.dtype.kind == "f"), get_default_dtype())
    modes = [(module, module.training) for module in model.modules()]
    try:
        for module, _ in modes:
            module.training = False
        with np.errstate(all="ignore"):
            outputs = model(Tensor(np.zeros((1, n_features), dtype=dtype)))
        return np.asarray(getattr(outputs, "data", outputs))
    except (TypeError, ValueError, IndexError, ArithmeticError, NotImplementedError) as error:
        raise ModelFileError(path, f"the model cannot run on one example of {n_features} features: {error}") from None
    finally:
        for module, mode in modes:
            module.training = mode


def _all_finite(array: np.ndarray) -> bool:
    """No NaN or ±inf: a float64 sum propagates both; only if it overflows is every value checked."""
    if array.dtype.kind != "f" or array.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(array.sum(dtype=np.float64))):
            return True
    return bool(np.isfinite(array).all())


def load(path):
    """Rebuild the model saved at ``path`` by :func:`save` (see :func:`load_with_metadata`)."""
    model, _ = load_with_metadata(path)
    return model


# The names ``Module.save`` and the package ``backprop.io`` use.
