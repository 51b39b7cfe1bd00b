"""Metrics: numbers that describe predictions, reported by ``fit`` and ``evaluate``.

Every metric is a :class:`Metric`: a function ``metric(y_true, y_pred) -> float`` on
NumPy arrays (lists, pandas objects and Tensors are converted), so it can be called
on the network's raw outputs, that carries its facets (name, aliases,
``higher_is_better``, what it compares) and is registered in :data:`METRICS`:

* Classification metrics accept class labels, class scores or probabilities
  for ``y_pred``:

  - a 2-D ``y_pred`` with K ≥ 2 columns (logits or probabilities) is turned
    into labels by ``argmax`` over the columns — the same class either way,
    because softmax is increasing;
  - a 1-D or (N, 1) float ``y_pred`` is a *probability* of the positive class
    and is thresholded at ``threshold=0.5`` (predict 1 when p > 0.5), unless
    every value is a whole number (labels stored as floats, e.g. 0.0/1.0). For raw
    logits z pass ``threshold=0`` (σ(z) > 0.5 exactly when z > 0).
    ``fit``/``evaluate`` do this for you: with
    ``binary_cross_entropy_with_logits`` they hand the metrics σ(z);
  - integer, boolean or string ``y_pred`` are taken as labels as they are.

  ``y_true`` may be labels or one-hot rows (argmax is taken).
* Regression metrics (``mse``, ``mae``, ``r2``) compare values; an (N, 1)
  prediction against an (N,) target is allowed.

Values agree with :mod:`sklearn.metrics` (``accuracy_score``, macro
``precision_score``/``recall_score``/``f1_score`` with ``zero_division=0``,
``mean_squared_error``, ``mean_absolute_error``, ``r2_score``).

Example:
    >>> import numpy as np
    >>> from backprop.metrics import accuracy, get_metric
    >>> logits = np.array([[2.0, 0.1], [0.3, 1.5], [1.0, 0.0]])
    >>> accuracy([0, 1, 1], logits)
    0.6666666666666666
    >>> get_metric("f1")([0, 1, 1], logits)
    0.6666666666666666
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

import numpy as np

from backprop.registry import Registry

__all__ = [
    "Metric", "METRICS", "accuracy", "binary_accuracy", "precision", "recall", "f1", "mse", "mae", "r2",
    "get_metric", "metric_name",
]

METRICS = Registry("metric")
"""Every metric, by ``name`` and ``aliases`` (case-insensitive); the entries are :class:`Metric` objects."""


class Metric:
    """A metric ``fn(y_true, y_pred, ...) -> float`` with its facets; calling it calls ``fn``.

    Args:
        fn: the computation (its name, docstring and signature become the metric's).
        name: the registered name (default: ``fn.__name__``).
        aliases: other accepted spellings.
        higher_is_better: whether larger values are better (callbacks' ``mode="auto"``).
        kind: what it compares: ``"labels"`` (class labels, from labels, scores or
            probabilities), ``"binary"`` (0/1 targets against ``y_pred > threshold``, element
            by element) or ``"values"`` (regression).
        sklearn_equivalent: ``(function name in sklearn.metrics, keyword arguments)`` that
            gives the same value, or None.

    Example:
        >>> @Metric.define(higher_is_better=False, kind="values")
        ... def max_error(y_true, y_pred):
        ...     return float(np.max(np.abs(np.asarray(y_pred) - np.asarray(y_true))))
        >>> max_error([1.0, 2.0], [1.5, 2.0]), max_error.higher_is_better
        (0.5, False)
    """

    kinds = ("labels", "binary", "values")

    def __init__(self, fn: Callable, *, name: Optional[str] = None, aliases: tuple = (), higher_is_better: bool,
                 kind: str, sklearn_equivalent: Optional[tuple] = None):
        if not callable(fn):
            raise TypeError(f"Metric: fn must be callable, got {type(fn).__name__}")
        if kind not in self.kinds:
            raise ValueError(f"Metric: kind must be one of {list(self.kinds)}, got {kind!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.aliases = tuple(aliases)
        self.higher_is_better = bool(higher_is_better)
        self.kind = kind
        self.sklearn_equivalent = sklearn_equivalent

    @classmethod
    def define(cls, **facets):
        """Decorator: ``@Metric.define(higher_is_better=True, kind="labels")`` over a function."""
        return lambda fn: cls(fn, **facets)

    def __call__(self, y_true, y_pred, **kwargs) -> float:
        return self.fn(y_true, y_pred, **kwargs)

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


# ------------------------------------------------------------------ helpers
def _as_array(values, name: str) -> np.ndarray:
    if hasattr(values, "data") and type(values).__name__ == "Tensor":
        values = values.data
    elif hasattr(values, "to_numpy"):  # pandas Series / DataFrame
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim == 0:
        raise ValueError(f"{name} must be an array of examples, got a scalar")
    return array


def _labels(values, name: str, threshold: float) -> np.ndarray:
    """Class labels from labels, one-hot rows, class scores or probabilities (see the module docstring)."""
    array = _as_array(values, name)
    if array.ndim == 2 and array.shape[1] >= 2:
        return np.argmax(array, axis=1)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D labels or 2-D scores, got shape {array.shape}")
    if array.dtype.kind == "f":
        if np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            return array.astype(np.int64)  # labels stored as floats, e.g. 0.0/1.0 targets
        return (array > threshold).astype(np.int64)
    return array


def _label_pair(y_true, y_pred, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    true = _labels(y_true, "y_true", threshold)
    pred = _labels(y_pred, "y_pred", threshold)
    if true.shape[0] != pred.shape[0]:
        raise ValueError(f"y_true has {true.shape[0]} examples but y_pred has {pred.shape[0]}")
    if true.shape[0] == 0:
        raise ValueError("metrics need at least one example")
    if true.dtype.kind != pred.dtype.kind and {true.dtype.kind, pred.dtype.kind} & {"U", "S", "O"}:
        raise ValueError(f"y_true ({true.dtype}) and y_pred ({pred.dtype}) hold different kinds of labels")
    return true, pred


def _value_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    true = _as_array(y_true, "y_true").astype(np.float64)
    pred = _as_array(y_pred, "y_pred").astype(np.float64)
    if true.shape != pred.shape:
        if pred.ndim == 2 and pred.shape[1] == 1 and true.shape == pred.shape[:1]:
            pred = pred[:, 0]
        elif true.ndim == 2 and true.shape[1] == 1 and pred.shape == true.shape[:1]:
            true = true[:, 0]
        else:
            raise ValueError(f"y_true shape {true.shape} and y_pred shape {pred.shape} differ")
    if true.shape[0] == 0:
        raise ValueError("metrics need at least one example")
    return true, pred


def _per_class_counts(true: np.ndarray, pred: np.ndarray):
    """True positives, predicted positives and actual positives for each label in either array."""
    labels = np.union1d(true, pred)
    true_index = np.searchsorted(labels, true)
    pred_index = np.searchsorted(labels, pred)
    k = labels.shape[0]
    actual = np.bincount(true_index, minlength=k)
    predicted = np.bincount(pred_index, minlength=k)
    hits = np.bincount(true_index[true_index == pred_index], minlength=k)
    return hits, predicted, actual


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # zero_division=0, as scikit-learn reports (after its warning)
    return np.divide(numerator, denominator, out=np.zeros(numerator.shape, dtype=np.float64),
                     where=denominator > 0)


# --------------------------------------------------------- classification
@METRICS.register
@Metric.define(aliases=("acc",), higher_is_better=True, kind="labels", sklearn_equivalent=("accuracy_score", {}))
def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of examples whose predicted class equals the true class.

    ``y_pred`` may be labels, class scores (argmax) or probabilities (> threshold).
    """
    true, pred = _label_pair(y_true, y_pred, threshold)
    return float(np.mean(true == pred))


@METRICS.register
@Metric.define(higher_is_better=True, kind="binary")
def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of 0/1 targets matched by ``y_pred > threshold``, over every element.

    Works for one output (N,) / (N, 1) and for several independent binary
    outputs (N, K) (multi-label). Use ``threshold=0`` on logits.
    """
    true = _as_array(y_true, "y_true").astype(np.float64)
    pred = _as_array(y_pred, "y_pred")
    if pred.ndim == 2 and pred.shape[1] == 1 and true.ndim == 1:
        pred = pred[:, 0]
    if true.shape != pred.shape:
        raise ValueError(f"y_true shape {true.shape} and y_pred shape {pred.shape} differ")
    if true.size == 0:
        raise ValueError("metrics need at least one example")
    predicted = pred.astype(bool) if pred.dtype.kind in "biu" else pred > threshold
    return float(np.mean((true > 0.5) == predicted))


@METRICS.register
@Metric.define(higher_is_better=True, kind="labels",
             sklearn_equivalent=("precision_score", {"average": "macro", "zero_division": 0}))
def precision(y_true, y_pred, threshold: float = 0.5) -> float:
    """Macro precision: the mean over classes of TP_k / (TP_k + FP_k).

    Classes are the labels present in ``y_true`` or the predictions; a class
    never predicted counts 0 (scikit-learn's ``zero_division=0``).
    """
    hits, predicted, _ = _per_class_counts(*_label_pair(y_true, y_pred, threshold))
    return float(np.mean(_safe_ratio(hits, predicted)))


@METRICS.register
@Metric.define(higher_is_better=True, kind="labels",
             sklearn_equivalent=("recall_score", {"average": "macro", "zero_division": 0}))
def recall(y_true, y_pred, threshold: float = 0.5) -> float:
    """Macro recall: the mean over classes of TP_k / (TP_k + FN_k)."""
    hits, _, actual = _per_class_counts(*_label_pair(y_true, y_pred, threshold))
    return float(np.mean(_safe_ratio(hits, actual)))


@METRICS.register
@Metric.define(aliases=("f1_score",), higher_is_better=True, kind="labels",
             sklearn_equivalent=("f1_score", {"average": "macro", "zero_division": 0}))
def f1(y_true, y_pred, threshold: float = 0.5) -> float:
    """Macro F1: the mean over classes of 2·TP_k / (2·TP_k + FP_k + FN_k).

    (That is the harmonic mean of each class's precision and recall, averaged.)
    """
    hits, predicted, actual = _per_class_counts(*_label_pair(y_true, y_pred, threshold))
    return float(np.mean(_safe_ratio(2 * hits, predicted + actual)))


# ----------------------------------------------------------------- regression
@METRICS.register
@Metric.define(aliases=("mean_squared_error",), higher_is_better=False, kind="values",
             sklearn_equivalent=("mean_squared_error", {}))
def mse(y_true, y_pred) -> float:
    """Mean squared error (1/n) Σ (ŷ − y)² over all elements."""
    true, pred = _value_pair(y_true, y_pred)
    return float(np.mean((pred - true) ** 2))


@METRICS.register
@Metric.define(aliases=("mean_absolute_error",), higher_is_better=False, kind="values",
             sklearn_equivalent=("mean_absolute_error", {}))
def mae(y_true, y_pred) -> float:
    """Mean absolute error (1/n) Σ |ŷ − y| over all elements."""
    true, pred = _value_pair(y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


@METRICS.register
@Metric.define(aliases=("r2_score",), higher_is_better=True, kind="values", sklearn_equivalent=("r2_score", {}))
def r2(y_true, y_pred) -> float:
    """Coefficient of determination R² = 1 − Σ (y − ŷ)² / Σ (y − ȳ)².

    For several outputs the R² of each column is averaged (scikit-learn's
    ``uniform_average``). A constant target gives 1.0 for a perfect prediction
    and 0.0 otherwise, as scikit-learn does.
    """
    true, pred = _value_pair(y_true, y_pred)
    if true.ndim == 1:
        true, pred = true[:, None], pred[:, None]
    residual = np.sum((true - pred) ** 2, axis=0)
    total = np.sum((true - true.mean(axis=0)) ** 2, axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(scores))


# ------------------------------------------------------------------- lookup
def get_metric(name_or_fn) -> Callable:
    """Resolve a metric name (or pass a callable, such as a :class:`Metric`, through).

    Raises:
        ValueError: for an unknown name, suggesting the closest valid one.
        TypeError: for something that is neither a string nor callable.
    """
    if callable(name_or_fn):
        return name_or_fn
    if not isinstance(name_or_fn, str):
        raise TypeError(f"metric must be a name or a callable, got {type(name_or_fn).__name__}")
    return METRICS.get(name_or_fn)


def metric_name(name_or_fn) -> str:
    """The key a metric gets in the logs and history: the name given, or the function's name."""
    if isinstance(name_or_fn, str):
        get_metric(name_or_fn)  # fail early on unknown names
        return name_or_fn
    return getattr(name_or_fn, "__name__", type(name_or_fn).__name__)
