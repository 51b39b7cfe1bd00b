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

Each initialiser is a class registered in :data:`INITIALIZERS` under its ``name`` and
``aliases`` (``glorot_normal`` is ``xavier_normal``); an instance is the callable
``init(shape, rng=None, dtype=None) -> ndarray`` with its parameters fixed, and the
module's lower-case names are the default instances. Use one by name
(``Dense(4, 3, weight_init="he_normal")``), by object (``weight_init=init.he_normal``,
``init.Normal(std=0.5)``, ``init.constant(0.5)``), as a ``{"name": "normal", "std": 0.5}``
dict, or call it directly:

    >>> import backprop.init as init
    >>> init.he_normal((3, 4)).shape
    (3, 4)
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Callable, Union

import numpy as np

from backprop.backend import get_default_dtype, resolve_dtype
from backprop.checks import check_real
from backprop.engine.ops.activation import ACTIVATIONS, Activation
from backprop.naming import short_repr
from backprop.random import get_rng
from backprop.registry import Configured, Registry

__all__ = [
    "Initializer", "INITIALIZERS", "Zeros", "Ones", "Constant", "Normal", "Uniform", "FanScaled",
    "XavierNormal", "XavierUniform", "HeNormal", "HeUniform",
    "zeros", "ones", "constant", "normal", "uniform", "xavier_normal", "xavier_uniform", "he_normal", "he_uniform",
    "get_initializer", "initializer_config", "default_weight_init", "fans",
]

INITIALIZERS = Registry("initialiser")
"""Every initialiser class, by ``name`` and ``aliases`` (case-insensitive)."""


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


@functools.lru_cache(maxsize=None)
def _parameters(cls) -> dict:
    """``{name: default}`` of an initialiser class's constructor (``inspect.Parameter.empty``: required)."""
    return {name: p.default for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


# ------------------------------------------------------------- initialisers
class Initializer(Configured):
    """Initial values of a parameter: ``init(shape, rng=None, dtype=None) -> ndarray``.

    A subclass sets ``name`` and ``aliases``, takes its parameters as constructor
    arguments (validated there, kept as attributes of the same names, which are its
    config) and implements :meth:`draw`. Every draw uses :func:`backprop.random.get_rng`
    unless ``rng`` is given; random values are drawn in float64 and then cast.
    """

    name = ""
    aliases: tuple = ()

    def __call__(self, shape, rng=None, dtype=None) -> np.ndarray:
        rng = get_rng() if rng is None else rng
        dtype = get_default_dtype() if dtype is None else resolve_dtype(dtype)
        return self.draw(_shape(shape), rng, dtype)

    def draw(self, shape: tuple, rng, dtype) -> np.ndarray:
        """The array of ``shape`` and ``dtype`` (the shape is validated; ``rng`` a NumPy Generator)."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """Every constructor argument, ``{parameter: value}`` (``{}`` when there are none)."""
        return {name: getattr(self, name) for name in _parameters(type(self))}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """``cls(**config)``, refusing parameters the class does not take.

        Raises:
            TypeError: unknown or missing parameters, naming the accepted ones.
            ValueError: an invalid value.
        """
        accepted = _parameters(cls)
        unknown = sorted(str(k)[:40] for k in config if k not in accepted)
        if unknown:
            raise TypeError(f"initialiser {cls.name!r} takes no parameters {unknown[:10]}; it accepts {sorted(accepted)}")
        missing = sorted(k for k, default in accepted.items() if default is inspect.Parameter.empty and k not in config)
        if missing:
            raise TypeError(f"initialiser {cls.name!r} needs {missing}")
        return cls(**config)



@INITIALIZERS.register
class Zeros(Initializer):
    """All zeros: the default for biases b."""

    name = "zeros"
    aliases = ("zero",)

    def draw(self, shape, rng, dtype):
        return np.zeros(shape, dtype=dtype)


@INITIALIZERS.register
class Ones(Initializer):
    """All ones (e.g. BatchNorm's γ)."""

    name = "ones"
    aliases = ("one",)

    def draw(self, shape, rng, dtype):
        return np.ones(shape, dtype=dtype)


@INITIALIZERS.register
class Constant(Initializer):
    """Every entry equal to ``value``.

    With every weight equal, all neurons of a layer compute the same thing and get
    the same gradient (the notes' symmetry problem), which is why random
    initialisers exist.

    Example:
        >>> Constant(0.5)((2, 3))
        array([[0.5, 0.5, 0.5],
               [0.5, 0.5, 0.5]], dtype=float32)
    """

    name = "constant"

    def __init__(self, value: float):
        self.value = check_real(value, "value", "constant")

    def draw(self, shape, rng, dtype):
        return np.full(shape, self.value, dtype=dtype)


@INITIALIZERS.register
class Normal(Initializer):
    """W ~ N(mean, std²), by default N(0, 0.1): the notes' small random numbers (std 0.1)."""

    name = "normal"
    aliases = ("random_normal",)

    def __init__(self, mean: float = 0.0, std: float = 0.1):
        self.mean, self.std = check_real(mean, "mean", "normal"), check_real(std, "std", "normal")
        if self.std < 0:
            raise ValueError(f"normal: std must be >= 0, got {std!r}")

    def draw(self, shape, rng, dtype):
        return rng.normal(self.mean, self.std, size=shape).astype(dtype)


@INITIALIZERS.register
class Uniform(Initializer):
    """W ~ U(low, high), by default U(−0.05, 0.05) (Keras's RandomUniform)."""

    name = "uniform"
    aliases = ("random_uniform",)

    def __init__(self, low: float = -0.05, high: float = 0.05):
        self.low, self.high = check_real(low, "low", "uniform"), check_real(high, "high", "uniform")
        if not self.low < self.high:
            raise ValueError(f"uniform: low must be less than high, got low={low!r}, high={high!r}")

    def draw(self, shape, rng, dtype):
        return rng.uniform(self.low, self.high, size=shape).astype(dtype)


class FanScaled(Initializer):
    """W with variance σ² = 2 / fan, where the fan rule of the subclass gives fan from (n_in, n_out).

    ``distribution = "normal"``: W ~ N(0, σ²); ``"uniform"``: W ~ U(−l, l) with
    l = √(6 / fan) = √3 σ, so the same σ. :func:`fans` gives n_in and n_out for a matrix
    (n_out, n_in) or a convolution kernel.
    """

    distribution = "normal"

    @staticmethod
    def fan(fan_in: int, fan_out: int) -> int:
        """The fan rule: the count that σ² = 2 / fan divides by."""
        raise NotImplementedError

    def draw(self, shape, rng, dtype):
        fan = self.fan(*fans(shape))
        if self.distribution == "uniform":
            limit = math.sqrt(6.0 / fan)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        return rng.normal(0.0, math.sqrt(2.0 / fan), size=shape).astype(dtype)


class _Xavier(FanScaled):
    @staticmethod
    def fan(fan_in, fan_out):
        """fan = n_in + n_out: σ = √(2/(n_in + n_out)), the notes' Xavier formula √(2/(n^[ℓ] + n^[ℓ−1]))."""
        return fan_in + fan_out


class _He(FanScaled):
    @staticmethod
    def fan(fan_in, fan_out):
        """fan = n_in: σ = √(2/n_in), twice the variance, because ReLU zeroes half of z."""
        return fan_in


@INITIALIZERS.register
class XavierNormal(_Xavier):
    """W ~ N(0, σ²) with σ = √(2/(n_in + n_out)): the notes' Xavier initialisation (Glorot normal)."""

    name = "xavier_normal"
    aliases = ("glorot_normal",)


@INITIALIZERS.register
class XavierUniform(_Xavier):
    """W ~ U(−l, l) with l = √(6/(n_in + n_out)), so σ = l/√3 = √(2/(n_in + n_out)) (Glorot uniform)."""

    name = "xavier_uniform"
    aliases = ("glorot_uniform",)
    distribution = "uniform"


@INITIALIZERS.register
class HeNormal(_He):
    """W ~ N(0, σ²) with σ = √(2/n_in) (He/Kaiming normal), for ReLU layers."""

    name = "he_normal"
    aliases = ("kaiming_normal",)


@INITIALIZERS.register
class HeUniform(_He):
    """W ~ U(−l, l) with l = √(6/n_in), so σ = √(2/n_in) (He/Kaiming uniform)."""

    name = "he_uniform"
    aliases = ("kaiming_uniform",)
    distribution = "uniform"


# The default instances, called as functions: init.he_normal((3, 4)).
zeros, ones, normal, uniform = Zeros(), Ones(), Normal(), Uniform()
xavier_normal, xavier_uniform, he_normal, he_uniform = XavierNormal(), XavierUniform(), HeNormal(), HeUniform()
constant = Constant
"""``init.constant(v)`` is ``Constant(v)``: the one initialiser that needs a value."""


# --------------------------------------------------------- lookup by name
def get_initializer(spec: Union[str, dict, Callable]) -> Callable:
    """Resolve a name, a ``{"name": ..., **params}`` dict, an Initializer (class or object) or a callable.

    Returns an initialiser ``init(shape, rng=None, dtype=None)``: an :class:`Initializer`, or the
    custom callable as it is.

    Raises:
        ValueError: for an unknown name (suggesting the closest one) or an invalid parameter value.
        TypeError: for a spec of the wrong type or parameters the initialiser does not take.
    """
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str):
            raise TypeError(f"an initialiser dict needs a 'name' string, got {short_repr(spec)}")
        cls = INITIALIZERS.get(spec["name"])
        params = {k: v for k, v in spec.items() if k != "name"}
        if cls is Constant and "value" not in params:
            raise ValueError("initialiser 'constant' needs a value: use init.constant(v) or {'name': 'constant', 'value': v}")
        return cls.from_config(params)
    if isinstance(spec, type) and issubclass(spec, Initializer):
        if spec is Constant:
            raise TypeError("init.constant needs its value: pass init.constant(value)")
        return spec()
    if callable(spec):
        return spec
    raise TypeError(f"initialiser must be a name, a dict or a callable, got {type(spec).__name__}")


def initializer_config(fn: Callable) -> Union[str, dict]:
    """The inverse of :func:`get_initializer` for a config file: the name, or ``{"name": ..., **params}``
    with the parameters that differ from their defaults.

    Raises:
        ValueError: for a custom callable, which a config file cannot describe.
    """
    name = INITIALIZERS.name_of(fn) if isinstance(fn, Initializer) else None
    if name is None:
        raise ValueError(
            f"cannot describe the custom initialiser {fn!r} in a config; use one of {INITIALIZERS.names()} "
            "(by name, or a {'name': ..., **params} dict) to save the model"
        )
    defaults = _parameters(type(fn))
    params = {k: v for k, v in fn.get_config().items() if v != defaults[k]}
    return {"name": name, **params} if params else name


def default_weight_init(activation: Union[None, str, Activation]) -> str:
    """The weight initialiser for a layer whose z goes through ``activation``: the activation's ``weight_init``.

    relu and leaky_relu → ``"he_normal"`` (σ = √(2/n_in)); everything else, including
    no activation, sigmoid, tanh and softmax → ``"xavier_normal"`` (σ = √(2/(n_in + n_out))).
    """
    if activation is None:
        return Activation.weight_init
    return (ACTIVATIONS.get(activation) if isinstance(activation, str) else activation).weight_init
