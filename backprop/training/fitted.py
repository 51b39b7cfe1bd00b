"""The fit record: what ``fit`` learnt about the data besides the weights, in one declared object.

A :class:`FitRecord` says which loss the model was fit with (its registry name and its
config, so a loss with parameters comes back the same), the classes its outputs stand
for, the number of input features and the metrics ``fit`` reported. A
:class:`~backprop.models.Model` holds one as ``model.fit_record`` (None until it is fit
or loaded); its model file stores it as JSON (:meth:`FitRecord.to_json`) and
:meth:`FitRecord.from_json` reads it back, checking every value, since a model file is
untrusted.

Who writes it: the :class:`~backprop.training.Trainer` builds the record when a ``fit``
call starts training and keeps it as ``trainer.fit_record``; it also sets it on the model
when the model keeps one (see :func:`keeps_fit_record`: a Model does, a plain layer
does not). :mod:`backprop.training.inference` reads it for ``predict_proba`` and
``predict_classes`` (the loss decides softmax or σ, the classes name the columns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from backprop.io.model_file import MAX_RECORD_CHARS as MAX_LABEL_CHARS, one_example_outputs
from backprop.io.safefile import ModelFileError
from backprop.losses import LOSSES, Loss, get_loss
from backprop.metrics import get_metric
from backprop.naming import short_repr

__all__ = ["FitRecord", "fit_record_of", "keeps_fit_record", "encode_classes", "decode_classes",
           "loss_identity", "MAX_FEATURES", "MAX_CLASSES"]

MAX_FEATURES = 2**20
"""Largest ``n_features_in`` a file may state beyond its number of weights (a first layer needs a weight per input)."""
MAX_CLASSES = 100_000
"""Most class labels."""

_JSON_KEYS = frozenset({"loss", "classes", "n_features_in", "metrics"})


@dataclass(frozen=True, eq=False)
class FitRecord:
    """What ``fit`` learnt about the data besides the weights.

    Attributes:
        loss: the loss's canonical registry name (``"cross_entropy"``, ``"mse"``, ...), or
            None for a custom loss callable, which a file cannot name.
        loss_config: the loss's ``get_config()`` (empty for a loss without parameters).
        classes: the labels the outputs stand for (``classes[k]`` is output k for
            ``cross_entropy``; ``classes[1]`` is σ(z) > 0.5 for one binary output), as a
            read-only ndarray; None for regression.
        n_features_in: the number of features of the rows ``fit`` saw (None for inputs
            that are not rows of features, such as images).
        metrics: the metrics given to ``fit`` (names or callables); names are saved.
        loss_function: the callable ``fit`` used; not saved (a loaded record resolves
            ``loss`` by name), not compared.
    """

    loss: str | None = None
    loss_config: dict = field(default_factory=dict)
    classes: np.ndarray | None = None
    n_features_in: int | None = None
    metrics: tuple = ()
    loss_function: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.classes is not None:
            classes = np.array(self.classes)  # a copy: the record is not changed through the caller's array
            classes.setflags(write=False)
            object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "loss_config", dict(self.loss_config))

    @classmethod
    def of_fit(cls, loss_function, *, classes=None, n_features_in=None, metrics=()) -> "FitRecord":
        """The record of a ``fit`` with this loss callable (its registry name looked up), classes, ..."""
        name, config = loss_identity(loss_function)
        return cls(loss=name, loss_config=config, classes=classes,
                   n_features_in=None if n_features_in is None else int(n_features_in),
                   metrics=tuple(metrics), loss_function=loss_function)

    # --------------------------------------------------------------- reading
    @property
    def kind(self) -> str | None:
        """What the outputs mean: ``"multiclass"``, ``"binary_logits"``, ``"binary_probabilities"``,
        ``"regression"``, or None for a custom loss."""
        loss = self.loss_object
        return None if loss is None else loss.kind

    @property
    def loss_object(self) -> Loss | None:
        """The :class:`~backprop.losses.Loss` fit used, rebuilt from its name and config when loaded;
        None for a custom loss callable (which a file cannot store)."""
        if isinstance(self.loss_function, Loss):
            return self.loss_function
        if self.loss is None:
            return None
        return get_loss({"name": self.loss, **self.loss_config})

    @property
    def loss_spec(self):
        """The loss as ``fit(loss=...)`` and ``get_loss`` take it: the callable fit used, else
        the name (with its config as ``{"name": ..., **config}`` when it has one), else None."""
        if self.loss_function is not None:
            return self.loss_function
        if self.loss is None:
            return None
        return {"name": self.loss, **self.loss_config} if self.loss_config else self.loss

    def __eq__(self, other) -> bool:
        if not isinstance(other, FitRecord):
            return NotImplemented
        same_classes = (self.classes is None) == (other.classes is None) and (
            self.classes is None or (self.classes.dtype.kind == other.classes.dtype.kind
                                     and np.array_equal(self.classes, other.classes)))
        return (self.loss, self.loss_config, self.n_features_in, self.metrics) == \
            (other.loss, other.loss_config, other.n_features_in, other.metrics) and same_classes

    __hash__ = None

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """The record as JSON-ready data: ``{"loss": {"name", "config"} or null, "classes",
        "n_features_in", "metrics": [names]}``; callables (a custom loss or metric) are left out."""
        return {
            "loss": None if self.loss is None else {"name": self.loss, "config": dict(self.loss_config)},
            "classes": encode_classes(self.classes),
            "n_features_in": self.n_features_in,
            "metrics": [metric for metric in self.metrics if isinstance(metric, str)],
        }

    @classmethod
    def from_json(cls, data, path) -> "FitRecord":
        """The record :meth:`to_json` wrote, every value checked (the data come from a file).

        Raises:
            ModelFileError: naming ``path`` and the bad entry (unknown keys, a loss not in the
                registry or a config it refuses, malformed classes, a bad ``n_features_in``,
                unknown metric names).
        """
        if not isinstance(data, dict):
            raise ModelFileError(path, "the fit record must be a JSON object")
        unknown = sorted(set(data) - _JSON_KEYS)
        if unknown:
            raise ModelFileError(path, f"the fit record has unknown keys {[short_repr(k) for k in unknown[:5]]}; "
                                       f"known: {sorted(_JSON_KEYS)}")
        name, config = _checked_loss(data.get("loss"), path)
        n_features = data.get("n_features_in")
        if n_features is not None and (isinstance(n_features, bool) or not isinstance(n_features, int)
                                       or n_features < 1):
            raise ModelFileError(path, f"fit record 'n_features_in' must be a positive int, got {short_repr(n_features)}")
        metrics = data.get("metrics", [])
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise ModelFileError(path, "fit record 'metrics' must be a list of metric names")
        for metric in metrics:
            try:
                get_metric(metric)
            except (ValueError, TypeError):
                raise ModelFileError(path, f"fit record 'metrics': unknown metric {short_repr(metric)}") from None
        return cls(loss=name, loss_config=config, classes=decode_classes(data.get("classes"), path),
                   n_features_in=n_features, metrics=tuple(metrics))

    # ------------------------------------------------------ against a model
    def check_against(self, module, path) -> None:
        """Refuse a record that contradicts the model it came with (a ModelFileError naming ``path``).

        ``n_features_in`` must equal the first layer's inputs (and not exceed what the file can
        hold), the model must run on one example of that many features, and ``classes`` must
        match its outputs: one per output for cross_entropy, two for one output, none for a
        regression loss.
        """
        expected = module.expected_in_features()
        n_features = self.n_features_in
        stored = sum(int(parameter.data.size) for parameter in module.parameters())
        if n_features is not None and n_features > max(MAX_FEATURES, stored):
            # The example of zeros below must not cost more than the file holds.
            raise ModelFileError(path, f"fit record 'n_features_in' is {n_features}, more than the model's "
                                       f"{stored} weights or the limit {MAX_FEATURES}")
        if n_features is not None and expected is not None and n_features != expected:
            raise ModelFileError(path, f"fit record 'n_features_in' is {n_features} but the first layer "
                                       f"takes {expected} inputs")
        spatial = any(layer.takes_spatial_input for layer in module.modules())
        n_outputs = module.output_features(n_features if n_features is not None else expected)
        if n_features is not None and not spatial:
            # Rows of n_features_in features are what fit saw: the model must take them.
            outputs = one_example_outputs(module, n_features, path)
            n_outputs = int(np.prod(outputs.shape[1:])) if outputs.ndim > 1 else 1
        if n_outputs is None:
            n_outputs = module.output_features(None)

        classes, kind = self.classes, self.kind
        if classes is None:
            return
        if kind == "regression":
            raise ModelFileError(path, f"the file lists classes but its loss {self.loss!r} is a regression loss")
        if n_outputs is None:
            return
        if kind == "multiclass" or (kind is None and n_outputs > 1):
            needed = n_outputs
        elif n_outputs == 1:
            needed = 2
        else:
            raise ModelFileError(path, f"the file lists classes but the model has {n_outputs} independent binary "
                                       f"outputs ({self.loss}), which have none")
        if len(classes) != needed:
            raise ModelFileError(path, f"the file lists {len(classes)} classes but the model has {n_outputs} "
                                       f"output{'s' * (n_outputs != 1)}, which need {needed}")


# ------------------------------------------------------- where a record lives
def keeps_fit_record(model) -> bool:
    """Whether ``model`` keeps a fit record (a :class:`~backprop.models.Model` does; a layer does not).

    The protocol is the instance attribute ``fit_record`` (None or a :class:`FitRecord`), which
    Model's constructor sets; the training loop, below the models, knows no Model class.
    """
    return "fit_record" in model.__dict__


def fit_record_of(model) -> FitRecord | None:
    """The record ``model`` keeps, or None (never fit, or a module that keeps none)."""
    return model.__dict__.get("fit_record")  # a dict lookup: no __getattr__ miss on the one-row predict path


# ----------------------------------------------------------------- the loss
def loss_identity(loss_function) -> tuple:
    """``(canonical registry name or None, config dict)`` of a loss callable.

    The name is the registry's for one of its own losses (None for a custom callable); the
    config is the loss's ``get_config()`` when it has one.
    """
    if not isinstance(loss_function, Loss):
        return None, {}
    return loss_function.name, dict(loss_function.get_config())


def _checked_loss(entry, path) -> tuple:
    """``(name, config)`` of a stored ``{"name": ..., "config": {...}}`` (or null), checked against the registry."""
    if entry is None:
        return None, {}
    if not isinstance(entry, dict) or set(entry) - {"name", "config"} or "name" not in entry:
        raise ModelFileError(path, "fit record 'loss' must be {'name': ..., 'config': {...}} or null")
    name, config = entry["name"], entry.get("config", {})
    registered = LOSSES.names()  # canonical names only: a file stores no alias
    if not isinstance(name, str) or name not in registered:
        raise ModelFileError(path, f"fit record 'loss' must name one of {registered}, got {short_repr(name)}")
    if not isinstance(config, dict):
        raise ModelFileError(path, f"fit record 'loss.config' must be a JSON object, got {short_repr(config)}")
    if config:
        try:
            LOSSES.get(name).from_config(config)  # the loss checks its own values; nothing named by the file is called
        except (TypeError, ValueError) as error:
            raise ModelFileError(path, f"fit record 'loss.config' is refused by {name}: {error}") from None
    return name, config


# -------------------------------------------------------------- the classes
def encode_classes(classes) -> dict | None:
    """``classes`` as JSON: ``{"dtype": ..., "values": [...]}`` (None stays None)."""
    if classes is None:
        return None
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    dtype = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "U": "str"}.get(kind)
    if dtype is None:
        raise ValueError(f"classes of dtype {classes.dtype} cannot be saved")
    return {"dtype": dtype, "values": classes.tolist()}


def decode_classes(encoded, path) -> np.ndarray | None:
    """Inverse of :func:`encode_classes`, checking the JSON came from it.

    At most :data:`MAX_CLASSES` distinct labels, strings of at most :data:`MAX_LABEL_CHARS`
    characters, finite floats; anything else raises :class:`ModelFileError`.
    """
    if encoded is None:
        return None
    types: dict[str, Any] = {"bool": (bool,), "int64": (int,), "float64": (int, float), "str": (str,)}
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
