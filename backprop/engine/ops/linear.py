"""The fused linear op of a layer of neurons: z = W a + b.

Column form (the notes, one example): z = W a + b, with W of shape (n_out, n_in).
Batched form (examples in rows, A of shape (N, n_in)): Z = A Wᵀ + b.
Fusing the matmul and the bias saves a graph node and a temporary per layer; the
gradients are the notes' equations:
    ∂J/∂W = δᵀ A  (Σ over examples of δ aᵀ),  ∂J/∂b = Σ_rows δ,  ∂J/∂A = δ W.
"""

from __future__ import annotations

from typing import Optional

from backprop.backend import is_column_major, xp
from backprop.engine.tensor import Tensor, as_tensor, make_result

__all__ = ["linear"]


def linear(a, W, b: Optional[Tensor] = None) -> Tensor:
    """Z = A Wᵀ + b for A of shape (N, n_in), or z = W a + b for a single vector a.

    Raises:
        ValueError: when the shapes do not chain (a's last dimension must be n_in = W.shape[1]).
    """
    a, W = as_tensor(a), as_tensor(W)
    b = None if b is None else as_tensor(b)
    if W.ndim != 2:
        raise ValueError(f"linear: W must be 2-D (n_out, n_in), got shape {W.shape}")
    if a.ndim not in (1, 2) or a.shape[-1] != W.shape[1]:
        raise ValueError(
            f"linear: input of shape {a.shape} does not match W of shape {W.shape}: "
            f"expected (N, {W.shape[1]}) or ({W.shape[1]},)"
        )
    if b is not None and b.shape != (W.shape[0],):
        raise ValueError(f"linear: b must have shape ({W.shape[0]},), got {b.shape}")
    z = a.data @ W.data.T
    if b is not None:
        z += b.data
    parents = (a, W) if b is None else (a, W, b)

    def backward(delta):
        grad_a = delta @ W.data if a.requires_grad else None
        grad_W = None
        if W.requires_grad:
            if a.ndim == 1:
                grad_W = xp.outer(delta, a.data)
            elif is_column_major(W.data):  # (W packed column-major by fit: its gradient in its layout)
                grad_W = (a.data.T @ delta).T
            else:
                grad_W = delta.T @ a.data
        if b is None:
            return grad_a, grad_W
        grad_b = (delta if a.ndim == 1 else delta.sum(axis=0)) if b.requires_grad else None
        return grad_a, grad_W, grad_b

    return make_result(z, parents, backward, "linear")
