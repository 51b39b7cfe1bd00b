"""Configs: module_to_config / module_from_config rebuild architectures and refuse anything else."""

import json

import numpy as np
import pytest

from backprop.layers import registry
from backprop import nn


def everything():
    return nn.Sequential(
        nn.Flatten(),
        nn.Dense(6, 5, activation={"name": "leaky_relu", "negative_slope": 0.2}, weight_regularizer=nn.L1L2(1e-3, 1e-4)),
        nn.BatchNorm(5, momentum=None),
        nn.Dropout(0.25),
        nn.Dense(5, 4, activation="tanh", weight_init="he_uniform", bias_init=nn.init.constant(0.1), use_bias=True),
        nn.Sequential(nn.Dense(4, 4, use_bias=False), nn.ReLU(), nn.LeakyReLU(0.3)),
        nn.Dense(4, 3, weight_init={"name": "normal", "std": 0.2}),
        nn.Sigmoid(), nn.Tanh(), nn.Arctan(), nn.Step(), nn.Identity(), nn.Softmax(axis=-1),
    )


def test_round_trip_through_json_rebuilds_the_same_network():
    model = everything()
    x = np.random.default_rng(0).standard_normal((7, 2, 3)).astype(np.float32)
    model(x)  # training step: running statistics move
    description = json.loads(json.dumps(nn.module_to_config(model)))
    assert description["class_name"] == "Sequential"
    rebuilt = nn.module_from_config(description)
    assert nn.module_to_config(rebuilt) == description
    assert repr(rebuilt) == repr(model)
    rebuilt.load_state_dict(model.state_dict())
    model.eval(), rebuilt.eval()
    np.testing.assert_array_equal(model(x).data, rebuilt(x).data)


def test_every_layer_is_registered():
    assert {"Dense", "Sequential", "Dropout", "BatchNorm", "Flatten", "ReLU", "LeakyReLU", "Sigmoid",
            "Tanh", "Arctan", "Step", "Softmax", "Identity"} <= set(nn.registered_modules())


@pytest.mark.parametrize("name", ["Evil", "os.system", "__import__", "Module", "eval", 3, None])
def test_unknown_class_names_are_refused(name):
    with pytest.raises(ValueError, match=r"unknown layer type .*; known types: \[.*'Dense'"):
        nn.module_from_config({"class_name": name, "config": {}})


@pytest.mark.parametrize(
    "description, error, pattern",
    [
        ({"class_name": "Dense", "config": {"in_features": 2, "out_features": 3, "code": "rm -rf"}}, TypeError, "Dense: unknown config keys"),
        ({"class_name": "Dense", "config": {"in_features": 2}}, TypeError, "Dense: .*missing.*out_features"),
        ({"class_name": "Dense", "config": {"in_features": "2", "out_features": 3}}, ValueError, "Dense: in_features"),
        ({"class_name": "Dense", "config": {"in_features": 2, "out_features": 3, "activation": "os.system"}}, ValueError, "Dense: activation"),
        ({"class_name": "Dense", "config": {"in_features": 2, "out_features": 3, "weight_init": {"name": "normal", "std": "x"}}}, ValueError, "Dense: weight_init"),
        ({"class_name": "Dense", "config": {"in_features": 2, "out_features": 3, "activation": {"name": "relu", "x": 1}}}, TypeError, "Dense: activation"),
        ({"class_name": "Dropout", "config": {"rate": [0.5]}}, ValueError, "Dropout: rate"),
        ({"class_name": "BatchNorm", "config": {"num_features": 2, "dtype": "object"}}, ValueError, "BatchNorm: dtype"),
        ({"class_name": "Dense", "config": [1, 2]}, TypeError, "Dense: config must be a dict"),
        ({"class_name": "Sequential", "config": {"layers": "Dense"}}, TypeError, "Sequential: config"),
        ({"class_name": "Sequential", "config": {"layers": [{"class_name": "Nope", "config": {}}]}}, ValueError, "unknown layer type 'Nope'"),
        ({"class_name": "Dense", "config": {}, "module": "os"}, TypeError, "class_name"),
        ("Dense", TypeError, "expected a dict"),
    ],
)
def test_bad_configs_are_refused_naming_the_layer(description, error, pattern):
    with pytest.raises(error, match=pattern):
        nn.module_from_config(description)


def test_register_module_for_a_custom_layer():
    @nn.register_module
    class Tripler(nn.Module):
        def forward(self, x):
            return 3 * x

    assert isinstance(nn.module_from_config({"class_name": "Tripler", "config": {}}), Tripler)
    assert nn.module_to_config(Tripler()) == {"class_name": "Tripler", "config": {}}

    class Unregistered(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="not registered"):
        nn.module_to_config(Unregistered())
    with pytest.raises(TypeError, match="not a Module"):
        nn.register_module(dict)
    with pytest.raises(ValueError, match="already taken"):
        nn.register_module(Unregistered, name="Dense")


@pytest.mark.parametrize("name", [n for n in nn.registered_modules()
                                  if nn.get_module_class(n).__module__.startswith("backprop.")])
def test_every_registered_layer_states_its_parameter_shapes(name):
    # A layer with constructor arguments must say, from its config alone, what it would
    # allocate: the model-file loader checks this against the file before building anything.
    klass = nn.get_module_class(name)
    overridden = klass.state_shapes.__func__ is not nn.Module.state_shapes.__func__
    takes_arguments = bool(__import__("inspect").signature(klass.__init__).parameters.keys() - {"self"})
    # (or declare holds_no_arrays; tests/io checks every declaration against a built layer's state)
    assert overridden or klass.holds_no_arrays or not takes_arguments, \
        f"{name} must define the classmethod state_shapes(config)"


def test_state_shapes_validate_the_config_without_allocating():
    shapes = registry.declared_state_shapes(
        {"class_name": "Sequential", "config": {"layers": [
            {"class_name": "Dense", "config": {"in_features": 10**9, "out_features": 10**9}},
            {"class_name": "BatchNorm", "config": {"num_features": 10**9}}]}})
    assert shapes == {"0.W": (10**9, 10**9), "0.b": (10**9,), "1.gamma": (10**9,), "1.beta": (10**9,),
                      "1.running_mean": (10**9,), "1.running_var": (10**9,), "1.num_batches_tracked": ()}
    with pytest.raises(ValueError, match="Dense: activation"):
        registry.declared_state_shapes({"class_name": "Dense", "config": {
            "in_features": 2, "out_features": 2, "activation": "nope"}})
    with pytest.raises(ValueError, match="negative_slope"):
        registry.declared_state_shapes({"class_name": "LeakyReLU", "config": {"negative_slope": float("nan")}})
    with pytest.raises(ValueError, match="negative_slope"):
        nn.Dense(2, 2, activation={"name": "leaky_relu", "negative_slope": float("inf")})

    class NoShapes(nn.Module):
        def __init__(self, units):
            super().__init__()

    with pytest.raises(NotImplementedError, match="state_shapes"):
        NoShapes.state_shapes({"units": 3})
