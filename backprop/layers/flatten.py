"""Flatten: turn each example into a vector, keeping the batch axis."""

from __future__ import annotations

import math

from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.registry import register_module

__all__ = ["Flatten"]


@register_module
class Flatten(Module):
    """(N, d1, d2, ...) → (N, d1·d2·...), as the notes flatten a 64×64×3 image into 12,288 inputs.

    Like ``torch.nn.Flatten()``: the first axis (the batch) is kept.
    """

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 1:
            raise ValueError("Flatten: the input needs a batch axis, got a scalar")
        return x.reshape(x.shape[0], -1)

    def get_config(self) -> dict:
        return {}

    def fused_ops(self) -> tuple:
        """``(FlattenOp(),)``: a reshape, and δ reshaped back."""
        return (FlattenOp(),)

    def onnx_nodes(self, graph, x: str) -> str:
        """ONNX's Flatten with axis 1: the batch axis kept, the rest in C order, as reshape(N, -1)."""
        return graph.node("Flatten", [x], "flatten", axis=1)

    torch_types = ("Flatten",)

    def to_torch_modules(self, nn) -> list:
        return [nn.Flatten()]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module = modules[0]
        if (module.start_dim, module.end_dim) != (1, -1):
            raise TypeError(f"torch.nn.Flatten(start_dim={module.start_dim}, end_dim={module.end_dim}): only the "
                            "default (1, -1), which keeps the batch axis, is supported")
        return cls(), 1


class FlattenOp(FusedOp):
    """The fused form of :class:`Flatten`: a = a_in reshaped to (N, d1·d2·...), a view where it can be;
    backward δ reshaped back to a_in's shape."""

    def out_shape(self, in_shape: tuple):
        if len(in_shape) < 1:
            raise ValueError("Flatten: the input needs a batch axis, got a scalar")
        return None  # forward returns the reshaped input

    def forward(self, a, out):
        return a.reshape(a.shape[0], -1)

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        if delta_in is None:
            return None
        delta_in[...] = delta.reshape(a_in.shape)
        return delta_in

    def predict(self, a, overwrite):
        return a.reshape(a.shape[0], math.prod(a.shape[1:]))
