"""Gradient descent with momentum exactly as the notes write it: an exponential average of the gradients."""

from __future__ import annotations

import numpy as np

from backprop.checks import check_in_unit_interval, check_non_negative, check_positive
from backprop.optim.optimizer import OPTIMIZERS, Optimizer

__all__ = ["Momentum"]


@OPTIMIZERS.register
class Momentum(Optimizer):
    r"""The notes' momentum (seed 001): v ← β v + (1 − β) g, then W ← W − α v, from v₀ = 0.

    v is an exponentially weighted average of the gradients g = ∂J/∂W, so the first
    step is (1 − β) g: ten times shorter than plain gradient descent at β = 0.9, growing
    to α g for a steady gradient. PyTorch's rule, ``SGD(momentum=μ)``, starts instead
    from v₁ = g₁ and, without dampening, sums v ← μ v + g (steps up to 1/(1 − μ) times
    longer); it stays available as :class:`~backprop.optim.SGD`.

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate α > 0 (required, as in the notes).
        beta: β in [0, 1), the weight of the past in the average (0 is plain gradient descent).
        weight_decay: λ >= 0, the L2 penalty (λ/2)‖W‖² added to J: g ← g + λ W before the
            average (as in every optimiser here; ``model.parameter_groups(λ)`` spares the biases).
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.

    Example:
        >>> import backprop as bp
        >>> W = bp.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = Momentum([W], lr=0.5, beta=0.9)
        >>> (0.5 * W * W).sum().backward()          # g = W
        >>> opt.step()
        >>> print(W.data)  # v = 0.1·g = [0.1, -0.2];  W − 0.5 v
        [ 0.95 -1.9 ]
    """

    name = "momentum"
    defaults_when_named = {"lr": 0.01}  # lr is required when built directly, as in the notes

    state_arrays = ("velocity",)

    def __init__(self, params, lr, beta=0.9, weight_decay=0, *, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        super().__init__(params, {"lr": lr, "beta": beta, "weight_decay": weight_decay}, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm)

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        check_in_unit_interval(group["beta"], "beta", owner)
        check_non_negative(group["weight_decay"], "weight_decay", owner)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, beta, weight_decay = float(group["lr"]), float(group["beta"]), float(group["weight_decay"])
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = np.zeros_like(W)  # v₀ = 0
        scaled = self._scratch(W, 0)
        np.multiply(v, beta, out=v)
        np.multiply(g, 1.0 - beta, out=scaled)
        np.add(v, scaled, out=v)  # v ← β v + (1 − β) g
        if weight_decay != 0:  # g + λW in the average: (1 − β) λ W more
            np.multiply(W, (1.0 - beta) * weight_decay, out=scaled)
            np.add(v, scaled, out=v)
        np.multiply(v, lr, out=scaled)
        np.subtract(W, scaled, out=W)  # W ← W − α v
