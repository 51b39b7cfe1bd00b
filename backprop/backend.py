"""The array backend: the one place that knows which array library backs a Tensor.

Every op creates and transforms arrays through ``xp`` (NumPy today). A CuPy
backend can later be added by giving ``xp`` another module with NumPy's API;
no op has to change.
"""

from __future__ import annotations

import numbers

import numpy as np

xp = np

_FLOAT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
_default_dtype = np.dtype(np.float32)


def resolve_dtype(dtype) -> np.dtype:
    """Turn ``"float32"``, ``np.float64``, ``torch``-style names etc. into a float ``np.dtype``."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be one of {sorted(_FLOAT_DTYPES)}, got {dtype!r}"
        ) from None
    if resolved.name not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_FLOAT_DTYPES)}, got {resolved.name!r}")
    return resolved


def set_default_dtype(dtype) -> None:
    """Set the float dtype used for new tensors made from Python numbers, lists or integer arrays.

    float32 is the default. A float64 ndarray passed to ``Tensor`` stays float64.
    """
    global _default_dtype
    _default_dtype = resolve_dtype(dtype)


def get_default_dtype() -> np.dtype:
    """The float dtype new tensors get when their data does not fix one."""
    return _default_dtype


def as_float_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to a float array, refusing what a neural network cannot compute on.

    A float ndarray (or NumPy float scalar) keeps its dtype unless ``dtype`` is given;
    Python numbers, lists, booleans and integer arrays become the default dtype.

    Raises:
        TypeError: for complex, string, object or otherwise non-numeric data.
    """
    if isinstance(data, np.ndarray):
        array = data
    elif isinstance(data, (numbers.Number, np.generic)) and not isinstance(data, numbers.Real):
        raise TypeError(f"Tensor data must be real numbers, got complex value {data!r}")
    else:
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as error:
            raise TypeError(f"Tensor data must be a numeric array, could not convert: {error}") from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"Tensor data must be real numbers, got complex dtype {array.dtype}")
    if kind not in "fiub":
        raise TypeError(
            f"Tensor data must be numeric (float, int or bool), got dtype {array.dtype}"
        )
    if dtype is not None:
        target = resolve_dtype(dtype)
    elif kind == "f" and isinstance(data, (np.ndarray, np.floating)):
        target = array.dtype  # NumPy data chose its precision; Python floats and lists did not
    else:
        target = _default_dtype
    return np.asarray(array, dtype=target)


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back down to ``shape`` (the sum rule over broadcast copies)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def is_column_major(array: np.ndarray) -> bool:
    """Whether ``array`` is column-major and not also row-major (a Fortran-ordered matrix:
    how ``fit`` stores a Dense layer's W, see :mod:`backprop.optim.packing`)."""
    return array.flags.f_contiguous and not array.flags.c_contiguous
