"""The inference API: a network's outputs, class probabilities and labels, in evaluation mode.

These are the functions behind ``model.predict(...)``, ``model.predict_proba(...)`` and
``model.predict_classes(...)`` (:class:`~backprop.models.Model`); they take any Module.
Nothing here changes a flag or records a graph (see :func:`backprop.engine.eval_mode`), so
several threads may predict with one model at once.

Getting labels and probabilities from a classifier::

    model.fit(X, y, loss="cross_entropy")     # y: any labels, e.g. ["cat", "dog", ...]
    model.predict(X)          # raw outputs z (logits), shape (N, K)
    model.predict_proba(X)    # softmax(z): P(class k), columns in the order of model.classes_
    model.predict_classes(X)  # model.classes_[argmax z], the original labels

With ``binary_cross_entropy_with_logits`` and one output, ``predict_proba``
returns the two columns [1 − σ(z), σ(z)] (scikit-learn's layout) and
``predict_classes`` picks ``classes_[1]`` where σ(z) > 0.5, i.e. z > 0.

Which loss and which classes: the model's :class:`~backprop.training.fitted.FitRecord`
(``model.fit_record``), or the ``record=`` given (a plain module trained with a
:class:`~backprop.training.Trainer` keeps none; its record is ``trainer.fit_record``).
"""

from __future__ import annotations

import numbers

import numpy as np

from backprop.backend import get_default_dtype
from backprop.engine.tensor import eval_mode, no_grad
from backprop.training import data as data_module
from backprop.training import fastpath
from backprop.training import inputs as inputs_module
from backprop.training.input_set import model_input
from backprop.training.fitted import FitRecord, fit_record_of

__all__ = ["predict", "predict_proba", "predict_classes", "forward", "check_batch_size", "parameter_dtype",
           "expected_features", "n_outputs"]


def check_batch_size(batch_size) -> int | None:
    """``batch_size`` as an int, or None (all rows at once); anything but a positive int refused."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    return int(batch_size)


def parameter_dtype(model) -> np.dtype:
    """The dtype inputs are converted to: the model's first float parameter's, else the default."""
    for p in model.parameters():
        if p.data.dtype.kind == "f":
            return p.data.dtype
    return get_default_dtype()


def forward(model, X, batch_size: int | None) -> np.ndarray:
    """Outputs of the model on (checked) X (an array, or an InputSet) in evaluation mode, without recording a graph."""
    fused = fastpath.compile_model(model)
    if fused is not None:
        if batch_size is None or batch_size >= X.shape[0]:
            return fused.predict(X)
        return np.concatenate([fused.predict(X[start:start + batch_size])
                               for start in range(0, X.shape[0], batch_size)], axis=0)
    with eval_mode(), no_grad():
        if batch_size is None or batch_size >= len(X):
            return np.asarray(model(model_input(X)).data)
        chunks = [np.asarray(model(model_input(X[start:start + batch_size])).data)
                  for start in range(0, len(X), batch_size)]
        return np.concatenate(chunks, axis=0)


def expected_features(model, record: FitRecord | None = None) -> int | None:
    """The number of features X must have: what fit saw (the record's), else what the first layer takes."""
    n = None if record is None else record.n_features_in
    if n is None and hasattr(model, "expected_in_features"):
        n = model.expected_in_features()
    return None if n is None else int(n)


def n_outputs(model, X: np.ndarray) -> int | None:
    """The number of outputs per example: from the architecture, or a one-row forward pass."""
    n = None
    if hasattr(model, "output_features") and isinstance(X, np.ndarray) and X.ndim == 2:
        n = model.output_features(X.shape[1])
    if n is not None:
        return int(n)
    try:
        out = forward(model, X[:1], None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"the model cannot process X of shape {X.shape} (wrong number of features?): {error}") from None
    return int(np.prod(out.shape[1:])) if out.ndim > 1 else 1


def predict(model, X, batch_size: int | None = None) -> np.ndarray:
    """The network's outputs on X as an ndarray, in evaluation mode under ``no_grad``.

    Args:
        model: any Module.
        X: (N, n_features) array-like (rows are examples), or (N, C, ...) for image and
            sequence layers; checked (finite, the right number of features) and converted
            to the weights' dtype, never modified.
        batch_size: rows per forward pass (None: all at once).

    For a classifier these are the raw scores (logits); see :func:`predict_proba` and
    :func:`predict_classes`. No flag is changed (see :func:`backprop.engine.eval_mode`): safe from several threads.
    """
    fused = fastpath.compile_model(model)
    record = fit_record_of(model)
    if fused is not None and batch_size is None:
        # The lean path: one row must not cost more than its three small matmuls.
        n_features = (record.n_features_in if record is not None else None) or fused.n_features
        if (type(X) is np.ndarray and X.shape == (1, n_features) and X.dtype == fused.dtype
                and X.flags.c_contiguous):
            out = fused.predict_row(X)  # checks X's values itself (None if any is NaN or ±inf)
            if out is not None:
                return out
        checked = data_module.check_features(X, dtype=fused.dtype, n_features=n_features, check_values=False)
        return fused.predict(checked, check_input=data_module.check_finite)
    checked = inputs_module.check_inputs(model, X, dtype=parameter_dtype(model),
                                         n_features=expected_features(model, record))
    return forward(model, checked, check_batch_size(batch_size))


def _probabilities(record: FitRecord | None, outputs: np.ndarray) -> np.ndarray:
    """The fitted loss's probabilities (:meth:`~backprop.losses.Loss.probabilities`: its output activation)."""
    loss = None if record is None else record.loss_object
    if loss is None:
        raise ValueError(
            "predict_proba/predict_classes need a model fit with a classification loss (cross_entropy or a "
            "binary cross-entropy); this one was fit with a custom loss or not at all"
        )
    return loss.probabilities(outputs)


def _single_output(p: np.ndarray) -> bool:
    return p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)


def _record(model, record: FitRecord | None) -> FitRecord | None:
    if record is not None and not isinstance(record, FitRecord):
        raise TypeError(f"record must be a FitRecord or None, got {type(record).__name__}")
    return fit_record_of(model) if record is None else record


def predict_proba(model, X, batch_size: int | None = None, *, record: FitRecord | None = None) -> np.ndarray:
    """Class probabilities, depending on the loss the model was fit with.

    * ``cross_entropy``: softmax of the outputs, shape (N, K), columns ordered as
      ``model.classes_``;
    * ``binary_cross_entropy_with_logits`` (σ of the outputs) and
      ``binary_cross_entropy`` (the outputs are probabilities): with one output, the
      two columns [1 − p, p] for ``classes_[0]``, ``classes_[1]``; with several
      outputs, p for each (multi-label).

    Args:
        record: the fit record to read the loss from (default: ``model.fit_record``).

    Raises:
        ValueError: for a model fit with a regression or custom loss, or never fit.
    """
    record = _record(model, record)
    p = _probabilities(record, predict(model, X, batch_size))
    if record.kind != "multiclass" and _single_output(p):
        p = p.reshape(-1)
        return np.stack([1.0 - p, p], axis=1)
    return p


def predict_classes(model, X, batch_size: int | None = None, *, record: FitRecord | None = None) -> np.ndarray:
    """Predicted labels: ``classes_[argmax z]`` (cross_entropy) or ``classes_[1 if p > 0.5 else 0]`` (binary).

    Labels are the ones fit saw (the record's ``classes``, e.g. strings; output indices if
    it has none). A model with several binary outputs (multi-label) gives a 0/1 matrix.

    Args:
        record: the fit record to read the loss and classes from (default: ``model.fit_record``).
    """
    record = _record(model, record)
    p = _probabilities(record, predict(model, X, batch_size))
    if record.kind == "multiclass":
        index = np.argmax(p, axis=1)
    elif _single_output(p):
        index = (p.reshape(-1) > 0.5).astype(np.int64)
    else:
        return (p > 0.5).astype(np.int64)
    classes = record.classes
    return index if classes is None else np.asarray(classes)[index]
