"""Reductions: sum, mean and max over an axis, a tuple of axes, or everything."""

from __future__ import annotations


import numpy as np

from backprop.backend import xp
from backprop.engine.tensor import Tensor, as_tensor, make_result, tensor_method

__all__ = ["sum", "mean", "max"]


def _normalize_axis(axis, ndim: int, op: str):
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    if ndim == 0:
        # A 0-d tensor has one element: axis 0 or -1 reduces it to itself, as in PyTorch.
        if any(not isinstance(ax, (int, np.integer)) or ax not in (0, -1) for ax in axes):
            raise ValueError(f"{op}: axis {axis!r} is out of range for a 0-d tensor (use 0, -1 or None)")
        return None
    normalized = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(ax) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {axis!r} names the same dimension twice")
    return tuple(sorted(normalized))


def _expand(g: np.ndarray, shape: tuple, axes, keepdims: bool) -> np.ndarray:
    """Put the reduced axes back into g so that it broadcasts against the input."""
    if axes is None:
        return xp.reshape(g, (1,) * len(shape)) if not keepdims else g
    if not keepdims:
        g = xp.expand_dims(g, axes)
    return g


@tensor_method
def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """out = Σ x over ``axis``;  ∂out/∂x = 1 (g is copied back to every summed element)."""
    x = as_tensor(x)
    axes = _normalize_axis(axis, x.ndim, "sum")
    out = xp.sum(x.data, axis=axes, keepdims=keepdims)
    return make_result(
        xp.asarray(out), (x,),
        lambda g: (xp.broadcast_to(_expand(g, x.shape, axes, keepdims), x.shape).copy(),),
        "sum",
    )


@tensor_method
def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """out = (1/n) Σ x over ``axis``, n the number of elements averaged;  ∂out/∂x = 1/n."""
    x = as_tensor(x)
    axes = _normalize_axis(axis, x.ndim, "mean")
    count = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    out = xp.mean(x.data, axis=axes, keepdims=keepdims)
    return make_result(
        xp.asarray(out, dtype=x.dtype), (x,),
        lambda g: (xp.broadcast_to(_expand(g, x.shape, axes, keepdims) / count, x.shape).astype(x.dtype),),
        "mean",
    )


@tensor_method
def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """out = max x over ``axis``;  the gradient goes to the maximal element, split evenly among ties."""
    x = as_tensor(x)
    axes = _normalize_axis(axis, x.ndim, "max")
    if x.size == 0:
        raise ValueError("max: cannot reduce an empty tensor")
    out_keep = xp.max(x.data, axis=axes, keepdims=True)
    out = out_keep if keepdims else (xp.max(x.data, axis=axes) if axes is not None else out_keep.reshape(()))

    def backward(g):
        is_max = x.data == out_keep
        share = (is_max / xp.sum(is_max, axis=axes, keepdims=True)).astype(x.dtype)
        return (share * _expand(g, x.shape, axes, keepdims),)

    return make_result(xp.asarray(out), (x,), backward, "max")
