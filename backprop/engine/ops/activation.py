"""Activation functions f: each one class holding f, its derivative f′ and their fast forms.

An elementwise activation computes a = f(z) and, in backward, δ = g ∘ f′(z),
the Hadamard product of the notes' δ equations. The same objects serve the engine
(``relu(x)`` records a graph node), the layers (``Dense(activation="relu")``), the
trace of issue 8 (which shows f′(z)) and the fused fast path, whose in-place forms
(``f_into``, ``backprop_into`` and their forms with a layer's bias) sit in the same
class; where a compiled kernel does one of them in one pass (ReLU's), it is an
attribute of that class too. Softmax is not elementwise: its Jacobian is diag(a) − a aᵀ,
applied in backward as a ∘ (g − ⟨g, a⟩).

Every activation class is registered in :data:`ACTIVATIONS` under its ``name`` and
``aliases``; the layer ``nn.<layer_name>`` is derived from it (in
:mod:`backprop.layers.activations`), so a new activation is one class here:

    >>> ACTIVATIONS.get("logistic").layer_name, ACTIVATIONS.canonical("none")
    ('Sigmoid', 'identity')
"""

from __future__ import annotations

import numbers

from backprop import jit
from backprop.backend import xp
from backprop.checks import check_real
from backprop.engine.tensor import Tensor, as_tensor, make_result, tensor_method
from backprop.naming import short_repr
from backprop.registry import Configured, Registry

__all__ = [
    "Activation", "ACTIVATIONS", "get_activation",
    "Identity", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Arctan", "Step", "Softmax",
    "identity", "relu", "leaky_relu", "sigmoid", "tanh", "arctan", "step", "softmax", "log_softmax",
    "sigmoid_array", "softmax_array",
]

ACTIVATIONS = Registry("activation")
"""Every activation class, by ``name`` and ``aliases`` (case-insensitive)."""


class Activation(Configured):
    """An activation a = f(z): ``f(z)`` and its derivative ``df(z, a)`` where a = f(z).

    A subclass states its facets as class attributes and registers itself with
    ``@ACTIVATIONS.register``:

    * ``name``, ``aliases``: what ``Dense(activation=...)``, the command line and the
      scikit-learn front accept;
    * ``layer_name``: the class name of its layer, ``nn.<layer_name>`` (derived
      automatically unless :mod:`backprop.layers.activations` writes one by hand);
    * ``elementwise``: f acts on each z_i alone, so f′(z) is an array shaped like z
      (softmax: False, its Jacobian is a matrix);
    * ``weight_init``: the initialiser of a layer whose z goes through f when none is
      given (He for the ReLUs, Xavier otherwise; see :mod:`backprop.init`);
    * ``torch_name``: its ``torch.nn`` module's class name, with :meth:`torch_kwargs` and
      :meth:`from_torch_module` (``Arctan`` and ``Step``, which torch lacks, are supplied by
      :mod:`backprop.interop.torch`).

    Parameters (LeakyReLU's slope) are constructor arguments kept as attributes of the
    same names, so that the layer's config and :meth:`get_config` read them back.
    """

    name = ""
    aliases: tuple = ()
    layer_name = ""
    torch_name = ""
    #: a_i depends on z_i alone, so backward is δ ∘ f′(z) and the in-place forms below apply.
    elementwise = True
    weight_init = "xavier_normal"
    #: f(z) = z: a layer given this activation applies none (Identity; Linear with k = 1).
    is_identity = False
    #: f′ is a function of a = f(z) alone (σ: a(1 − a); ReLU: 1[z > 0] = 1[a > 0] for every z,
    #: NaN and ±0 included), so :meth:`backprop_into` reads a and may be given a in place of z:
    #: a layer then computes f in place and keeps no copy of z for backward.
    derivative_from_output = False

    def __init__(self):
        pass

    def f(self, z):
        raise NotImplementedError

    def df(self, z, a):
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this activation (``{}`` when it has none)."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Activation":
        return cls(**config)

    def torch_kwargs(self) -> dict:
        """The arguments of its ``torch.nn.<torch_name>`` module (``{}`` when it has none)."""
        return self.get_config()

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        """The activation a ``torch.nn.<torch_name>`` module computes.

        Raises:
            TypeError: settings of the module this activation does not have.
        """
        return cls()

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

    def add_bias_f_checked(self, z, b) -> bool:
        """z ← f(z + b) in place (no bias when b is None); returns True when every z was finite.

        False means "not shown", not "non-finite": the sum that checks here overflows for huge
        finite z. For a Dense layer, z_i = Σ_j W_ij x_j, so one NaN or ±inf x_j makes every z_i of
        its row NaN or ±inf (0 · inf is NaN too): True checks the layer's input x for free, which
        is how a prediction skips a separate pass over X (``FusedNetwork.predict``).
        """
        with xp.errstate(over="ignore", invalid="ignore"):
            finite = bool(xp.isfinite(xp.add.reduce(z, axis=None)))
        if b is None:
            self.f_into(z, z)
        else:
            self.add_bias_f_into(z, b, z)
        return finite

    def __call__(self, x) -> Tensor:
        x = as_tensor(x)
        a = self.f(x.data)
        return make_result(a, (x,), lambda g: (g * self.df(x.data, a),), self.name)

    def onnx_nodes(self, graph, z: str) -> str:
        """a = f(z) as ONNX nodes added to ``graph`` (a :class:`backprop.onnx.GraphBuilder`); returns
        the name of a. Each activation writes its own, beside its f (see ``Module.onnx_nodes``).

        Raises:
            NotImplementedError: for an activation that defines none.
        """
        raise NotImplementedError(
            f"the activation {self.name!r} has no ONNX export: define onnx_nodes(self, graph, z) "
            f"on {type(self).__qualname__}")



@ACTIVATIONS.register
class Identity(Activation):
    """f(z) = z;  f′(z) = 1. The notes' linear activation with slope k = 1 (see :class:`Linear`)."""

    name = "identity"
    aliases = ("none",)
    layer_name = "Identity"
    torch_name = "Identity"
    is_identity = True

    def f(self, z):
        return z.copy()

    def df(self, z, a):
        return xp.ones_like(z)

    def f_into(self, z, out):
        if out is not z:
            out[...] = z

    def backprop_into(self, delta, z, a, scratch):
        pass

    def onnx_nodes(self, graph, z):
        return graph.node("Identity", [z], "identity")


@ACTIVATIONS.register
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
    layer_name = "ReLU"
    torch_name = "ReLU"
    weight_init = "he_normal"  # ReLU zeroes half of z, so W needs twice the variance (He)

    def f(self, z):
        return xp.maximum(z, 0)

    def df(self, z, a):
        return (z > 0).astype(z.dtype)

    derivative_from_output = True

    def f_into(self, z, out):
        xp.maximum(z, 0, out=out)

    def onnx_nodes(self, graph, z):
        return graph.node("Relu", [z], "relu")

    def backprop_into(self, delta, z, a, scratch):
        compiled = self.relu_delta.get()
        views = jit.flat_views(delta, z) if compiled is not None else None
        if views is not None:  # one pass instead of the mask and the product
            compiled(*views, _ZEROS[delta.dtype])
            return
        xp.greater(z, 0, out=scratch)  # 1.0 where z > 0, else 0.0
        xp.multiply(delta, scratch, out=delta)

    @jit.kernel
    def relu_delta(delta, Z, zero):
        """δ ← δ ∘ 1[Z > 0] over 1-D views, as NumPy's product with the 0/1 mask (NaN and the sign of 0 kept)."""
        for i in range(delta.shape[0]):
            if not Z[i] > zero:
                delta[i] = delta[i] * zero

    def add_bias_f_into(self, z, b, out):
        if out is z:  # in place: its own kernel (one array read and written, which vectorises)
            compiled = self.add_bias_relu_in_place.get()
            zero = _kernel_zero(z, b, z) if compiled is not None else None
            if zero is None:
                return super().add_bias_f_into(z, b, out)
            compiled(z, b, zero)
            return
        compiled = self.add_bias_relu.get()
        zero = _kernel_zero(z, b, out) if compiled is not None else None
        if zero is None:
            return super().add_bias_f_into(z, b, out)
        compiled(z, b, out, zero)

    def add_bias_f_checked(self, z, b) -> bool:
        compiled = None if b is None else self.add_bias_relu_in_place.get()
        zero = _kernel_zero(z, b, z) if compiled is not None else None
        if zero is None:
            return super().add_bias_f_checked(z, b)
        return compiled(z, b, zero)

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
    def add_bias_relu_in_place(Z, b, zero):
        """Z ← max(Z + b, 0) in place, as ``add_bias_relu(Z, b, Z, zero)``; returns whether every Z
        was finite before (z − z is 0 for a finite z, NaN for NaN and ±inf).

        A kernel of its own: with its output distinct from Z, ``add_bias_relu`` cannot assume
        the two do not overlap, and given Z twice it runs one element at a time (4× slower).
        """
        n, k = Z.shape
        if b.shape[0] != k:
            raise ValueError("add_bias_relu_in_place: b must have Z's width")
        finite = True
        for i in range(n):
            row = Z[i]
            row_finite = True
            for j in range(k):
                z = row[j]
                row_finite &= z - z == zero
                z = z + b[j]
                row[j] = z if z >= zero or z != z else zero
            finite &= row_finite
        return finite

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


@ACTIVATIONS.register
class LeakyReLU(Activation):
    """f(z) = z for z > 0, else s·z;  f′(z) = 1 for z > 0, else s.

    Args:
        negative_slope: s, the slope for z ≤ 0 (default 0.01), a finite number.
    """

    name = "leaky_relu"
    layer_name = "LeakyReLU"
    torch_name = "LeakyReLU"
    weight_init = "he_normal"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        # a NaN or infinite slope would make every output NaN
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def f(self, z):
        return xp.where(z > 0, z, z * z.dtype.type(self.negative_slope))

    def df(self, z, a):
        return xp.where(z > 0, 1, self.negative_slope).astype(z.dtype)

    def get_config(self) -> dict:
        return {"negative_slope": self.negative_slope}

    def onnx_nodes(self, graph, z):
        return graph.node("LeakyRelu", [z], "leaky_relu", alpha=float(self.negative_slope))

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        return cls(float(module.negative_slope))


@ACTIVATIONS.register
class Sigmoid(Activation):
    """The logistic function f(z) = σ(z) = 1/(1 + e^(−z));  f′(z) = a(1 − a).

    Computed without overflow: for z < 0 as e^z/(1 + e^z).
    """

    name = "sigmoid"
    aliases = ("logistic",)
    layer_name = "Sigmoid"
    torch_name = "Sigmoid"

    derivative_from_output = True

    def f(self, z):
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def df(self, z, a):
        return a * (1 - a)

    def backprop_into(self, delta, z, a, scratch):
        xp.subtract(1, a, out=scratch)
        xp.multiply(scratch, a, out=scratch)
        xp.multiply(delta, scratch, out=delta)

    def onnx_nodes(self, graph, z):
        return graph.node("Sigmoid", [z], "sigmoid")


@ACTIVATIONS.register
class Tanh(Activation):
    """f(z) = tanh z;  f′(z) = 1 − a²."""

    name = "tanh"
    layer_name = "Tanh"
    torch_name = "Tanh"

    derivative_from_output = True

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

    def onnx_nodes(self, graph, z):
        return graph.node("Tanh", [z], "tanh")


@ACTIVATIONS.register
class Softplus(Activation):
    """f(z) = ln(1 + e^z), a smooth ReLU;  f′(z) = σ(z) = 1/(1 + e^(−z)).

    Computed as max(z, 0) + ln(1 + e^(−|z|)), so that e^z never overflows (PyTorch's
    ``Softplus()`` returns z itself above z = 20, where the two differ by < 3e−9).
    """

    name = "softplus"
    layer_name = "Softplus"
    torch_name = "Softplus"

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        if module.beta != 1 or module.threshold < 20:  # (above 20 the two differ by < 3e-9)
            raise TypeError(f"torch.nn.Softplus(beta={module.beta}, threshold={module.threshold}): only beta=1 "
                            "and threshold >= 20 are supported")
        return cls()

    def f(self, z):
        return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))

    def df(self, z, a):
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def f_into(self, z, out):
        if xp.may_share_memory(out, z):  # (predicting in place: max(z, 0) must be read before z is overwritten)
            relu = xp.maximum(z, 0)
        else:
            relu = None
        xp.abs(z, out=out)
        xp.negative(out, out=out)
        xp.exp(out, out=out)
        xp.log1p(out, out=out)
        out += xp.maximum(z, 0) if relu is None else relu

    def backprop_into(self, delta, z, a, scratch):
        xp.multiply(delta, self.df(z, a), out=delta)

    def onnx_nodes(self, graph, z):
        # max(z, 0) + ln(1 + e^(−|z|)), as f: ONNX's Softplus is ln(e^z + 1), whose e^z
        # overflows for large z (and ONNX Runtime has no float64 kernel for it).
        tail = graph.node("Exp", [graph.node("Neg", [graph.node("Abs", [z])])])
        log_term = graph.node("Log", [graph.node("Add", [tail, graph.constant(1.0, "one")])])
        return graph.node("Add", [graph.node("Relu", [z]), log_term], "softplus")


@ACTIVATIONS.register
class Arctan(Activation):
    """f(z) = arctan z;  f′(z) = 1/(1 + z²)."""

    name = "arctan"
    layer_name = "Arctan"
    torch_name = "Arctan"

    def f(self, z):
        return xp.arctan(z)

    def df(self, z, a):
        return 1 / (1 + z * z)

    def onnx_nodes(self, graph, z):
        return graph.float32_node("Atan", [z], "arctan")  # (ONNX Runtime's CPU Atan is float32 only)


@ACTIVATIONS.register
class Step(Activation):
    """The notes' threshold function σ_Step(z; k) = 1 for z ≥ k, else 0;  f′(z) = 0 everywhere.

    With a zero derivative no gradient reaches the weights, which is why the notes
    reject it for training by gradient descent.

    Args:
        k: the threshold (default 0; the notes use k = ½ on a probability to pick a class).
    """

    name = "step"
    layer_name = "Step"
    torch_name = "Step"

    def __init__(self, k: float = 0.0):
        # A NaN threshold would make every output 0 without a word; an infinite one too.
        self.k = check_real(k, "k", "step")

    def f(self, z):
        return (z >= self.k).astype(z.dtype)

    def df(self, z, a):
        return xp.zeros_like(z)

    def get_config(self) -> dict:
        return {} if self.k == 0 else {"k": self.k}

    def onnx_nodes(self, graph, z):
        # 1 where z ≥ k: k in the network's dtype, as NumPy compares z with the Python float k.
        passed = graph.node("GreaterOrEqual", [z, graph.constant(self.k, "step_k")])
        return graph.cast(passed, graph.dtype)

    def torch_kwargs(self) -> dict:
        return {"k": self.k}

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        return cls(float(module.k))


@ACTIVATIONS.register
class Linear(Activation):
    """The notes' linear activation σ(z; k) = k·z;  f′(z) = k everywhere.

    A network of linear layers is one linear map (W² (k W¹ a)) = (k W² W¹) a, whatever its
    depth: the reason the notes want a non-linear f. With k = 1 it is the identity, and
    ``activation="linear"`` gives no activation at all, as "identity" does.

    Args:
        k: the slope, a finite number (default 1), e.g. ``{"name": "linear", "k": 2.0}``.
    """

    name = "linear"
    layer_name = "LinearActivation"  # nn.Linear would read as PyTorch's fully connected layer
    torch_name = "LinearActivation"  # (torch.nn has none; backprop.interop.torch supplies it)

    def __init__(self, k: float = 1.0):
        self.k = check_real(k, "k", "linear")

    @property
    def is_identity(self) -> bool:
        return self.k == 1

    def f(self, z):
        return z * z.dtype.type(self.k)

    def df(self, z, a):
        return xp.full_like(z, self.k)

    def f_into(self, z, out):
        xp.multiply(z, z.dtype.type(self.k), out=out)

    def backprop_into(self, delta, z, a, scratch):
        xp.multiply(delta, delta.dtype.type(self.k), out=delta)

    def get_config(self) -> dict:
        return {} if self.k == 1 else {"k": self.k}

    def onnx_nodes(self, graph, z):
        return graph.node("Mul", [z, graph.constant(self.k, "slope_k")], "linear")  # k in z's dtype, as f

    def torch_kwargs(self) -> dict:
        return {"k": self.k}

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        return cls(float(module.k))


@ACTIVATIONS.register
class Softmax(Activation):
    """a_k = e^(z_k) / Σ_j e^(z_j) along ``axis``, computed as e^(z_k − max z) (no overflow).

    Not elementwise: its Jacobian ∂a/∂z = diag(a) − a aᵀ is a matrix, so there is no
    f′(z) vector and :meth:`df` raises. Backward (the :func:`softmax` op) applies
    the Jacobian as δ = a ∘ (g − Σ_k g_k a_k).

    Args:
        axis: the axis that sums to 1 (default −1, the features of a batch in rows).
    """

    name = "softmax"
    layer_name = "Softmax"
    torch_name = "Softmax"
    elementwise = False

    def __init__(self, axis: int = -1):
        super().__init__()
        # NumPy arrays have at most 64 axes; the model-file loader checks the real rank.
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -64 <= axis < 64:
            raise ValueError(f"Softmax: axis must be an int in [-64, 63], got {short_repr(axis)}")
        self.axis = int(axis)

    def f(self, z):
        return softmax_array(z, self.axis)

    def df(self, z, a):
        raise NotImplementedError(
            "softmax is not elementwise: its Jacobian is diag(a) - a a^T, applied in backward as "
            "a * (g - sum(g * a, axis)); there is no f'(z) vector"
        )

    def __call__(self, x) -> Tensor:
        return softmax(x, axis=self.axis)

    def get_config(self) -> dict:
        return {} if self.axis == -1 else {"axis": self.axis}

    def onnx_nodes(self, graph, z):
        return graph.node("Softmax", [z], "softmax", axis=self.axis)  # (opset ≥ 13: along this one axis)

    def torch_kwargs(self) -> dict:
        return {"dim": self.axis}

    @classmethod
    def from_torch_module(cls, module) -> "Activation":
        if module.dim is None:
            raise TypeError("torch.nn.Softmax(dim=None) picks its axis from the input's rank; give dim")
        return cls(int(module.dim))


_ZEROS = {xp.dtype(xp.float32): xp.float32(0), xp.dtype(xp.float64): xp.float64(0)}  # the dtypes kernels take


def _kernel_zero(a, b, c):
    """0 in the arrays' dtype when a compiled kernel takes them (one dtype, float32 or float64:
    a mixed call would compile a variant that rounds differently from NumPy), else None."""
    dtype = a.dtype
    if b.dtype != dtype or c.dtype != dtype:
        return None
    return _ZEROS.get(dtype)



def get_activation(name_or_activation, **kwargs) -> Activation:
    """Resolve ``"relu"``, ``"logistic"`` etc. (or an :class:`Activation`) to an Activation object.

    ``kwargs`` are the activation's parameters (``negative_slope=0.2``); None gives Identity.

    Raises:
        ValueError: for an unknown name, listing the valid ones and suggesting the closest.
        TypeError: for something that is neither a name nor an Activation.
    """
    if isinstance(name_or_activation, Activation):
        return name_or_activation
    if name_or_activation is None:
        return Identity()
    if not isinstance(name_or_activation, str):
        raise TypeError(f"activation must be a name or an Activation, got {type(name_or_activation).__name__}")
    return ACTIVATIONS.get(name_or_activation)(**kwargs)


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
