"""AdamW: Adam with decoupled weight decay, W ← (1 − ηλ) W before the Adam step."""

from __future__ import annotations

from backprop.optim.adam import Adam
from backprop.optim.optimizer import OPTIMIZERS

__all__ = ["AdamW"]


@OPTIMIZERS.register
class AdamW(Adam):
    r"""AdamW, PyTorch's ``torch.optim.AdamW`` for the same arguments.

    Adam's step, with the weight decay taken out of the gradient and applied to the
    weights directly, as in the notes' L2 update (1 − αλ) W. At step t, with
    g = ∂J/∂W and m, v starting at 0::

        W ← (1 − η λ) W                    (decoupled weight decay)
        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
        W ← W − η m̂ / (√v̂ + ε)

    In :class:`Adam` the decay λW joins g and is then divided by √v̂, so weights with
    large gradients are barely decayed; here every weight shrinks by the same factor.

    Args:
        params: Tensors that require grad, or parameter groups (dicts with "params").
        lr: the learning rate η > 0.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε >= 0.
        weight_decay: λ >= 0 (default 0.01).
        amsgrad: use the running maximum of v (see :class:`Adam`).
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (see :class:`~backprop.optim.Optimizer`); at most one.
    """

    name = "adamw"

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, *,
                 clipnorm=None, clipvalue=None, global_clipnorm=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm)
