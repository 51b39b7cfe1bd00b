"""Optional compiled kernels: one pass over memory where NumPy makes several.

NumPy evaluates an expression such as Adam's update one ufunc at a time: each
``np.multiply(v, β₂, out=v)`` reads and writes the whole array, so an update of a
dozen operations streams the weights, the gradient and the moments through the
cache a dozen times. A loop that does all of them per weight reads each array once.

When `numba <https://numba.pydata.org>`_ is installed (``pip install
"backprop-nn[fast]"``), a function wrapped with :func:`kernel` is compiled on its first
call (and cached on disk), and the code that owns it runs it instead of its NumPy
ufuncs. A kernel performs the same IEEE operations, in the same order and the same
precision, as the NumPy code beside it: no fast-math, no fused multiply–add, so the
results are bit-identical (``tests/test_jit.py`` and each kernel's owner test both
paths). Without numba, with the environment variable ``BACKPROP_JIT=0``, or inside
:func:`disabled`, :meth:`Kernel.get` returns None and the NumPy code runs.

Kernels are plain Python functions over 1-D arrays, written with explicit loops so
that they read like the formulas (and run, slowly, without numba).
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable, Optional

import numpy as np

from backprop.checks import check_bool

__all__ = ["Kernel", "kernel", "available", "set_enabled", "disabled", "supports", "flat_views"]

_FALSE = ("0", "false", "no", "off")
_enabled = os.environ.get("BACKPROP_JIT", "1").strip().lower() not in _FALSE
_numba = None  # the numba module once imported; False when it is not installed


def _load_numba():
    global _numba
    if _numba is None:
        try:
            import numba
        except ImportError:
            numba = False
        _numba = numba
    return _numba or None


def available() -> bool:
    """True when kernels run compiled: numba is installed and compiled kernels are enabled."""
    return _enabled and _load_numba() is not None


def set_enabled(enabled: bool) -> bool:
    """Turn compiled kernels on or off for this process; returns the previous setting."""
    global _enabled
    previous, _enabled = _enabled, check_bool(enabled, "enabled", "set_enabled")
    return previous


@contextlib.contextmanager
def disabled():
    """Run the NumPy code paths inside the block (e.g. to compare them with the kernels)."""
    previous = set_enabled(False)
    try:
        yield
    finally:
        set_enabled(previous)


class Kernel:
    """A Python loop function that numba compiles on first use.

    ``get()`` returns the compiled function, or None when kernels are unavailable or
    disabled; callers then run their NumPy code. Compilation options:

    * ``error_model="numpy"``: a division by zero gives inf/NaN as in NumPy, instead of
      raising, which also lets the loop be vectorised (SIMD);
    * ``nogil=True``: the kernel releases the GIL, as NumPy's ufuncs do;
    * ``cache=True``: the machine code is kept in ``__pycache__`` for the next process;
    * no fast-math: reassociation or fused multiply–add would change the rounding. The
      one exception is ``reassociate=True``, for a dot product whose summation order
      NumPy does not fix either (BLAS chooses its own, and fuses its multiply–adds): it
      lets the sum be vectorised and each a·w + z be one FMA.
    """

    def __init__(self, py_func: Callable, reassociate: bool = False):
        self.py_func = py_func
        self.reassociate = reassociate
        self._compiled = None

    def get(self) -> Optional[Callable]:
        if not _enabled:
            return None
        if self._compiled is None:
            numba = _load_numba()
            if numba is None:
                return None
            options = {"cache": True, "nogil": True, "error_model": "numpy"}
            if self.reassociate:
                options["fastmath"] = {"reassoc", "contract"}
            try:
                self._compiled = numba.njit(**options)(self.py_func)
            except RuntimeError:  # no writable place for the on-disk cache: compile per process
                options["cache"] = False
                self._compiled = numba.njit(**options)(self.py_func)
        return self._compiled

    def __repr__(self) -> str:
        return f"Kernel({self.py_func.__module__}.{self.py_func.__qualname__})"


def kernel(py_func: Optional[Callable] = None, *, reassociate: bool = False):
    """Decorator: make ``py_func`` (loops over arrays) a :class:`Kernel`.

    Used bare (``@kernel``) or with options (``@kernel(reassociate=True)``).
    """
    if py_func is None:
        return lambda func: Kernel(func, reassociate)
    return Kernel(py_func, reassociate)


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def supports(dtype) -> bool:
    """Whether kernels take arrays of ``dtype``: float32 and float64 (numba has no float16)."""
    return dtype in _KERNEL_DTYPES


def flat_views(*arrays):
    """1-D views of ``arrays`` when a kernel can take them all, else None.

    A kernel needs contiguous arrays of one float dtype (float32 or float64) and, as it
    indexes them all alike, one size and one memory order (all row-major, or all
    column-major like a packed Dense W): a mixed-precision call would compile a variant
    that rounds differently from NumPy, and a shorter array would be read past its end.
    """
    first = arrays[0]
    dtype, size = first.dtype, first.size
    if not supports(dtype):
        return None
    for array in arrays:
        if array.dtype != dtype or array.size != size or not array.flags.writeable:
            return None
    if all(array.flags.c_contiguous for array in arrays):
        return [array.reshape(-1) for array in arrays]
    if all(array.flags.f_contiguous and array.shape == first.shape for array in arrays):
        return [array.T.reshape(-1) for array in arrays]  # (column-major: flat in memory order, views)
    return None
