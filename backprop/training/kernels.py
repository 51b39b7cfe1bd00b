"""Compiled kernels of the fast path: several of a training step's small NumPy calls in one.

At a small batch, a step of the fast path is dominated not by arithmetic but by the
fixed cost of each NumPy call (a few µs on a small machine), and the loss alone makes
about fifteen. When numba is installed (:mod:`backprop.jit`), these kernels replace
groups of calls; :mod:`backprop.training.fastpath` runs its NumPy code otherwise.

* :func:`add_bias_relu`:   Z ← Z + b,  A = max(Z, 0)                (forward of a ReLU layer)
* :func:`relu_delta_and_bias_grad`:  δ ← δ ∘ f′(Z) with f′ = 1[Z > 0],  ∂J/∂b = Σ_rows δ

Both compute the same IEEE operations in the same order as the NumPy code they replace
(bit-identical; ``tests/training/test_kernels.py``). The output layer's fused δᴸ lives
with its loss (:meth:`backprop.losses.CrossEntropy.fused`).

* :func:`dense_stack_row`:  a = f(W a + b), layer after layer, for one example
  (``predict`` on one row: three NumPy calls per layer become one call in all)

Its dot products are summed in an order of the compiler's choosing, as BLAS's matrix–
vector product sums in its own: it agrees with NumPy's forward pass to rounding.
"""

from __future__ import annotations

import numpy as np

from backprop import jit

__all__ = ["add_bias_relu", "relu_delta_and_bias_grad", "dense_stack_row"]


@jit.kernel
def add_bias_relu(Z, b, A, zero):
    """Z ← Z + b (b broadcast over the rows), then A = max(Z, 0) as ``np.maximum`` (NaN kept).

    ``zero`` is 0 in Z's dtype: scalars of the array's own type keep every operation in it.
    """
    n, k = Z.shape
    if b.shape[0] != k or A.shape[0] != n or A.shape[1] != k:  # (numba does not check indices)
        raise ValueError("add_bias_relu: b must have Z's width and A Z's shape")
    for i in range(n):
        for j in range(k):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            if z >= zero or z != z:
                A[i, j] = z
            else:
                A[i, j] = zero


@jit.kernel
def relu_delta_and_bias_grad(delta, Z, grad_b, zero):
    """δ ← δ ∘ 1[Z > 0], then ∂J/∂b = Σ_rows δ, summed row after row as ``np.add.reduce(δ, axis=0)``."""
    n, k = delta.shape
    if Z.shape[0] != n or Z.shape[1] != k or grad_b.shape[0] != k:
        raise ValueError("relu_delta_and_bias_grad: Z must have δ's shape and grad_b its width")
    for i in range(n):
        for j in range(k):
            d = delta[i, j]
            if not Z[i, j] > zero:
                d = d * zero  # δ·0, as NumPy's multiply by the 0/1 mask: NaN and the sign of 0 kept
            delta[i, j] = d
            if i == 0:
                grad_b[j] = d
            else:
                grad_b[j] = grad_b[j] + d


@jit.kernel(reassociate=True)
def dense_stack_row(weights, biases, relu, x, zero):
    """The outputs for one example x of Dense layers: a⁰ = x, aᵐ = f(Wᵐ aᵐ⁻¹ + bᵐ).

    ``weights`` and ``biases`` are tuples of each layer's W (n_out × n_in) and b;
    ``relu[m]`` says whether f is ReLU (else the identity); ``zero`` is 0 in W's dtype.
    Returns (the outputs, Σ x in float64): a sum that is not finite tells the caller to
    check x for NaN and ±inf, which a ReLU could otherwise hide from the outputs.

    Four rows of W at a time: four independent sums let the compiler overlap their
    additions (one sum at a time waits on each addition's latency), as BLAS does.
    """
    total = 0.0
    for j in range(x.size):
        total += x[j]
    a = x
    for m in range(len(weights)):
        W = weights[m]
        b = biases[m]
        n_out, n_in = W.shape
        if n_in != a.size or b.shape[0] != n_out:
            raise ValueError("dense_stack_row: each W must take the previous layer's width, and b match W")
        z = np.empty_like(b)
        i = 0
        while i + 4 <= n_out:
            z0 = zero
            z1 = zero
            z2 = zero
            z3 = zero
            for j in range(n_in):
                a_j = a[j]
                z0 += W[i, j] * a_j
                z1 += W[i + 1, j] * a_j
                z2 += W[i + 2, j] * a_j
                z3 += W[i + 3, j] * a_j
            z[i] = z0
            z[i + 1] = z1
            z[i + 2] = z2
            z[i + 3] = z3
            i += 4
        while i < n_out:
            z0 = zero
            for j in range(n_in):
                z0 += W[i, j] * a[j]
            z[i] = z0
            i += 1
        for i in range(n_out):
            z_i = z[i] + b[i]
            if relu[m] and not (z_i >= zero or z_i != z_i):
                z_i = zero
            z[i] = z_i
        a = z
    return a, total
