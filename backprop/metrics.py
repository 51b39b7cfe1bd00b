"""Metrics: numbers that describe predictions, reported by ``fit`` and ``evaluate``.

Every metric is a :class:`Metric`: a function ``metric(y_true, y_pred) -> float`` on
NumPy arrays (lists, pandas objects and Tensors are converted), so it can be called
on the network's raw outputs, that carries its facets (name, aliases,
``higher_is_better``, what it compares, its scikit-learn equivalent for each task) and is
registered in :data:`METRICS`.

Classification metrics know three tasks, scikit-learn's target types:

* ``"binary"``: two classes (labels 0/1, or two labels of any kind: the greater is the
  positive class, scikit-learn's ``pos_label`` being 1 for 0/1 labels);
* ``"multiclass"``: K > 2 classes, one per example;
* ``"multilabel"``: K independent yes/no targets per example, a 0/1 matrix (N, K).

Each classification metric takes ``task=`` (``fit`` and ``evaluate`` pass the task of the
loss and the model: a binary loss with K > 1 outputs is multi-label, cross-entropy over
K > 2 classes multi-class, a binary loss or two classes binary). Without it the task is
read from the arrays: a 0/1 matrix ``y_true`` whose rows are not all one-hot is
multi-label; a ``y_pred`` with more than two columns is multi-class; otherwise the number
of labels in ``y_true`` and the predictions decides.

What a metric reads from ``y_pred``:

* label metrics (``accuracy``, ``f1``, ...) take class labels, class scores or
  probabilities: a 2-D ``y_pred`` with K ≥ 2 columns (logits or probabilities) gives
  labels by ``argmax`` over the columns (the same class either way, softmax is
  increasing); a 1-D or (N, 1) float ``y_pred`` is a *probability* of the positive class,
  thresholded at ``threshold=0.5`` (predict 1 when p > 0.5), unless every value is a whole
  number (labels stored as floats). For raw logits z pass ``threshold=0``. Integer, boolean
  or string ``y_pred`` are labels as they are. On a multi-label task every element is
  thresholded. ``y_true`` may be labels or one-hot rows (argmax is taken).
* score metrics (``roc_auc``, ``log_loss``) take probabilities: p(positive) (N,) or (N, 1),
  or (N, K) rows. ``fit``/``evaluate`` hand them σ(z) or softmax(z) of a logits loss.
* regression metrics (``mse``, ``mae``, ``r2``) compare values; an (N, 1)
  prediction against an (N,) target is allowed.

Values agree with :mod:`sklearn.metrics` (each entry's ``sklearn_equivalent`` names the
function for each task; the tests iterate the registry): ``accuracy`` is
``accuracy_score``, except on a multi-label task, where it is Keras's element-wise binary
accuracy (1 − ``hamming_loss``); ``subset_accuracy`` is ``accuracy_score`` on every task
(a row counts only if all its labels are right); ``precision``/``recall``/``f1`` use
``average="binary"`` on a binary task and ``"macro"`` otherwise (``average=`` overrides it),
with ``zero_division=0``; ``balanced_accuracy``, ``roc_auc`` (one-vs-rest, macro, on K
classes) and ``log_loss``; on a multi-label task, where scikit-learn has no such form,
``balanced_accuracy`` and ``log_loss`` are the mean over the labels of their binary values.

Example:
    >>> import numpy as np
    >>> from backprop.metrics import accuracy, get_metric
    >>> logits = np.array([[2.0, 0.1], [0.3, 1.5], [1.0, 0.0]])
    >>> accuracy([0, 1, 1], logits)
    0.6666666666666666
    >>> get_metric("f1")([0, 1, 1], logits)  # binary: the F1 of class 1
    0.6666666666666666
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

import numpy as np

from backprop.registry import Registry

__all__ = [
    "Metric", "METRICS", "TASKS", "accuracy", "subset_accuracy", "binary_accuracy", "balanced_accuracy",
    "precision", "recall", "f1", "roc_auc", "log_loss", "mse", "mae", "r2", "get_metric", "metric_name",
    "infer_task",
]

METRICS = Registry("metric")
"""Every metric, by ``name`` and ``aliases`` (case-insensitive); the entries are :class:`Metric` objects."""

TASKS = ("binary", "multiclass", "multilabel")
"""The classification tasks a metric's ``task=`` names (scikit-learn's target types)."""


class Metric:
    """A metric ``fn(y_true, y_pred, ...) -> float`` with its facets; calling it calls ``fn``.

    Args:
        fn: the computation (its name, docstring and signature become the metric's).
        name: the registered name (default: ``fn.__name__``).
        aliases: other accepted spellings.
        higher_is_better: whether larger values are better (callbacks' ``mode="auto"``).
        kind: what it compares: ``"labels"`` (class labels, from labels, scores or
            probabilities), ``"binary"`` (0/1 targets against ``y_pred > threshold``, element
            by element), ``"scores"`` (labels against predicted probabilities) or ``"values"``
            (regression). A classification kind takes ``task=``.
        sklearn_equivalent: ``{task: (function name in sklearn.metrics, keyword arguments[, how])}``
            giving the same value on that task (``"regression"`` for a values metric); ``how``
            is ``"complement"`` (1 − the value) or ``"per_label"`` (the mean over the columns
            of the binary value). A task left out is one the metric refuses (ValueError).

    Example:
        >>> @Metric.define(higher_is_better=False, kind="values")
        ... def max_error(y_true, y_pred):
        ...     return float(np.max(np.abs(np.asarray(y_pred) - np.asarray(y_true))))
        >>> max_error([1.0, 2.0], [1.5, 2.0]), max_error.higher_is_better
        (0.5, False)
    """

    kinds = ("labels", "binary", "scores", "values")

    def __init__(self, fn: Callable, *, name: Optional[str] = None, aliases: tuple = (), higher_is_better: bool,
                 kind: str, sklearn_equivalent: Optional[dict] = None):
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

    @property
    def takes_task(self) -> bool:
        """Whether it is a classification metric, called with ``task=``."""
        return self.kind != "values"

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


def _is_indicator(array: np.ndarray) -> bool:
    """A 2-D array of 0/1 values (numbers or bools) with K ≥ 2 columns."""
    if array.ndim != 2 or array.shape[1] < 2 or array.dtype.kind not in "biuf":
        return False
    return bool(np.all((array == 0) | (array == 1)))


def _is_one_hot(array: np.ndarray) -> bool:
    return _is_indicator(array) and bool(np.all(array.sum(axis=1) == 1))


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


def _indicator_pair(y_true, y_pred, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label targets and predictions as two boolean (N, K) matrices."""
    true = _as_array(y_true, "y_true")
    pred = _as_array(y_pred, "y_pred")
    if not _is_indicator(true):
        raise ValueError(f"a multi-label task needs y_true as a 0/1 matrix (N, K), got shape {true.shape}")
    if pred.shape != true.shape:
        raise ValueError(f"y_true shape {true.shape} and y_pred shape {pred.shape} differ")
    predicted = pred.astype(bool) if pred.dtype.kind in "biu" else pred > threshold
    return true.astype(bool), predicted


def infer_task(y_true, y_pred, threshold: float = 0.5) -> str:
    """The task of (y_true, y_pred) when none is given: see the module docstring."""
    true = _as_array(y_true, "y_true")
    if true.ndim == 2 and true.shape[1] >= 2:
        if _is_indicator(true) and not _is_one_hot(true):
            return "multilabel"
        return "binary" if true.shape[1] == 2 else "multiclass"
    pred = _as_array(y_pred, "y_pred")
    if pred.ndim == 2 and pred.shape[1] > 2:
        return "multiclass"
    true_labels, pred_labels = _label_pair(true, pred, threshold)
    return "binary" if np.union1d(true_labels, pred_labels).shape[0] <= 2 else "multiclass"


def _task(metric: str, y_true, y_pred, task, threshold: float, allowed=TASKS) -> str:
    if task is None:
        task = infer_task(y_true, y_pred, threshold)
    elif task not in TASKS:
        raise ValueError(f"{metric}: task must be one of {list(TASKS)} or None (read from the arrays), got {task!r}")
    if task not in allowed:
        raise ValueError(f"{metric} is defined on {' and '.join(allowed)} tasks, not on a {task} one")
    return task


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
    """The labels in either array, and for each: true positives, predicted positives, actual positives."""
    labels = np.union1d(true, pred)
    true_index = np.searchsorted(labels, true)
    pred_index = np.searchsorted(labels, pred)
    k = labels.shape[0]
    actual = np.bincount(true_index, minlength=k)
    predicted = np.bincount(pred_index, minlength=k)
    hits = np.bincount(true_index[true_index == pred_index], minlength=k)
    return labels, hits, predicted, actual


def _positive_label(labels: np.ndarray):
    """The positive class of a binary task: 1 for 0/1 labels, else the greater label."""
    if labels.dtype.kind in "biuf" and np.all(np.isin(labels, [0, 1])):
        return 1
    return labels[-1]


def _confusion_counts(y_true, y_pred, task: str, threshold: float, average):
    """(true positives, predicted positives, actual positives) per averaged unit: the positive
    class (binary average), each class (multi-class) or each label (multi-label)."""
    if task == "multilabel":
        true, pred = _indicator_pair(y_true, y_pred, threshold)
        return (true & pred).sum(axis=0), pred.sum(axis=0), true.sum(axis=0)
    true, pred = _label_pair(y_true, y_pred, threshold)
    labels, hits, predicted, actual = _per_class_counts(true, pred)
    if average is None:
        average = "binary" if task == "binary" else "macro"
    if average not in ("binary", "macro"):
        raise ValueError(f"average must be 'binary', 'macro' or None (by the task), got {average!r}")
    if average == "binary":
        if labels.shape[0] > 2:
            raise ValueError(f"average='binary' needs two classes, got {labels.shape[0]}")
        positive = _positive_label(labels)
        k = np.searchsorted(labels, positive)
        if k == labels.shape[0] or labels[k] != positive:
            return np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
        return hits[k:k + 1], predicted[k:k + 1], actual[k:k + 1]
    return hits, predicted, actual


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # zero_division=0, as scikit-learn reports (after its warning)
    return np.divide(numerator, denominator, out=np.zeros(np.shape(numerator), dtype=np.float64),
                     where=np.asarray(denominator) > 0)


def _probabilities(y_pred, n: int) -> np.ndarray:
    """Predicted probabilities as float (N, K) rows (K = 2 from p of the positive class)."""
    p = _as_array(y_pred, "y_pred")
    if p.dtype.kind not in "biuf":
        raise ValueError(f"y_pred must hold probabilities, got dtype {p.dtype}")
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] != n:
        raise ValueError(f"y_pred must hold {n} probabilities or rows of them, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("y_pred must hold probabilities in [0, 1] (pass σ(z) or softmax(z) of logits)")
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    return p


def _class_index(y_true, n_columns: int) -> np.ndarray:
    """Each example's column in (N, K) probability rows: its label, or its rank among the sorted labels."""
    true = _as_array(y_true, "y_true")
    if true.ndim == 2 and true.shape[1] >= 2:
        return np.argmax(true, axis=1)
    labels = _labels(true, "y_true", 0.5)
    if labels.dtype.kind in "iu" and labels.size and labels.min() >= 0 and labels.max() < n_columns:
        return labels.astype(np.int64)
    classes = np.unique(labels)
    if classes.shape[0] != n_columns:
        raise ValueError(f"y_true has {classes.shape[0]} classes but y_pred has {n_columns} columns")
    return np.searchsorted(classes, labels)


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the Mann–Whitney U of the scores, ties counting one half."""
    n_pos = int(positive.sum())
    n_neg = positive.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined with one class (scikit-learn refuses it)
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    # midranks: each run of equal scores gets the mean of its ranks
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    ends = np.r_[starts[1:], sorted_score.shape[0]]
    ranks = np.empty(score.shape[0])
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _binary_log_loss(positive: np.ndarray, p: np.ndarray) -> float:
    """−mean(y log p + (1 − y) log(1 − p)), p clipped to [ε, 1 − ε] (scikit-learn's ε of p's dtype)."""
    eps = np.finfo(p.dtype).eps
    q = np.clip(np.stack([1 - p, p], axis=1), eps, 1 - eps).astype(np.float64)
    return float(-np.mean(np.where(positive, np.log(q[:, 1]), np.log(q[:, 0]))))


# --------------------------------------------------------- classification
@METRICS.register
@Metric.define(aliases=("acc",), higher_is_better=True, kind="labels", sklearn_equivalent={
    "binary": ("accuracy_score", {}), "multiclass": ("accuracy_score", {}),
    "multilabel": ("hamming_loss", {}, "complement")})
def accuracy(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None) -> float:
    """Fraction of examples whose predicted class equals the true class.

    On a multi-label task, the fraction of right elements (Keras's binary accuracy, which
    ``metrics=["accuracy"]`` means with a binary loss); ``subset_accuracy`` counts whole rows.
    """
    if _task("accuracy", y_true, y_pred, task, threshold) == "multilabel":
        true, pred = _indicator_pair(y_true, y_pred, threshold)
        return float(np.mean(true == pred))
    true, pred = _label_pair(y_true, y_pred, threshold)
    return float(np.mean(true == pred))


@METRICS.register
@Metric.define(aliases=("exact_match",), higher_is_better=True, kind="labels", sklearn_equivalent={
    "binary": ("accuracy_score", {}), "multiclass": ("accuracy_score", {}), "multilabel": ("accuracy_score", {})})
def subset_accuracy(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None) -> float:
    """Fraction of examples predicted exactly: on a multi-label task, all K labels of the row right
    (scikit-learn's ``accuracy_score``); on the other tasks the same as ``accuracy``."""
    if _task("subset_accuracy", y_true, y_pred, task, threshold) == "multilabel":
        true, pred = _indicator_pair(y_true, y_pred, threshold)
        return float(np.mean(np.all(true == pred, axis=1)))
    true, pred = _label_pair(y_true, y_pred, threshold)
    return float(np.mean(true == pred))


@METRICS.register
@Metric.define(higher_is_better=True, kind="binary", sklearn_equivalent={
    "binary": ("accuracy_score", {}), "multilabel": ("hamming_loss", {}, "complement")})
def binary_accuracy(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None) -> float:
    """Fraction of 0/1 targets matched by ``y_pred > threshold``, over every element.

    Works for one output (N,) / (N, 1) and for several independent binary
    outputs (N, K) (multi-label). Use ``threshold=0`` on logits.
    """
    true = _as_array(y_true, "y_true")
    pred = _as_array(y_pred, "y_pred")
    if task is None:
        task = "multilabel" if true.ndim == 2 and true.shape[1] > 1 else "binary"
    _task("binary_accuracy", true, pred, task, threshold, allowed=("binary", "multilabel"))
    if pred.ndim == 2 and pred.shape[1] == 1 and true.ndim == 1:
        pred = pred[:, 0]
    if true.shape != pred.shape:
        raise ValueError(f"y_true shape {true.shape} and y_pred shape {pred.shape} differ")
    if true.size == 0:
        raise ValueError("metrics need at least one example")
    if true.dtype.kind not in "biuf" or not np.all((true == 0) | (true == 1)):
        raise ValueError("binary_accuracy compares 0/1 targets; use accuracy for class labels")
    predicted = pred.astype(bool) if pred.dtype.kind in "biu" else pred > threshold
    return float(np.mean((true > 0.5) == predicted))


@METRICS.register
@Metric.define(higher_is_better=True, kind="labels", sklearn_equivalent={
    "binary": ("balanced_accuracy_score", {}), "multiclass": ("balanced_accuracy_score", {}),
    "multilabel": ("balanced_accuracy_score", {}, "per_label")})
def balanced_accuracy(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None) -> float:
    """The mean over the classes present in ``y_true`` of each one's recall TP_k / (TP_k + FN_k).

    On a multi-label task, the mean over the labels of each one's binary balanced accuracy.
    """
    if _task("balanced_accuracy", y_true, y_pred, task, threshold) == "multilabel":
        true, pred = _indicator_pair(y_true, y_pred, threshold)
        return float(np.mean([balanced_accuracy(true[:, k], pred[:, k], task="binary")
                              for k in range(true.shape[1])]))
    _, hits, _, actual = _per_class_counts(*_label_pair(y_true, y_pred, threshold))
    present = actual > 0
    return float(np.mean(hits[present] / actual[present]))


_AVERAGED = {"binary": {"average": "binary", "zero_division": 0}, "multiclass": {"average": "macro", "zero_division": 0},
             "multilabel": {"average": "macro", "zero_division": 0}}


@METRICS.register
@Metric.define(higher_is_better=True, kind="labels",
               sklearn_equivalent={task: ("precision_score", kwargs) for task, kwargs in _AVERAGED.items()})
def precision(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None,
              average: Optional[str] = None) -> float:
    """Precision TP / (TP + FP): of the positive class on a binary task, else the mean over the
    classes (or labels) ("macro"); ``average="macro"`` or ``"binary"`` chooses. A class never
    predicted counts 0 (scikit-learn's ``zero_division=0``)."""
    task = _task("precision", y_true, y_pred, task, threshold)
    hits, predicted, _ = _confusion_counts(y_true, y_pred, task, threshold, average)
    return float(np.mean(_safe_ratio(hits, predicted)))


@METRICS.register
@Metric.define(higher_is_better=True, kind="labels",
               sklearn_equivalent={task: ("recall_score", kwargs) for task, kwargs in _AVERAGED.items()})
def recall(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None,
           average: Optional[str] = None) -> float:
    """Recall TP / (TP + FN), averaged as :func:`precision`."""
    task = _task("recall", y_true, y_pred, task, threshold)
    hits, _, actual = _confusion_counts(y_true, y_pred, task, threshold, average)
    return float(np.mean(_safe_ratio(hits, actual)))


@METRICS.register
@Metric.define(aliases=("f1_score",), higher_is_better=True, kind="labels",
               sklearn_equivalent={task: ("f1_score", kwargs) for task, kwargs in _AVERAGED.items()})
def f1(y_true, y_pred, threshold: float = 0.5, task: Optional[str] = None, average: Optional[str] = None) -> float:
    """F1 = 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall: of the positive
    class on a binary task (scikit-learn's default ``average="binary"``), else the mean over the
    classes (or labels), ``average="macro"``."""
    task = _task("f1", y_true, y_pred, task, threshold)
    hits, predicted, actual = _confusion_counts(y_true, y_pred, task, threshold, average)
    return float(np.mean(_safe_ratio(2 * hits, predicted + actual)))


@METRICS.register
@Metric.define(aliases=("auc", "roc_auc_score"), higher_is_better=True, kind="scores", sklearn_equivalent={
    "binary": ("roc_auc_score", {}), "multiclass": ("roc_auc_score", {"multi_class": "ovr"}),
    "multilabel": ("roc_auc_score", {})})
def roc_auc(y_true, y_pred, task: Optional[str] = None) -> float:
    """Area under the ROC curve of the predicted probabilities: P(score of a positive > score of a
    negative), ties counting one half.

    Binary: of p(positive). Multi-class: one class against the rest, averaged over the classes
    (``multi_class="ovr"``, macro). Multi-label: averaged over the labels. NaN when a class has
    no positive or no negative example.
    """
    task = _task("roc_auc", y_true, y_pred, task, 0.5)
    if task == "multilabel":
        true = _as_array(y_true, "y_true")
        scores = _as_array(y_pred, "y_pred").astype(np.float64)
        _indicator_pair(true, scores, 0.5)  # (the shapes)
        return float(np.nanmean([_binary_auc(true[:, k] == 1, scores[:, k]) for k in range(true.shape[1])]))
    n = _as_array(y_true, "y_true").shape[0]
    p = _probabilities(y_pred, n)
    index = _class_index(y_true, p.shape[1])
    if task == "binary":
        if p.shape[1] != 2:
            raise ValueError(f"a binary task needs p(positive) or two columns, got {p.shape[1]}")
        return _binary_auc(index == 1, p[:, 1].astype(np.float64))
    return float(np.nanmean([_binary_auc(index == k, p[:, k].astype(np.float64)) for k in range(p.shape[1])]))


@METRICS.register
@Metric.define(aliases=("cross_entropy_metric", "logloss"), higher_is_better=False, kind="scores",
               sklearn_equivalent={"binary": ("log_loss", {}), "multiclass": ("log_loss", {}),
                                   "multilabel": ("log_loss", {}, "per_label")})
def log_loss(y_true, y_pred, task: Optional[str] = None) -> float:
    """The mean negative log-likelihood −(1/N) Σᵢ log p_{i, yᵢ} of the true classes, p clipped to
    [ε, 1 − ε] (ε of p's dtype, as scikit-learn). Multi-label: the mean over the labels of their
    binary log loss (the mean element-wise binary cross-entropy)."""
    task = _task("log_loss", y_true, y_pred, task, 0.5)
    if task == "multilabel":
        true = _as_array(y_true, "y_true")
        scores = _as_array(y_pred, "y_pred")
        _indicator_pair(true, scores, 0.5)
        p = _probabilities(scores.reshape(-1), scores.size)[:, 1].reshape(scores.shape)
        return float(np.mean([_binary_log_loss(true[:, k] == 1, p[:, k]) for k in range(true.shape[1])]))
    n = _as_array(y_true, "y_true").shape[0]
    p = _probabilities(y_pred, n)
    index = _class_index(y_true, p.shape[1])
    eps = np.finfo(p.dtype).eps
    chosen = np.clip(p[np.arange(n), index], eps, 1 - eps).astype(np.float64)
    return float(-np.mean(np.log(chosen)))


# ----------------------------------------------------------------- regression
@METRICS.register
@Metric.define(aliases=("mean_squared_error",), higher_is_better=False, kind="values",
             sklearn_equivalent={"regression": ("mean_squared_error", {})})
def mse(y_true, y_pred) -> float:
    """Mean squared error (1/n) Σ (ŷ − y)² over all elements."""
    true, pred = _value_pair(y_true, y_pred)
    return float(np.mean((pred - true) ** 2))


@METRICS.register
@Metric.define(aliases=("mean_absolute_error",), higher_is_better=False, kind="values",
             sklearn_equivalent={"regression": ("mean_absolute_error", {})})
def mae(y_true, y_pred) -> float:
    """Mean absolute error (1/n) Σ |ŷ − y| over all elements."""
    true, pred = _value_pair(y_true, y_pred)
    return float(np.mean(np.abs(pred - true)))


@METRICS.register
@Metric.define(aliases=("r2_score",), higher_is_better=True, kind="values", sklearn_equivalent={"regression": ("r2_score", {})})
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
