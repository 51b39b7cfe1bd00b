"""Dense: a fully connected layer of neurons, z = W a + b, a_out = f(z).

Beside the layer (the reference, on the engine's ``linear`` op) sit its fused forms:
:class:`DenseOp` (training and prediction on reused buffers, the activation's bias and
f in one pass) and :class:`DenseStack` (several Dense layers predicting, one compiled
call for one row, :func:`dense_stack_row`).
"""

from __future__ import annotations

import math
import operator
from typing import Optional

import numpy as np

from backprop import jit
from backprop.backend import get_default_dtype, is_column_major, resolve_dtype
from backprop.engine.ops.activation import Identity, ReLU
from backprop.engine.ops.linear import linear
from backprop.engine.tensor import Tensor
from backprop import init
from backprop.checks import check_bool, check_positive_int
from backprop.layers.activations import (
    ActivationOp, activation_config, following_activation, resolve_activation, torch_activation, torch_dtype_name,
)
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module
from backprop.layers.traced import TracedForm
from backprop.regularizers import get_regularizer
from backprop.scratch import work_array

__all__ = ["Dense", "DenseOp", "DenseStack", "dense_stack_row", "dense_stack_row_columns"]

_IDENTITY = Identity()  # f of a Dense layer without activation, for its checked bias pass
_data = operator.attrgetter("data")
_KEPT_BYTES = 64 << 20  # a thread keeps work arrays up to this size (larger ones are made per call)


@register_module
class Dense(Module):
    """A fully connected layer: z = W a + b, then a_out = f(z).

    In the notes' column form one example a (n_in,) gives z = W a + b with W of
    shape (n_out, n_in). A batch has its examples in rows, A of shape (N, n_in),
    so the layer computes Z = A Wᵀ + b (row i of Z is the notes' z for example i),
    with the engine's fused ``linear`` op, whose backward gives ∂J/∂W = δᵀ A,
    ∂J/∂b = Σ_rows δ and ∂J/∂A = δ W.

    Args:
        in_features: n_in = n^[ℓ−1], a positive int.
        out_features: n_out = n^[ℓ], the number of neurons, a positive int.
        activation: f: None (a = z), or one of "relu", "leaky_relu", "sigmoid" (or
            "logistic"), "tanh", "arctan", "step", "identity" (or "linear"), "softmax"
            (over the last axis), an engine Activation object, or a dict such as
            ``{"name": "leaky_relu", "negative_slope": 0.2}``.
        use_bias: whether the layer has b.
        weight_init: initialiser of W (a name, a ``{"name": ..., **params}`` dict or a
            callable ``fn(shape, rng, dtype)``, see :mod:`backprop.init`). The default
            depends on f: relu and leaky_relu → "he_normal" (σ = √(2/n_in)); any other
            activation or none → "xavier_normal" (σ = √(2/(n_in + n_out))).
        bias_init: initialiser of b (default "zeros").
        weight_regularizer: penalty on W, never on b: None, "l1", "l2", "l1_l2" (λ = 0.01),
            a dict such as ``{"name": "l2", "l2": 1e-3}``, or ``L2(1e-3)``.
        dtype: float dtype of W and b (default: the library's default dtype, float32).

    Attributes:
        W: Parameter of shape (out_features, in_features), as ``torch.nn.Linear.weight``.
        b: Parameter of shape (out_features,), or None without bias.
        activation: the engine Activation object holding f and f′, or None for a = z.

    Example:
        >>> import numpy as np
        >>> layer = Dense(4, 3, activation="relu")
        >>> layer.W.shape, layer.b.shape
        ((3, 4), (3,))
        >>> layer(np.ones((5, 4), dtype=np.float32)).shape
        (5, 3)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation=None,
        use_bias: bool = True,
        weight_init=None,
        bias_init="zeros",
        weight_regularizer=None,
        dtype=None,
    ):
        super().__init__()
        arguments = _checked_arguments(in_features, out_features, activation=activation, use_bias=use_bias,
                                       weight_init=weight_init, bias_init=bias_init,
                                       weight_regularizer=weight_regularizer, dtype=dtype)
        self.in_features, self.out_features = arguments["in_features"], arguments["out_features"]
        self.activation = arguments["activation"]
        self.weight_init, self.bias_init = arguments["weight_init"], arguments["bias_init"]
        self.weight_regularizer = arguments["weight_regularizer"]
        dtype = arguments["dtype"]

        self.W = Parameter(self.weight_init((self.out_features, self.in_features), dtype=dtype))
        self.b = Parameter(self.bias_init((self.out_features,), dtype=dtype)) if use_bias else None

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """``{"W": (n_out, n_in), "b": (n_out,)}`` for a config, every value checked as the constructor does."""
        arguments = _checked_arguments(**cls.check_config_keys(config))
        n_in, n_out = arguments["in_features"], arguments["out_features"]
        return {"W": (n_out, n_in), **({"b": (n_out,)} if arguments["use_bias"] else {})}

    def forward(self, a) -> Tensor:
        """Z = A Wᵀ + b for a batch A (N, n_in), or z = W a + b for one example; then f(z)."""
        z = linear(a, self.W, self.b)
        return z if self.activation is None else self.activation(z)

    def fused_ops(self) -> Optional[tuple]:
        """``(DenseOp,)``, followed by the activation's op when f is set; None when f is not
        elementwise (softmax) or the regulariser has no fused form: the engine runs the layer."""
        f, regularizer = self.activation, self.weight_regularizer
        if regularizer is not None and regularizer.fused is None:
            return None
        if f is not None and not f.elementwise:
            return None
        op = DenseOp(self.W, self.b, regularizer)
        return (op,) if f is None else (op, ActivationOp(f))

    def onnx_nodes(self, graph, a: str) -> str:
        """Z = A Wᵀ + b as MatMul and Add (any number of leading axes, as ``linear``), then f(Z)."""
        z = graph.node("MatMul", [a, graph.constant(self.W.data.T, "W_T")], "z")
        if self.b is not None:
            z = graph.node("Add", [z, graph.constant(self.b.data, "b")], "z")
        return z if self.activation is None else self.activation.onnx_nodes(graph, z)

    def own_regularization_loss(self) -> Optional[Tensor]:
        """penalty(W) from ``weight_regularizer`` (the bias is not penalised), or None."""
        return None if self.weight_regularizer is None else self.weight_regularizer(self.W)

    def traced_form(self) -> TracedForm:
        """z = W a + b for the trace; in rows, (W^m)ᵀ δ is Δ W and equation (3) is Δᵀ A."""
        return TracedForm(
            description=f"Dense {self.in_features} → {self.out_features}", activation=self.activation,
            example_ndim=1, z=linear,
            input_gradient=lambda delta, W, shape: (delta @ W).reshape(shape),
            weight_gradient=lambda delta, a_prev: delta.T @ a_prev,
        )

    # PyTorch: Linear (its weight is W, (n_out, n_in), as here), then the activation's module.
    torch_types = ("Linear",)

    def to_torch_modules(self, nn) -> list:
        linear_module = nn.Linear(self.in_features, self.out_features, bias=self.b is not None)
        return [linear_module] + ([] if self.activation is None else [torch_activation(self.activation, nn)])

    def torch_layout(self) -> list:
        arrays = {"weight": "W", **({} if self.b is None else {"bias": "b"})}
        return [arrays] + ([] if self.activation is None else [{}])

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module, activation = modules[0], following_activation(modules)
        layer = cls(module.in_features, module.out_features, activation=activation, use_bias=module.bias is not None,
                    dtype=torch_dtype_name(module.weight))
        return layer, 1 if activation is None else 2

    def expected_in_features(self) -> int:
        return self.in_features

    def output_features(self, in_features) -> int:
        return self.out_features

    def get_config(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": activation_config(self.activation),
            "use_bias": self.b is not None,
            "weight_init": init.initializer_config(self.weight_init),
            "bias_init": init.initializer_config(self.bias_init),
            "weight_regularizer": None if self.weight_regularizer is None else self.weight_regularizer.get_config(),
            "dtype": self.W.dtype.name,
        }

    def extra_repr(self) -> str:
        parts = [f"{self.in_features} -> {self.out_features}"]
        if self.activation is not None:
            parts.append(f"activation={activation_config(self.activation)!r}")
        if self.b is None:
            parts.append("use_bias=False")
        if self.weight_regularizer is not None:
            parts.append(f"weight_regularizer={self.weight_regularizer!r}")
        return ", ".join(parts)


def _checked_arguments(in_features, out_features, *, activation=None, use_bias=True, weight_init=None,
                       bias_init="zeros", weight_regularizer=None, dtype=None) -> dict:
    """The constructor's arguments, validated and resolved (names to objects), allocating no weights."""
    in_features = check_positive_int(in_features, "in_features", "Dense")
    out_features = check_positive_int(out_features, "out_features", "Dense")
    use_bias = check_bool(use_bias, "use_bias", "Dense")
    activation = _named("activation", resolve_activation, activation)
    if getattr(activation, "name", None) == "softmax" and not -2 <= activation.axis <= 1:
        # z has the axes (N, n_out) (or (n_out,) for one example): no other axis exists.
        raise ValueError(f"Dense: a softmax activation's axis must be in [-2, 1], got {activation.axis}")
    if weight_init is None:
        weight_init = init.default_weight_init(None if activation is None else activation.name)
    return {
        "in_features": in_features,
        "out_features": out_features,
        "use_bias": use_bias,
        "activation": activation,
        "weight_init": _named("weight_init", init.get_initializer, weight_init),
        "bias_init": _named("bias_init", init.get_initializer, bias_init),
        "weight_regularizer": _named("weight_regularizer", get_regularizer, weight_regularizer),
        "dtype": get_default_dtype() if dtype is None else _named("dtype", resolve_dtype, dtype),
    }


def _named(argument: str, resolve, value):
    """``resolve(value)``, with errors prefixed by the layer and argument name."""
    try:
        return resolve(value)
    except (TypeError, ValueError) as error:
        raise (TypeError if isinstance(error, TypeError) else ValueError)(f"Dense: {argument}: {error}") from None


# ------------------------------------------------------------------ fused forms
class DenseOp(FusedOp):
    """Z = A Wᵀ + b, then A_out = f(Z) when an elementwise activation is fused in.

    Backward, with δ = ∂J/∂A_out: δ_Z = δ ∘ f′(Z), ∂J/∂W = δ_Zᵀ A (+ the regulariser's
    gradient), ∂J/∂b = Σ_rows δ_Z, ∂J/∂A = δ_Z W — the notes' four equations, batched.
    The activation adds b and applies f in one pass, and in backward applies f′ and sums
    ∂J/∂b in one
    (:meth:`Activation.add_bias_f_into <backprop.engine.ops.activation.Activation.add_bias_f_into>`).
    When f′ is a function of a alone (ReLU, σ, tanh: ``derivative_from_output``), f runs in
    place on the output buffer and backward reads a; otherwise Z is kept in a buffer of the
    op for backward (one more array written per step).
    """

    def __init__(self, W, b, regularizer=None, activation=None):
        # (No reference to the layer: only its Parameters, read at each use.)
        self.W, self.b = W, b
        self.regularizer = regularizer
        self.activation = activation
        self.params = (W,) if b is None else (W, b)
        self.weight_params = (W,)
        self.column_major_params = (W,)
        self._penalty = 0.0
        self._z = None  # Z of the last forward, when f follows and f′ needs z itself (not ReLU's)

    @property
    def in_features(self) -> int:
        return self.W.data.shape[1]

    def out_shape(self, in_shape):
        n_out, n_in = self.W.data.shape
        if len(in_shape) != 2 or in_shape[1] != n_in:
            raise ValueError(f"Dense: expected input of shape (N, {n_in}), got {in_shape}")
        return (in_shape[0], n_out)

    def forward(self, a, out):
        f, b = self.activation, self.b
        # Z goes into the output itself, unless f′ needs z kept (f′ that reads a alone: f in place)
        z = out if f is None or f.derivative_from_output else self._z_buffer(out)
        np.matmul(a, self.W.data.T, out=z)
        if f is None:
            if b is not None:
                out += b.data
        elif b is None:
            f.f_into(z, out)
        else:
            f.add_bias_f_into(z, b.data, out)
        return out

    def _z_buffer(self, out):
        """The op's buffer for Z (kept for backward when f′ needs z itself), shaped like ``out``."""
        z = self._z
        if z is None or z.shape != out.shape or z.dtype != out.dtype:
            z = self._z = np.empty_like(out)
        return z

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        f = self.activation
        if f is not None:
            z = out if f.derivative_from_output else self._z
            if self.b is None:
                f.backprop_into(delta, z, out, scratch)
            else:
                f.backprop_bias_into(delta, z, out, scratch, grads[1])
        elif self.b is not None:
            np.add.reduce(delta, axis=0, out=grads[1])
        W, grad_W = self.W.data, grads[0]
        if is_column_major(grad_W):  # (packed by fit: ∂J/∂Wᵀ = Aᵀ δ_Z, written row-major)
            np.matmul(a_in.T, delta, out=grad_W.T)
        else:
            np.matmul(delta.T, a_in, out=grad_W)
        self._penalty = 0.0 if self.regularizer is None else self.regularizer.fused(W, grad_W)
        if delta_in is None:
            return None
        np.matmul(delta, W, out=delta_in)
        return delta_in

    def penalty(self) -> float:
        return self._penalty

    def predict(self, a, overwrite):
        if a.shape[0] == 1:
            out = self.predict_row(a)
            if out is not None:
                return out
        return self._predict_arrays(a)

    vouches_for_input = True

    def predict_checked(self, a, overwrite):
        return _predict_checked(self, (self,), a)

    def _predict_arrays(self, a, certify=False, into=None):
        """:meth:`predict` with NumPy alone (a new array, or the work array named ``into``;
        ``a`` untouched); with ``certify``, the pair (outputs, whether that showed every value
        of ``a`` finite: see
        :meth:`Activation.add_bias_f_checked <backprop.engine.ops.activation.Activation.add_bias_f_checked>`)."""
        W = self.W.data
        if a.ndim != 2:
            raise ValueError(f"Dense: expected input of shape (N, {W.shape[1]}), got {a.shape}")
        if a.shape[0] == 1:
            z = (W @ a[0])[None, :]  # one example: the notes' z = W a + b, a matrix–vector product
        elif into is not None:
            dtype = np.result_type(a.dtype, W.dtype)
            z = np.matmul(a, W.T, out=work_array(("dense", into), (a.shape[0], W.shape[0]), dtype, _KEPT_BYTES))
        else:
            z = a @ W.T
        f = self.activation
        b = None if self.b is None else self.b.data
        if certify:
            return z, (_IDENTITY if f is None else f).add_bias_f_checked(z, b)
        if f is None:
            if b is not None:
                z += b
        elif b is None:
            f.f_into(z, z)
        else:
            f.add_bias_f_into(z, b, z)
        return z

    def predict_row(self, x):
        stack = self.__dict__.get("_stack")
        if stack is None:
            stack = self._stack = DenseStack((self,))  # (kept: it remembers the arrays it checked)
        return stack.predict_row(x)

    def fuse_next(self, following, training):
        if isinstance(following, ActivationOp) and following.activation.name == "identity":
            return self  # f(z) = z: this op already computes it
        if self.activation is None and isinstance(following, ActivationOp):
            return DenseOp(self.W, self.b, self.regularizer, following.activation)
        if not training and isinstance(following, (DenseOp, DenseStack)):
            return DenseStack((self,)).fuse_next(following, training)
        return None


class DenseStack(FusedOp):
    """Dense layers one after another, predicting: a⁰ = x, aᵐ = fᵐ(Wᵐ aᵐ⁻¹ + bᵐ).

    A batch runs layer by layer (:meth:`DenseOp.predict`); one row, when every layer has a
    bias and f is ReLU or none, runs in one compiled call (:func:`dense_stack_row`): for one
    example, three NumPy calls per layer cost more than the arithmetic.
    """

    def __init__(self, layers):
        self.layers = tuple(layers)
        relu = []
        for op in self.layers:
            f = op.activation
            if op.b is None or (f is not None and type(f) is not ReLU):
                relu = None
                break
            relu.append(f is not None)
        self._relu = None if relu is None else tuple(relu)
        self._row_params = tuple(op.W for op in self.layers) + tuple(op.b for op in self.layers)
        # (the arrays last found fit, their kernel, its weight and bias operands, n_in, dtype, 0)
        self._row_plan = None

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    def predict(self, a, overwrite):
        if a.shape[0] == 1:
            out = self.predict_row(a)
            if out is not None:
                return out
        return _predict_layers(self.layers, a)

    vouches_for_input = True

    def predict_checked(self, a, overwrite):
        return _predict_checked(self, self.layers, a)

    def predict_row(self, x):
        """See :meth:`FusedOp.predict_row`: x must be C-contiguous, of the weights' one dtype."""
        # (Every line here costs a share of a 12 µs call: the plan is checked by identity only.)
        plan = self._row_plan
        if plan is None or not all(map(operator.is_, map(_data, self._row_params), plan[0])):
            plan = self._plan_row()
            if plan is None:
                return None
        if x.ndim != 2 or x.shape[1] != plan[4] or x.dtype != plan[5]:
            return None
        compiled = plan[1].get()
        if compiled is None:
            return None
        out, total = compiled(plan[2], plan[3], self._relu, x[0], plan[6])
        if not math.isfinite(total):
            return None  # NaN or ±inf in x (or a sum that overflowed): the caller's check decides
        return out.reshape(1, -1)

    def _plan_row(self):
        """The row kernel for the layers' arrays as they are now (None when none applies), kept."""
        if self._relu is None:
            return None
        weights = tuple([op.W.data for op in self.layers])
        biases = tuple([op.b.data for op in self.layers])
        dtype = weights[0].dtype
        if not jit.supports(dtype):
            return None
        layout = _row_layout(weights, biases, dtype)
        if layout is None:
            return None
        kernel, operands = ((dense_stack_row, weights) if layout == "C" else
                            (dense_stack_row_columns, tuple([W.T for W in weights])))
        # (one assignment: threads predicting at once see the arrays and their kernel together)
        plan = self._row_plan = (weights + biases, kernel, operands, biases, weights[0].shape[1], dtype, dtype.type(0))
        return plan

    def fuse_next(self, following, training):
        if training:
            return None
        if isinstance(following, DenseOp):
            return DenseStack(self.layers + (following,))
        if isinstance(following, DenseStack):
            return DenseStack(self.layers + following.layers)
        return None


def _predict_checked(op, layers, a) -> tuple:
    """``op.predict_checked(a)`` for a DenseOp or DenseStack of ``layers``: one row through the row
    kernel (which returns None for a NaN or ±inf x), else the first layer vouching for ``a`` in
    its bias pass (see :meth:`FusedOp.predict_checked <backprop.layers.fused.FusedOp.predict_checked>`)."""
    if a.ndim == 2 and a.shape[0] == 1:
        out = op.predict_row(a)
        if out is not None:
            return out, True
    last = len(layers) - 1
    with np.errstate(invalid="ignore", over="ignore"):  # (a NaN or ±inf in a is the caller's to report)
        a, finite = layers[0]._predict_arrays(a, certify=True, into=0 if last else None)
    if not finite:
        return None, False
    return _predict_layers(layers, a, first=1), True


def _predict_layers(layers, a, first: int = 0):
    """The outputs of ``layers[first:]`` on ``a``: each layer but the last writes into a work array
    of this thread (a fresh one per call costs its page faults: 4 MB of a¹ for 4,096 rows of the
    benchmark's MLP), the last into a new array, which is returned."""
    last = len(layers) - 1
    for k in range(first, last + 1):
        # (two names taken in turn: a layer never writes into the work array it reads)
        a = layers[k]._predict_arrays(a, into=k % 2 if k < last else None)
    return a


def _row_layout(weights, biases, dtype) -> Optional[str]:
    """Which row kernel the layers' arrays suit: "C" (:func:`dense_stack_row`) when every W is
    row-major, "F" (:func:`dense_stack_row_columns`) when every W is column-major (as ``fit``
    packs them), else None; every array of one dtype (numba indexes a tuple only when its
    items have one type), each W taking the previous layer's width and each b matching its W."""
    width, layouts = None, set()
    for W, b in zip(weights, biases):
        if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[0] or (width is not None and W.shape[1] != width):
            return None
        if W.dtype != dtype or b.dtype != dtype or not b.flags.c_contiguous:
            return None
        layouts.add("C" if W.flags.c_contiguous else "F" if W.flags.f_contiguous else None)
        width = W.shape[0]
    return layouts.pop() if len(layouts) == 1 and None not in layouts else None


@jit.kernel(reassociate=True)
def dense_stack_row(weights, biases, relu, x, zero):
    """The outputs for one example x of Dense layers: a⁰ = x, aᵐ = f(Wᵐ aᵐ⁻¹ + bᵐ).

    ``weights`` and ``biases`` are tuples of each layer's W (n_out × n_in) and b;
    ``relu[m]`` says whether f is ReLU (else the identity); ``zero`` is 0 in W's dtype.
    Returns (the outputs, Σ x in float64): a sum that is not finite tells the caller to
    check x for NaN and ±inf, which a ReLU could otherwise hide from the outputs.

    Four rows of W at a time: four independent sums let the compiler overlap their
    additions (one sum at a time waits on each addition's latency), as BLAS does. Its
    dot products are summed in an order of the compiler's choosing, as BLAS's matrix–
    vector product sums in its own: it agrees with NumPy's forward pass to rounding.
    """
    total = 0.0
    for j in range(x.size):
        total += x[j]
    a = x
    for m in range(len(weights)):
        W = weights[m]
        b = biases[m]
        n_out, n_in = W.shape
        if n_in != a.size or b.shape[0] != n_out:
            raise ValueError("dense_stack_row: each W must take the previous layer's width, and b match W")
        z = np.empty_like(b)
        i = 0
        while i + 4 <= n_out:
            z0 = zero
            z1 = zero
            z2 = zero
            z3 = zero
            for j in range(n_in):
                a_j = a[j]
                z0 += W[i, j] * a_j
                z1 += W[i + 1, j] * a_j
                z2 += W[i + 2, j] * a_j
                z3 += W[i + 3, j] * a_j
            z[i] = z0
            z[i + 1] = z1
            z[i + 2] = z2
            z[i + 3] = z3
            i += 4
        while i < n_out:
            z0 = zero
            for j in range(n_in):
                z0 += W[i, j] * a[j]
            z[i] = z0
            i += 1
        for i in range(n_out):
            z_i = z[i] + b[i]
            if relu[m] and not (z_i >= zero or z_i != z_i):
                z_i = zero
            z[i] = z_i
        a = z
    return a, total


@jit.kernel(reassociate=True)
def dense_stack_row_columns(weights_t, biases, relu, x, zero):
    """:func:`dense_stack_row` for column-major weights, given as ``weights_t``, each layer's
    row-major Wᵀ (n_in × n_out): z = Σ_j a_j (Wᵀ)_j, rows of Wᵀ added to z in turn.

    Sixteen rows at a time, summed in a tree before they join z: one pass over z per sixteen
    rows of Wᵀ (z is read and written once per pass), each pass vectorised along z with fused
    multiply–adds. The sum's order is the compiler's, as BLAS's is its own: it agrees with
    NumPy's forward pass to rounding (16 rows a pass: 9.0 µs for the benchmark's 784 × 256 W¹,
    against 10.3 for 8 rows a pass without FMA).
    """
    total = 0.0
    for j in range(x.size):
        total += x[j]
    a = x
    for m in range(len(weights_t)):
        WT = weights_t[m]
        b = biases[m]
        n_in, n_out = WT.shape
        if n_in != a.size or b.shape[0] != n_out:
            raise ValueError("dense_stack_row_columns: each Wᵀ must take the previous layer's width, and b match it")
        z = np.zeros_like(b)
        j = 0
        while j + 16 <= n_in:
            a0, a1, a2, a3 = a[j], a[j + 1], a[j + 2], a[j + 3]
            a4, a5, a6, a7 = a[j + 4], a[j + 5], a[j + 6], a[j + 7]
            a8, a9, a10, a11 = a[j + 8], a[j + 9], a[j + 10], a[j + 11]
            a12, a13, a14, a15 = a[j + 12], a[j + 13], a[j + 14], a[j + 15]
            w0, w1, w2, w3 = WT[j], WT[j + 1], WT[j + 2], WT[j + 3]
            w4, w5, w6, w7 = WT[j + 4], WT[j + 5], WT[j + 6], WT[j + 7]
            w8, w9, w10, w11 = WT[j + 8], WT[j + 9], WT[j + 10], WT[j + 11]
            w12, w13, w14, w15 = WT[j + 12], WT[j + 13], WT[j + 14], WT[j + 15]
            for i in range(n_out):
                z[i] += ((((a0 * w0[i] + a1 * w1[i]) + (a2 * w2[i] + a3 * w3[i]))
                          + ((a4 * w4[i] + a5 * w5[i]) + (a6 * w6[i] + a7 * w7[i])))
                         + (((a8 * w8[i] + a9 * w9[i]) + (a10 * w10[i] + a11 * w11[i]))
                            + ((a12 * w12[i] + a13 * w13[i]) + (a14 * w14[i] + a15 * w15[i]))))
            j += 16
        while j < n_in:
            a0, w0 = a[j], WT[j]
            for i in range(n_out):
                z[i] += a0 * w0[i]
            j += 1
        for i in range(n_out):
            z_i = z[i] + b[i]
            if relu[m] and not (z_i >= zero or z_i != z_i):
                z_i = zero
            z[i] = z_i
        a = z
    return a, total
