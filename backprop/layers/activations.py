"""Activation layers: Modules around the engine's activation objects, a = f(z).

f and f′ are defined once, in :mod:`backprop.engine.ops.activation`; each layer
holds that object as ``layer.activation``, so that other code (the trace of the
four equations) finds f and f′ in one place for layers and for ``Dense(activation=...)``.
Their fused form, :class:`ActivationOp`, runs the same object's in-place forms.

The layer of every registered activation is derived here from its class: ``nn.ReLU``
is ``ReLU`` in :data:`~backprop.engine.ops.activation.ACTIVATIONS` made a layer, named
by the activation's ``layer_name``, taking the activation's constructor arguments and
registered in the layer registry. Only a layer that does more is written by hand
(:class:`Identity`, which returns its input itself). An activation registered later
(a test's, a user's) gets its layer at once.

:func:`resolve_activation` turns what a user writes (``"relu"``, ``"logistic"``,
``"softmax"``, an Activation, None) into the object a Dense layer applies.
"""

from __future__ import annotations

import functools
import inspect
from typing import Optional, Union

import numpy as np

from backprop.engine.ops.activation import ACTIVATIONS, Activation
from backprop.engine.ops.activation import Identity as IdentityActivation
from backprop.engine.ops.activation import Softmax as SoftmaxActivation
from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.fused import FusedOp
from backprop.naming import short_repr
from backprop.layers.module import Module
from backprop.layers.registry import LAYERS, register_module

# The layers of the registered activations are added to __all__ as they are derived.
__all__ = ["ActivationLayer", "Identity", "SoftmaxActivation", "activation_layer", "resolve_activation",
           "ActivationOp"]


def resolve_activation(spec: Union[None, str, dict, Activation]) -> Optional[Activation]:
    """The Activation object for a name, a ``{"name": ..., **params}`` dict or an Activation.

    None, "identity", "linear" (slope k = 1) and an Identity object all give None: no
    activation, a = z (f′ = 1), which saves a copy and a graph node. "softmax" gives a
    softmax over the last axis.

    Raises:
        ValueError: for an unknown name, suggesting the closest valid one, or a bad parameter value.
        TypeError: for a spec of the wrong type or unknown parameters.
    """
    if spec is None:
        return None
    if isinstance(spec, Activation):
        activation = spec
    elif isinstance(spec, (str, dict)):
        if isinstance(spec, dict) and not isinstance(spec.get("name"), str):
            raise TypeError(f"an activation dict needs a 'name' string, got {short_repr(spec)}")
        name = spec if isinstance(spec, str) else spec["name"]
        params = {} if isinstance(spec, str) else {k: v for k, v in spec.items() if k != "name"}
        cls = ACTIVATIONS.get(name)
        accepted = _parameters(cls)
        unknown = sorted(str(key)[:40] for key in params if key not in accepted)
        if unknown:
            raise TypeError(f"activation {short_repr(name)} does not take the parameters {unknown[:10]}; "
                            f"it accepts {sorted(accepted)}")
        activation = cls.from_config(params)
    else:
        raise TypeError(f"activation must be None, a name, a dict or an Activation, got {type(spec).__name__}")
    return None if activation.is_identity else activation


def activation_config(activation: Optional[Activation]):
    """The inverse of :func:`resolve_activation` for config files: None, a name, or a dict with parameters."""
    if activation is None:
        return None
    params = activation.get_config()
    return {"name": activation.name, **params} if params else activation.name


@functools.lru_cache(maxsize=None)
def _parameters(activation_class) -> tuple:
    """The names of an activation class's constructor parameters (its config keys)."""
    return tuple(name for name, p in list(inspect.signature(activation_class.__init__).parameters.items())[1:]
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


class ActivationLayer(Module):
    """A layer a = f(z) applying ``self.activation``; shapes pass through unchanged.

    A subclass names the activation class it wraps as ``activation_class``; its config
    is that activation's constructor arguments.
    """

    holds_no_arrays = True  # f has no parameters
    activation_class: type = None

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
        return {name: getattr(self.activation, name) for name in _parameters(type(self.activation))}

    def onnx_nodes(self, graph, x: str) -> str:
        """a = f(x): the activation's own export."""
        return self.activation.onnx_nodes(graph, x)

    def to_torch_modules(self, nn) -> list:
        return [torch_activation(self.activation, nn)]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        return cls(**cls.activation_class.from_torch_module(modules[0]).get_config()), 1


def torch_activation(activation: Activation, nn):
    """The ``torch.nn`` module of an activation (its ``torch_name`` and ``torch_kwargs``)."""
    return getattr(nn, activation.torch_name)(**activation.torch_kwargs())


def following_activation(modules: list) -> Optional[Activation]:
    """The activation of the torch module after ``modules[0]`` (a Linear's ReLU), if one maps to
    a registered activation other than the identity; a Dense or conv layer folds it in."""
    if len(modules) < 2:
        return None
    torch_name = type(modules[1]).__name__
    for cls in ACTIVATIONS:
        if cls.torch_name == torch_name:
            activation = cls.from_torch_module(modules[1])
            return None if activation.is_identity else activation
    return None


def torch_dtype_name(tensor) -> str:
    """``"float32"`` for a torch tensor of dtype ``torch.float32``."""
    return str(tensor.dtype).replace("torch.", "")


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
class Identity(ActivationLayer):
    """a = z;  f′(z) = 1. Returns its input itself, as ``torch.nn.Identity`` does."""

    activation_class = IdentityActivation
    torch_types = ("Identity",)

    def __init__(self):
        super().__init__(IdentityActivation())

    def forward(self, x) -> Tensor:
        return as_tensor(x)


def activation_layer(activation: Union[str, type]) -> type:
    """The layer class of a registered activation (given by name, alias or class): ``nn.<layer_name>``.

    Derived from the activation class on first use, registered in the layer registry and
    bound in this module; a hand-written one (its ``activation_class`` the activation) is
    returned as it is.

    Raises:
        ValueError: an unknown activation name, or a ``layer_name`` another layer has taken.
        TypeError: an activation class without a ``layer_name``.
    """
    cls = ACTIVATIONS.get(activation) if isinstance(activation, str) else activation
    if not (isinstance(cls, type) and issubclass(cls, Activation)):
        raise TypeError(f"activation_layer: expected an activation name or Activation class, got {short_repr(cls)}")
    name = cls.layer_name
    if not name:
        raise TypeError(f"activation_layer: {cls.__qualname__} does not name its layer (layer_name)")
    existing = LAYERS.get(name) if name in LAYERS else None
    if existing is not None and getattr(existing, "activation_class", None) is cls:
        return existing
    layer = register_module(_derived_layer(cls))
    globals()[name] = layer
    if name not in __all__:
        __all__.append(name)
    return layer


def _derived_layer(activation_class: type) -> type:
    """``class <layer_name>(ActivationLayer)`` whose constructor takes the activation's arguments."""

    def __init__(self, *args, **kwargs):
        ActivationLayer.__init__(self, activation_class(*args, **kwargs))

    # Show (and let the config check see) the activation's own parameters.
    __init__.__signature__ = inspect.signature(activation_class.__init__)
    __init__.__qualname__ = f"{activation_class.layer_name}.__init__"
    doc = inspect.getdoc(activation_class) or ""
    return type(activation_class.layer_name, (ActivationLayer,), {
        "__init__": __init__,
        "__module__": __name__,
        "__qualname__": activation_class.layer_name,
        "__doc__": f"The layer a = f(z) of the activation ``{activation_class.name}``.\n\n{doc}",
        "activation_class": activation_class,
        "torch_types": (activation_class.torch_name,) if activation_class.torch_name else (),
    })


ACTIVATIONS.watch(activation_layer)
