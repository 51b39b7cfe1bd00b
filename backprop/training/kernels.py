"""The fused softmax cross-entropy kernel, until it moves beside its loss in :mod:`backprop.losses`.

* :func:`softmax_cross_entropy`:  J = mean_i (log Σ_k e^{z_ik} − z_{i,y_i}),
  δ = (softmax(z) − onehot(y)) / N                               (the output layer's δ^L)

It adds up the loss in float64 and uses libm's exp and log, so it agrees with the NumPy
kernel of :mod:`backprop.training.fastpath` to rounding (``tests/training/test_kernels.py``).
The layers' kernels sit beside their references: ReLU's bias-and-f kernels in
:class:`backprop.engine.ops.activation.ReLU`, the one-row forward of Dense layers in
:mod:`backprop.layers.dense`.
"""

from __future__ import annotations

import numpy as np

from backprop import jit

__all__ = ["softmax_cross_entropy"]


@jit.kernel
def softmax_cross_entropy(Z, labels, delta, inverse_n, zero, one):
    """Mean cross-entropy of logits Z (N×K) against integer labels; δ = (softmax(z) − onehot(y))·(1/N).

    ``inverse_n``, ``zero`` and ``one`` are 1/N, 0 and 1 in Z's dtype. Returns the loss as a float64. A label outside 0..K−1 makes the loss NaN (and its row of δ
    the softmax alone): callers encode labels before training, this only keeps memory safe.
    """
    n, k = Z.shape
    if k == 0 or labels.shape[0] != n or delta.shape[0] != n or delta.shape[1] != k:
        raise ValueError("softmax_cross_entropy: one label per row of Z, δ of Z's shape, K >= 1")
    total = 0.0
    for i in range(n):
        z_max = Z[i, 0]
        for j in range(1, k):
            if Z[i, j] > z_max:
                z_max = Z[i, j]
        s = zero
        for j in range(k):
            e = np.exp(Z[i, j] - z_max)
            delta[i, j] = e
            s += e
        for j in range(k):
            delta[i, j] = delta[i, j] / s
        y = labels[i]
        if 0 <= y < k:
            delta[i, y] = delta[i, y] - one
            total += np.log(np.float64(s)) + np.float64(z_max) - np.float64(Z[i, y])
        else:
            total += np.nan
        for j in range(k):
            delta[i, j] = delta[i, j] * inverse_n
    return total / n
