"""Weight initialisers: ``fn(shape, rng=None, dtype=None) -> ndarray``.

For a weight matrix, shape = (n_out, n_in) as in the notes (W^[ℓ] has shape
n^[ℓ] × n^[ℓ−1]), so fan_in = shape[1] = n^[ℓ−1] and fan_out = shape[0] = n^[ℓ].
A 1-D shape (a bias) has fan_in = fan_out = its length. A convolution kernel
(out_channels, in_channels, kh, kw) has fan_in = in_channels·kh·kw (the inputs of one
output) and fan_out = out_channels·kh·kw, PyTorch's convention.

Why not zeros? The notes: with W = 0 and b = 0 every output is g(0) (0.5 for a
sigmoid) whatever the input, and with all weights equal every neuron of a layer
gets the same gradient and stays identical (symmetry). Random initial weights
break the symmetry; their scale keeps the variance of z similar from layer to layer:

* ``normal``: N(0, σ) with σ = 0.1, the notes' "small random numbers, N(0, 0.1)".
* ``xavier_normal``: σ = √(2/(n_in + n_out)), the notes' Xavier/He formula
  √(2/(n^[ℓ] + n^[ℓ−1])); ``xavier_uniform``: U(−l, l), l = √(6/(n_in + n_out)), the same σ.
* ``he_normal``: σ = √(2/n_in), for ReLU layers (ReLU zeroes half of z, doubling the
  variance needed); ``he_uniform``: U(−l, l), l = √(6/n_in), the same σ.

The default for a Dense layer (:func:`default_weight_init`): relu and leaky_relu
→ ``he_normal``; every other activation → ``xavier_normal``. Biases start at zero.

Every draw uses :func:`backprop.random.get_rng` unless ``rng`` is given, so
:func:`backprop.manual_seed` reproduces it. Values are drawn in float64 and then
cast, so a seed gives the same numbers in float32 and float64.

Use an initialiser by name (``Dense(4, 3, weight_init="he_normal")``), by
function (``weight_init=init.he_normal``), with parameters
(``init.constant(0.5)``, ``{"name": "normal", "std": 0.5}``), or call it directly:

    >>> import backprop.init as init
    >>> init.he_normal((3, 4)).shape
    (3, 4)
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Callable, Optional, Union

import numpy as np

from backprop.backend import get_default_dtype, resolve_dtype
from backprop.checks import check_non_negative, check_real
from backprop.naming import unknown_name_error
from backprop.random import get_rng

__all__ = [
    "zeros", "ones", "constant", "normal", "uniform",
    "xavier_normal", "xavier_uniform", "he_normal", "he_uniform",
    "INITIALIZERS", "get_initializer", "initializer_config", "default_weight_init", "fans",
]


# ------------------------------------------------------------------ helpers
def _shape(shape) -> tuple:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    if not shape or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in shape):
        raise ValueError(f"shape must be a non-empty tuple of positive ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def fans(shape) -> tuple:
    """(fan_in, fan_out) = (shape[1], shape[0]) for W of shape (n_out, n_in); (n, n) for a 1-D shape;
    times the receptive field kh·kw (shape[2:]) for a convolution kernel."""
    shape = _shape(shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])  # 1 for a matrix
    return shape[1] * receptive, shape[0] * receptive


def _rng_dtype(rng, dtype):
    return (get_rng() if rng is None else rng), (get_default_dtype() if dtype is None else resolve_dtype(dtype))


def _gaussian(shape, mean: float, std: float, rng, dtype) -> np.ndarray:
    rng, dtype = _rng_dtype(rng, dtype)
    return rng.normal(mean, std, size=_shape(shape)).astype(dtype)


def _uniform(shape, low: float, high: float, rng, dtype) -> np.ndarray:
    rng, dtype = _rng_dtype(rng, dtype)
    return rng.uniform(low, high, size=_shape(shape)).astype(dtype)


# ------------------------------------------------------------- initialisers
def zeros(shape, rng=None, dtype=None) -> np.ndarray:
    """All zeros: the default for biases b."""
    return np.zeros(_shape(shape), dtype=_rng_dtype(rng, dtype)[1])


def ones(shape, rng=None, dtype=None) -> np.ndarray:
    """All ones (e.g. BatchNorm's γ)."""
    return np.ones(_shape(shape), dtype=_rng_dtype(rng, dtype)[1])


def constant(value: float) -> Callable:
    """An initialiser filling every entry with ``value``.

    With every weight equal, all neurons of a layer compute the same thing and get
    the same gradient (the notes' symmetry problem), which is why random
    initialisers exist.

    Example:
        >>> constant(0.5)((2, 3))
        array([[0.5, 0.5, 0.5],
               [0.5, 0.5, 0.5]], dtype=float32)
    """
    value = check_real(value, "value", "constant")

    def constant_init(shape, rng=None, dtype=None) -> np.ndarray:
        return np.full(_shape(shape), value, dtype=_rng_dtype(rng, dtype)[1])

    constant_init.config = {"name": "constant", "value": value}
    constant_init.__qualname__ = f"constant({value!r})"
    return constant_init


def normal(shape, rng=None, dtype=None, *, mean: float = 0.0, std: float = 0.1) -> np.ndarray:
    """W ~ N(mean, std²), by default N(0, 0.1): the notes' small random numbers (std 0.1)."""
    mean, std = _normal_params(mean, std)
    return _gaussian(shape, mean, std, rng, dtype)


def _normal_params(mean, std):
    return check_real(mean, "mean", "normal"), check_non_negative(std, "std", "normal")


def uniform(shape, rng=None, dtype=None, *, low: float = -0.05, high: float = 0.05) -> np.ndarray:
    """W ~ U(low, high), by default U(−0.05, 0.05) (Keras's RandomUniform)."""
    low, high = _uniform_params(low, high)
    return _uniform(shape, low, high, rng, dtype)


def _uniform_params(low, high):
    low, high = check_real(low, "low", "uniform"), check_real(high, "high", "uniform")
    if not low < high:
        raise ValueError(f"uniform: low must be less than high, got low={low!r}, high={high!r}")
    return low, high


def xavier_normal(shape, rng=None, dtype=None) -> np.ndarray:
    """W ~ N(0, σ²) with σ = √(2/(n_in + n_out)): the notes' Xavier initialisation (Glorot normal)."""
    fan_in, fan_out = fans(shape)
    return _gaussian(shape, 0.0, math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def xavier_uniform(shape, rng=None, dtype=None) -> np.ndarray:
    """W ~ U(−l, l) with l = √(6/(n_in + n_out)), so σ = l/√3 = √(2/(n_in + n_out)) (Glorot uniform)."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(shape, -limit, limit, rng, dtype)


def he_normal(shape, rng=None, dtype=None) -> np.ndarray:
    """W ~ N(0, σ²) with σ = √(2/n_in) (He/Kaiming normal), for ReLU layers."""
    fan_in, _ = fans(shape)
    return _gaussian(shape, 0.0, math.sqrt(2.0 / fan_in), rng, dtype)


def he_uniform(shape, rng=None, dtype=None) -> np.ndarray:
    """W ~ U(−l, l) with l = √(6/n_in), so σ = √(2/n_in) (He/Kaiming uniform)."""
    fan_in, _ = fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return _uniform(shape, -limit, limit, rng, dtype)


# --------------------------------------------------------- lookup by name
INITIALIZERS = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}
_ALIASES = {
    "glorot_normal": "xavier_normal", "glorot_uniform": "xavier_uniform",
    "kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform",
    "random_normal": "normal", "random_uniform": "uniform", "zero": "zeros", "one": "ones",
}
_PARAM_CHECKS = {"normal": _normal_params, "uniform": _uniform_params}


def _lookup(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"initialiser name must be a str, got {type(name).__name__}")
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in INITIALIZERS:
        raise unknown_name_error("initialiser", name, key, sorted(INITIALIZERS), candidates=_ALIASES)
    return key


def get_initializer(spec: Union[str, dict, Callable]) -> Callable:
    """Resolve a name, a ``{"name": ..., **params}`` dict or a callable to ``fn(shape, rng=None, dtype=None)``.

    Raises:
        ValueError: for an unknown name (suggesting the closest one) or an invalid parameter value.
        TypeError: for a spec of the wrong type or parameters the initialiser does not take.
    """
    if isinstance(spec, str):
        key = _lookup(spec)
        if key == "constant":
            raise ValueError("initialiser 'constant' needs a value: use init.constant(v) or {'name': 'constant', 'value': v}")
        return INITIALIZERS[key]
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str):
            raise TypeError(f"an initialiser dict needs a 'name' string, got {spec!r}")
        key = _lookup(spec["name"])
        params = {k: v for k, v in spec.items() if k != "name"}
        accepted = _keyword_parameters(key)
        unknown = sorted(str(k) for k in params if k not in accepted)
        if unknown:
            raise TypeError(f"initialiser {key!r} takes no parameters {unknown}; it accepts {sorted(accepted)}")
        if key == "constant":
            if "value" not in params:
                raise TypeError("initialiser 'constant' needs a 'value'")
            return constant(params["value"])
        if not params:
            return INITIALIZERS[key]
        if key in _PARAM_CHECKS:
            _PARAM_CHECKS[key](**{**_defaults(key), **params})
        return functools.partial(INITIALIZERS[key], **params)
    if spec is constant:
        raise TypeError("init.constant is a factory: pass init.constant(value)")
    if callable(spec):
        return spec
    raise TypeError(f"initialiser must be a name, a dict or a callable, got {type(spec).__name__}")


def _keyword_parameters(key: str) -> set:
    if key == "constant":
        return {"value"}
    return {name for name, p in inspect.signature(INITIALIZERS[key]).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _defaults(key: str) -> dict:
    return {name: p.default for name, p in inspect.signature(INITIALIZERS[key]).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def initializer_config(fn: Callable) -> Union[str, dict]:
    """The inverse of :func:`get_initializer`: a name, or ``{"name": ..., **params}``, for a config file.

    Raises:
        ValueError: for a custom callable, which a config file cannot describe.
    """
    for key, known in INITIALIZERS.items():
        if fn is known and key != "constant":
            return key
    config = getattr(fn, "config", None)
    if isinstance(config, dict) and config.get("name") == "constant":
        return dict(config)
    if isinstance(fn, functools.partial) and not fn.args:
        for key, known in INITIALIZERS.items():
            if fn.func is known:
                return {"name": key, **fn.keywords}
    raise ValueError(
        f"cannot describe the custom initialiser {fn!r} in a config; use one of {sorted(INITIALIZERS)} "
        "(by name, or a {'name': ..., **params} dict) to save the model"
    )


def default_weight_init(activation_name: Optional[str]) -> str:
    """The default weight initialiser for a layer with this activation.

    relu and leaky_relu → ``"he_normal"`` (σ = √(2/n_in)); everything else, including
    no activation, sigmoid, tanh and softmax → ``"xavier_normal"`` (σ = √(2/(n_in + n_out))).
    """
    return "he_normal" if activation_name in ("relu", "leaky_relu") else "xavier_normal"
