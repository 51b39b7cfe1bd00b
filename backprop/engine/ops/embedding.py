"""Embedding lookup: row k of a weight matrix W stands for category k.

For integer codes c (any shape S) and W of shape (V, D), V categories of D numbers each,

    out[s] = W[c[s]]                 shape S + (D,)

which is the product of a one-hot row with W (onehot(c) · W) without building the one-hot
matrix. Backward follows from that product: ∂J/∂W = onehot(c)ᵀ · δ, i.e. row k of ∂J/∂W is
the sum of the δ rows of every position whose code is k (a scatter-add; rows no code names
get 0). The codes are positions, not numbers: they get no gradient.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from backprop.engine.tensor import Tensor, as_tensor, make_result

__all__ = ["embedding", "scatter_add_rows", "scatter_add_rows_reference"]


def scatter_add_rows(codes: np.ndarray, delta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[k] = Σ_{i: codes[i] = k} delta[i]`` for every row k of ``out`` (others 0), written into ``out``.

    Sorts the codes once and sums each run of equal codes with ``np.add.reduceat``: vectorised,
    in delta's dtype, and deterministic (the sum of each row is taken in the order of the
    examples, whatever NumPy's threading). ``np.add.at`` computes the same thing
    (:func:`scatter_add_rows_reference`, which the tests hold it to).

    Args:
        codes: (M,) integer codes in [0, len(out)).
        delta: (M, D) rows to add up.
        out: (V, D) array to write into.
    """
    out.fill(0)
    if codes.size == 0:
        return out
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_codes[1:] != sorted_codes[:-1])))
    out[sorted_codes[starts]] = np.add.reduceat(delta[order], starts, axis=0)
    return out


def scatter_add_rows_reference(codes: np.ndarray, delta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The same as :func:`scatter_add_rows` with ``np.add.at``: the plain form, for the tests."""
    out.fill(0)
    np.add.at(out, codes, delta)
    return out


def embedding(W, codes: np.ndarray, padding_idx: Optional[int] = None) -> Tensor:
    """out = W[codes]: one row of W per code, shape ``codes.shape + (D,)`` (``torch.nn.functional.embedding``).

    Args:
        W: (V, D) Tensor of embeddings.
        codes: an integer ndarray of any shape, every value in [0, V); checked by the caller
            (:class:`backprop.nn.Embedding` checks them and names itself).
        padding_idx: a code whose row receives no gradient (as in PyTorch), or None.

    Backward: ∂J/∂W = onehot(codes)ᵀ δ, by :func:`scatter_add_rows`.
    """
    W = as_tensor(W)
    codes = np.asarray(codes)
    flat = codes.reshape(-1)
    out = W.data[flat].reshape(codes.shape + W.shape[1:])

    def backward(g):
        grad = np.empty_like(W.data)
        scatter_add_rows(flat, g.reshape(flat.shape[0], -1), grad.reshape(grad.shape[0], -1))
        if padding_idx is not None:
            grad[padding_idx] = 0
        return (grad,)

    return make_result(out, (W,), backward, "embedding")
