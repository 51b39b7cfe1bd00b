"""Every optimiser and schedule follows PyTorch's trajectory from the same initial weights.

A tiny two-layer network, J = mean((tanh(X W1ᵀ + b1) W2ᵀ + b2 − Y)²), is trained in
float64 by both libraries, each computing its gradients with its own autograd.
"""

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import optim

STEPS = 15
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 3))
Y = rng.normal(size=(8, 2))
INITIAL = [rng.normal(size=(4, 3)), 0.1 * rng.normal(size=4), rng.normal(size=(2, 4)), 0.1 * rng.normal(size=2)]
UNUSED = rng.normal(size=(3,))  # a parameter outside the graph: its grad stays None, so it is skipped


def backprop_params():
    return [bp.Tensor(a.copy(), requires_grad=True) for a in INITIAL + [UNUSED]]


def torch_params():
    return [torch.tensor(a.copy(), requires_grad=True) for a in INITIAL + [UNUSED]]


def backprop_loss(params):
    W1, b1, W2, b2, _ = params
    prediction = bp.linear(bp.tanh(bp.linear(X, W1, b1)), W2, b2)
    return bp.mean((prediction - Y) ** 2)


def torch_loss(params):
    W1, b1, W2, b2, _ = params
    prediction = torch.tanh(torch.from_numpy(X) @ W1.T + b1) @ W2.T + b2
    return torch.mean((prediction - torch.from_numpy(Y)) ** 2)


def split_groups(params, group_options):
    if group_options is None:
        return params
    return [{"params": params[:2], **group_options[0]}, {"params": params[2:], **group_options[1]}]


def train(lib, name, kwargs, group_options=None, steps=STEPS, schedule=None, steps_per_epoch=1):
    """Train; return the parameters after each step and the lrs after each epoch."""
    if lib == "backprop":
        params, loss_fn, module = backprop_params(), backprop_loss, optim
    else:
        params, loss_fn, module = torch_params(), torch_loss, torch.optim
    opt = getattr(module, name)(split_groups(params, group_options), **kwargs)
    scheduler = None
    if schedule is not None:
        schedule_name, schedule_kwargs = schedule
        scheduler = getattr(module.lr_scheduler, schedule_name)(opt, **schedule_kwargs)
    trajectory, lrs = [], []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(params)
        loss.backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() if lib == "torch" else p.data.copy() for p in params])
        if scheduler is not None and (step + 1) % steps_per_epoch == 0:
            if schedule[0] == "ReduceLROnPlateau":
                scheduler.step(float(loss.item()))
            else:
                scheduler.step()
            lrs.append([group["lr"] for group in opt.param_groups])
    return trajectory, lrs


def assert_same_trajectory(ours, theirs, atol=1e-9):
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.dtype == y.dtype == np.float64
            np.testing.assert_allclose(x, y, rtol=0, atol=atol, err_msg=f"step {step}, parameter {i}")


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.9}),  # the notes' EMA momentum
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.8), "eps": 1e-6}),  # β₁ < 0.5: the other branch of lerp
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3, "betas": (0.8, 0.99)}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_follows_torch(name, kwargs):
    ours, _ = train("backprop", name, kwargs)
    theirs, _ = train("torch", name, kwargs)
    assert_same_trajectory(ours, theirs)
    assert np.array_equal(ours[-1][-1], UNUSED)  # grad None: skipped
    assert not np.allclose(ours[-1][0], INITIAL[0])  # it did move


GROUP_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, [{"lr": 0.02}, {"momentum": 0.5, "nesterov": True}]),
    ("RMSprop", {"lr": 0.01}, [{"centered": True}, {"lr": 0.003, "momentum": 0.9}]),
    ("Adam", {"lr": 0.05}, [{"betas": (0.5, 0.9)}, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}]),
    ("AdamW", {"lr": 0.05}, [{"weight_decay": 0.0}, {"lr": 0.01, "amsgrad": True}]),
]


@pytest.mark.parametrize("name,kwargs,groups", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_parameter_groups_follow_torch(name, kwargs, groups):
    ours, _ = train("backprop", name, kwargs, groups)
    theirs, _ = train("torch", name, kwargs, groups)
    assert_same_trajectory(ours, theirs)


SCHEDULED = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, ("StepLR", {"step_size": 3, "gamma": 0.5})),
    ("Adam", {"lr": 0.05}, ("ExponentialLR", {"gamma": 0.8})),
    ("RMSprop", {"lr": 0.01}, ("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.001})),
    ("AdamW", {"lr": 0.05}, ("ReduceLROnPlateau", {"factor": 0.5, "patience": 0, "threshold": 0.05})),
]


@pytest.mark.parametrize("name,kwargs,schedule", SCHEDULED, ids=[c[2][0] for c in SCHEDULED])
def test_schedule_drives_optimizer_like_torch(name, kwargs, schedule):
    ours, our_lrs = train("backprop", name, kwargs, [{}, {"lr": kwargs["lr"] / 2}],
                          steps=30, schedule=schedule, steps_per_epoch=2)
    theirs, their_lrs = train("torch", name, kwargs, [{}, {"lr": kwargs["lr"] / 2}],
                              steps=30, schedule=schedule, steps_per_epoch=2)
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=0)
    assert len({tuple(lrs) for lrs in our_lrs}) > 2  # the lr did change
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("RMSprop", {"momentum": 0.5}),
                                         ("Adam", {"lr": 0.05, "amsgrad": True}), ("AdamW", {"lr": 0.05})])
def test_zero_lr_epochs_follow_torch(name, kwargs):
    """A schedule may set lr = 0 (CosineAnnealingLR with eta_min=0 at T_max): state still advances."""
    results = []
    for lib, params, loss_fn, module in [("backprop", backprop_params(), backprop_loss, optim),
                                         ("torch", torch_params(), torch_loss, torch.optim)]:
        opt = getattr(module, name)(params, **kwargs)
        trajectory = []
        for step in range(12):
            opt.param_groups[0]["lr"] = 0.0 if 3 <= step < 6 else kwargs.get("lr", 0.01)
            opt.zero_grad()
            loss_fn(params).backward()
            opt.step()
            trajectory.append([p.detach().numpy().copy() if lib == "torch" else p.data.copy() for p in params])
        results.append(trajectory)
    assert np.array_equal(results[0][2][0], results[0][5][0])
    assert_same_trajectory(*results)
