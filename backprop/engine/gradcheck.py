"""Gradient checking: backprop's gradient against central differences, in float64.

For a scalar J = fn(inputs) (or, for a non-scalar output, J = Σ r ∘ fn(inputs)
with a fixed random r, which checks the vector–Jacobian product that backward
computes), every element x_i of every input that requires grad is checked:

    numeric_i = (J(x_i + ε) − J(x_i − ε)) / 2ε,
    |analytic_i − numeric_i| ≤ atol + rtol·|numeric_i|.
"""

from __future__ import annotations

import numpy as np

from backprop.engine.tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with central differences."""


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Args:
        fn: callable taking the inputs (Tensors, or other constants passed through) and
            returning a Tensor.
        *inputs: the arguments; Tensors with ``requires_grad=True`` are checked, in float64.
        eps: the finite-difference step ε.
        atol, rtol: the tolerance, |analytic − numeric| ≤ atol + rtol·|numeric|.
        seed: seeds the random projection r used for non-scalar outputs.

    Returns:
        True when every element agrees.

    Raises:
        GradcheckError: naming the input, the element and both values.
    """
    promoted = [
        Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad) if isinstance(x, Tensor) else x
        for x in inputs
    ]
    checked = [i for i, x in enumerate(promoted) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")

    first = fn(*promoted)
    if not isinstance(first, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(first).__name__}")
    projection = np.random.default_rng(seed).standard_normal(first.shape) if first.size != 1 else None

    def scalar(out: Tensor) -> float:
        return float(out.data.sum() if projection is None else (out.data * projection).sum())

    weighted = first if projection is None else (first * Tensor(projection)).sum()
    if weighted.requires_grad:  # otherwise fn does not depend on the inputs: every gradient is 0
        weighted.backward()

    for i in checked:
        x = promoted[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        flat = x.data.reshape(-1)  # a view: nudging it nudges the input
        for k in range(flat.size):
            original = flat[k]
            with no_grad():
                flat[k] = original + eps
                plus = scalar(fn(*promoted))
                flat[k] = original - eps
                minus = scalar(fn(*promoted))
            flat[k] = original
            numeric = (plus - minus) / (2 * eps)
            value = analytic.reshape(-1)[k]
            if not abs(value - numeric) <= atol + rtol * abs(numeric):
                element = np.unravel_index(k, x.shape) if x.shape else ()
                raise GradcheckError(
                    f"gradcheck failed for input {i} (shape {x.shape}) at element {tuple(int(e) for e in element)}: "
                    f"backprop gives {float(value)!r}, central differences give {float(numeric)!r}"
                )
    return True
