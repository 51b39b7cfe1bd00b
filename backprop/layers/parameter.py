"""Parameter: a Tensor that a Module learns (a weight matrix W or a bias b)."""

from __future__ import annotations

import numpy as np

from backprop.engine.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor with ``requires_grad=True`` that a :class:`Module` registers when assigned as an attribute.

    Gradient descent updates it in place, ``W.data -= lr * W.grad`` (the notes'
    W := W − α ∂J/∂W), so the Parameter object itself never changes identity.

    Args:
        data: array-like; a float ndarray keeps its dtype, anything else gets ``dtype``
            or the default dtype.
        dtype: force a float dtype.

    Example:
        >>> import numpy as np
        >>> W = Parameter(np.zeros((3, 2)))
        >>> W.requires_grad, W.shape
        (True, (3, 2))
    """

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return f"Parameter({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype})"
