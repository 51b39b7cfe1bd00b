"""Initialisers: the stated standard deviations, names, seeds, dtypes, errors."""

import inspect
import json
import math

import numpy as np
import pytest

import backprop as bp
from backprop import init

SHAPE = (400, 600)  # (n_out, n_in): 240,000 draws, so the sample std is within ~0.3 % of σ
N_OUT, N_IN = SHAPE


@pytest.mark.parametrize(
    "name, std",
    [
        ("normal", 0.1),
        ("xavier_normal", math.sqrt(2 / (N_IN + N_OUT))),
        ("xavier_uniform", math.sqrt(2 / (N_IN + N_OUT))),
        ("he_normal", math.sqrt(2 / N_IN)),
        ("he_uniform", math.sqrt(2 / N_IN)),
        ("uniform", 0.1 / math.sqrt(12)),  # U(−0.05, 0.05)
    ],
)
def test_standard_deviations(name, std):
    W = init.get_initializer(name)(SHAPE, rng=np.random.default_rng(0), dtype="float64")
    assert W.shape == SHAPE
    assert abs(W.std() / std - 1) < 0.01
    assert abs(W.mean()) < 3 * std / math.sqrt(W.size) * 2


def test_uniform_bounds():
    rng = np.random.default_rng(0)
    limit = math.sqrt(6 / (N_IN + N_OUT))
    W = init.xavier_uniform(SHAPE, rng=rng)
    assert W.min() >= -limit and W.max() <= limit and W.max() > 0.99 * limit
    W = init.he_uniform(SHAPE, rng=rng)
    assert np.abs(W).max() <= math.sqrt(6 / N_IN)


def test_fans_follow_the_notes_shape():
    assert init.fans((3, 5)) == (5, 3)  # W is (n_out, n_in)
    assert init.fans((4,)) == (4, 4)


def test_constant_zeros_ones():
    np.testing.assert_array_equal(init.zeros((2, 3)), 0)
    np.testing.assert_array_equal(init.ones((2, 3)), 1)
    np.testing.assert_array_equal(init.constant(0.25)((2, 3)), 0.25)
    assert init.initializer_config(init.constant(0.25)) == {"name": "constant", "value": 0.25}


def test_parameters_by_keyword_and_dict():
    W = init.Normal(std=0.5)((300, 300), rng=np.random.default_rng(0))
    assert abs(W.std() - 0.5) < 0.01
    fn = init.get_initializer({"name": "normal", "std": 0.5})
    assert init.initializer_config(fn) == {"name": "normal", "std": 0.5}
    assert init.initializer_config(init.get_initializer("glorot_normal")) == "xavier_normal"


def test_draws_from_the_library_generator():
    bp.manual_seed(3)
    first = init.he_normal((4, 5))
    bp.manual_seed(3)
    np.testing.assert_array_equal(init.he_normal((4, 5)), first)


def test_dtype_default_and_same_numbers_in_both_precisions():
    assert init.he_normal((2, 2)).dtype == np.float32
    a = init.he_normal((3, 3), rng=np.random.default_rng(1), dtype="float64")
    b = init.he_normal((3, 3), rng=np.random.default_rng(1), dtype="float32")
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_alias_module():
    import backprop.init

    assert backprop.init.he_normal is init.he_normal


def test_default_weight_init():
    assert init.default_weight_init("relu") == "he_normal"
    assert init.default_weight_init("leaky_relu") == "he_normal"
    assert init.default_weight_init("tanh") == "xavier_normal"
    assert init.default_weight_init(None) == "xavier_normal"


def test_errors():
    with pytest.raises(ValueError, match="did you mean 'xavier_normal'"):
        init.get_initializer("xavier_normla")
    with pytest.raises(ValueError, match="needs a value"):
        init.get_initializer("constant")
    with pytest.raises(TypeError, match="needs its value"):
        init.get_initializer(init.constant)
    with pytest.raises(TypeError, match="takes no parameters"):
        init.get_initializer({"name": "he_normal", "std": 1.0})
    with pytest.raises(ValueError, match="std"):
        init.get_initializer({"name": "normal", "std": -1.0})
    with pytest.raises(ValueError, match="low"):
        init.get_initializer({"name": "uniform", "low": 1.0, "high": 0.0})
    with pytest.raises(ValueError, match="value"):
        init.constant(float("inf"))
    with pytest.raises(ValueError, match="shape"):
        init.zeros((0, 3))


# ------------------------------------------------------- every registered initialiser
ENTRIES = init.INITIALIZERS.items()
IDS = [name for name, _ in ENTRIES]


def sample(cls) -> init.Initializer:
    """An instance of ``cls``: its defaults, and 0.5 for a parameter without one (constant's value)."""
    required = {name: 0.5 for name, p in inspect.signature(cls).parameters.items() if p.default is p.empty}
    return cls(**required)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_every_name_and_alias_resolves(name, cls):
    aliases = [alias for alias, target in init.INITIALIZERS.aliases().items() if target == name]
    for spelling in [name, *aliases, name.upper()]:
        assert init.INITIALIZERS.get(spelling) is cls
        config = {"name": spelling, **sample(cls).get_config()}
        assert init.get_initializer(config) == sample(cls)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_config_round_trips_through_json(name, cls):
    initializer = sample(cls)
    saved = json.loads(json.dumps(init.initializer_config(initializer)))
    assert init.get_initializer(saved) == initializer
    assert cls.from_config(initializer.get_config()) == initializer
    assert init.get_initializer(initializer) is initializer


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_shape_dtype_and_seed(name, cls):
    initializer = sample(cls)
    for dtype in ("float32", "float64"):
        W = initializer((3, 4, 2), rng=np.random.default_rng(5), dtype=dtype)
        assert W.shape == (3, 4, 2) and W.dtype == np.dtype(dtype) and np.all(np.isfinite(W))
    a = initializer((6, 5), rng=np.random.default_rng(5), dtype="float64")
    b = initializer((6, 5), rng=np.random.default_rng(5), dtype="float32")
    np.testing.assert_allclose(a, b, rtol=1e-6)  # drawn in float64, then cast


@pytest.mark.parametrize("name, cls", [e for e in ENTRIES if issubclass(e[1], init.FanScaled)],
                         ids=[n for n, c in ENTRIES if issubclass(c, init.FanScaled)])
def test_fan_scaled_standard_deviation_follows_its_fan_rule(name, cls):
    for shape in (SHAPE, (64, 16, 5, 5)):  # a matrix (n_out, n_in) and a convolution kernel
        W = cls()(shape, rng=np.random.default_rng(0), dtype="float64")
        std = math.sqrt(2 / cls.fan(*init.fans(shape)))
        assert abs(W.std() / std - 1) < 0.01
        if cls.distribution == "uniform":
            assert np.abs(W).max() <= math.sqrt(3) * std
