"""The settings a page sends: defaults, every offered name accepted, every bad value refused by name."""

from __future__ import annotations

import json

import pytest

import backprop as bp
from backprop.playground.datasets import DATASETS
from backprop.playground.settings import (
    CLASSIFICATION_LOSSES, INITIALISATIONS, REGRESSION_LOSSES, Settings, SettingsError, activation_names,
    options, parse_settings,
)


def test_the_defaults_are_a_small_tanh_network_on_the_circle():
    s = parse_settings({})
    assert s == Settings()
    assert s.dataset == "circle"
    assert [(layer.neurons, layer.activation) for layer in s.layers] == [(4, "tanh"), (2, "tanh")]
    assert s.loss_for("classification") == "cross_entropy" and s.loss_for("regression") == "mse"


def test_settings_survive_json_the_way_a_shared_link_carries_them():
    s = parse_settings({"dataset": "spiral", "layers": [{"neurons": 8, "activation": "step", "k": 0.5}],
                        "optimizer": "adam", "lr": 0.01, "batch": "stochastic", "batch_norm": True})
    assert parse_settings(json.loads(json.dumps(s.to_dict()))) == s


def test_the_names_offered_are_the_librarys():
    from backprop.engine.ops.activation import ACTIVATIONS

    assert set(activation_names()) == {"linear" if n == "identity" else n for n, cls in ACTIVATIONS.items()
                                       if cls.elementwise}
    assert {"step", "arctan", "linear", "relu", "sigmoid", "tanh"} <= set(activation_names())
    assert options()["optimizers"] == bp.optim.OPTIMIZERS.names()
    assert {"sgd", "momentum", "rmsprop", "adam"} <= set(bp.optim.OPTIMIZERS.names())
    for loss in CLASSIFICATION_LOSSES + REGRESSION_LOSSES:
        assert loss in bp.losses.LOSSES
    for name, (library_name, _) in INITIALISATIONS.items():
        assert library_name in bp.init.INITIALIZERS, name
    assert [d["name"] for d in options()["datasets"]] == list(DATASETS)


@pytest.mark.parametrize("activation", activation_names())
def test_every_activation_is_accepted_for_a_layer_and_the_output(activation):
    s = parse_settings({"layers": [{"neurons": 3, "activation": activation}], "output_activation": activation})
    assert s.layers[0].activation == activation == s.output_activation


@pytest.mark.parametrize("settings, named", [
    ([], "JSON object"),
    ({"colour": "red"}, "unknown setting"),
    ({"dataset": "swirl"}, "dataset"),
    ({"noise": 2}, "noise"),
    ({"noise": "a lot"}, "noise"),
    ({"noise": float("nan")}, "noise"),
    ({"train_ratio": 1.0}, "train_ratio"),
    ({"n_samples": 5}, "n_samples"),
    ({"n_samples": 10.5}, "n_samples"),
    ({"n_samples": True}, "n_samples"),
    ({"layers": "4,4"}, "layers"),
    ({"layers": [{"neurons": 4}] * 11}, "layers"),
    ({"layers": [{"neurons": 0}]}, "neurons"),
    ({"layers": [{"neurons": 65}]}, "neurons"),
    ({"layers": [{"neurons": 4, "activation": "softmax"}]}, "layers[0].activation"),
    ({"layers": [{"neurons": 4, "activation": "relu", "slope": 1}]}, "layers[0]"),
    ({"layers": [4]}, "layers[0]"),
    ({"layers": [{"activation": "step", "k": float("inf")}]}, "k"),
    ({"output_activation": "softmax"}, "output_activation"),
    ({"init": "glorot"}, "init"),
    ({"loss": "hinge"}, "loss"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"lr": 0}, "lr"),
    ({"lr": 100}, "lr"),
    ({"batch": "online"}, "batch"),
    ({"batch_size": 0}, "batch_size"),
    ({"regularization": "l3"}, "regularization"),
    ({"reg_lambda": -1}, "reg_lambda"),
    ({"dropout": 0.95}, "dropout"),
    ({"batch_norm": "yes"}, "batch_norm"),
    ({"seed": -1}, "seed"),
    ({"task": "clustering"}, "task"),
    ({"features": "x,y"}, "features"),
    ({"dataset": "csv", "features": ["a"], "target": "c"}, "features"),
    ({"dataset": "csv", "features": ["a", "a"], "target": "c"}, "features"),
    ({"dataset": "csv", "features": ["a", "b"], "target": "a"}, "target"),
])
def test_bad_settings_are_refused_naming_the_setting(settings, named):
    with pytest.raises(SettingsError, match=None) as raised:
        parse_settings(settings)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)
