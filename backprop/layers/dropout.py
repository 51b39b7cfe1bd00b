"""Dropout: in training, each unit is dropped (set to 0) with probability ``rate``."""

from __future__ import annotations

import numpy as np

from backprop.engine.tensor import Tensor, as_tensor, in_eval_mode
from backprop.checks import check_real
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.registry import register_module
from backprop.random import get_rng

__all__ = ["Dropout", "DropoutOp"]


@register_module
class Dropout(Module):
    """Inverted dropout: a_out = a ∘ m / (1 − rate) in training, a_out = a in evaluation.

    Each mask entry m is 0 with probability ``rate`` and 1 otherwise, drawn afresh
    at every forward from :func:`backprop.random.get_rng`. Dividing by the keep
    probability 1 − rate keeps the expected value: E[a_out] = a, so nothing needs
    rescaling at evaluation time. Backward multiplies δ by the same m / (1 − rate).

    The notes' "keep a neuron active with probability p" is ``rate = 1 − p``
    (``rate`` is the drop probability, as in PyTorch and Keras).

    Args:
        rate: probability of dropping a unit, in [0, 1) (default 0.5).

    Example:
        >>> layer = Dropout(0.2)   # keeps each unit with probability p = 0.8
    """

    holds_no_arrays = True  # the masks are drawn at each forward

    def __init__(self, rate: float = 0.5):
        super().__init__()
        self.rate = check_real(rate, "rate", "Dropout", low=0, high=1, high_open=True)

    def forward(self, a) -> Tensor:
        a = as_tensor(a)
        if not self.training or self.rate == 0 or in_eval_mode():  # eval_mode(): this thread predicts
            return a
        keep = get_rng().random(a.shape) >= self.rate
        mask = keep.astype(a.dtype) * a.dtype.type(1.0 / (1.0 - self.rate))
        return a * Tensor(mask)

    def fused_ops(self) -> tuple:
        return (DropoutOp(self),)

    def output_features(self, in_features):
        return in_features

    def get_config(self) -> dict:
        return {"rate": self.rate}

    def onnx_nodes(self, graph, a: str) -> str:
        """The identity: an exported model predicts, and Dropout drops nothing then."""
        return graph.node("Identity", [a], "dropout")

    # PyTorch: Dropout(p), p the rate (both scale the kept units by 1/(1 − p)).
    torch_types = ("Dropout",)

    def to_torch_modules(self, nn) -> list:
        return [nn.Dropout(self.rate)]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        return cls(modules[0].p), 1


class DropoutOp(FusedOp):
    """The fused form of Dropout: a_out = a ∘ m/(1 − rate) in training, with m drawn exactly
    as :meth:`Dropout.forward` draws it (the same float64 stream, ``rng.random(shape) >= rate``);
    backward δ_in = δ ∘ m/(1 − rate), in place; the identity in evaluation."""

    identity_in_eval = True

    def __init__(self, layer: Dropout):
        self.layer = layer  # its rate and training flag are read at each step, as forward reads them
        self._mask = None   # the mask of the last forward, None when it passed its input through

    def forward(self, a, out):
        layer = self.layer
        if not layer.training or layer.rate == 0 or in_eval_mode():
            self._mask = None
            return a
        draws = self.buffer("draws", a.shape, np.float64)
        mask = self.buffer("mask", a.shape, a.dtype)
        get_rng().random(out=draws)
        np.greater_equal(draws, layer.rate, out=mask)
        mask *= a.dtype.type(1.0 / (1.0 - layer.rate))
        self._mask = mask
        np.multiply(a, mask, out=out)
        return out

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        if delta_in is None:
            return None
        if self._mask is not None:
            np.multiply(delta, self._mask, out=delta)
        return delta

    def predict(self, a, overwrite):
        return a
