"""scikit-learn's Adam: ε added to the uncorrected √v, the bias corrections folded into the step.

The library's :class:`backprop.optim.Adam` is PyTorch's, W ← W − η m̂ / (√v̂ + ε) with
m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ). scikit-learn's ``AdamOptimizer`` (and Keras's)
puts ε on √v instead, which the drop-in must reproduce step by step::

    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    η_t = η √(1 − β₂ᵗ) / (1 − β₁ᵗ)
    W ← W + (−η_t m) / (√v + ε)

So scikit-learn's Adam with ε is PyTorch's with ε/√(1 − β₂ᵗ), an ε that changes with t.
"""

from __future__ import annotations

import math

import numpy as np

from backprop import jit
from backprop.checks import check_betas, check_positive
from backprop.optim.optimizer import Optimizer

__all__ = ["ScikitLearnAdam"]


class ScikitLearnAdam(Optimizer):
    """Adam as scikit-learn's MLP runs it (see the module docstring), over Parameters.

    The NumPy update evaluates scikit-learn's expressions in their order, so a float64
    run gives scikit-learn's numbers bit for bit; :func:`_sklearn_adam_kernel`, when numba
    is installed, performs the same IEEE operations in one pass (bit-identical to it).

    Args:
        params: Tensors that require grad, or parameter groups.
        lr: η > 0 (scikit-learn's ``learning_rate_init``).
        betas: (β₁, β₂), each in [0, 1).
        eps: ε > 0.
    """

    state_arrays = ("exp_avg", "exp_avg_sq")
    state_scalars = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    def _check_group(self, group: dict) -> None:
        owner = type(self).__name__
        check_positive(group["lr"], "lr", owner)
        group["betas"] = check_betas(group["betas"], "betas", owner)
        check_positive(group["eps"], "eps", owner)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
        eps = float(group["eps"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(W)
            state["exp_avg_sq"] = np.zeros_like(W)
        state["step"] += 1
        t = state["step"]
        lr_t = float(group["lr"]) * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
        m, v = state["exp_avg"], state["exp_avg_sq"]

        compiled = _sklearn_adam_kernel.get()
        if compiled is not None:
            views = jit.flat_views(W, g, m, v)
            if views is not None:
                scalars = self._kernel_scalars(W.dtype, (beta1, 1.0 - beta1, beta2, 1.0 - beta2, -lr_t, eps))
                compiled(*views, scalars)
                return

        scratch, denominator = self._scratch(W, 1), self._scratch(W, 0)
        np.multiply(m, beta1, out=m)                 # m ← β₁ m + (1 − β₁) g
        np.multiply(g, 1.0 - beta1, out=scratch)
        np.add(m, scratch, out=m)
        np.multiply(g, g, out=scratch)               # v ← β₂ v + (1 − β₂) g²
        np.multiply(scratch, 1.0 - beta2, out=scratch)
        np.multiply(v, beta2, out=v)
        np.add(v, scratch, out=v)
        np.sqrt(v, out=denominator)                  # W ← W + (−η_t m) / (√v + ε)
        np.add(denominator, eps, out=denominator)
        np.multiply(m, -lr_t, out=scratch)
        np.divide(scratch, denominator, out=scratch)
        np.add(W, scratch, out=W)


@jit.kernel
def _sklearn_adam_kernel(W, g, m, v, scalars):
    """:meth:`ScikitLearnAdam._update` per weight, the same operations in the same order::

        m ← m·β₁ + g·(1 − β₁);  v ← v·β₂ + (g·g)·(1 − β₂);  W ← W + (m·(−η_t)) / (√v + ε)

    ``scalars`` (W's dtype): β₁, 1 − β₁, β₂, 1 − β₂, −η_t, ε.
    """
    beta1, one_minus_beta1, beta2, one_minus_beta2 = scalars[0], scalars[1], scalars[2], scalars[3]
    minus_lr_t, eps = scalars[4], scalars[5]
    for i in range(W.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        W[i] = W[i] + (mi * minus_lr_t) / (np.sqrt(vi) + eps)
