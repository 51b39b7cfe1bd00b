"""Activation functions f: each one class holding f, its derivative f′ and their fast forms.

An elementwise activation computes a = f(z) and, in backward, δ = g ∘ f′(z),
the Hadamard product of the notes' δ equations. The same objects serve the engine
(``relu(x)`` records a graph node), the layers (``Dense(activation="relu")``), the
trace of issue 8 (which shows f′(z)) and the fused fast path, whose in-place forms
(``f_into``, ``backprop_into`` and their forms with a layer's bias) sit in the same
class; where a compiled kernel does one of them in one pass (ReLU's), it is an
attribute of that class too. Softmax is not elementwise: its Jacobian is diag(a) − a aᵀ,
applied in backward as a ∘ (g − ⟨g, a⟩).
"""

from __future__ import annotations

from backprop import jit
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
    #: a_i depends on z_i alone, so backward is δ ∘ f′(z) and the in-place forms below apply.
    elementwise = True

    def f(self, z):
        raise NotImplementedError

    def df(self, z, a):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    # The in-place forms, for the fused fast path (backprop.layers.fused). They compute the
    # same numbers as f and df; subclasses override them where a form without temporaries exists.
    def f_into(self, z, out) -> None:
        """out[...] = f(z) (``out`` may be z itself)."""
        out[...] = self.f(z)

    def backprop_into(self, delta, z, a, scratch) -> None:
        """delta ∘= f′(z), in place (``scratch`` is a float buffer shaped like z)."""
        xp.multiply(delta, self.df(z, a), out=delta)

    # With the bias of the layer whose z this is (a Dense layer's z = W a + b), for a
    # subclass that does both in one pass (a compiled kernel): here, the two steps in turn.
    def add_bias_f_into(self, z, b, out) -> None:
        """z += b (b broadcast over the rows), then out[...] = f(z); z keeps z + b for backward."""
        z += b
        self.f_into(z, out)

    def backprop_bias_into(self, delta, z, a, scratch, grad_b) -> None:
        """delta ∘= f′(z), then grad_b[...] = Σ_rows delta (∂J/∂b of the layer whose z this is)."""
        self.backprop_into(delta, z, a, scratch)
        xp.add.reduce(delta, axis=0, out=grad_b)

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
    """f(z) = max(0, z);  f′(z) = 1 for z > 0, else 0.

    With a layer's bias, the forward (z ← z + b, a = max(z, 0)) and the backward
    (δ ← δ ∘ 1[z > 0], ∂J/∂b = Σ_rows δ) each run as one compiled pass when numba is
    installed (:mod:`backprop.jit`): at a small batch a step's time goes to the fixed cost
    of NumPy calls more than to arithmetic. The kernels compute the same IEEE operations in
    the same order as the NumPy forms they replace, so the numbers are bit-identical
    (``tests/engine/test_activation_kernels.py``).
    """

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

    def add_bias_f_into(self, z, b, out):
        compiled = self.add_bias_relu.get()
        zero = _kernel_zero(z, b, out) if compiled is not None else None
        if zero is None:
            return super().add_bias_f_into(z, b, out)
        compiled(z, b, out, zero)

    def backprop_bias_into(self, delta, z, a, scratch, grad_b):
        compiled = self.relu_delta_and_bias_grad.get()
        zero = _kernel_zero(delta, z, grad_b) if compiled is not None else None
        if zero is None:
            return super().backprop_bias_into(delta, z, a, scratch, grad_b)
        compiled(delta, z, grad_b, zero)

    @jit.kernel
    def add_bias_relu(Z, b, A, zero):
        """Z ← Z + b (b broadcast over the rows), then A = max(Z, 0) as ``np.maximum`` (NaN kept).

        ``zero`` is 0 in Z's dtype: scalars of the array's own type keep every operation in it.
        """
        n, k = Z.shape
        if b.shape[0] != k or A.shape[0] != n or A.shape[1] != k:  # (numba does not check indices)
            raise ValueError("add_bias_relu: b must have Z's width and A Z's shape")
        for i in range(n):
            for j in range(k):
                z = Z[i, j] + b[j]
                Z[i, j] = z
                if z >= zero or z != z:
                    A[i, j] = z
                else:
                    A[i, j] = zero

    @jit.kernel
    def relu_delta_and_bias_grad(delta, Z, grad_b, zero):
        """δ ← δ ∘ 1[Z > 0], then ∂J/∂b = Σ_rows δ, summed row after row as ``np.add.reduce(δ, axis=0)``."""
        n, k = delta.shape
        if Z.shape[0] != n or Z.shape[1] != k or grad_b.shape[0] != k:
            raise ValueError("relu_delta_and_bias_grad: Z must have δ's shape and grad_b its width")
        for i in range(n):
            for j in range(k):
                d = delta[i, j]
                if not Z[i, j] > zero:
                    d = d * zero  # δ·0, as NumPy's multiply by the 0/1 mask: NaN and the sign of 0 kept
                delta[i, j] = d
                if i == 0:
                    grad_b[j] = d
                else:
                    grad_b[j] = grad_b[j] + d

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
    """The threshold function f(z) = 1 for z ≥ 0, else 0;  f′(z) = 0 everywhere.

    With a zero derivative no gradient reaches the weights, which is why the notes
    reject it for training by gradient descent.
    """

    name = "step"

    def f(self, z):
        return (z >= 0).astype(z.dtype)

    def df(self, z, a):
        return xp.zeros_like(z)


_ZEROS = {xp.dtype(xp.float32): xp.float32(0), xp.dtype(xp.float64): xp.float64(0)}  # the dtypes kernels take


def _kernel_zero(a, b, c):
    """0 in the arrays' dtype when a compiled kernel takes them (one dtype, float32 or float64:
    a mixed call would compile a variant that rounds differently from NumPy), else None."""
    dtype = a.dtype
    if b.dtype != dtype or c.dtype != dtype:
        return None
    return _ZEROS.get(dtype)


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
