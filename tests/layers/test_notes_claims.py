"""The course notes' claims about networks and initialisation, checked on our layers."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn


def notes_network(n, **dense_kwargs):
    """The notes' n → 3 → 2 → 1 network with a sigmoid output."""
    return nn.Sequential(
        nn.Dense(n, 3, activation="sigmoid", **dense_kwargs),
        nn.Dense(3, 2, activation="sigmoid", **dense_kwargs),
        nn.Dense(2, 1, activation="sigmoid", **dense_kwargs),
    )


@pytest.mark.parametrize("n", [1, 4, 12_288])
def test_n_3_2_1_network_has_3n_plus_14_parameters(n):
    net = notes_network(n)
    assert net.num_parameters() == 3 * n + 14
    assert [p.shape for p in net.parameters()] == [(3, n), (3,), (2, 3), (2,), (1, 2), (1,)]


def test_all_zero_parameters_give_one_half_for_every_input():
    net = notes_network(5, weight_init="zeros", bias_init="zeros")
    x = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32) * 10
    np.testing.assert_array_equal(net(x).data, 0.5)


def test_equal_initial_weights_keep_neurons_identical_under_gradient_descent():
    """Symmetry: with every weight equal, the neurons of a layer get the same gradient and stay equal."""
    net = notes_network(4, weight_init=nn.init.constant(0.3), bias_init=nn.init.constant(0.1), dtype="float64")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 4)), rng.integers(0, 2, (16, 1)).astype(np.float64)
    lr = 0.5
    first_loss = None
    for _ in range(5):
        net.zero_grad()
        y_hat = net(X)
        loss = ((y_hat - y) ** 2).mean()
        loss.backward()
        first_loss = loss.item() if first_loss is None else first_loss
        for p in net.parameters():
            p.data -= lr * p.grad  # W := W − α ∂J/∂W
    hidden1, hidden2, output = net[0], net[1], net[2]
    assert not np.allclose(hidden1.W.data, 0.3)  # the weights did move ...
    for layer in (hidden1, hidden2):  # ... but every neuron (row of W, entry of b) moved alike
        np.testing.assert_allclose(layer.W.data, np.broadcast_to(layer.W.data[:1], layer.W.shape), rtol=0, atol=1e-15)
        np.testing.assert_allclose(layer.b.data, layer.b.data[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(output.W.data, output.W.data[0, 0], rtol=0, atol=1e-15)


def test_random_initialisation_breaks_the_symmetry():
    bp.manual_seed(0)
    layer = nn.Dense(4, 3, activation="sigmoid")
    assert len({tuple(row) for row in layer.W.data}) == 3


@pytest.mark.parametrize(
    "weight_init, std",
    [
        ("xavier_normal", lambda n_in, n_out: math.sqrt(2 / (n_in + n_out))),  # the notes' formula
        ("he_normal", lambda n_in, n_out: math.sqrt(2 / n_in)),
        ("normal", lambda n_in, n_out: 0.1),  # the notes' N(0, 0.1)
    ],
)
def test_initialisers_have_the_stated_standard_deviation(weight_init, std):
    bp.manual_seed(0)
    n_in, n_out = 800, 300
    W = nn.Dense(n_in, n_out, weight_init=weight_init, dtype="float64").W.data
    assert abs(W.std() / std(n_in, n_out) - 1) < 0.01
    assert abs(W.mean()) < 0.01 * std(n_in, n_out) * 5


def test_xavier_keeps_the_variance_of_z_similar_across_layers():
    """The notes: Xavier/He makes σ_out similar to σ_in; N(0, 1) weights blow it up."""
    bp.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((2000, 500))
    z = nn.Dense(500, 500, weight_init="xavier_normal", dtype="float64")(x).data
    assert 0.8 < z.var() / x.var() < 1.2
    z = nn.Dense(500, 500, weight_init={"name": "normal", "std": 1.0}, dtype="float64")(x).data
    assert z.var() / x.var() > 100


def test_dropout_keep_probability_p_is_rate_one_minus_p():
    p = 0.8  # the notes: keep a neuron active with probability p
    out = nn.Dropout(rate=1 - p)(bp.Tensor(np.ones((500, 500)))).data
    assert abs((out != 0).mean() - p) < 0.01
