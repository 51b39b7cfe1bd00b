"""Layer normalisation (Ba, Kiros & Hinton, 2016), as ``torch.nn.LayerNorm(C)``.

Where batch normalisation averages each feature over the examples of a batch, layer
normalisation averages each example over its C features (the last axis), so it computes
the same thing in training and evaluation and for a batch of one:

    μ = (1/C) Σ_k x_k,   σ² = (1/C) Σ_k (x_k − μ)²   (biased),
    x̂_k = (x_k − μ) / √(σ² + ε),
    y_k = γ_k x̂_k + β_k.

The reference form (:meth:`LayerNorm.forward`) is composed from engine ops, so its
gradient comes from backpropagation through μ and σ². The fused form
(:class:`LayerNormOp`) writes the closed form out (g = ∂J/∂y, r = 1/√(σ² + ε), and means
over the C features):

    ∂J/∂β = Σ_rows g,   ∂J/∂γ = Σ_rows g x̂,
    ∂J/∂x = r · (γg − mean(γg) − x̂ · mean(γg x̂)).
"""

from __future__ import annotations

import numpy as np

from backprop import init
from backprop.backend import get_default_dtype, resolve_dtype
from backprop.checks import check_positive, check_positive_int
from backprop.engine.tensor import Tensor, as_tensor
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module

__all__ = ["LayerNorm", "LayerNormOp"]


@register_module
class LayerNorm(Module):
    """Normalise each example over its last axis (C features), then scale by γ and shift by β.

    Args:
        normalized_shape: C, the number of features of the last axis (PyTorch's name).
        eps: ε > 0 added to the variance.
        dtype: float dtype of γ and β.

    Attributes:
        gamma: Parameter (C,), initially 1 (``torch``'s ``weight``).
        beta: Parameter (C,), initially 0 (``torch``'s ``bias``).
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, dtype=None):
        super().__init__()
        self.normalized_shape, self.eps, dtype = _checked_arguments(normalized_shape, eps, dtype)
        self.gamma = Parameter(init.ones((self.normalized_shape,), dtype=dtype))
        self.beta = Parameter(init.zeros((self.normalized_shape,), dtype=dtype))

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        _check_input(x.shape, self.normalized_shape)
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        x_hat = centred / (variance + self.eps).sqrt()
        return x_hat * self.gamma + self.beta

    def fused_ops(self) -> tuple:
        return (LayerNormOp(self),)

    def onnx_nodes(self, graph, x: str) -> str:
        """LayerNormalization over the last axis (opset 17): y = γ (x − μ)/√(σ² + ε) + β."""
        gamma, beta = graph.constant(self.gamma.data, "gamma"), graph.constant(self.beta.data, "beta")
        return graph.node("LayerNormalization", [x, gamma, beta], "layer_norm", axis=-1, epsilon=float(self.eps))

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """γ and β of shape (C,), from the config alone."""
        size = _checked_arguments(**cls.check_config_keys(config))[0]
        return {"gamma": (size,), "beta": (size,)}

    def expected_in_features(self) -> int:
        return self.normalized_shape

    def output_features(self, in_features) -> int:
        return self.normalized_shape

    def get_config(self) -> dict:
        return {"normalized_shape": self.normalized_shape, "eps": self.eps, "dtype": self.gamma.dtype.name}

    # PyTorch: LayerNorm over the last axis, whose weight and bias are γ and β.
    torch_types = ("LayerNorm",)

    def to_torch_modules(self, nn) -> list:
        return [nn.LayerNorm(self.normalized_shape, eps=self.eps)]

    def torch_layout(self) -> list:
        return [{"weight": "gamma", "bias": "beta"}]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module = modules[0]
        if len(module.normalized_shape) != 1 or module.weight is None or module.bias is None:
            raise TypeError(f"torch.nn.LayerNorm({tuple(module.normalized_shape)}, elementwise_affine="
                            f"{module.weight is not None}): only one normalised axis with weight and bias is "
                            "supported")
        return cls(module.normalized_shape[0], eps=module.eps,
                   dtype=str(module.weight.dtype).replace("torch.", "")), 1


class LayerNormOp(FusedOp):
    """The fused form of :class:`LayerNorm`: the closed-form forward and backward on arrays."""

    def __init__(self, layer: LayerNorm):
        self.layer = layer  # γ, β and ε are read at each step
        self.params = (layer.gamma, layer.beta)
        self._saved = None  # x̂ and r of the last forward, for backward

    @property
    def in_features(self) -> int:
        return self.layer.normalized_shape

    def out_shape(self, in_shape):
        _check_input(in_shape, self.layer.normalized_shape)
        return in_shape

    def _normalised(self, a):
        mean = a.mean(axis=-1, keepdims=True)
        centred = a - mean
        variance = np.mean(centred * centred, axis=-1, keepdims=True)
        inverse_std = 1.0 / np.sqrt(variance + a.dtype.type(self.layer.eps))
        return centred * inverse_std, inverse_std

    def forward(self, a, out):
        x_hat, inverse_std = self._normalised(a)
        self._saved = (x_hat, inverse_std)
        np.multiply(x_hat, self.layer.gamma.data, out=out)
        out += self.layer.beta.data
        return out

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        x_hat, inverse_std = self._saved
        rows = tuple(range(delta.ndim - 1))
        np.sum(delta * x_hat, axis=rows, out=grads[0])  # ∂J/∂γ
        np.sum(delta, axis=rows, out=grads[1])  # ∂J/∂β
        if delta_in is None:
            return None
        g = np.multiply(delta, self.layer.gamma.data, out=scratch)  # γ g
        projection = np.mean(g * x_hat, axis=-1, keepdims=True)
        np.subtract(g, g.mean(axis=-1, keepdims=True), out=delta_in)
        delta_in -= x_hat * projection
        delta_in *= inverse_std
        return delta_in

    def predict(self, a, overwrite):
        _check_input(a.shape, self.layer.normalized_shape)
        x_hat, _ = self._normalised(a)
        return x_hat * self.layer.gamma.data + self.layer.beta.data


def _check_input(shape: tuple, size: int) -> None:
    if len(shape) < 2 or shape[-1] != size:
        raise ValueError(f"LayerNorm: expected input of shape (N, ..., {size}) (features on the last axis), "
                         f"got {tuple(shape)}")


def _checked_arguments(normalized_shape, eps=1e-5, dtype=None) -> tuple:
    """(normalized_shape, eps, dtype) validated, allocating nothing."""
    size = check_positive_int(normalized_shape, "normalized_shape", "LayerNorm")
    eps = check_positive(eps, "eps", "LayerNorm")
    try:
        dtype = get_default_dtype() if dtype is None else resolve_dtype(dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"LayerNorm: dtype: {error}") from None
    return size, eps, dtype
