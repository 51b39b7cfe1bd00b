"""Elementwise math: exp, log, sqrt, abs and clip."""

from __future__ import annotations

from backprop.backend import xp
from backprop.engine.tensor import Tensor, as_tensor, make_result, tensor_method

__all__ = ["exp", "log", "sqrt", "abs", "clip"]


@tensor_method
def exp(x) -> Tensor:
    """out = eˣ;  ∂out/∂x = eˣ = out."""
    x = as_tensor(x)
    out = xp.exp(x.data)
    return make_result(out, (x,), lambda g: (g * out,), "exp")


@tensor_method
def log(x) -> Tensor:
    """out = ln x;  ∂out/∂x = 1/x."""
    x = as_tensor(x)
    with xp.errstate(divide="ignore", invalid="ignore"):
        out = xp.log(x.data)
    return make_result(out, (x,), lambda g: (g / x.data,), "log")


@tensor_method
def sqrt(x) -> Tensor:
    """out = √x;  ∂out/∂x = 1/(2√x)."""
    x = as_tensor(x)
    with xp.errstate(invalid="ignore"):
        out = xp.sqrt(x.data)
    return make_result(out, (x,), lambda g: (g / (2 * out),), "sqrt")


@tensor_method
def abs(x) -> Tensor:  # noqa: A001
    """out = |x|;  ∂out/∂x = sign(x), 0 at x = 0 (PyTorch's choice)."""
    x = as_tensor(x)
    return make_result(xp.abs(x.data), (x,), lambda g: (g * xp.sign(x.data),), "abs")


@tensor_method
def clip(x, min=None, max=None) -> Tensor:  # noqa: A002
    """out = min(max(x, min), max);  ∂out/∂x = 1 where min ≤ x ≤ max, else 0 (as torch.clamp)."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) must not exceed max ({max})")
    out = xp.clip(x.data, min, max)
    inside = xp.ones(x.shape, dtype=bool)
    if min is not None:
        inside &= x.data >= min
    if max is not None:
        inside &= x.data <= max
    return make_result(out.astype(x.dtype, copy=False), (x,), lambda g: (g * inside,), "clip")
