"""Arithmetic ops with NumPy broadcasting: + - * / ** @ and negation.

Each op states its forward formula and returns, in ``backward``, the local
derivative times the incoming gradient g = ∂J/∂out, summed back to each input's
shape (a broadcast input was used several times, so its gradients add up).
"""

from __future__ import annotations

import numpy as np

from backprop.backend import unbroadcast, xp
from backprop.engine.tensor import Tensor, as_tensor, make_result

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "matmul"]


def _broadcast_check(op: str, a: Tensor, b: Tensor) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
            "(trailing dimensions must be equal or 1)"
        ) from None


def add(a, b) -> Tensor:
    """out = a + b;  ∂out/∂a = 1, ∂out/∂b = 1."""
    a, b = _pair(a, b)
    _broadcast_check("add", a, b)
    return make_result(
        a.data + b.data, (a, b),
        lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)), "add",
    )


def sub(a, b) -> Tensor:
    """out = a − b;  ∂out/∂a = 1, ∂out/∂b = −1."""
    a, b = _pair(a, b)
    _broadcast_check("sub", a, b)
    return make_result(
        a.data - b.data, (a, b),
        lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)), "sub",
    )


def mul(a, b) -> Tensor:
    """out = a · b (elementwise);  ∂out/∂a = b, ∂out/∂b = a."""
    a, b = _pair(a, b)
    _broadcast_check("mul", a, b)
    return make_result(
        a.data * b.data, (a, b),
        lambda g: (
            unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
            unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
        ),
        "mul",
    )


def div(a, b) -> Tensor:
    """out = a / b;  ∂out/∂a = 1/b, ∂out/∂b = −a/b²."""
    a, b = _pair(a, b)
    _broadcast_check("div", a, b)
    out = a.data / b.data
    return make_result(
        out, (a, b),
        lambda g: (
            unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
            unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None,
        ),
        "div",
    )


def pow(a, b) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """out = a ** b;  ∂out/∂a = b·a^(b−1), ∂out/∂b = a^b · ln a."""
    a, b = _pair(a, b)
    _broadcast_check("pow", a, b)
    out = a.data ** b.data

    def backward(g):
        grad_a = grad_b = None
        if a.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                local = b.data * a.data ** (b.data - 1)
            # a ** 0 is constant: derivative 0, also at a = 0 (where 0 · 0^(−1) would be NaN), as in PyTorch.
            local = xp.where(b.data == 0, 0, local).astype(out.dtype, copy=False)
            grad_a = unbroadcast(g * local, a.shape)
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = xp.where(a.data > 0, xp.log(xp.where(a.data > 0, a.data, 1)), xp.nan)
            # 0 ** b has derivative 0 w.r.t. b for b > 0, as in PyTorch.
            log_a = xp.where((a.data == 0) & (b.data >= 0), 0, log_a)
            grad_b = unbroadcast(g * out * log_a, b.shape)
        return grad_a, grad_b

    return make_result(out, (a, b), backward, "pow")


def neg(a) -> Tensor:
    """out = −a."""
    a = as_tensor(a)
    return make_result(-a.data, (a,), lambda g: (-g,), "neg")


def matmul(a, b) -> Tensor:
    """out = a @ b (NumPy's matmul rules: 1-D vectors, 2-D matrices, stacks of matrices).

    For 2-D operands: ∂J/∂a = g bᵀ and ∂J/∂b = aᵀ g.
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
            f"{inner_a} (last dim of the left) != {inner_b} (first dim of the right)"
        )
    try:
        out = a.data @ b.data
    except ValueError as error:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: {error}") from None

    def backward(g):
        A = a.data[None, :] if a.ndim == 1 else a.data
        B = b.data[:, None] if b.ndim == 1 else b.data
        G = g
        if b.ndim == 1:  # b first: for 1-D @ 1-D, g is 0-d and becomes (1, 1)
            G = xp.expand_dims(G, -1)
        if a.ndim == 1:
            G = xp.expand_dims(G, -2)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = G @ xp.swapaxes(B, -1, -2)
            grad_a = unbroadcast(grad_a, A.shape).reshape(a.shape)
        if b.requires_grad:
            grad_b = xp.swapaxes(A, -1, -2) @ G
            grad_b = unbroadcast(grad_b, B.shape).reshape(b.shape)
        return grad_a, grad_b

    return make_result(out, (a, b), backward, "matmul")


def _pair(a, b):
    if isinstance(a, Tensor):
        return a, as_tensor(b, like=a)
    b = as_tensor(b)
    return as_tensor(a, like=b), b


def _bind_operators() -> None:
    Tensor.__add__ = lambda self, other: add(self, other)
    Tensor.__radd__ = lambda self, other: add(other, self)
    Tensor.__sub__ = lambda self, other: sub(self, other)
    Tensor.__rsub__ = lambda self, other: sub(other, self)
    Tensor.__mul__ = lambda self, other: mul(self, other)
    Tensor.__rmul__ = lambda self, other: mul(other, self)
    Tensor.__truediv__ = lambda self, other: div(self, other)
    Tensor.__rtruediv__ = lambda self, other: div(other, self)
    Tensor.__pow__ = lambda self, other: pow(self, other)
    Tensor.__rpow__ = lambda self, other: pow(other, self)
    Tensor.__matmul__ = lambda self, other: matmul(self, other)
    Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
    Tensor.__neg__ = lambda self: neg(self)


_bind_operators()
