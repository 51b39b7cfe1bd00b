"""Regularisers: penalties (Keras's λΣW², no ½), gradients, weights only, names."""

import json

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.regularizers import REGULARIZERS

torch = pytest.importorskip("torch")

W_NP = np.random.default_rng(0).standard_normal((4, 3))


@pytest.mark.parametrize(
    "regularizer, expected",
    [
        (nn.L1(0.1), 0.1 * np.abs(W_NP).sum()),
        (nn.L2(0.1), 0.1 * (W_NP ** 2).sum()),
        (nn.L1L2(0.1, 0.2), 0.1 * np.abs(W_NP).sum() + 0.2 * (W_NP ** 2).sum()),
    ],
    ids=["L1", "L2", "L1L2"],
)
def test_penalty_values_and_gradcheck(regularizer, expected):
    W = bp.Tensor(W_NP.copy(), requires_grad=True)
    np.testing.assert_allclose(regularizer.penalty(W).item(), expected)
    np.testing.assert_allclose(regularizer(W).item(), expected)
    assert bp.gradcheck(regularizer.penalty, W)


def test_l2_gradient_is_2_lambda_W_as_torch():
    W = bp.Tensor(W_NP.copy(), requires_grad=True)
    nn.L2(0.05).penalty(W).backward()
    W_t = torch.tensor(W_NP, requires_grad=True)
    (0.05 * W_t.pow(2).sum()).backward()
    np.testing.assert_allclose(W.grad, W_t.grad.numpy())
    np.testing.assert_allclose(W.grad, 2 * 0.05 * W_NP)


def test_only_weights_are_penalised_and_costs_add_up():
    layer = nn.Dense(3, 4, weight_regularizer=nn.L2(1e-3), dtype="float64")
    x = np.random.default_rng(1).standard_normal((5, 3))
    loss = (layer(x) ** 2).mean()
    penalty = layer.regularization_loss()
    np.testing.assert_allclose(penalty.item(), 1e-3 * (layer.W.data ** 2).sum())
    (loss + penalty).backward()
    W_grad, b_grad = layer.W.grad.copy(), layer.b.grad.copy()
    layer.zero_grad()
    (layer(x) ** 2).mean().backward()
    np.testing.assert_allclose(W_grad - layer.W.grad, 2e-3 * layer.W.data)
    np.testing.assert_allclose(b_grad, layer.b.grad)  # the bias is never penalised


def test_regularization_loss_sums_over_layers_and_is_none_without():
    net = nn.Sequential(nn.Dense(3, 4, weight_regularizer="l2"), nn.ReLU(), nn.Dense(4, 2, weight_regularizer="l1"))
    expected = 0.01 * (net[0].W.data ** 2).sum() + 0.01 * np.abs(net[2].W.data).sum()
    np.testing.assert_allclose(net.regularization_loss().item(), expected, rtol=1e-5)
    assert nn.Sequential(nn.Dense(3, 4), nn.Dense(4, 1)).regularization_loss() is None


def test_names_and_dicts():
    assert nn.get_regularizer("l2") == nn.L2(0.01)
    assert nn.get_regularizer("L1") == nn.L1(0.01)
    assert nn.get_regularizer("l1_l2") == nn.L1L2(0.01, 0.01)
    assert nn.get_regularizer({"name": "l2", "l2": 1e-3}) == nn.L2(1e-3)
    assert nn.Dense(2, 2, weight_regularizer="l2").get_config()["weight_regularizer"] == {"name": "l2", "l2": 0.01}
    with pytest.raises(ValueError, match="did you mean 'l1'"):
        nn.get_regularizer("l1x")
    with pytest.raises(TypeError, match="takes no parameters"):
        nn.get_regularizer({"name": "l2", "l1": 0.1})


@pytest.mark.parametrize("make", [lambda: nn.L1(-1), lambda: nn.L2(float("nan")), lambda: nn.L1L2(0.1, -0.1), lambda: nn.L2("0.1")])
def test_bad_strength(make):
    with pytest.raises(ValueError, match=r"l[12] must be"):
        make()


def test_alias_module():
    import backprop.regularizers

    assert backprop.regularizers.L2 is nn.L2


# ------------------------------------------------------- every registered regulariser
ENTRIES = REGULARIZERS.items()
IDS = [name for name, _ in ENTRIES]


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_every_name_and_alias_resolves(name, cls):
    aliases = [alias for alias, target in REGULARIZERS.aliases().items() if target == name]
    for spelling in [name, *aliases, name.upper()]:
        assert REGULARIZERS.get(spelling) is cls
        assert nn.get_regularizer(spelling) == cls()


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_config_round_trips_through_json_and_a_layer(name, cls):
    strengths = {key: 0.5 * (i + 1) for i, key in enumerate(k for k in cls().get_config() if k != "name")}
    regularizer = cls(**strengths)
    config = json.loads(json.dumps(regularizer.get_config()))
    assert config["name"] == name and nn.get_regularizer(config) == regularizer
    layer = nn.Dense(3, 2, weight_regularizer=regularizer)
    rebuilt = nn.module_from_config(json.loads(json.dumps(nn.module_to_config(layer))))
    assert rebuilt.weight_regularizer == regularizer


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_penalty_gradient_matches_finite_differences(name, cls):
    W = bp.Tensor(W_NP.copy(), requires_grad=True)  # no entry at 0, where |W| has its kink
    assert bp.gradcheck(cls().penalty, W)
    assert cls().penalty(bp.Tensor(np.zeros((2, 2)))).item() == 0
