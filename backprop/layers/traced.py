"""A layer's traced form: its z = op(a; W, b), and the notes' equations (2)–(4) written for it.

:func:`backprop.diagnostics.trace` and :class:`~backprop.diagnostics.GradientMonitor` ask
each layer for :meth:`~backprop.nn.Module.traced_form` instead of knowing the layer
classes. A layer with one returns a :class:`TracedForm`; the trace runs ``z`` on copies of
W and b (engine ops, so the engine's backward gives δ, ∂J/∂W and ∂J/∂b) and then
evaluates the equations from its own records with the form's reference formulas, written
independently of the engine's kernels:

* ``input_gradient(δ, W, shape)``: ∂J/∂a^(m−1) = (W^m)ᵀ δ^m, the part of equation (2)
  that belongs to the layer (for a convolution: each input element collects δ · W from
  every window it is in);
* ``weight_gradient(δ, a)``: equation (3), ∂J/∂W^m = δ^m (a^(m−1))ᵀ summed over the
  examples (for a convolution, and over every position that shares W);
* :meth:`TracedForm.bias_gradient`: equation (4), δ summed over every axis but the
  channels'.

Dense writes its form in ``layers/dense.py``, the convolutions theirs in ``layers/conv.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

__all__ = ["TracedForm"]


@dataclass(frozen=True)
class TracedForm:
    """What the trace needs of one layer with weights.

    Attributes:
        description: e.g. ``"Dense 2 → 3"`` or ``"Conv2d 1 → 3, 3×3 kernel, padding 1"``.
        activation: the layer's own f (an Activation), or None for a = z.
        example_ndim: the number of axes of one example of the input (1 for Dense's rows,
            3 for Conv2d's (C, H, W), 2 for Conv1d's (C, L)).
        z: ``z(a, W, b)``, the layer's z from Tensors (b may be None), with engine ops.
        input_gradient: ``input_gradient(delta, W, a_shape)``: ∂J/∂a^(m−1) (batched arrays).
        weight_gradient: ``weight_gradient(delta, a_prev)``: ∂J/∂W, Σ over examples (and positions).
        note: what the equations mean for this kind of layer, shown under the trace's table
            (None: the notes' Dense form needs no remark).
    """

    description: str
    activation: Optional[object]
    example_ndim: int
    z: Callable
    input_gradient: Callable
    weight_gradient: Callable
    note: Optional[str] = None

    @staticmethod
    def bias_gradient(delta: np.ndarray) -> np.ndarray:
        """Equation (4): ∂J/∂b = δ summed over every axis but axis 1 (examples, and positions)."""
        return delta.sum(axis=tuple(axis for axis in range(delta.ndim) if axis != 1))
