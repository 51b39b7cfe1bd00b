"""Adagrad: each weight's step divided by the root of the sum of all its past squared gradients."""

from __future__ import annotations

import numpy as np

from backprop import jit
from backprop.checks import check_non_negative, check_positive
from backprop.optim.optimizer import OPTIMIZERS, Optimizer

__all__ = ["Adagrad"]


@OPTIMIZERS.register
class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011), PyTorch's ``torch.optim.Adagrad`` for the same arguments.

    A weight whose gradients have been large takes smaller steps from then on: the sum s
    of its squared gradients only grows. With g = ∂J/∂W, at step t (s starts at
    ``initial_accumulator_value``)::

        g ← g + λ W                           (if weight_decay λ ≠ 0)
        η_t = η / (1 + (t − 1) · lr_decay)
        s ← s + g²                            (element-wise)
        W ← W − η_t · g / (√s + ε)

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate η > 0.
        lr_decay: ≥ 0, the decay of η with the step count.
        weight_decay: λ ≥ 0, the L2 penalty (λ/2)‖W‖² added to J.
        initial_accumulator_value: s₀ ≥ 0.
        eps: ε ≥ 0, added to the denominator for numerical stability.
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.
    """

    name = "adagrad"
    state_arrays = ("sum",)
    state_scalars = ("step",)

    def __init__(self, params, lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps},
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_non_negative(group[name], name, owner)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        weight_decay, eps = float(group["weight_decay"]), float(group["eps"])
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(W, float(group["initial_accumulator_value"]))
        state["step"] += 1
        lr = float(group["lr"]) / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        s = state["sum"]

        compiled = _adagrad_kernel.get()
        views = jit.flat_views(W, g, s) if compiled is not None else None
        if views is not None:
            compiled(*views, weight_decay != 0, self._kernel_scalars(W.dtype, (weight_decay, lr, eps)))
            return

        if weight_decay != 0:
            decayed = self._scratch(W, 0)
            np.multiply(W, weight_decay, out=decayed)
            np.add(g, decayed, out=decayed)
            g = decayed
        scratch = self._scratch(W, 1)
        np.multiply(g, g, out=scratch)
        np.add(s, scratch, out=s)  # s ← s + g²
        np.sqrt(s, out=scratch)
        np.add(scratch, eps, out=scratch)  # √s + ε
        np.divide(g, scratch, out=scratch)
        np.multiply(scratch, lr, out=scratch)
        np.subtract(W, scratch, out=W)  # W ← W − η_t g / (√s + ε)


@jit.kernel
def _adagrad_kernel(W, g, s, coupled, scalars):
    """Adagrad's update per weight, in the order of :meth:`Adagrad._update`'s ufuncs::

        g ← g + λW,  s ← s + g·g,  W ← W − (g / (√s + ε)) · η_t

    ``scalars`` (W's dtype): λ, η_t, ε.
    """
    weight_decay, lr, eps = scalars[0], scalars[1], scalars[2]
    for i in range(W.size):
        gi = g[i]
        if coupled:
            gi = gi + W[i] * weight_decay
        si = s[i] + gi * gi
        s[i] = si
        W[i] = W[i] - (gi / (np.sqrt(si) + eps)) * lr
