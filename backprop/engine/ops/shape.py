"""Shape ops: reshape, transpose and indexing. They move numbers without changing them,
so backward moves the gradient back to where each number came from."""

from __future__ import annotations

import numpy as np

from backprop.backend import xp
from backprop.engine.tensor import Tensor, as_tensor, make_result, tensor_method

__all__ = ["reshape", "transpose", "getitem", "concatenate"]


@tensor_method
def reshape(x, *shape) -> Tensor:
    """out = x viewed with a new shape (``-1`` infers one dimension)."""
    x = as_tensor(x)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = xp.reshape(x.data, shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None
    return make_result(out, (x,), lambda g: (xp.reshape(g, x.shape),), "reshape")


@tensor_method
def transpose(x, *axes) -> Tensor:
    """out = x with its axes permuted (reversed when no axes are given); backward applies the inverse."""
    x = as_tensor(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    axes = axes or tuple(reversed(range(x.ndim)))
    if (any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -x.ndim <= a < x.ndim for a in axes)
            or sorted(int(a) % max(x.ndim, 1) for a in axes) != list(range(x.ndim))):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    inverse = tuple(np.argsort([int(a) % x.ndim for a in axes]))
    return make_result(xp.transpose(x.data, axes), (x,), lambda g: (xp.transpose(g, inverse),), "transpose")


Tensor.T = property(lambda self: transpose(self))


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))) for p in parts)


def _integer_index(index: Tensor) -> np.ndarray:
    """A Tensor used as an index holds positions. Tensors are float, so a mask would read
    as positions 0 and 1: masks must be NumPy bool arrays, and non-integers are refused."""
    values = index.data
    if not np.all(values == np.round(values)):
        raise ValueError(
            "a Tensor used as an index must hold integer positions; "
            "for a boolean mask, index with a NumPy bool array (x[mask_array])"
        )
    return values.astype(np.intp)


def getitem(x, index) -> Tensor:
    """out = x[index] (NumPy indexing);  backward scatters g back, adding where an index repeats."""
    x = as_tensor(x)
    if isinstance(index, Tensor):
        index = _integer_index(index)
    elif isinstance(index, tuple):
        index = tuple(_integer_index(i) if isinstance(i, Tensor) else i for i in index)
    out = x.data[index]
    basic = _is_basic_index(index)

    def backward(g):
        grad = xp.zeros_like(x.data)
        if basic:
            grad[index] = g  # a basic index never repeats an element
        else:
            xp.add.at(grad, index, g)
        return (grad,)

    # A basic index gives a view (or a NumPy scalar): copy it, so that a later in-place
    # update of x.data (an optimiser step) does not change this result.
    return make_result(xp.array(out) if basic else out, (x,), backward, "getitem")


Tensor.__getitem__ = getitem


def concatenate(tensors, axis: int = -1) -> Tensor:
    """out = [x₁, x₂, ...] joined along ``axis`` (``np.concatenate``); backward hands each input its slice of g."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    try:
        out = xp.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as error:
        shapes = [t.shape for t in tensors]
        raise ValueError(f"concatenate: cannot join shapes {shapes} along axis {axis}: {error}") from None
    axis = axis % out.ndim
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(xp.split(g, bounds, axis=axis))

    return make_result(out, tuple(tensors), backward, "concatenate")
