"""Dense: a fully connected layer of neurons, z = W a + b, a_out = f(z)."""

from __future__ import annotations

from typing import Optional

from backprop.backend import get_default_dtype, resolve_dtype
from backprop.engine.ops.linear import linear
from backprop.engine.tensor import Tensor
from backprop import init
from backprop.layers.activations import activation_config, resolve_activation
from backprop.checks import check_bool, check_positive_int
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module
from backprop.regularizers import get_regularizer

__all__ = ["Dense"]


@register_module
class Dense(Module):
    """A fully connected layer: z = W a + b, then a_out = f(z).

    In the notes' column form one example a (n_in,) gives z = W a + b with W of
    shape (n_out, n_in). A batch has its examples in rows, A of shape (N, n_in),
    so the layer computes Z = A Wᵀ + b (row i of Z is the notes' z for example i),
    with the engine's fused ``linear`` op, whose backward gives ∂J/∂W = δᵀ A,
    ∂J/∂b = Σ_rows δ and ∂J/∂A = δ W.

    Args:
        in_features: n_in = n^[ℓ−1], a positive int.
        out_features: n_out = n^[ℓ], the number of neurons, a positive int.
        activation: f: None (a = z), or one of "relu", "leaky_relu", "sigmoid" (or
            "logistic"), "tanh", "arctan", "step", "identity" (or "linear"), "softmax"
            (over the last axis), an engine Activation object, or a dict such as
            ``{"name": "leaky_relu", "negative_slope": 0.2}``.
        use_bias: whether the layer has b.
        weight_init: initialiser of W (a name, a ``{"name": ..., **params}`` dict or a
            callable ``fn(shape, rng, dtype)``, see :mod:`backprop.init`). The default
            depends on f: relu and leaky_relu → "he_normal" (σ = √(2/n_in)); any other
            activation or none → "xavier_normal" (σ = √(2/(n_in + n_out))).
        bias_init: initialiser of b (default "zeros").
        weight_regularizer: penalty on W, never on b: None, "l1", "l2", "l1_l2" (λ = 0.01),
            a dict such as ``{"name": "l2", "l2": 1e-3}``, or ``L2(1e-3)``.
        dtype: float dtype of W and b (default: the library's default dtype, float32).

    Attributes:
        W: Parameter of shape (out_features, in_features), as ``torch.nn.Linear.weight``.
        b: Parameter of shape (out_features,), or None without bias.
        activation: the engine Activation object holding f and f′, or None for a = z.

    Example:
        >>> import numpy as np
        >>> layer = Dense(4, 3, activation="relu")
        >>> layer.W.shape, layer.b.shape
        ((3, 4), (3,))
        >>> layer(np.ones((5, 4), dtype=np.float32)).shape
        (5, 3)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation=None,
        use_bias: bool = True,
        weight_init=None,
        bias_init="zeros",
        weight_regularizer=None,
        dtype=None,
    ):
        super().__init__()
        arguments = _checked_arguments(in_features, out_features, activation=activation, use_bias=use_bias,
                                       weight_init=weight_init, bias_init=bias_init,
                                       weight_regularizer=weight_regularizer, dtype=dtype)
        self.in_features, self.out_features = arguments["in_features"], arguments["out_features"]
        self.activation = arguments["activation"]
        self.weight_init, self.bias_init = arguments["weight_init"], arguments["bias_init"]
        self.weight_regularizer = arguments["weight_regularizer"]
        dtype = arguments["dtype"]

        self.W = Parameter(self.weight_init((self.out_features, self.in_features), dtype=dtype))
        self.b = Parameter(self.bias_init((self.out_features,), dtype=dtype)) if use_bias else None

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """``{"W": (n_out, n_in), "b": (n_out,)}`` for a config, every value checked as the constructor does."""
        arguments = _checked_arguments(**cls.check_config_keys(config))
        n_in, n_out = arguments["in_features"], arguments["out_features"]
        return {"W": (n_out, n_in), **({"b": (n_out,)} if arguments["use_bias"] else {})}

    def forward(self, a) -> Tensor:
        """Z = A Wᵀ + b for a batch A (N, n_in), or z = W a + b for one example; then f(z)."""
        z = linear(a, self.W, self.b)
        return z if self.activation is None else self.activation(z)

    def own_regularization_loss(self) -> Optional[Tensor]:
        """penalty(W) from ``weight_regularizer`` (the bias is not penalised), or None."""
        return None if self.weight_regularizer is None else self.weight_regularizer(self.W)

    def expected_in_features(self) -> int:
        return self.in_features

    def output_features(self, in_features) -> int:
        return self.out_features

    def get_config(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "activation": activation_config(self.activation),
            "use_bias": self.b is not None,
            "weight_init": init.initializer_config(self.weight_init),
            "bias_init": init.initializer_config(self.bias_init),
            "weight_regularizer": None if self.weight_regularizer is None else self.weight_regularizer.get_config(),
            "dtype": self.W.dtype.name,
        }

    def extra_repr(self) -> str:
        parts = [f"{self.in_features} -> {self.out_features}"]
        if self.activation is not None:
            parts.append(f"activation={activation_config(self.activation)!r}")
        if self.b is None:
            parts.append("use_bias=False")
        if self.weight_regularizer is not None:
            parts.append(f"weight_regularizer={self.weight_regularizer!r}")
        return ", ".join(parts)


def _checked_arguments(in_features, out_features, *, activation=None, use_bias=True, weight_init=None,
                       bias_init="zeros", weight_regularizer=None, dtype=None) -> dict:
    """The constructor's arguments, validated and resolved (names to objects), allocating no weights."""
    in_features = check_positive_int(in_features, "in_features", "Dense")
    out_features = check_positive_int(out_features, "out_features", "Dense")
    use_bias = check_bool(use_bias, "use_bias", "Dense")
    activation = _named("activation", resolve_activation, activation)
    if getattr(activation, "name", None) == "softmax" and not -2 <= activation.axis <= 1:
        # z has the axes (N, n_out) (or (n_out,) for one example): no other axis exists.
        raise ValueError(f"Dense: a softmax activation's axis must be in [-2, 1], got {activation.axis}")
    if weight_init is None:
        weight_init = init.default_weight_init(None if activation is None else activation.name)
    return {
        "in_features": in_features,
        "out_features": out_features,
        "use_bias": use_bias,
        "activation": activation,
        "weight_init": _named("weight_init", init.get_initializer, weight_init),
        "bias_init": _named("bias_init", init.get_initializer, bias_init),
        "weight_regularizer": _named("weight_regularizer", get_regularizer, weight_regularizer),
        "dtype": get_default_dtype() if dtype is None else _named("dtype", resolve_dtype, dtype),
    }


def _named(argument: str, resolve, value):
    """``resolve(value)``, with errors prefixed by the layer and argument name."""
    try:
        return resolve(value)
    except (TypeError, ValueError) as error:
        raise (TypeError if isinstance(error, TypeError) else ValueError)(f"Dense: {argument}: {error}") from None
