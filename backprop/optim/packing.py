"""Parameter packing: several parameters' arrays as consecutive slices of one flat array.

An optimiser's update is elementwise, so it can run once over one flat array instead of
once per parameter: the same arithmetic on the same numbers (bit for bit), with a few
ufunc calls per step instead of a few per parameter. Two layouts meet for that:

* the weights: :func:`pack_parameters` makes each ``p.data`` a view into one flat array
  (``fit`` does it when the fast path runs);
* the gradients: :func:`packed_like` gives views into one flat array laid out like the
  parameters (the fast path writes each ``p.grad`` there).

:func:`flat_base` tells whether arrays lie in that layout; :meth:`Optimizer.step
<backprop.optim.Optimizer.step>` takes the packed route when both the weights and the
gradients of a parameter group do.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["pack_parameters", "packed_like", "flat_base"]


def flat_base(params: Sequence, array_of: Callable) -> Optional[np.ndarray]:
    """The 1-D array whose consecutive slices are ``array_of(p)`` for the params, in order, or None.

    ``array_of`` picks the array of a parameter: ``lambda p: p.data`` or ``lambda p: p.grad``.
    """
    first = array_of(params[0])
    if first is None:
        return None
    base = first.base
    if base is None or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    start = base.__array_interface__["data"][0]
    offset = 0
    for p in params:
        a = array_of(p)
        if (a is None or a.base is not base or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != start + offset * base.itemsize):
            return None
        offset += a.size
    return base[:offset] if offset != base.size else base


def packed_like(arrays: Sequence[np.ndarray], dtype=None) -> list:
    """Uninitialised arrays shaped like ``arrays``, as consecutive slices of one new flat array.

    Args:
        arrays: the arrays to mimic (e.g. the parameters' data), in the order of the slices.
        dtype: the flat array's dtype (default: the first array's).
    """
    dtype = arrays[0].dtype if dtype is None else np.dtype(dtype)
    flat = np.empty(sum(a.size for a in arrays), dtype=dtype)
    views, offset = [], 0
    for a in arrays:
        views.append(flat[offset:offset + a.size].reshape(a.shape))
        offset += a.size
    return views


def pack_parameters(params) -> None:
    """Store the parameters' data as consecutive slices of one flat array.

    Values, shapes and parameter identities are unchanged; only ``p.data`` becomes a
    view. An optimiser then updates the whole group with one set of ufunc calls (see
    :meth:`Optimizer._packed <backprop.optim.Optimizer._packed>`). Parameters already
    packed in this order, fewer than two, or of several dtypes are left alone.
    """
    params = list(params)
    if len(params) < 2 or flat_base(params, lambda p: p.data) is not None:
        return
    if len({p.data.dtype for p in params}) != 1:
        return
    for p, view in zip(params, packed_like([p.data for p in params])):
        view[...] = p.data
        p.data = view
