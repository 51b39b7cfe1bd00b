"""Work arrays reused from one call to the next, one set per thread.

A fresh large array costs its page faults at every call (a 4 MB array: about 0.3 ms, 4% of
predicting 4,096 rows of the benchmark's MLP). Kernels and fused forms that need a
temporary of the same shape call after call take it from here instead. Each thread has its
own arrays, so concurrent calls never share one; an array larger than the caller's limit
is not kept, so a thread holds a bounded amount.

The contents of a work array are undefined, and it is valid until the same thread asks for
the same name again: never return one to a caller.
"""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["work_array"]

_space = threading.local()


def work_array(name, shape: tuple, dtype, max_bytes: int) -> np.ndarray:
    """An uninitialised array of ``shape`` and ``dtype`` for use inside one call only.

    Args:
        name: the caller's key (e.g. ``("conv", "cols")``): arrays of one name are reused.
        shape, dtype: what the array must be.
        max_bytes: arrays larger than this are made fresh and not kept.
    """
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize > max_bytes:
        return np.empty(shape, dtype=dtype)
    arrays = _space.__dict__.setdefault("arrays", {})
    key = (name, dtype)
    array = arrays.get(key)
    if array is None or array.size < size:
        array = arrays[key] = np.empty(size, dtype=dtype)
    return array[:size].reshape(shape)
