"""Losses J(ŷ, y): one class per loss, carrying its reference form, its fused form and its facts.

A loss object is called as ``loss(prediction, target, sample_weight=None)`` — the network's
output first and the target second, as in PyTorch — and returns a Tensor: the reference
form, composed from engine ops or written as one op with its gradient. Every loss is a
mean over the batch (``rss`` excepted), and with a ``sample_weight`` w (one non-negative
weight per example) the mean becomes the weighted mean Σ_i w_i J_i / Σ_i w_i.

Beside the reference, each class states what the rest of the library needs to know:

* ``name`` and ``aliases``: how it is looked up in :data:`LOSSES` (``"log_loss"`` is
  ``cross_entropy``);
* ``kind``: what the network's outputs mean when trained with it — ``"multiclass"``
  (K logits), ``"binary_logits"`` (logits of independent yes/no outputs),
  ``"binary_probabilities"`` (probabilities in [0, 1]) or ``"regression"``;
* ``output_activation``: the f that turns the outputs into probabilities
  (:meth:`Loss.probabilities`): softmax, σ, or none;
* ``get_config()``: its parameters (a Huber loss's δ), saved with a model;
* ``fused(Z, target, weight, delta)``: the fused form that the training fast path runs
  instead of the reference: it writes δᴸ = ∂J/∂Z into ``delta`` in place and returns J,
  allocating little; ``None`` for a loss without one. Each fused form is tested against
  its reference, values and δ (``tests/test_losses.py``).

The two cross-entropies are single ops with hand-written gradients, for numerical
stability and speed (their target is a constant):

* ``cross_entropy``: δ = ∂J/∂z = (softmax(z)·Σ_k y_k − y)/N — for one-hot y, the famous
  softmax(z) − y. It is computed with log-sum-exp, never as log(softmax).
* ``binary_cross_entropy_with_logits``: δ = (σ(z) − y)/N, with the loss written as
  max(z, 0) − z·y + log(1 + e^(−|z|)) so that no exponential overflows.

Adding a loss is one class here, decorated with ``@LOSSES.register``, and its test.
"""

from __future__ import annotations

import math

import numpy as np

from backprop import jit
from backprop.backend import xp
from backprop.engine.ops.activation import sigmoid_array, softmax_array
from backprop.engine.tensor import Tensor, as_tensor, make_result
from backprop.naming import short_repr
from backprop.registry import Configured, Registry

__all__ = [
    "Loss", "LOSSES", "get_loss",
    "MSE", "HalfMSE", "HalfSSE", "RSS", "MAE", "Huber", "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "CrossEntropy",
    "mse", "half_mse", "half_sse", "rss", "mae", "huber",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
]

LOSSES = Registry("loss")
"""Every loss class, by name and alias: the one place a loss name is resolved."""

KINDS = ("multiclass", "binary_logits", "binary_probabilities", "regression")


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


# ---------------------------------------------------------------- the base
class Loss(Configured):
    """A loss J(ŷ, y): ``loss(prediction, target, sample_weight=None) -> Tensor``.

    Subclasses set ``name``, ``aliases``, ``kind`` and ``output_activation``, implement
    :meth:`forward` (the reference form, through the engine) and, where it pays, the
    fused form :meth:`fused`. A loss with parameters takes them as constructor keyword
    arguments and returns them from :meth:`get_config`.
    """

    name = ""
    aliases: tuple = ()
    kind = "regression"
    output_activation = None  # "softmax", "sigmoid" or None: see probabilities()
    fused = None  # fused(Z, target, weight, delta) -> float, where a subclass has one
    accepts_sample_weight = True

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, prediction, target, sample_weight=None) -> Tensor:
        if sample_weight is not None and not self.accepts_sample_weight:
            raise TypeError(f"{self.name}: this loss takes no sample_weight")
        if sample_weight is None:
            return self.forward(prediction, target)
        return self.forward(prediction, target, sample_weight)

    @property
    def __name__(self) -> str:  # losses were functions: code that names a callable keeps working
        return self.name

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this loss (``{}`` for a loss without parameters)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """Rebuild from :meth:`get_config`'s dict; unknown keys are refused (TypeError naming the loss)."""
        if not isinstance(config, dict):
            raise TypeError(f"{cls.name}: config must be a dict, got {type(config).__name__}")
        try:
            return cls(**config)
        except TypeError:
            raise TypeError(f"{cls.name}: unknown config keys {sorted(str(k) for k in config)[:10]}") from None

    def describe(self):
        """``"name"`` or ``{"name": ..., **config}``: what a model file stores (:func:`get_loss` reads it back)."""
        config = self.get_config()
        return {"name": self.name, **config} if config else self.name

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The class probabilities that the outputs of a network trained with this loss mean.

        Raises:
            ValueError: for a regression loss.
        """
        if self.kind == "regression":
            raise ValueError(
                f"predict_proba/predict_classes need a model fit with a classification loss; "
                f"this one was fit with {self.name}")
        outputs = outputs.astype(np.float64, copy=False)
        if self.output_activation == "softmax":
            return softmax_array(outputs.reshape(outputs.shape[0], -1))
        if self.output_activation == "sigmoid":
            return sigmoid_array(outputs)
        return np.clip(outputs, 0.0, 1.0)



def get_loss(spec):
    """The loss object for a name, an alias, ``{"name": ..., **config}``, a Loss, or any callable.

    A callable that is not a :class:`Loss` (a custom ``loss(outputs, target[, sample_weight=])``)
    is passed through: it has no fused form, so training runs it through the engine.

    Raises:
        ValueError: an unknown name, listing the valid ones and suggesting the closest.
        TypeError: a spec of another type, or config keys the loss does not take.
    """
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    if callable(spec):
        return spec
    if isinstance(spec, dict):
        name = spec.get("name")
        if not isinstance(name, str):
            raise TypeError(f"a loss dict needs a 'name' string, got {short_repr(spec)}")
        return LOSSES.get(name).from_config({key: value for key, value in spec.items() if key != "name"})
    if not isinstance(spec, str):
        raise TypeError(f"loss must be a name, a dict or a callable, got {type(spec).__name__}")
    return LOSSES.get(spec)()


# ------------------------------------------------------ fused-form helpers
def _fused_weights(weight, n, dtype):
    """Per-example weights summing to 1 (w_i / Σw), as a column; None without weights."""
    if weight is None:
        return None
    w = weight.astype(dtype, copy=False)
    return (w / w.sum()).reshape(n, 1)


def _as_output_shape(target, Z):
    return target.reshape(Z.shape) if target.shape != Z.shape else target


def _fused_elementwise_mean(per_element, weight, delta) -> float:
    """J = the (weighted) mean of ``per_element`` (N×K); ``delta`` holds each element's own
    derivative on entry and is scaled in place by 1/(NK), or by w_i/(Σw·K), to ∂J/∂Z."""
    n, k = delta.shape
    w = _fused_weights(weight, n, delta.dtype)
    if w is None:
        delta *= delta.dtype.type(1.0 / delta.size)
        return float(per_element.mean())
    delta *= w / k
    return float(per_element.sum(axis=1) @ w.ravel()) / k


def _fused_squared(Z, target, weight, delta, scale):
    """J = scale · mean (ŷ − y)²;  δ = 2·scale·(ŷ − y)/n (per-example weighted when given)."""
    np.subtract(Z, _as_output_shape(target, Z), out=delta)
    n, k = Z.shape
    w = _fused_weights(weight, n, Z.dtype)
    if w is None:
        loss = scale * float(np.vdot(delta, delta)) / delta.size
        delta *= Z.dtype.type(2 * scale / delta.size)
        return loss
    per_example = np.einsum("ij,ij->i", delta, delta) / k
    delta *= w * Z.dtype.type(2 * scale / k)
    return scale * float(per_example @ w.ravel())


# --------------------------------------------------------- regression losses
@LOSSES.register
class MSE(Loss):
    """J = (1/n) Σ (ŷ − y)², the mean over all n = N·K elements (PyTorch's MSELoss, Keras's mse);  δ = 2(ŷ − y)/n.

    On K outputs it divides by N·K, not by the N examples.
    """

    name = "mse"
    aliases = ("mean_squared_error",)

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        diff = prediction - y
        return _reduce(diff * diff, sample_weight, self.name)

    def fused(self, Z, target, weight, delta) -> float:
        return _fused_squared(Z, target, weight, delta, 1.0)


@LOSSES.register
class HalfMSE(Loss):
    """J = (1/2n) Σ (ŷ − y)², a mean over all n = N·K elements (scikit-learn's squared loss).

    On one output it is the notes' ½ (ŷ − y)² averaged over the N examples. On K outputs
    it divides by N·K: each example's ½ Σₖ (ŷₖ − yₖ)² is also divided by K, unlike the
    notes' form, which is :class:`HalfSSE` (``"half_sse"``). Its δ at a linear output is
    (ŷ − y)/n: the ½ cancels the 2 of the derivative.
    """

    name = "half_mse"
    aliases = ("squared_error",)

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        diff = prediction - y
        return _reduce(diff * diff, sample_weight, self.name) * 0.5

    def fused(self, Z, target, weight, delta) -> float:
        return _fused_squared(Z, target, weight, delta, 0.5)


@LOSSES.register
class HalfSSE(Loss):
    """J = (1/N) Σᵢ ½ Σₖ (ŷᵢₖ − yᵢₖ)², the notes' per-example ½ Σₖ (ŷₖ − yₖ)² averaged over the N examples.

    The half sum of squared errors of each example, summed over its K outputs (not averaged
    over them, as :class:`HalfMSE` does), then the mean over the examples; so
    J = K · half_mse, and δ = (ŷ − y)/N at a linear output. With sample weights wᵢ, the mean
    over the examples is Σᵢ wᵢ Lᵢ / Σᵢ wᵢ. On one output it equals ``half_mse``.
    """

    name = "half_sse"
    aliases = ("half_sum_squared_error",)

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        diff = prediction - y
        outputs = math.prod(diff.shape[1:]) if diff.ndim > 1 else 1
        return _reduce(diff * diff, sample_weight, self.name) * (0.5 * outputs)

    def fused(self, Z, target, weight, delta) -> float:
        return _fused_squared(Z, target, weight, delta, 0.5 * Z.shape[1])


@LOSSES.register
class RSS(Loss):
    """J = Σ (ŷ − y)², the residual sum of squares (a sum, not a mean; no sample weights)."""

    name = "rss"
    accepts_sample_weight = False

    def forward(self, prediction, target) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        diff = prediction - y
        return (diff * diff).sum()


@LOSSES.register
class MAE(Loss):
    """J = (1/n) Σ |ŷ − y|."""

    name = "mae"
    aliases = ("mean_absolute_error",)

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        return _reduce((prediction - y).abs(), sample_weight, self.name)


@LOSSES.register
class Huber(Loss):
    """J = (1/n) Σ h(ŷ − y), with h(r) = ½ r² for |r| ≤ δ and δ(|r| − ½δ) beyond (PyTorch's HuberLoss).

    Quadratic near 0 like MSE, linear far away like MAE, so outliers pull less;
    ∂h/∂r = r for |r| ≤ δ, else δ·sign(r), i.e. clip(r, −δ, δ), and δᴸ = clip(ŷ − y, −δ, δ)/n.

    Args:
        delta: δ > 0, where the quadratic part meets the linear one (default 1.0).
    """

    name = "huber"
    aliases = ("huber_loss",)

    def __init__(self, delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)) \
                or not np.isfinite(delta) or delta <= 0:
            raise ValueError(f"huber: delta must be a finite number > 0, got {short_repr(delta)}")
        self.delta = float(delta)

    def get_config(self) -> dict:
        return {"delta": self.delta}

    def forward(self, prediction, target, sample_weight=None) -> Tensor:
        prediction, y = _prediction_and_target(prediction, target, self.name)
        r = prediction - y
        size = r.abs()
        delta = self.delta
        quadratic = r * r * 0.5
        linear = (size - 0.5 * delta) * delta
        near = Tensor((size.data <= delta).astype(size.dtype))  # a constant mask: h is C¹, its pieces meet at δ
        return _reduce(quadratic * near + linear * (1 - near), sample_weight, self.name)

    def fused(self, Z, target, weight, delta) -> float:
        np.subtract(Z, _as_output_shape(target, Z), out=delta)  # r
        d = Z.dtype.type(self.delta)
        size = np.abs(delta)
        per_element = np.where(size <= d, 0.5 * delta * delta, d * (size - 0.5 * d))
        np.clip(delta, -d, d, out=delta)  # ∂h/∂r
        return _fused_elementwise_mean(per_element, weight, delta)


# ----------------------------------------------------- classification losses
@LOSSES.register
class BinaryCrossEntropy(Loss):
    """J = −(1/n) Σ [y ln p + (1 − y) ln(1 − p)] for probabilities p ∈ [0, 1].

    As in PyTorch, each log is clamped at −100 so that p = 0 or 1 gives a finite loss,
    and the gradient is (p − y) / max(p(1 − p), 1e−12) / n. Prefer
    :class:`BinaryCrossEntropyWithLogits` on logits: it needs no clamping.
    """

    name = "binary_cross_entropy"
    aliases = ("bce",)
    kind = "binary_probabilities"

    def forward(self, probabilities, target, sample_weight=None) -> Tensor:
        p, y = _prediction_and_target(probabilities, target, self.name)
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
        weights = _element_weights(sample_weight, p, self.name)
        loss = xp.asarray((per_element * weights).sum(), dtype=P.dtype)

        def backward(g):
            return (g * weights * (P - Y) / xp.maximum(P * (1 - P), 1e-12),)

        return make_result(loss, (p,), backward, self.name)


@LOSSES.register
class BinaryCrossEntropyWithLogits(Loss):
    """J = (1/n) Σ [max(z, 0) − z·y + ln(1 + e^(−|z|))] = BCE(σ(z), y), stable for any z;  δ = (σ(z) − y)/n."""

    name = "binary_cross_entropy_with_logits"
    aliases = ("bce_with_logits",)
    kind = "binary_logits"
    output_activation = "sigmoid"

    def forward(self, logits, target, sample_weight=None) -> Tensor:
        z, y = _prediction_and_target(logits, target, self.name)
        Z, Y = z.data, y.data
        per_element = xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
        weights = _element_weights(sample_weight, z, self.name)
        loss = xp.asarray((per_element * weights).sum(), dtype=Z.dtype)

        def backward(g):
            e = xp.exp(-xp.abs(Z))
            sigma = xp.where(Z >= 0, 1 / (1 + e), e / (1 + e))
            return (g * weights * (sigma - Y),)

        return make_result(loss, (z,), backward, self.name)

    def fused(self, Z, target, weight, delta) -> float:
        y = _as_output_shape(target, Z)
        e = np.exp(-np.abs(Z))
        per_element = np.maximum(Z, 0) - Z * y + np.log1p(e)
        np.divide(1, 1 + e, out=delta)
        np.copyto(delta, e * delta, where=Z < 0)  # σ(z) = e^z/(1 + e^z) for z < 0
        delta -= y
        return _fused_elementwise_mean(per_element, weight, delta)


def _element_weights(sample_weight, prediction: Tensor, name: str):
    """The weight of each element in the mean: 1/n, or w_i/(Σw · outputs per example)."""
    if sample_weight is None:
        return prediction.dtype.type(1.0 / max(prediction.size, 1))
    n = prediction.shape[0] if prediction.ndim else 1
    w = _example_weights(sample_weight, n, prediction.dtype, name)
    per_example = prediction.size // max(n, 1)
    return (w / per_example).reshape((n,) + (1,) * (prediction.ndim - 1))


@LOSSES.register
class CrossEntropy(Loss):
    """Softmax cross-entropy on logits z of shape (N, K) (or (K,) for one example).

    J = −(1/N) Σ_i Σ_k y_ik ln softmax(z_i)_k, with ln softmax(z)_k = z_k − log Σ_j e^(z_j);
    δ = ∂J/∂z = (softmax(z)·Σ_k y_k − y)/N, which is softmax(z) − y for one-hot y.

    The target is integer class labels of shape (N,), or one-hot / probability rows of
    shape (N, K).
    """

    name = "cross_entropy"
    aliases = ("categorical_crossentropy", "sparse_categorical_crossentropy", "log_loss")
    kind = "multiclass"
    output_activation = "softmax"

    def forward(self, logits, target, sample_weight=None) -> Tensor:
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
        w = _example_weights(sample_weight, n, Z.dtype, self.name)
        w = xp.full(n, 1.0 / max(n, 1), dtype=Z.dtype) if w is None else w
        loss = xp.asarray((per_example * w).sum(), dtype=Z.dtype)

        def backward(g):
            p = xp.exp(log_p)
            delta = (p * Y.sum(axis=1, keepdims=True) - Y) * (w[:, None] * g)
            return (delta[0] if single else delta,)

        return make_result(loss, (z,), backward, self.name)

    def fused(self, Z, target, weight, delta) -> float:
        """J = mean_i (log Σ_k e^{z_ik} − Σ_k y_ik z_ik);  δ = (softmax(z)·Σy − y)/N, written into ``delta``."""
        n = Z.shape[0]
        if weight is None and target.ndim == 1 and target.dtype.kind in "iu" and jit.supports(Z.dtype) \
                and delta.dtype == Z.dtype:
            compiled = softmax_cross_entropy_kernel.get()
            if compiled is not None:  # the same in one pass
                real = Z.dtype.type
                return compiled(Z, target, delta, real(1.0 / n), real(0), real(1))
        z_max = Z.max(axis=1, keepdims=True)
        np.subtract(Z, z_max, out=delta)
        np.exp(delta, out=delta)
        sums = delta.sum(axis=1, keepdims=True)
        delta /= sums  # softmax(z)
        log_sum = (np.log(sums) + z_max).ravel()
        if target.ndim == 1:
            rows = np.arange(n)
            per_example = log_sum - Z[rows, target]
            delta[rows, target] -= 1
        else:
            per_example = log_sum * target.sum(axis=1) - np.einsum("ij,ij->i", target, Z)
            delta *= target.sum(axis=1, keepdims=True)
            delta -= target
        w = _fused_weights(weight, n, Z.dtype)
        if w is None:
            delta *= Z.dtype.type(1.0 / n)
            return float(per_example.mean())
        delta *= w
        return float(per_example @ w.ravel())


@jit.kernel
def softmax_cross_entropy_kernel(Z, labels, delta, inverse_n, zero, one):
    """:meth:`CrossEntropy.fused` for integer labels in one compiled pass: the mean cross-entropy of
    logits Z (N×K), δ = (softmax(z) − onehot(y))·(1/N).

    ``inverse_n``, ``zero`` and ``one`` are 1/N, 0 and 1 in Z's dtype. The loss is summed in
    float64 with libm's exp and log, so it agrees with the NumPy form to rounding. A label
    outside 0..K−1 makes the loss NaN (and its row of δ the softmax alone): callers encode
    labels before training; this only keeps memory safe.
    """
    n, k = Z.shape
    if k == 0 or labels.shape[0] != n or delta.shape[0] != n or delta.shape[1] != k:
        raise ValueError("softmax_cross_entropy: one label per row of Z, δ of Z's shape, K >= 1")
    total = 0.0
    for i in range(n):
        z_max = Z[i, 0]
        for j in range(1, k):
            if Z[i, j] > z_max:
                z_max = Z[i, j]
        s = zero
        for j in range(k):
            e = np.exp(Z[i, j] - z_max)
            delta[i, j] = e
            s += e
        for j in range(k):
            delta[i, j] = delta[i, j] / s
        y = labels[i]
        if 0 <= y < k:
            delta[i, y] = delta[i, y] - one
            total += np.log(np.float64(s)) + np.float64(z_max) - np.float64(Z[i, y])
        else:
            total += np.nan
        for j in range(k):
            delta[i, j] = delta[i, j] * inverse_n
    return total / n


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


# The losses as ready-made objects, called like the functions they replace: mse(ŷ, y).
mse = MSE()
half_mse = HalfMSE()
half_sse = HalfSSE()
rss = RSS()
mae = MAE()
huber = Huber()
binary_cross_entropy = BinaryCrossEntropy()
binary_cross_entropy_with_logits = BinaryCrossEntropyWithLogits()
cross_entropy = CrossEntropy()
