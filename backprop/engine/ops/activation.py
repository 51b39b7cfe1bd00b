"""Activation functions f, each defined once with its derivative f′ beside it.

An elementwise activation computes a = f(z) and, in backward, δ = g ∘ f′(z),
the Hadamard product of the notes' δ equations. The same objects serve the
layers (``Dense(activation="relu")``) and the trace of issue 8, which shows f′(z).
Softmax is not elementwise: its Jacobian is diag(a) − a aᵀ, applied in backward as
a ∘ (g − ⟨g, a⟩).
"""

from __future__ import annotations

import math
import numbers

from backprop.backend import xp
from backprop.engine.tensor import Tensor, as_tensor, make_result, tensor_method
from backprop.naming import unknown_name_error

__all__ = [
    "Activation", "ACTIVATIONS", "get_activation",
    "identity", "relu", "leaky_relu", "sigmoid", "tanh", "arctan", "step", "softmax", "log_softmax",
    "sigmoid_array", "softmax_array",
]


class Activation:
    """An elementwise activation: ``f(z)`` and its derivative ``df(z, a)`` where a = f(z)."""

    name = ""

    def f(self, z):
        raise NotImplementedError

    def df(self, z, a):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    # In-place kernels for the fused training fast path (backprop.training.fastpath).
    # They compute the same numbers as f and df without allocating; subclasses
    # override them where a cheaper form exists.
    def f_into(self, z, out) -> None:
        """out[...] = f(z)."""
        out[...] = self.f(z)

    def backprop_into(self, delta, z, a, scratch) -> None:
        """delta ∘= f′(z), in place (``scratch`` is a float buffer shaped like z)."""
        xp.multiply(delta, self.df(z, a), out=delta)

    def __call__(self, x) -> Tensor:
        x = as_tensor(x)
        a = self.f(x.data)
        return make_result(a, (x,), lambda g: (g * self.df(x.data, a),), self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Identity(Activation):
    """f(z) = z;  f′(z) = 1. The notes' linear activation."""

    name = "identity"

    def f(self, z):
        return z.copy()

    def df(self, z, a):
        return xp.ones_like(z)


    def f_into(self, z, out):
        if out is not z:
            out[...] = z

    def backprop_into(self, delta, z, a, scratch):
        pass

class ReLU(Activation):
    """f(z) = max(0, z);  f′(z) = 1 for z > 0, else 0."""

    name = "relu"

    def f(self, z):
        return xp.maximum(z, 0)

    def df(self, z, a):
        return (z > 0).astype(z.dtype)


    def f_into(self, z, out):
        xp.maximum(z, 0, out=out)

    def backprop_into(self, delta, z, a, scratch):
        xp.greater(z, 0, out=scratch)  # 1.0 where z > 0, else 0.0
        xp.multiply(delta, scratch, out=delta)

class LeakyReLU(Activation):
    """f(z) = z for z > 0, else s·z;  f′(z) = 1 for z > 0, else s (s = negative_slope)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
            raise TypeError(f"negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def f(self, z):
        return xp.where(z > 0, z, z * z.dtype.type(self.negative_slope))

    def df(self, z, a):
        return xp.where(z > 0, 1, self.negative_slope).astype(z.dtype)

    def get_config(self) -> dict:
        return {"negative_slope": self.negative_slope}


class Sigmoid(Activation):
    """The logistic function f(z) = 1/(1 + e^(−z));  f′(z) = a(1 − a).

    Computed without overflow: for z < 0 as e^z/(1 + e^z).
    """

    name = "sigmoid"

    def f(self, z):
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def df(self, z, a):
        return a * (1 - a)


    def backprop_into(self, delta, z, a, scratch):
        xp.subtract(1, a, out=scratch)
        xp.multiply(scratch, a, out=scratch)
        xp.multiply(delta, scratch, out=delta)

class Tanh(Activation):
    """f(z) = tanh z;  f′(z) = 1 − a²."""

    name = "tanh"

    def f(self, z):
        return xp.tanh(z)

    def df(self, z, a):
        return 1 - a * a


    def f_into(self, z, out):
        xp.tanh(z, out=out)

    def backprop_into(self, delta, z, a, scratch):
        xp.multiply(a, a, out=scratch)
        xp.subtract(1, scratch, out=scratch)
        xp.multiply(delta, scratch, out=delta)

class Arctan(Activation):
    """f(z) = arctan z;  f′(z) = 1/(1 + z²)."""

    name = "arctan"

    def f(self, z):
        return xp.arctan(z)

    def df(self, z, a):
        return 1 / (1 + z * z)


class Step(Activation):
    """The notes' threshold function σ_Step(z; k) = 1 for z ≥ k, else 0;  f′(z) = 0 everywhere.

    With a zero derivative no gradient reaches the weights, which is why the notes
    reject it for training by gradient descent.

    Args:
        k: the threshold (default 0; the notes use k = ½ on a probability to pick a class).
    """

    name = "step"

    def __init__(self, k: float = 0.0):
        # A NaN threshold would make every output 0 without a word; an infinite one too.
        if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
            raise ValueError(f"step: k must be a finite number, got {k!r}")
        self.k = float(k)

    def f(self, z):
        return (z >= self.k).astype(z.dtype)

    def df(self, z, a):
        return xp.zeros_like(z)

    def get_config(self) -> dict:
        return {} if self.k == 0 else {"k": self.k}


ACTIVATIONS = {cls.name: cls for cls in (Identity, ReLU, LeakyReLU, Sigmoid, Tanh, Arctan, Step)}
_ALIASES = {"linear": "identity", "logistic": "sigmoid", "none": "identity"}


def get_activation(name_or_activation, **kwargs) -> Activation:
    """Resolve ``"relu"``, ``"logistic"`` etc. (or an :class:`Activation`) to an Activation object.

    Raises:
        ValueError: for an unknown name, suggesting the closest valid one.
    """
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    if name_or_activation is None:
        return Identity()
    if not isinstance(name_or_activation, str):
        raise TypeError(f"activation must be a name or an Activation, got {type(name_or_activation).__name__}")
    key = name_or_activation.lower()
    key = _ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise unknown_name_error("activation", name_or_activation, key, sorted(ACTIVATIONS) + ["softmax"])
    return ACTIVATIONS[key](**kwargs)


_RELU, _SIGMOID, _TANH, _ARCTAN, _STEP = ReLU(), Sigmoid(), Tanh(), Arctan(), Step()


def identity(x) -> Tensor:
    """a = z."""
    return Identity()(x)


@tensor_method
def relu(x) -> Tensor:
    """a = max(0, z)."""
    return _RELU(x)


@tensor_method
def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """a = z for z > 0, else negative_slope·z."""
    return LeakyReLU(negative_slope)(x)


@tensor_method
def sigmoid(x) -> Tensor:
    """a = 1/(1 + e^(−z))."""
    return _SIGMOID(x)


@tensor_method
def tanh(x) -> Tensor:
    """a = tanh z."""
    return _TANH(x)


@tensor_method
def arctan(x) -> Tensor:
    """a = arctan z."""
    return _ARCTAN(x)


@tensor_method
def step(x) -> Tensor:
    """a = 1 for z ≥ 0, else 0; its derivative is 0 everywhere."""
    return _STEP(x)


def sigmoid_array(z):
    """σ(z) on a plain array (no graph): for predictions and probabilities."""
    return _SIGMOID.f(z)


def softmax_array(z, axis: int = -1):
    """softmax(z) on a plain array (no graph), computed as e^(z − max z) so that nothing overflows."""
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=axis, keepdims=True)


@tensor_method
def softmax(x, axis: int = -1) -> Tensor:
    """a_k = e^(z_k) / Σ_j e^(z_j) along ``axis``;  backward: δ = a ∘ (g − Σ_k g_k a_k)."""
    x = as_tensor(x)
    a = softmax_array(x.data, axis)
    return make_result(
        a, (x,), lambda g: (a * (g - xp.sum(g * a, axis=axis, keepdims=True)),), "softmax"
    )


@tensor_method
def log_softmax(x, axis: int = -1) -> Tensor:
    """out_k = z_k − log Σ_j e^(z_j) (log-sum-exp, stable);  backward: g − softmax(z) Σ_k g_k."""
    x = as_tensor(x)
    z_max = xp.max(x.data, axis=axis, keepdims=True)
    shifted = x.data - z_max
    log_sum = xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    out = shifted - log_sum
    return make_result(
        out, (x,), lambda g: (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),), "log_softmax"
    )
