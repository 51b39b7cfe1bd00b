"""Activation layers: Modules around the engine's activation objects, a = f(z).

f and f′ are defined once, in :mod:`backprop.engine.ops.activation`; each layer
holds that object as ``layer.activation``, so that other code (the trace of the
four equations) finds f and f′ in one place for layers and for ``Dense(activation=...)``.
Their fused form, :class:`ActivationOp`, runs the same object's in-place forms.

:func:`resolve_activation` turns what a user writes (``"relu"``, ``"logistic"``,
``"softmax"``, an Activation, None) into the object a Dense layer applies.
"""

from __future__ import annotations

import numbers
from typing import Optional, Union

import numpy as np

from backprop.engine.ops.activation import Activation, get_activation, softmax_array
from backprop.engine.ops.activation import softmax as softmax_op
from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.fused import FusedOp
from backprop.naming import short_repr
from backprop.layers.module import Module, check_real
from backprop.layers.registry import register_module

__all__ = [
    "ActivationLayer", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Arctan", "Step", "Softmax", "Identity",
    "SoftmaxActivation", "ActivationOp", "resolve_activation", "activation_config",
]


class SoftmaxActivation(Activation):
    """Softmax along ``axis`` in the Activation interface: a_k = e^(z_k) / Σ_j e^(z_j).

    Not elementwise: its Jacobian ∂a/∂z = diag(a) − a aᵀ is a matrix, so there is no
    f′(z) vector and :meth:`df` raises. Backward (the engine's softmax op) applies
    the Jacobian as δ = a ∘ (g − Σ_k g_k a_k).
    """

    name = "softmax"
    elementwise = False

    def __init__(self, axis: int = -1):
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
        return softmax_op(x, axis=self.axis)

    def get_config(self) -> dict:
        return {} if self.axis == -1 else {"axis": self.axis}


def resolve_activation(spec: Union[None, str, dict, Activation]) -> Optional[Activation]:
    """The Activation object for a name, a ``{"name": ..., **params}`` dict or an Activation.

    None, "identity", "linear" and an Identity object all give None: no activation,
    a = z (f′ = 1), which saves a copy and a graph node. "softmax" gives a
    :class:`SoftmaxActivation` over the last axis.

    Raises:
        ValueError: for an unknown name, suggesting the closest valid one.
        TypeError: for a spec of the wrong type or unknown parameters.
    """
    if spec is None:
        return None
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str):
            raise TypeError(f"an activation dict needs a 'name' string, got {short_repr(spec)}")
        name, params = spec["name"], {k: v for k, v in spec.items() if k != "name"}
    elif isinstance(spec, (str, Activation)):
        name, params = spec, {}
    else:
        raise TypeError(f"activation must be None, a name, a dict or an Activation, got {type(spec).__name__}")
    if isinstance(name, str) and name.lower() == "softmax":
        activation = SoftmaxActivation(**params)
    else:
        try:
            activation = get_activation(name, **params)
        except TypeError as error:
            if "unexpected keyword" not in str(error):
                raise
            raise TypeError(f"activation {short_repr(name)} does not take the parameters {sorted(params)[:10]}") from None
    if activation.name == "leaky_relu":  # a NaN or infinite slope would make every output NaN
        check_real(activation.negative_slope, "negative_slope", "leaky_relu")
    return None if activation.name == "identity" else activation


def activation_config(activation: Optional[Activation]):
    """The inverse of :func:`resolve_activation` for config files: None, a name, or a dict with parameters."""
    if activation is None:
        return None
    params = activation.get_config()
    return {"name": activation.name, **params} if params else activation.name


class ActivationLayer(Module):
    """A layer a = f(z) applying ``self.activation`` elementwise; shapes pass through unchanged."""

    holds_no_arrays = True  # f has no parameters

    def __init__(self, activation: Activation):
        super().__init__()
        self.activation = activation

    def forward(self, x) -> Tensor:
        return self.activation(x)

    def fused_ops(self) -> Optional[tuple]:
        """``(ActivationOp(f),)`` for an elementwise f; None for softmax, run by the engine."""
        return (ActivationOp(self.activation),) if self.activation.elementwise else None

    def output_features(self, in_features):
        return in_features

    def get_config(self) -> dict:
        return self.activation.get_config()


class ActivationOp(FusedOp):
    """The fused form of an elementwise activation: a = f(z); backward δ_z = δ_a ∘ f′(z), in place.

    Both run the activation object's own in-place forms (``f_into``, ``backprop_into``), so
    the numbers are those of its f and f′. A Dense layer before it takes it in
    (:meth:`DenseOp.fuse_next <backprop.layers.dense.DenseOp.fuse_next>`), adding its bias
    in the same pass.
    """

    def __init__(self, activation: Activation):
        self.activation = activation
        self.identity_in_eval = activation.name == "identity"

    def forward(self, z, out):
        self.activation.f_into(z, out)
        return out

    def backward(self, delta, z, a, delta_in, scratch, grads):
        if delta_in is None:
            return None
        self.activation.backprop_into(delta, z, a, scratch)
        return delta

    def predict(self, z, overwrite):
        out = z if overwrite else np.empty_like(z)
        self.activation.f_into(z, out)
        return out


@register_module
class ReLU(ActivationLayer):
    """a = max(0, z);  f′(z) = 1 for z > 0, else 0."""

    def __init__(self):
        super().__init__(get_activation("relu"))


@register_module
class LeakyReLU(ActivationLayer):
    """a = z for z > 0, else s·z;  f′(z) = 1 for z > 0, else s.

    Args:
        negative_slope: s, the slope for z ≤ 0 (default 0.01).
    """

    def __init__(self, negative_slope: float = 0.01):
        check_real(negative_slope, "negative_slope", "LeakyReLU")
        super().__init__(get_activation("leaky_relu", negative_slope=float(negative_slope)))


@register_module
class Sigmoid(ActivationLayer):
    """a = σ(z) = 1/(1 + e^(−z));  f′(z) = a(1 − a)."""

    def __init__(self):
        super().__init__(get_activation("sigmoid"))


@register_module
class Tanh(ActivationLayer):
    """a = tanh z;  f′(z) = 1 − a²."""

    def __init__(self):
        super().__init__(get_activation("tanh"))


@register_module
class Arctan(ActivationLayer):
    """a = arctan z;  f′(z) = 1/(1 + z²)."""

    def __init__(self):
        super().__init__(get_activation("arctan"))


@register_module
class Step(ActivationLayer):
    """a = 1 for z ≥ 0, else 0;  f′(z) = 0, so no gradient passes (why the notes avoid it)."""

    def __init__(self):
        super().__init__(get_activation("step"))


@register_module
class Identity(ActivationLayer):
    """a = z;  f′(z) = 1. Returns its input itself, as ``torch.nn.Identity`` does."""

    def __init__(self):
        super().__init__(get_activation("identity"))

    def forward(self, x) -> Tensor:
        return as_tensor(x)


@register_module
class Softmax(ActivationLayer):
    """a_k = e^(z_k) / Σ_j e^(z_j) along ``axis``, computed as e^(z_k − max z) (no overflow).

    Args:
        axis: the axis that sums to 1 (default −1, the features of a batch in rows).
    """

    def __init__(self, axis: int = -1):
        super().__init__(SoftmaxActivation(axis))

    def get_config(self) -> dict:
        return {"axis": self.activation.axis}
