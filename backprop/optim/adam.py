"""Adam: momentum on the gradient plus RMSprop's per-weight scaling, with bias correction."""

from __future__ import annotations


import numpy as np

from backprop import jit
from backprop.checks import check_betas, check_bool, check_non_negative, check_positive
from backprop.optim.optimizer import OPTIMIZERS, Optimizer, lerp_, lerp_form

__all__ = ["Adam"]


@OPTIMIZERS.register
class Adam(Optimizer):
    r"""Adam, PyTorch's ``torch.optim.Adam`` for the same arguments.

    Adam keeps two running means per weight, the notes' momentum m (of g) and
    RMSprop's v (of g²), and divides one by the root of the other. At step t
    (t = 1, 2, ...), with g = ∂J/∂W and m, v starting at 0::

        g ← g + λ W                        (if weight_decay λ ≠ 0: L2 added to the gradient)
        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²             (element-wise)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)   (bias correction: m and v start at 0)
        W ← W − η m̂ / (√v̂ + ε)

    With ``amsgrad=True``, v̂ uses v_max ← max(v_max, v), the largest v seen so far,
    so that the step size never grows again.

    Here λ enters the gradient and is then rescaled by √v̂ like the rest of it; for
    the notes' decay W ← (1 − ηλ) W applied as such, use :class:`AdamW`.

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate η > 0.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε >= 0.
        weight_decay: λ >= 0.
        amsgrad: use the running maximum of v.
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.
    """

    name = "adam"

    state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    state_scalars = ("step",)
    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        group["betas"] = check_betas(group["betas"], "betas", owner)
        check_non_negative(group["eps"], "eps", owner)
        check_non_negative(group["weight_decay"], "weight_decay", owner)
        check_bool(group["amsgrad"], "amsgrad", owner)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(W)
            state["exp_avg_sq"] = np.zeros_like(W)
        state["step"] += 1
        t = state["step"]

        compiled = None if group["amsgrad"] or lr == 0 else _adam_kernel.get()
        if compiled is not None:
            views = jit.flat_views(W, g, state["exp_avg"], state["exp_avg_sq"])
            if views is not None:
                self._update_compiled(compiled, views, t, lr, beta1, beta2, eps, weight_decay)
                return

        scratch = self._scratch(W, 1)
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                np.multiply(W, 1.0 - lr * weight_decay, out=W)
            else:
                decayed = self._scratch(W, 0)
                np.multiply(W, weight_decay, out=decayed)
                np.add(g, decayed, out=decayed)
                g = decayed

        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, g, 1.0 - beta1, scratch)
        np.multiply(v, beta2, out=v)
        np.multiply(g, 1.0 - beta2, out=scratch)
        np.multiply(scratch, g, out=scratch)
        np.add(v, scratch, out=v)

        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = np.zeros_like(W)
            np.maximum(v_max, v, out=v_max)
            v = v_max

        if lr == 0:  # e.g. a cosine schedule's last epoch; the folded form below would divide by 0
            return
        # η m̂ / (√v̂ + ε) = m / d with d = (√v / √(1 − β₂ᵗ) + ε) / step_size: one pass fewer
        step_size = lr / (1.0 - beta1 ** t)
        bias_correction2_sqrt = (1.0 - beta2 ** t) ** 0.5
        d = self._scratch(W, 0)  # g is no longer needed
        np.sqrt(v, out=d)
        np.divide(d, bias_correction2_sqrt * step_size, out=d)
        np.add(d, eps / step_size, out=d)
        np.divide(m, d, out=d)
        np.subtract(W, d, out=W)

    def _update_compiled(self, compiled, views, t, lr, beta1, beta2, eps, weight_decay) -> None:
        """The same update in one pass (see :func:`_adam_kernel`), scalars rounded to W's dtype as NumPy does."""
        step_size = lr / (1.0 - beta1 ** t)
        bias_correction2_sqrt = (1.0 - beta2 ** t) ** 0.5
        lerp_from_m, lerp_factor = lerp_form(1.0 - beta1)
        flags = ((self.decoupled_weight_decay and weight_decay != 0)
                 | (((not self.decoupled_weight_decay) and weight_decay != 0) << 1) | (lerp_from_m << 2))
        scalars = self._kernel_scalars(views[0].dtype, (
            1.0 - lr * weight_decay, weight_decay, lerp_factor,
            beta2, 1.0 - beta2, bias_correction2_sqrt * step_size, eps / step_size))
        compiled(*views, int(flags), scalars)


@jit.kernel
def _adam_kernel(W, g, m, v, flags, scalars):
    """Adam's update per weight, in the order of :meth:`Adam._update`'s ufuncs::

        W ← W·(1 − ηλ)                     (AdamW)     g ← g + λW   (Adam's L2)
        m ← m + (1 − β₁)(g − m)            (torch's lerp, from the other end when 1 − β₁ ≥ ½)
        v ← β₂ v + (1 − β₂) g · g
        W ← W − m / (√v / (√(1 − β₂ᵗ)·s) + ε/s),   s = η / (1 − β₁ᵗ)

    ``flags``: bit 0 decoupled decay, bit 1 L2 in the gradient, bit 2 lerp from m.
    ``scalars`` (W's dtype): 1 − ηλ, λ, the lerp weight, β₂, 1 − β₂, √(1 − β₂ᵗ)·s, ε/s.
    """
    decoupled, coupled, lerp_small = flags & 1, flags & 2, flags & 4
    decay_factor, weight_decay, lerp_weight = scalars[0], scalars[1], scalars[2]
    beta2, one_minus_beta2, denominator_scale, eps_scaled = scalars[3], scalars[4], scalars[5], scalars[6]
    for i in range(W.size):
        w = W[i]
        if decoupled:
            w = w * decay_factor
        gi = g[i]
        if coupled:
            gi = gi + w * weight_decay
        difference = gi - m[i]
        if lerp_small:
            mi = m[i] + difference * lerp_weight
        else:
            mi = gi - difference * lerp_weight
        m[i] = mi
        vi = v[i] * beta2 + (gi * one_minus_beta2) * gi
        v[i] = vi
        W[i] = w - mi / (np.sqrt(vi) / denominator_scale + eps_scaled)
