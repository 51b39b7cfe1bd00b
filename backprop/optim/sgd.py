"""Stochastic gradient descent, with momentum, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

import numpy as np

from backprop import jit
from backprop.checks import check_bool, check_non_negative, check_positive, check_real
from backprop.optim.optimizer import OPTIMIZERS, Optimizer

__all__ = ["SGD"]


@OPTIMIZERS.register
class SGD(Optimizer):
    r"""Gradient descent on minibatch gradients: W ← W − η g, with g = ∂J/∂W.

    The update is PyTorch's ``torch.optim.SGD`` for the same arguments. With
    weight decay λ, momentum μ, dampening τ and the velocity v (one per parameter)::

        g ← g + λ W                            (if weight_decay λ ≠ 0)
        v ← g                                  (first step)
        v ← μ v + (1 − τ) g                    (later steps, if momentum μ ≠ 0)
        d ← g + μ v   if nesterov   else   v   (d ← g without momentum)
        W ← W − η d

    Without momentum and with λ, this is the notes' L2 update W ← (1 − ηλ) W − η g.

    The notes' momentum, v ← β v + (1 − β) g and W ← W − η v, is
    ``momentum=β, dampening=β``. One difference, PyTorch's: v starts as the first
    gradient, v₁ = g₁, instead of v₀ = 0 (which would make the first steps
    (1 − β) times too short). With ``dampening=0`` (the default) v is a plain sum
    v ← μ v + g, whose steps are 1/(1 − μ) times longer for a steady gradient; divide
    η by that factor to compare with the notes' form.

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate η > 0. Required here, as in the notes; when SGD is
            picked by name (``get_optimizer("sgd", ...)``) it defaults to 0.01.
        momentum: μ >= 0.
        dampening: τ, the share of the gradient left out of the velocity.
        nesterov: use d = g + μ v (look-ahead) instead of d = v; needs μ > 0 and τ = 0.
        weight_decay: λ >= 0, the L2 penalty (λ/2)‖W‖² added to J.
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.

    Example:
        >>> import backprop as bp
        >>> from backprop.optim import SGD
        >>> W = bp.Tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([W], lr=0.1, momentum=0.9)
        >>> (W * W).sum().backward()
        >>> opt.step(); opt.zero_grad()
        >>> print(W.data)  # W − 0.1·2W (the first v is g itself)
        [ 0.8 -1.6]
    """

    name = "sgd"
    defaults_when_named = {"lr": 0.01}  # lr is required when built directly, as in the notes

    state_arrays = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0, dampening=0, nesterov=False, weight_decay=0, *,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "nesterov": nesterov, "weight_decay": weight_decay}
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        check_non_negative(group["momentum"], "momentum", owner)
        check_non_negative(group["weight_decay"], "weight_decay", owner)
        check_bool(group["nesterov"], "nesterov", owner)
        check_real(group["dampening"], "dampening", owner)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        v = state.get("momentum_buffer")
        compiled = _sgd_kernel.get() if momentum == 0 or v is not None else None  # step 1 copies g into v
        if compiled is not None:
            views = jit.flat_views(W, g, W if v is None else v)
            if views is not None:
                dampening = float(group["dampening"])
                flags = (weight_decay != 0) | ((momentum != 0) << 1) | ((dampening != 0) << 2) \
                    | (bool(group["nesterov"]) << 3)
                compiled(*views, int(flags), self._kernel_scalars(
                    W.dtype, (weight_decay, momentum, 1.0 - dampening, lr)))
                return
        if weight_decay != 0:
            decayed = self._scratch(W, 0)
            np.multiply(W, weight_decay, out=decayed)
            np.add(g, decayed, out=decayed)
            g = decayed
        if momentum != 0:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = np.array(g, dtype=W.dtype, copy=True)
            else:
                np.multiply(v, momentum, out=v)
                dampening = float(group["dampening"])
                if dampening == 0:
                    np.add(v, g, out=v)
                else:
                    scaled = self._scratch(W, 1)
                    np.multiply(g, 1.0 - dampening, out=scaled)
                    np.add(v, scaled, out=v)
            if group["nesterov"]:
                look_ahead = self._scratch(W, 1)
                np.multiply(v, momentum, out=look_ahead)
                np.add(g, look_ahead, out=look_ahead)
                g = look_ahead
            else:
                g = v
        step = self._scratch(W, 0)
        np.multiply(g, lr, out=step)
        np.subtract(W, step, out=W)


@jit.kernel
def _sgd_kernel(W, g, v, flags, scalars):
    """SGD's update per weight, in the order of :meth:`SGD._update`'s ufuncs (after the first step)::

        g ← g + λW                                  (weight decay)
        v ← μ v + (1 − τ) g                         (momentum; τ = dampening)
        g ← g + μ v  (Nesterov)   or   g ← v
        W ← W − η g

    ``flags``: bit 0 weight decay, 1 momentum, 2 dampening, 3 Nesterov;
    ``scalars`` (W's dtype): λ, μ, 1 − τ, η.
    """
    coupled, has_momentum, dampened, nesterov = flags & 1, flags & 2, flags & 4, flags & 8
    weight_decay, momentum, one_minus_dampening, lr = scalars[0], scalars[1], scalars[2], scalars[3]
    for i in range(W.size):
        gi = g[i]
        if coupled:
            gi = gi + W[i] * weight_decay
        if has_momentum:
            vi = v[i] * momentum
            if dampened:
                vi = vi + gi * one_minus_dampening
            else:
                vi = vi + gi
            v[i] = vi
            if nesterov:
                gi = gi + vi * momentum
            else:
                gi = vi
        W[i] = W[i] - gi * lr
