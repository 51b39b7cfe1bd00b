"""Weights-only L2 through the optimiser: ``model.parameter_groups(weight_decay=λ)``, PyTorch-style groups
that every registered optimiser takes, the notes' (1 − αλ) W for plain SGD, and PyTorch's numbers."""

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import nn, optim

ENTRIES = optim.OPTIMIZERS.items()
IN_TORCH = [(name, cls) for name, cls in ENTRIES if isinstance(getattr(torch.optim, cls.__name__, None), type)]
LAMBDA = 0.1


def model_with_every_kind_of_parameter():
    bp.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, dtype="float64"), nn.BatchNorm(2, dtype="float64"),
                         nn.GlobalAvgPool2d(), nn.Dense(2, 3, dtype="float64"), nn.LayerNorm(3, dtype="float64"),
                         nn.Dense(3, 1, dtype="float64"))


def test_the_weights_are_decayed_and_the_biases_and_norm_parameters_are_not():
    model = model_with_every_kind_of_parameter()
    decayed, spared = model.parameter_groups(weight_decay=LAMBDA)
    names = {id(p): name for name, p in model.named_parameters()}
    assert [names[id(p)] for p in decayed["params"]] == ["0.W", "3.W", "5.W"] and decayed["weight_decay"] == LAMBDA
    assert [names[id(p)] for p in spared["params"]] == ["0.b", "1.gamma", "1.beta", "3.b", "4.gamma", "4.beta",
                                                         "5.b"]
    assert spared["weight_decay"] == 0.0
    assert len(nn.Dense(2, 2, use_bias=False).parameter_groups(LAMBDA)) == 1  # no empty group
    for bad in (-1.0, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="weight_decay"):
            model.parameter_groups(weight_decay=bad)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=[name for name, _ in ENTRIES])
def test_every_optimiser_takes_the_groups_and_decays_only_the_weights(name, cls):
    # With ∂J/∂θ = 0, only the decay moves a parameter: every W shrinks, every b, γ, β stays.
    model = model_with_every_kind_of_parameter()
    before = {key: value.copy() for key, value in model.state_dict().items()}
    opt = optim.get_optimizer(name, model.parameter_groups(weight_decay=LAMBDA))
    for p in model.parameters():
        p.grad = np.zeros_like(p.data)
    opt.step()
    after = model.state_dict()
    for key, value in before.items():
        if key.endswith(".W"):
            assert np.linalg.norm(after[key]) < np.linalg.norm(value), (name, key)
        else:
            np.testing.assert_array_equal(after[key], value, err_msg=f"{name} {key}")


def test_plain_sgd_steps_the_notes_one_minus_alpha_lambda_w():
    # W ← (1 − αλ) W − α ∂J/∂W;  b ← b − α ∂J/∂b (no decay).
    model = nn.Sequential(nn.Dense(3, 2, dtype="float64"))
    X, y = np.random.default_rng(0).normal(size=(6, 3)), np.random.default_rng(1).normal(size=(6, 2))
    W, b = model[0].W.data.copy(), model[0].b.data.copy()
    bp.losses.mse(model(X), y).backward()
    gW, gb = model[0].W.grad.copy(), model[0].b.grad.copy()
    alpha = 0.05
    optim.SGD(model.parameter_groups(weight_decay=LAMBDA), lr=alpha).step()
    np.testing.assert_allclose(model[0].W.data, (1 - alpha * LAMBDA) * W - alpha * gW, rtol=1e-14)
    np.testing.assert_allclose(model[0].b.data, b - alpha * gb, rtol=1e-14)


@pytest.mark.parametrize("name, cls", IN_TORCH, ids=[name for name, _ in IN_TORCH])
def test_twenty_steps_with_the_groups_match_pytorch(name, cls):
    bp.manual_seed(3)
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh", dtype="float64"), nn.Dense(4, 1, dtype="float64"))
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    with torch.no_grad():
        for ours, theirs in zip((model[0], model[1]), (reference[0], reference[2])):
            theirs.weight.copy_(torch.from_numpy(ours.W.data))
            theirs.bias.copy_(torch.from_numpy(ours.b.data))
    torch_groups = [{"params": [reference[0].weight, reference[2].weight], "weight_decay": LAMBDA},
                    {"params": [reference[0].bias, reference[2].bias], "weight_decay": 0.0}]
    lr = {"lr": 0.05}
    ours_opt = cls(model.parameter_groups(weight_decay=LAMBDA), **lr)
    theirs_opt = getattr(torch.optim, cls.__name__)(torch_groups, **lr)
    X = np.random.default_rng(4).normal(size=(16, 3))
    y = np.sin(X.sum(axis=1, keepdims=True))
    for _ in range(20):
        ours_opt.zero_grad()
        bp.losses.mse(model(X), y).backward()
        ours_opt.step()
        theirs_opt.zero_grad()
        torch.nn.functional.mse_loss(reference(torch.from_numpy(X)), torch.from_numpy(y)).backward()
        theirs_opt.step()
    np.testing.assert_allclose(model[0].W.data, reference[0].weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[1].b.data, reference[2].bias.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_group_setting_the_optimiser_does_not_have_is_refused():
    W = bp.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"Momentum: a parameter group has the settings \['nesterov'\]"):
        optim.Momentum([{"params": [W], "nesterov": True}], lr=0.1)


def test_the_notes_momentum_decays_through_its_average():
    # v ← β v + (1 − β)(g + λ W), W ← W − α v, from v₀ = 0; b without λ.
    W, b = bp.Tensor(np.array([1.0, -2.0]), requires_grad=True), bp.Tensor(np.array([0.5]), requires_grad=True)
    opt = optim.Momentum([{"params": [W], "weight_decay": LAMBDA}, {"params": [b], "weight_decay": 0.0}],
                         lr=0.5, beta=0.9)
    W.grad, b.grad = np.array([0.2, 0.4]), np.array([1.0])
    opt.step()
    np.testing.assert_allclose(W.data, [1.0, -2.0] - 0.5 * 0.1 * (np.array([0.2, 0.4]) + LAMBDA * np.array([1.0, -2.0])),
                               rtol=1e-14)
    np.testing.assert_allclose(b.data, [0.5 - 0.5 * 0.1 * 1.0], rtol=1e-14)
