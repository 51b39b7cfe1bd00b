"""Every registered activation: its names, its config, f′ against finite differences, its fast forms,
and the layer derived from it (registered, saved and loaded). A new activation is covered here
without editing a list."""

import json

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.engine.ops.activation import ACTIVATIONS, Activation, get_activation
from backprop.layers import activations
from backprop.layers.activations import activation_config, activation_layer, resolve_activation
from backprop.layers.registry import LAYERS

ENTRIES = ACTIVATIONS.items()
IDS = [name for name, _ in ENTRIES]


def spellings(name: str) -> list:
    """The canonical name, each alias, and an upper-case spelling of each."""
    names = [name] + [alias for alias, target in ACTIVATIONS.aliases().items() if target == name]
    return names + [n.upper() for n in names]


def away_from_kinks(shape, seed=0) -> np.ndarray:
    """float64 z with |z| in [0.2, 2]: relu, leaky_relu and step have a kink or a jump at 0."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_every_name_and_alias_resolves_to_the_class(name, cls):
    assert cls.name == name and cls.layer_name.isidentifier()
    for spelling in spellings(name):
        assert ACTIVATIONS.get(spelling) is cls
        assert type(get_activation(spelling)) is cls
        resolved = resolve_activation(spelling)
        assert resolved is None if cls().is_identity else type(resolved) is cls


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_config_round_trips(name, cls):
    activation = cls()
    assert cls.from_config(activation.get_config()) == activation
    config = json.loads(json.dumps(activation_config(activation)))  # what a Dense layer saves
    rebuilt = resolve_activation(config)
    assert rebuilt is None if activation.is_identity else rebuilt == activation  # f(z) = z: no activation


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_gradient_matches_finite_differences_in_float64(name, cls):
    z = bp.Tensor(away_from_kinks((4, 5)), requires_grad=True)
    assert bp.gradcheck(cls(), z)


@pytest.mark.parametrize("name, cls", [e for e in ENTRIES if e[1].elementwise], ids=[n for n, c in ENTRIES if c.elementwise])
def test_in_place_forms_equal_f_and_df(name, cls):
    activation = cls()
    for dtype in (np.float32, np.float64):
        z = away_from_kinks((6, 3), seed=1).astype(dtype)
        a = activation.f(z)
        out = np.empty_like(z)
        activation.f_into(z, out)
        np.testing.assert_array_equal(out, a)
        upstream = np.random.default_rng(2).standard_normal(z.shape).astype(dtype)
        delta = upstream.copy()
        activation.backprop_into(delta, z, a, np.empty_like(z))
        np.testing.assert_allclose(delta, upstream * activation.df(z, a), rtol=1e-6 if dtype == np.float32 else 1e-14)
        assert delta.dtype == dtype


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_the_layer_is_registered_public_and_applies_f(name, cls):
    layer_class = activation_layer(cls)
    assert LAYERS.get(cls.layer_name) is layer_class is getattr(nn, cls.layer_name)
    assert layer_class.activation_class is cls and activation_layer(name) is layer_class
    layer = layer_class()
    assert layer.activation == cls() and layer.parameters() == []
    z = away_from_kinks((3, 4))
    np.testing.assert_array_equal(layer(z).data, cls()(z).data)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_the_layer_saves_and_loads(name, cls, tmp_path):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(3, 4, activation=name), activation_layer(cls)(), nn.Dense(4, 2))
    description = json.loads(json.dumps(nn.module_to_config(model)))
    assert description["config"]["layers"][1]["class_name"] == cls.layer_name
    assert nn.module_to_config(nn.module_from_config(description)) == description
    path = tmp_path / "model.safetensors"
    bp.save(model, path)
    loaded = bp.load(path)
    x = away_from_kinks((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    assert repr(loaded) == repr(model)


class _Softsign(Activation):
    """f(z) = z / (1 + |z|);  f′(z) = 1 / (1 + |z|)²."""

    name = "test_softsign"
    aliases = ("test_soft_sign",)
    layer_name = "TestSoftsign"

    def f(self, z):
        return z / (1 + np.abs(z))

    def df(self, z, a):
        return 1 / (1 + np.abs(z)) ** 2


@pytest.fixture
def softsign():
    ACTIVATIONS.register(_Softsign)
    try:
        yield _Softsign
    finally:
        ACTIVATIONS.unregister(_Softsign.name)
        LAYERS.unregister(_Softsign.layer_name)
        delattr(activations, _Softsign.layer_name)  # the derived layer is bound in its module, as nn.ReLU is
        activations.__all__.remove(_Softsign.layer_name)


def test_a_new_activation_is_one_class(softsign, tmp_path):
    """Registering an Activation class makes its layer appear in the layer registry; both work in fit."""
    layer_class = LAYERS.get("TestSoftsign")
    assert layer_class.activation_class is softsign and nn.get_module_class("TestSoftsign") is layer_class
    assert type(resolve_activation("test_soft_sign")) is softsign
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(2, 8, activation="test_softsign"), nn.Dense(8, 8), layer_class(), nn.Dense(8, 2))
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "softsign.safetensors"
    bp.save(model, path)
    np.testing.assert_array_equal(bp.load(path)(X).data, model(X).data)


def test_unregistered_names_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'relux'; valid names are \[.*'relu'.*did you mean 'relu'"):
        resolve_activation("relux")
    with pytest.raises(TypeError, match="does not take the parameters"):
        resolve_activation({"name": "relu", "slope": 1})
