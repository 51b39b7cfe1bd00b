"""RMSprop: divide the step by a running root-mean-square of the gradient."""

from __future__ import annotations

import numpy as np

from backprop import jit
from backprop.checks import check_bool, check_in_unit_interval, check_non_negative, check_positive
from backprop.optim.optimizer import OPTIMIZERS, Optimizer, lerp_, lerp_form

__all__ = ["RMSprop"]


@OPTIMIZERS.register
class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's ``torch.optim.RMSprop`` for the same arguments.

    Each weight gets its own step size: the gradient is divided by the root of a
    running mean of its square, so weights with large, noisy gradients move less.
    With g = ∂J/∂W, smoothing α, weight decay λ, momentum μ (s, m, b start at 0)::

        g ← g + λ W                    (if weight_decay λ ≠ 0)
        s ← α s + (1 − α) g²           (running mean of g², element-wise)
        m ← α m + (1 − α) g            (centered only: running mean of g)
        r ← √(s − m²) + ε   if centered   else   √s + ε
        b ← μ b + g / r ;  W ← W − η b     (if momentum μ > 0)
        W ← W − η g / r                    (otherwise)

    "centered" divides by an estimate of the gradient's standard deviation rather
    than of its root mean square.

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate η > 0.
        alpha: α in [0, 1], the smoothing constant of the running means.
        eps: ε >= 0, added to the denominator for numerical stability.
        momentum: μ >= 0.
        centered: divide by √(s − m²) instead of √s.
        weight_decay: λ >= 0, the L2 penalty (λ/2)‖W‖² added to J.
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.
    """

    name = "rmsprop"

    state_arrays = ("square_avg", "grad_avg", "momentum_buffer")
    state_scalars = ("step",)

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0, centered=False, weight_decay=0, *,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum,
                    "centered": centered, "weight_decay": weight_decay}
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        check_in_unit_interval(group["alpha"], "alpha", owner, closed_right=True)
        check_non_negative(group["eps"], "eps", owner)
        check_non_negative(group["momentum"], "momentum", owner)
        check_bool(group["centered"], "centered", owner)
        check_non_negative(group["weight_decay"], "weight_decay", owner)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        momentum = float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(W)
        state["step"] += 1

        compiled = _rmsprop_kernel.get()
        if compiled is not None:
            if group["centered"] and state.get("grad_avg") is None:
                state["grad_avg"] = np.zeros_like(W)
            if momentum > 0 and state.get("momentum_buffer") is None:
                state["momentum_buffer"] = np.zeros_like(W)
            s = state["square_avg"]
            views = jit.flat_views(W, g, s, state.get("grad_avg", s), state.get("momentum_buffer", s))
            if views is not None:
                lerp_from_m, lerp_factor = lerp_form(1.0 - alpha)
                flags = (weight_decay != 0) | (bool(group["centered"]) << 1) | (lerp_from_m << 2) \
                    | ((momentum > 0) << 3)
                compiled(*views, int(flags), self._kernel_scalars(W.dtype, (
                    weight_decay, alpha, 1.0 - alpha, lerp_factor,
                    eps, momentum, lr)))
                return

        scratch = self._scratch(W, 1)

        if weight_decay != 0:
            decayed = self._scratch(W, 0)
            np.multiply(W, weight_decay, out=decayed)
            np.add(g, decayed, out=decayed)
            g = decayed

        s = state["square_avg"]
        np.multiply(s, alpha, out=s)
        np.multiply(g, 1.0 - alpha, out=scratch)
        np.multiply(scratch, g, out=scratch)
        np.add(s, scratch, out=s)

        r = self._scratch(W, 2)
        if group["centered"]:
            m = state.get("grad_avg")
            if m is None:
                m = state["grad_avg"] = np.zeros_like(W)
            lerp_(m, g, 1.0 - alpha, scratch)
            np.multiply(m, m, out=r)
            np.subtract(s, r, out=r)
            np.sqrt(r, out=r)
        else:
            np.sqrt(s, out=r)
        np.add(r, eps, out=r)

        if momentum > 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.zeros_like(W)
            np.multiply(b, momentum, out=b)
            np.divide(g, r, out=scratch)
            np.add(b, scratch, out=b)
            np.multiply(b, lr, out=scratch)
        else:
            np.multiply(g, lr, out=scratch)
            np.divide(scratch, r, out=scratch)
        np.subtract(W, scratch, out=W)


@jit.kernel
def _rmsprop_kernel(W, g, s, m, b, flags, scalars):
    """RMSprop's update per weight, in the order of :meth:`RMSprop._update`'s ufuncs::

        g ← g + λW                                  (weight decay)
        s ← α s + (1 − α) g · g
        m ← m + (1 − α)(g − m),  r = √(s − m²) + ε  (centered)   or   r = √s + ε
        b ← μ b + g / r,  W ← W − η b               (momentum)   or   W ← W − (η g) / r

    ``flags``: bit 0 weight decay, 1 centered, 2 lerp from m, 3 momentum;
    ``scalars`` (W's dtype): λ, α, 1 − α, the lerp weight, ε, μ, η.
    """
    coupled, centered, lerp_small, has_momentum = flags & 1, flags & 2, flags & 4, flags & 8
    weight_decay, alpha, one_minus_alpha, lerp_weight = scalars[0], scalars[1], scalars[2], scalars[3]
    eps, momentum, lr = scalars[4], scalars[5], scalars[6]
    for i in range(W.size):
        gi = g[i]
        if coupled:
            gi = gi + W[i] * weight_decay
        si = s[i] * alpha + (gi * one_minus_alpha) * gi
        s[i] = si
        if centered:
            difference = gi - m[i]
            if lerp_small:
                mi = m[i] + difference * lerp_weight
            else:
                mi = gi - difference * lerp_weight
            m[i] = mi
            ri = np.sqrt(si - mi * mi)
        else:
            ri = np.sqrt(si)
        ri = ri + eps
        if has_momentum:
            bi = b[i] * momentum + gi / ri
            b[i] = bi
            W[i] = W[i] - bi * lr
        else:
            W[i] = W[i] - (gi * lr) / ri
