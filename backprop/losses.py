"""Loss functions J(ŷ, y): a mean over the batch (``rss`` excepted), as in PyTorch.

Each takes the network's output first and the target second. ``mse``, ``half_mse``,
``rss`` and ``mae`` are composed from engine ops, so gradients reach both
arguments. The cross-entropies are fused ops with hand-written gradients, for
numerical stability and speed; their target is a constant:

* ``cross_entropy``: δ = ∂J/∂z = (softmax(z)·Σ_k y_k − y)/N — for one-hot y, the
  famous softmax(z) − y. It is computed with log-sum-exp, never as log(softmax).
* ``binary_cross_entropy_with_logits``: δ = (σ(z) − y)/N, with the loss written as
  max(z, 0) − z·y + log(1 + e^(−|z|)) so that no exponential overflows.

All losses take an optional ``sample_weight`` w (one non-negative weight per
example); the batch mean then becomes the weighted mean Σ_i w_i J_i / Σ_i w_i.
"""

from __future__ import annotations

import numpy as np

from backprop.backend import xp
from backprop.engine.tensor import Tensor, as_tensor, make_result
from backprop.naming import unknown_name_error

__all__ = [
    "mse", "half_mse", "rss", "mae",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
    "LOSSES", "get_loss",
]


# ---------------------------------------------------------------- helpers
def _prediction_and_target(prediction, target, name: str):
    prediction = as_tensor(prediction)
    if isinstance(target, Tensor) and (target.requires_grad or target.dtype == prediction.dtype):
        y = target
    elif isinstance(target, Tensor):
        y = Tensor(target.data, dtype=prediction.dtype)  # a constant target follows the prediction's dtype
    else:
        y = Tensor(np.asarray(target), dtype=prediction.dtype)
    if y.shape != prediction.shape:
        if prediction.ndim == 2 and prediction.shape[1] == 1 and y.shape == prediction.shape[:1]:
            y = y.reshape(prediction.shape)  # (N,) targets for an (N, 1) output: the common case
        else:
            raise ValueError(f"{name}: prediction shape {prediction.shape} and target shape {y.shape} differ")
    return prediction, y


def _example_weights(sample_weight, n_examples: int, dtype, name: str):
    """Per-example weights that sum to 1: 1/N each, or w_i / Σ w."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight, dtype=dtype)
    if w.shape != (n_examples,):
        raise ValueError(f"{name}: sample_weight must have shape ({n_examples},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"{name}: sample_weight must be finite, non-negative and not all zero")
    return w / w.sum()


def _reduce(per_element: Tensor, sample_weight, name: str) -> Tensor:
    """The mean over all elements, or the weighted mean over examples of each example's mean."""
    if sample_weight is None:
        return per_element.mean()
    n = per_element.shape[0] if per_element.ndim else 1
    w = _example_weights(sample_weight, n, per_element.dtype, name)
    per_example = per_element.mean(axis=tuple(range(1, per_element.ndim))) if per_element.ndim > 1 else per_element
    return (per_example * Tensor(w)).sum()


# --------------------------------------------------------- regression losses
def mse(prediction, target, sample_weight=None) -> Tensor:
    """J = (1/n) Σ (ŷ − y)², the mean over all n elements (PyTorch's MSELoss, Keras's mse)."""
    prediction, y = _prediction_and_target(prediction, target, "mse")
    diff = prediction - y
    return _reduce(diff * diff, sample_weight, "mse")


def half_mse(prediction, target, sample_weight=None) -> Tensor:
    """J = (1/2n) Σ (ŷ − y)², the notes' E = ½ Σ (ŷ − y)² averaged (scikit-learn's squared loss).

    Its δ at a linear output is simply (ŷ − y)/n: the ½ cancels the 2 of the derivative.
    """
    prediction, y = _prediction_and_target(prediction, target, "half_mse")
    diff = prediction - y
    return _reduce(diff * diff, sample_weight, "half_mse") * 0.5


def rss(prediction, target) -> Tensor:
    """J = Σ (ŷ − y)², the residual sum of squares (a sum, not a mean)."""
    prediction, y = _prediction_and_target(prediction, target, "rss")
    diff = prediction - y
    return (diff * diff).sum()


def mae(prediction, target, sample_weight=None) -> Tensor:
    """J = (1/n) Σ |ŷ − y|."""
    prediction, y = _prediction_and_target(prediction, target, "mae")
    return _reduce((prediction - y).abs(), sample_weight, "mae")


# ----------------------------------------------------- classification losses
def binary_cross_entropy(probabilities, target, sample_weight=None) -> Tensor:
    """J = −(1/n) Σ [y ln p + (1 − y) ln(1 − p)] for probabilities p ∈ [0, 1].

    As in PyTorch, each log is clamped at −100 so that p = 0 or 1 gives a finite loss,
    and the gradient is (p − y) / max(p(1 − p), 1e−12) / n. Prefer
    :func:`binary_cross_entropy_with_logits` on logits: it needs no clamping.
    """
    p, y = _prediction_and_target(probabilities, target, "binary_cross_entropy")
    if p.size and (np.any(p.data < 0) or np.any(p.data > 1) or np.any(np.isnan(p.data))):
        raise ValueError(
            "binary_cross_entropy: every probability must lie in [0, 1]; "
            "for raw scores use binary_cross_entropy_with_logits"
        )
    P, Y = p.data, y.data
    with np.errstate(divide="ignore"):
        log_p = xp.maximum(xp.log(P), -100)
        log_q = xp.maximum(xp.log1p(-P), -100)
    per_element = -(Y * log_p + (1 - Y) * log_q)
    weights = _element_weights(sample_weight, p, "binary_cross_entropy")
    loss = xp.asarray((per_element * weights).sum(), dtype=P.dtype)

    def backward(g):
        return (g * weights * (P - Y) / xp.maximum(P * (1 - P), 1e-12),)

    return make_result(loss, (p,), backward, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, sample_weight=None) -> Tensor:
    """J = (1/n) Σ [max(z, 0) − z·y + ln(1 + e^(−|z|))] = BCE(σ(z), y), stable for any z.

    δ = ∂J/∂z = (σ(z) − y)/n.
    """
    z, y = _prediction_and_target(logits, target, "binary_cross_entropy_with_logits")
    Z, Y = z.data, y.data
    per_element = xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
    weights = _element_weights(sample_weight, z, "binary_cross_entropy_with_logits")
    loss = xp.asarray((per_element * weights).sum(), dtype=Z.dtype)

    def backward(g):
        e = xp.exp(-xp.abs(Z))
        sigma = xp.where(Z >= 0, 1 / (1 + e), e / (1 + e))
        return (g * weights * (sigma - Y),)

    return make_result(loss, (z,), backward, "binary_cross_entropy_with_logits")


def _element_weights(sample_weight, prediction: Tensor, name: str):
    """The weight of each element in the mean: 1/n, or w_i/(Σw · outputs per example)."""
    if sample_weight is None:
        return prediction.dtype.type(1.0 / max(prediction.size, 1))
    n = prediction.shape[0] if prediction.ndim else 1
    w = _example_weights(sample_weight, n, prediction.dtype, name)
    per_example = prediction.size // max(n, 1)
    return (w / per_example).reshape((n,) + (1,) * (prediction.ndim - 1))


def cross_entropy(logits, target, sample_weight=None) -> Tensor:
    """Softmax cross-entropy on logits z of shape (N, K) (or (K,) for one example).

    J = −(1/N) Σ_i Σ_k y_ik ln softmax(z_i)_k, with ln softmax(z)_k = z_k − log Σ_j e^(z_j).

    Args:
        logits: the scores z (no softmax applied).
        target: integer class labels of shape (N,), or one-hot / probability rows of
            shape (N, K).
        sample_weight: optional per-example weights.

    δ = ∂J/∂z = (softmax(z)·Σ_k y_k − y)/N, which is softmax(z) − y for one-hot y.
    """
    z = as_tensor(logits)
    single = z.ndim == 1
    Z = z.data[None, :] if single else z.data
    if Z.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, K) or (K,), got {z.shape}")
    n, k = Z.shape
    Y = _class_targets(target, n, k, single, Z.dtype)

    # Logits near the dtype's limits (±3e38 in float32) make z − max z overflow to −∞,
    # i.e. ln p = −∞ and p = 0, which is the right limit; the classes with y = 0 must
    # then contribute 0, not 0 · (−∞) = NaN (PyTorch's value for labels).
    with np.errstate(over="ignore", invalid="ignore"):
        shifted = Z - Z.max(axis=1, keepdims=True)
        log_sum = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        log_p = shifted - log_sum
        per_example = -xp.where(Y != 0, Y * log_p, 0).sum(axis=1)
    w = _example_weights(sample_weight, n, Z.dtype, "cross_entropy")
    w = xp.full(n, 1.0 / max(n, 1), dtype=Z.dtype) if w is None else w
    loss = xp.asarray((per_example * w).sum(), dtype=Z.dtype)

    def backward(g):
        p = xp.exp(log_p)
        delta = (p * Y.sum(axis=1, keepdims=True) - Y) * (w[:, None] * g)
        return (delta[0] if single else delta,)

    return make_result(loss, (z,), backward, "cross_entropy")


def _class_targets(target, n: int, k: int, single: bool, dtype) -> np.ndarray:
    """Integer labels become one-hot rows; probability rows are checked and kept."""
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if single:
        y = y[None, ...]
    if y.dtype.kind not in "fiub":
        raise TypeError(f"cross_entropy: target must be integer labels or probability rows, got dtype {y.dtype}")
    if y.ndim == 1:
        if y.shape[0] != n:
            raise ValueError(f"cross_entropy: {n} rows of logits but {y.shape[0]} labels")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise ValueError("cross_entropy: 1-D targets must be integer class labels")
        labels = y.astype(np.intp)
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"cross_entropy: labels must lie in [0, {k - 1}] for {k} classes, got {labels.min()}..{labels.max()}")
        one_hot = np.zeros((n, k), dtype=dtype)
        one_hot[np.arange(n), labels] = 1
        return one_hot
    if y.shape != (n, k):
        raise ValueError(f"cross_entropy: logits have shape {(n, k)} but the target has shape {y.shape}")
    return y.astype(dtype, copy=False)


# ------------------------------------------------------------------ registry
LOSSES = {
    "mse": mse,
    "half_mse": half_mse,
    "rss": rss,
    "mae": mae,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy,
}
_ALIASES = {
    "mean_squared_error": "mse",
    "squared_error": "half_mse",
    "mean_absolute_error": "mae",
    "bce": "binary_cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "log_loss": "cross_entropy",
}


def get_loss(name_or_fn):
    """Resolve a loss name (or pass a callable through); unknown names suggest the closest one."""
    if callable(name_or_fn):
        return name_or_fn
    if not isinstance(name_or_fn, str):
        raise TypeError(f"loss must be a name or a callable, got {type(name_or_fn).__name__}")
    key = _ALIASES.get(name_or_fn.lower(), name_or_fn.lower())
    if key not in LOSSES:
        raise unknown_name_error("loss", name_or_fn, key, sorted(LOSSES), candidates=_ALIASES)
    return LOSSES[key]
