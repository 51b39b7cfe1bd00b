"""The network the settings describe: the layers, where BatchNorm and Dropout go, the initialisations."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop.playground.network import activation_layer, build_network
from backprop.playground.settings import INITIALISATIONS, activation_names, parse_settings


def kinds(network):
    return [type(module).__name__ for module in network.model]


def test_dense_layers_carry_their_activation_and_the_classifier_outputs_logits():
    settings = parse_settings({"layers": [{"neurons": 5, "activation": "relu"},
                                          {"neurons": 3, "activation": "step", "k": 0.5}]})
    net = build_network(settings, 2, "classification")
    assert kinds(net) == ["Dense", "Dense", "Dense"]
    assert [d.out_features for d in net.dense] == [5, 3, 2]
    assert net.dense[0].activation.name == "relu"
    assert net.dense[1].activation.name == "step" and net.dense[1].activation.k == 0.5
    assert net.dense[2].activation is None  # the loss applies the softmax
    assert net.outputs_at == [0, 1, 2]


def test_batch_norm_goes_between_z_and_f_and_dropout_after_f():
    net = build_network(parse_settings({"layers": [{"neurons": 4, "activation": "tanh"}], "batch_norm": True,
                                        "dropout": 0.2, "output_activation": "sigmoid"}), 1, "regression")
    assert kinds(net) == ["Dense", "BatchNorm", "Tanh", "Dropout", "Dense"]
    assert net.dense[0].activation is None and net.dense[1].activation.name == "sigmoid"
    assert net.outputs_at == [2, 4]  # a¹ is the Tanh's output, before dropout
    outputs = net.layer_outputs(np.zeros((3, 2), dtype=np.float32))
    assert [a.shape for a in outputs] == [(3, 4), (3, 1)]


@pytest.mark.parametrize("name", activation_names())
def test_every_activation_has_a_layer_to_follow_batch_norm(name):
    layer = activation_layer(name, k=0.25)
    expected = "identity" if name == "linear" else name
    assert layer.activation.name == expected
    if name == "step":
        assert layer.activation.k == 0.25


@pytest.mark.parametrize("init", list(INITIALISATIONS))
def test_the_initialisations(init):
    bp.manual_seed(0)
    net = build_network(parse_settings({"init": init, "init_value": 0.3,
                                        "layers": [{"neurons": 64, "activation": "relu"}]}), 2, "classification")
    W = net.dense[0].W.data.astype(np.float64)  # 64 × 2
    if init == "zeros":
        assert not W.any()
    elif init == "equal":
        assert np.all(W == np.float32(0.3))
    else:
        expected = {"normal": 0.1, "xavier": np.sqrt(2 / (2 + 64)), "he": np.sqrt(2 / 2)}[init]
        assert abs(W.std() / expected - 1) < 0.25
    assert not net.dense[0].b.data.any()


def test_l1_and_l2_regularise_every_weight_matrix():
    for name, cls in (("l1", bp.nn.L1), ("l2", bp.nn.L2)):
        net = build_network(parse_settings({"regularization": name, "reg_lambda": 0.01}), 2, "classification")
        assert all(isinstance(d.weight_regularizer, cls) for d in net.dense)
