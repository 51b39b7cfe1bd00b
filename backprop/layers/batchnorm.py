"""Batch normalisation (Ioffe & Szegedy, 2015), as ``torch.nn.BatchNorm1d``.

For each feature (column) over the m examples of a mini-batch, as the notes put it:
subtract the mean over the batch and divide by the standard deviation over the batch,

    μ = (1/m) Σ_i x_i,   σ² = (1/m) Σ_i (x_i − μ)²   (biased),
    x̂_i = (x_i − μ) / √(σ² + ε),
    y_i = γ x̂_i + β,

then let the learnable scale γ and shift β restore whatever scale suits the next layer.
The backward pass is one fused op with the closed-form gradient (g = ∂J/∂y):

    ∂J/∂β = Σ_i g_i,   ∂J/∂γ = Σ_i g_i x̂_i,
    ∂J/∂x_i = γ / (m √(σ² + ε)) · (m g_i − Σ_j g_j − x̂_i Σ_j g_j x̂_j).

The last line accounts for μ and σ² depending on every x_j of the batch.

Data-parallel training (``fit(distributed=True)``) splits each batch over K ranks; the
layer then normalises with the statistics of the whole batch, as one process would
(synchronised batch normalisation, as ``torch.nn.SyncBatchNorm``): each rank's
(m_r, μ_r, Σ(x − μ_r)²) are gathered and combined, and backward adds the two sums Σ_j g_j
and Σ_j g_j x̂_j over all ranks (:class:`~backprop.distributed.BatchSync`).

The engine op and the layer's fused form (:class:`BatchNormOp`) share the array
functions below (:func:`_normalise`, :func:`_normalisation_grads`, ...), so that both
compute the same numbers by construction.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from backprop.backend import get_default_dtype, resolve_dtype
from backprop.engine.tensor import Tensor, as_tensor, in_eval_mode, make_result
from backprop import init
from backprop.distributed import current_batch_sync
from backprop.checks import check_positive, check_positive_int, check_real
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.layers.parameter import Parameter
from backprop.layers.registry import register_module

__all__ = ["BatchNorm", "BatchNormOp", "batch_norm"]


def _reduced_axes(x, gamma) -> tuple:
    """The axes averaged over: (0,) for (N, C), (0, 2) for (N, C, L), as BatchNorm1d."""
    if x.ndim not in (2, 3):
        raise ValueError(f"BatchNorm: expected input of shape (N, C) or (N, C, L), got {x.shape}")
    if x.shape[1] != gamma.shape[0]:
        raise ValueError(f"BatchNorm: input has {x.shape[1]} features (axis 1) but the layer has {gamma.shape[0]}")
    return (0,) if x.ndim == 2 else (0, 2)


def _per_feature(array: np.ndarray, ndim: int) -> np.ndarray:
    """Shape a (C,) array to broadcast against (N, C) or (N, C, L)."""
    return array.reshape((1, -1) if ndim == 2 else (1, -1, 1))


def _batch_size(x, gamma, sync=None) -> tuple:
    """(axes, m): the axes averaged over and the number of values per feature, which training
    needs > 1 (under a :class:`~backprop.distributed.BatchSync`, counted over all ranks' rows:
    :func:`_normalise` checks it there)."""
    axes = _reduced_axes(x, gamma)
    m = x.size // x.shape[1]
    if m < 2 and sync is None:
        raise ValueError(f"BatchNorm: training needs more than 1 value per feature, got input of shape {x.shape}")
    return axes, m


def _synced_moments(x: np.ndarray, axes: tuple, m: int, sync) -> tuple:
    """(x − μ, σ², M) over all ranks' rows: each rank's (m_r, μ_r, Σ(x − μ_r)²) combined in rank order."""
    if m:
        mu = x.mean(axis=axes, keepdims=True)
        centred = x - mu
        m2 = (centred * centred).sum(axis=axes, keepdims=True)
    else:  # (an empty share: it adds nothing)
        shape = tuple(1 if k in axes else n for k, n in enumerate(x.shape))
        mu, m2 = np.zeros(shape, x.dtype), np.zeros(shape, x.dtype)
    total, mu, spread = sync.combine_moments(m, mu, m2)
    if total < 2:
        raise ValueError(f"BatchNorm: training needs more than 1 value per feature, got {total} over all ranks")
    return mu, x - mu, spread / x.dtype.type(total), total


def _normalise(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, axes: tuple, sync=None,
               m: int = 0) -> tuple:
    """y = γ x̂ + β with the batch's statistics; returns (y, x̂, 1/√(σ² + ε), μ, σ², m), μ, σ² and
    1/√(σ² + ε) kept with singleton axes. Under a :class:`~backprop.distributed.BatchSync`
    (``sync``) the statistics are those of all ranks' rows and m their number (this rank has m)."""
    if sync is None:
        mu = x.mean(axis=axes, keepdims=True)
        centred = x - mu
        var = (centred * centred).mean(axis=axes, keepdims=True)
    else:
        mu, centred, var, m = _synced_moments(x, axes, m, sync)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centred * inv_std
    y = _per_feature(gamma, x.ndim) * x_hat + _per_feature(beta, x.ndim)
    return y, x_hat, inv_std, mu, var, m


def _normalisation_grads(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray, m: int,
                         axes: tuple, need_x: bool, sync=None) -> tuple:
    """(∂J/∂x or None, ∂J/∂γ, ∂J/∂β) through the batch statistics, for g = ∂J/∂y (module docstring).

    Under a :class:`~backprop.distributed.BatchSync` the two sums over the batch in ∂J/∂x run
    over all ranks' rows (m is then their number); ∂J/∂γ and ∂J/∂β stay this rank's share,
    which the gradient reduction adds up.
    """
    grad_beta = g.sum(axis=axes)
    grad_gamma = (g * x_hat).sum(axis=axes)
    grad_x = None
    if need_x:
        dx_hat = g * _per_feature(gamma, g.ndim)
        sum_dx_hat = dx_hat.sum(axis=axes, keepdims=True)
        sum_dx_hat_x_hat = (dx_hat * x_hat).sum(axis=axes, keepdims=True)
        if sync is not None:
            sum_dx_hat, sum_dx_hat_x_hat = sync.sum_scaled(sum_dx_hat, sum_dx_hat_x_hat)
        grad_x = (inv_std / m) * (m * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)
    return grad_x, grad_gamma, grad_beta


def _normalise_fixed(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean, var, eps: float) -> tuple:
    """y = γ (x − mean)/√(var + ε) + β, an affine map of x; returns (y, x̂, 1/√(var + ε) with singleton axes)."""
    inv_std = _per_feature(1.0 / np.sqrt(np.asarray(var, dtype=x.dtype) + eps), x.ndim)
    x_hat = (x - _per_feature(np.asarray(mean, dtype=x.dtype), x.ndim)) * inv_std
    y = _per_feature(gamma, x.ndim) * x_hat + _per_feature(beta, x.ndim)
    return y, x_hat, inv_std


def _fixed_normalisation_grads(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray,
                               axes: tuple) -> tuple:
    """(∂J/∂x, ∂J/∂γ, ∂J/∂β) of :func:`_normalise_fixed` for g = ∂J/∂y."""
    return g * (_per_feature(gamma, g.ndim) * inv_std), (g * x_hat).sum(axis=axes), g.sum(axis=axes)


def _batch_norm_train(x: Tensor, gamma: Tensor, beta: Tensor, eps: float):
    """Normalise with the batch statistics; return (y, μ, σ², m) with μ and σ² of shape (C,)."""
    sync = current_batch_sync()
    axes, m = _batch_size(x, gamma, sync)
    y, x_hat, inv_std, mu, var, m = _normalise(x.data, gamma.data, beta.data, eps, axes, sync, m)

    def backward(g):
        return _normalisation_grads(g, x_hat, inv_std, gamma.data, m, axes, x.requires_grad, sync)

    out = make_result(y, (x, gamma, beta), backward, "batch_norm")
    return out, mu.reshape(-1), var.reshape(-1), m


def _batch_norm_eval(x: Tensor, gamma: Tensor, beta: Tensor, mean, var, eps: float) -> Tensor:
    """Normalise with fixed statistics: y = γ (x − mean)/√(var + ε) + β, an affine map of x."""
    axes = _reduced_axes(x, gamma)
    y, x_hat, inv_std = _normalise_fixed(x.data, gamma.data, beta.data, mean, var, eps)

    def backward(g):
        return _fixed_normalisation_grads(g, x_hat, inv_std, gamma.data, axes)

    return make_result(y, (x, gamma, beta), backward, "batch_norm")


def batch_norm(x, gamma, beta, mean=None, var=None, eps: float = 1e-5) -> Tensor:
    """y = γ x̂ + β with x̂ = (x − μ)/√(σ² + ε), per feature (axis 1).

    Args:
        x: (N, C) or (N, C, L).
        gamma, beta: (C,).
        mean, var: fixed statistics (C,) (evaluation); None to use the batch's (training),
            with the closed-form gradient through μ and σ².
        eps: ε added to the variance.
    """
    x, gamma, beta = as_tensor(x), as_tensor(gamma), as_tensor(beta)
    if (mean is None) != (var is None):
        raise ValueError("batch_norm: give both mean and var, or neither")
    if mean is None:
        return _batch_norm_train(x, gamma, beta, eps)[0]
    return _batch_norm_eval(x, gamma, beta, mean, var, eps)


@register_module
class BatchNorm(Module):
    """Batch normalisation over the features of (N, C) or (N, C, L) inputs; matches ``torch.nn.BatchNorm1d``.

    Training mode: normalise with the batch's μ and biased σ², and update
        running_mean ← (1 − momentum) running_mean + momentum μ,
        running_var  ← (1 − momentum) running_var  + momentum σ² · m/(m − 1)   (unbiased),
    and count ``num_batches_tracked``. With ``momentum=None`` the running statistics are
    the plain average over all batches so far (factor 1/num_batches_tracked).
    Evaluation mode: normalise with running_mean and running_var instead.

    Args:
        num_features: C, the number of features, a positive int.
        momentum: weight of the newest batch in the running statistics, in [0, 1], or None.
        eps: ε > 0 added to the variance.
        dtype: float dtype of the parameters and running statistics.

    Attributes:
        gamma: Parameter (C,), the scale γ, initially 1 (``torch``'s ``weight``).
        beta: Parameter (C,), the shift β, initially 0 (``torch``'s ``bias``).
        running_mean, running_var: buffers (C,), initially 0 and 1.
        num_batches_tracked: buffer, an int64 scalar array.
    """

    def __init__(self, num_features: int, momentum: Optional[float] = 0.1, eps: float = 1e-5, dtype=None):
        super().__init__()
        self.num_features, self.momentum, self.eps, dtype = _checked_arguments(num_features, momentum, eps, dtype)
        self.gamma = Parameter(init.ones((self.num_features,), dtype=dtype))
        self.beta = Parameter(init.zeros((self.num_features,), dtype=dtype))
        self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if not self.training or in_eval_mode():  # eval_mode(): this thread predicts, flags untouched
            return _batch_norm_eval(x, self.gamma, self.beta, self.running_mean, self.running_var, self.eps)
        y, mu, var, m = _batch_norm_train(x, self.gamma, self.beta, self.eps)
        self._track(mu, var, m)
        return y

    def _track(self, mu: np.ndarray, var: np.ndarray, m: int) -> None:
        """Fold a training batch's μ and σ² (shape (C,)) into the running statistics."""
        self.num_batches_tracked = np.array(int(self.num_batches_tracked) + 1, dtype=np.int64)
        factor = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        dtype = self.running_mean.dtype
        self.running_mean = ((1 - factor) * self.running_mean + factor * mu).astype(dtype)
        self.running_var = ((1 - factor) * self.running_var + factor * var * (m / (m - 1))).astype(dtype)

    def fused_ops(self) -> tuple:
        return (BatchNormOp(self),)

    def onnx_nodes(self, graph, x: str) -> str:
        """BatchNormalization in inference mode: y = γ (x − running_mean)/√(running_var + ε) + β."""
        arrays = [graph.constant(getattr(self, name).data if name in ("gamma", "beta") else getattr(self, name), name)
                  for name in ("gamma", "beta", "running_mean", "running_var")]
        return graph.node("BatchNormalization", [x, *arrays], "batch_norm", epsilon=float(self.eps))

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """γ, β, running_mean, running_var of shape (C,) and the scalar num_batches_tracked, for a config."""
        num_features = _checked_arguments(**cls.check_config_keys(config))[0]
        return {"gamma": (num_features,), "beta": (num_features,), "running_mean": (num_features,),
                "running_var": (num_features,), "num_batches_tracked": ()}

    def expected_in_features(self) -> int:
        return self.num_features

    def output_features(self, in_features) -> int:
        return self.num_features

    def get_config(self) -> dict:
        return {"num_features": self.num_features, "momentum": self.momentum, "eps": self.eps,
                "dtype": self.gamma.dtype.name}

    # PyTorch: BatchNorm1d, whose weight and bias are γ and β, with the running statistics.
    torch_types = ("BatchNorm1d",)

    def to_torch_modules(self, nn) -> list:
        return [nn.BatchNorm1d(self.num_features, eps=self.eps, momentum=self.momentum)]

    def torch_layout(self) -> list:
        return [{"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var",
                 "num_batches_tracked": "num_batches_tracked"}]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        module = modules[0]
        if not module.affine or not module.track_running_stats:
            raise TypeError(f"torch.nn.BatchNorm1d(affine={module.affine}, track_running_stats="
                            f"{module.track_running_stats}): only affine=True with running statistics is supported")
        return cls(module.num_features, momentum=module.momentum, eps=module.eps,
                   dtype=str(module.weight.dtype).replace("torch.", "")), 1


class BatchNormOp(FusedOp):
    """The fused form of :class:`BatchNorm`: the engine op's array functions without its graph.

    Training mode normalises with the batch's statistics and updates the layer's running
    statistics exactly as :meth:`BatchNorm.forward` does (through the same ``_track``);
    evaluation mode (the layer's flag, or :func:`~backprop.engine.eval_mode` in this thread)
    normalises with the running ones. Its results are new arrays, as the engine's are.
    """

    def __init__(self, layer: BatchNorm):
        self.layer = layer  # its γ, β, ε, momentum and running statistics are read at each step
        self.params = (layer.gamma, layer.beta)
        self._saved = None  # what backward needs from the last forward

    @property
    def in_features(self) -> int:
        return self.layer.num_features

    def out_shape(self, in_shape):
        return None  # the normalised output is a new array

    def forward(self, a, out):
        layer = self.layer
        if not layer.training or in_eval_mode():
            y, x_hat, inv_std = _normalise_fixed(a, layer.gamma.data, layer.beta.data, layer.running_mean,
                                                 layer.running_var, layer.eps)
            self._saved = (_reduced_axes(a, layer.gamma), None, x_hat, inv_std, None)
            return y
        sync = current_batch_sync()
        axes, m = _batch_size(a, layer.gamma, sync)
        y, x_hat, inv_std, mu, var, m = _normalise(a, layer.gamma.data, layer.beta.data, layer.eps, axes, sync, m)
        layer._track(mu.reshape(-1), var.reshape(-1), m)
        self._saved = (axes, m, x_hat, inv_std, sync)
        return y

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        axes, m, x_hat, inv_std, sync = self._saved
        self._saved = None
        gamma = self.layer.gamma.data
        if m is None:
            grad_x, grad_gamma, grad_beta = _fixed_normalisation_grads(delta, x_hat, inv_std, gamma, axes)
        else:
            grad_x, grad_gamma, grad_beta = _normalisation_grads(delta, x_hat, inv_std, gamma, m, axes,
                                                                 delta_in is not None, sync)
        grads[0][...] = grad_gamma
        grads[1][...] = grad_beta
        return None if delta_in is None else grad_x

    def predict(self, a, overwrite):
        layer = self.layer
        _reduced_axes(a, layer.gamma)
        return _normalise_fixed(a, layer.gamma.data, layer.beta.data, layer.running_mean, layer.running_var,
                                layer.eps)[0]


def _checked_arguments(num_features, momentum=0.1, eps=1e-5, dtype=None) -> tuple:
    """(num_features, momentum, eps, dtype) validated, allocating nothing."""
    num_features = check_positive_int(num_features, "num_features", "BatchNorm")
    momentum = check_real(momentum, "momentum", "BatchNorm", low=0, high=1, allow_none=True)
    eps = check_positive(eps, "eps", "BatchNorm")
    try:
        dtype = get_default_dtype() if dtype is None else resolve_dtype(dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"BatchNorm: dtype: {error}") from None
    return num_features, momentum, eps, dtype
