"""Parameter packing: several parameters' arrays as consecutive slices of one flat array.

An optimiser's update is elementwise, so it can run once over one flat array instead of
once per parameter: the same arithmetic on the same numbers (bit for bit), with a few
ufunc calls per step instead of a few per parameter. Two layouts meet for that:

* the weights: :func:`pack_parameters` makes each ``p.data`` a view into one flat array
  (``fit`` does it when the fast path runs);
* the gradients: :func:`packed_like` gives views into one flat array laid out like the
  parameters (the fast path writes each ``p.grad`` there).

A slice holds its parameter in the parameter's own memory order: row-major (C), or
column-major (Fortran) for the weights the fast path asks for (a Dense layer's W, shape
(n_out, n_in) as ever, so that z = A Wᵀ multiplies by a row-major Wᵀ: OpenBLAS runs the
skinny products of small batches ~25% faster so). Element k of the flat array is element k
of each slice's memory, for the weights, their gradients and the optimiser's state alike
(:func:`view_like`, :func:`ravel_like`): the update stays elementwise.

:func:`flat_base` tells whether arrays lie in that layout; :meth:`Optimizer.step
<backprop.optim.Optimizer.step>` takes the packed route when both the weights and the
gradients of a parameter group do.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from backprop.backend import is_column_major

__all__ = ["pack_parameters", "packed_like", "flat_base", "view_like", "ravel_like"]


def _view(flat: np.ndarray, shape: tuple, column_major: bool) -> np.ndarray:
    """``flat`` (1-D) seen as an array of ``shape``, in row- or column-major order (a view)."""
    if column_major:
        return flat.reshape(shape[::-1]).T
    return flat.reshape(shape)


def view_like(flat: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``flat`` (1-D, ``like.size`` items) as a view shaped like ``like``, in its memory order."""
    return _view(flat, like.shape, is_column_major(like))


def ravel_like(array: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``array`` (shaped like ``like``) flattened in ``like``'s memory order (a view where it can be)."""
    return array.reshape(-1, order="F" if is_column_major(like) else "C")


def flat_base(params: Sequence, array_of: Callable) -> Optional[np.ndarray]:
    """The 1-D array whose consecutive slices are ``array_of(p)`` for the params, in order, or None.

    ``array_of`` picks the array of a parameter: ``lambda p: p.data`` or ``lambda p: p.grad``.
    Each slice holds its array in the array's memory order (row- or column-major).
    """
    first = array_of(params[0])
    if first is None:
        return None
    base = first.base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous or base.dtype != first.dtype:
        return None
    itemsize = base.itemsize
    origin = base.__array_interface__["data"][0]
    start = first.__array_interface__["data"][0]
    if (start - origin) % itemsize:
        return None
    offset = 0
    for p in params:
        a = array_of(p)
        if (a is None or a.base is not base or not (a.flags.c_contiguous or a.flags.f_contiguous)
                or a.__array_interface__["data"][0] != start + offset * itemsize):
            return None
        offset += a.size
    begin = (start - origin) // itemsize
    return base if (begin, offset) == (0, base.size) else base[begin:begin + offset]


def packed_like(arrays: Sequence[np.ndarray], dtype=None, column_major: Optional[Sequence[bool]] = None) -> list:
    """Uninitialised arrays shaped like ``arrays``, as consecutive slices of one new flat array.

    Args:
        arrays: the arrays to mimic (e.g. the parameters' data), in the order of the slices.
        dtype: the flat array's dtype (default: the first array's).
        column_major: per array, whether its view is column-major (default: as the array is).
    """
    dtype = arrays[0].dtype if dtype is None else np.dtype(dtype)
    if column_major is None:
        column_major = [is_column_major(a) for a in arrays]
    flat = _aligned_empty(sum(a.size for a in arrays), dtype)
    views, offset = [], 0
    for a, fortran in zip(arrays, column_major):
        views.append(_view(flat[offset:offset + a.size], a.shape, fortran))
        offset += a.size
    return views


def _aligned_empty(size: int, dtype: np.dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised 1-D array starting on a cache-line boundary (a slice of a slightly
    longer one). NumPy guarantees 16 bytes only; a weight matrix whose rows straddle cache
    lines is read measurably slower (one-row predict: 14 instead of 12 µs for the
    benchmark's 784 × 256 W¹)."""
    spare = alignment // dtype.itemsize
    raw = np.empty(size + spare, dtype)
    start = (-raw.ctypes.data % alignment) // dtype.itemsize  # (NumPy's 16 bytes: a whole number of items)
    return raw[start:start + size]


def pack_parameters(params, column_major=()) -> None:
    """Store the parameters' data as consecutive slices of one flat array.

    Values, shapes and parameter identities are unchanged; only ``p.data`` becomes a
    view. An optimiser then updates the whole group with one set of ufunc calls (see
    :meth:`Optimizer._packed <backprop.optim.Optimizer._packed>`). Parameters already
    packed in this order and layout, fewer than two, or of several dtypes are left alone.

    Args:
        params: the parameters, in the order of their slices.
        column_major: the parameters (2-D) to store column-major; the others are row-major.
    """
    params = list(params)
    wanted = {id(p) for p in column_major}
    layout = [id(p) in wanted and p.data.ndim == 2 for p in params]
    if len(params) < 2 or len({p.data.dtype for p in params}) != 1:
        return
    if (flat_base(params, lambda p: p.data) is not None
            and all(is_column_major(p.data) == fortran for p, fortran in zip(params, layout))):
        return
    for p, view in zip(params, packed_like([p.data for p in params], column_major=layout)):
        view[...] = p.data
        p.data = view
