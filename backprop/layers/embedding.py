"""Embedding: a learnt vector of D numbers for each of V categories, as ``torch.nn.Embedding(V, D)``.

A categorical column with V values can enter a network as a one-hot row of V inputs to a
Dense layer, z = W x with x = e_k; then z is column k of W. An embedding stores those
columns directly, as the rows of its weight W (V, D), and looks row k up for code k:

    a = W[c]          (codes c of any shape S give a of shape S + (D,))

so the network's first matrix has V·D numbers instead of V·n_out, and the input is one
integer per example instead of V floats. Backward (:func:`backprop.engine.ops.embedding`):
row k of ∂J/∂W is the sum of δ over the examples with code k.
"""

from __future__ import annotations

import numbers
from typing import Optional

import numpy as np

from backprop import init
from backprop.backend import get_default_dtype, resolve_dtype
from backprop.checks import check_positive_int
from backprop.engine.ops.embedding import embedding
from backprop.engine.tensor import Tensor
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module

__all__ = ["Embedding", "embedding_dim_rule"]

#: W ~ N(0, 1), PyTorch's initialisation of an embedding.
DEFAULT_WEIGHT_INIT = {"name": "normal", "std": 1.0}


def embedding_dim_rule(n_categories: int) -> int:
    """A common choice of D for V categories: min(50, round(1.6 · V^0.56)).

    fastai's rule of thumb (``fastai.tabular.model.emb_sz_rule``, found empirically by its
    authors); 2 categories give 2, 50 give 14, 2000 or more give 50.
    """
    V = check_positive_int(n_categories, "n_categories", "embedding_dim_rule")
    return max(1, min(50, round(1.6 * V ** 0.56)))


@register_module
class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of ``embedding_dim`` numbers: a = W[c].

    Args:
        num_embeddings: V, the number of categories (codes 0..V−1).
        embedding_dim: D, the length of each vector.
        padding_idx: a code whose vector starts at 0 and gets no gradient (PyTorch's meaning;
            negative counts from the end), or None.
        weight_init: initialiser of W (a name, a dict or a callable, see :mod:`backprop.init`);
            default N(0, 1) as in PyTorch.
        dtype: float dtype of W.

    Input: an integer array of codes, any shape S (one code per example: (N,); k categorical
    columns: (N, k)); output: S + (D,). Codes outside [0, V), or of a non-integer dtype,
    are refused with a ValueError before anything is computed.

    Attributes:
        W: Parameter (V, D), ``torch``'s ``weight``.

    Example:
        >>> import numpy as np
        >>> layer = Embedding(10, 3)
        >>> layer(np.array([1, 1, 7])).shape
        (3, 3)
    """

    input_kind = "codes"

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 weight_init=None, dtype=None):
        super().__init__()
        arguments = _checked_arguments(num_embeddings, embedding_dim, padding_idx, weight_init, dtype)
        self.num_embeddings, self.embedding_dim, self.padding_idx, self.weight_init, dtype = arguments
        W = self.weight_init((self.num_embeddings, self.embedding_dim), dtype=dtype)
        if self.padding_idx is not None:
            W[self.padding_idx] = 0
        self.W = Parameter(W)

    def forward(self, codes) -> Tensor:
        return embedding(self.W, self.check_codes(codes), self.padding_idx)

    def onnx_nodes(self, graph, codes: str) -> str:
        """out = W[codes] as ONNX's Gather along W's rows (codes: an int64 input of any shape).

        ONNX cannot refuse a code outside [0, V) as :meth:`check_codes` does: ONNX Runtime fails the
        run for one past the end, and Gather reads a negative code from the end of W.
        """
        return graph.node("Gather", [graph.constant(self.W.data, "embeddings"), codes], "embedded", axis=0)

    def check_codes(self, codes, name: str = "input") -> np.ndarray:
        """``codes`` as an integer ndarray (never a copy of an int64 array), all in [0, V).

        Raises:
            ValueError: a float, bool or non-numeric dtype (a float Tensor included), or a
                code outside [0, V), naming the layer and the range.
        """
        if isinstance(codes, Tensor):
            raise ValueError(f"Embedding: {name} must be integer category codes in [0, {self.num_embeddings - 1}], "
                             f"got a Tensor of {codes.dtype} (Tensors hold floats; pass the codes as an int ndarray)")
        array = np.asarray(codes)
        if array.dtype.kind not in "iu":
            raise ValueError(f"Embedding: {name} must be integer category codes in [0, {self.num_embeddings - 1}], "
                             f"got dtype {array.dtype}")
        if array.size:
            low, high = int(array.min()), int(array.max())
            if low < 0 or high >= self.num_embeddings:
                raise ValueError(
                    f"Embedding: {name} codes must lie in [0, {self.num_embeddings - 1}] "
                    f"(num_embeddings={self.num_embeddings}), got values from {low} to {high}")
        return array

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """W of shape (V, D), from the config alone (validated as the constructor would)."""
        V, D = _checked_arguments(**cls.check_config_keys(config))[:2]
        return {"W": (V, D)}

    def output_features(self, in_features) -> Optional[int]:
        return None  # D per code: (N, D) for one code per example, (N, k, D) for k

    def get_config(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx, "weight_init": init.initializer_config(self.weight_init),
                "dtype": self.W.dtype.name}

    # PyTorch: Embedding(V, D, padding_idx), whose weight is W.
    torch_types = ("Embedding",)

    def to_torch_modules(self, nn) -> list:
        return [nn.Embedding(self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx)]

    def torch_layout(self) -> list:
        return [{"weight": "W"}]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module = modules[0]
        if module.max_norm is not None or module.sparse or module.scale_grad_by_freq:
            raise TypeError("torch.nn.Embedding: max_norm, sparse and scale_grad_by_freq are not supported")
        return cls(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx,
                   dtype=str(module.weight.dtype).replace("torch.", "")), 1

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else f"{text}, padding_idx={self.padding_idx}"


def _checked_arguments(num_embeddings, embedding_dim, padding_idx=None, weight_init=None, dtype=None) -> tuple:
    """(V, D, padding_idx in [0, V) or None, initialiser, dtype), validated, allocating nothing."""
    V = check_positive_int(num_embeddings, "num_embeddings", "Embedding")
    D = check_positive_int(embedding_dim, "embedding_dim", "Embedding")
    if padding_idx is not None:
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) or not -V <= padding_idx < V:
            raise ValueError(f"Embedding: padding_idx must be None or an int in [{-V}, {V - 1}], got {padding_idx!r}")
        padding_idx = int(padding_idx) % V
    try:
        weight_init = init.get_initializer(DEFAULT_WEIGHT_INIT if weight_init is None else weight_init)
    except (TypeError, ValueError) as error:
        raise type(error)(f"Embedding: weight_init: {error}") from None
    try:
        dtype = get_default_dtype() if dtype is None else resolve_dtype(dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Embedding: dtype: {error}") from None
    return V, D, padding_idx, weight_init, dtype
