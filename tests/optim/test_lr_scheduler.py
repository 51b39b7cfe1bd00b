"""Learning-rate schedules give PyTorch's values, epoch by epoch, and resume from a state_dict."""

import inspect
import json
import math

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import optim
from backprop.optim import lr_scheduler

EPOCHS = 40
LRS = (0.1, 0.03)

# A metric with improvements, plateaus, small (below-threshold) gains and a relapse.
_metric_rng = np.random.default_rng(1)
METRICS = [float(v) for v in np.concatenate([
    [1.0, 0.8, 0.8, 0.79999, 0.81, 0.7, 0.7, 0.7, 0.7, 0.69, 0.5],
    0.5 + 0.01 * _metric_rng.normal(size=15),
    np.linspace(0.6, 0.3, 14),
])]


def make_optimizers():
    ours = optim.SGD([{"params": [bp.Tensor(np.zeros(2), requires_grad=True)], "lr": LRS[0]},
                      {"params": [bp.Tensor(np.zeros(3), requires_grad=True)], "lr": LRS[1]}], lr=LRS[0])
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": LRS[0]},
                              {"params": [torch.zeros(3, requires_grad=True)], "lr": LRS[1]}], lr=LRS[0])
    return ours, theirs


def lr_trajectory(opt, scheduler, epochs=EPOCHS, metrics=None):
    lrs = [scheduler.get_last_lr()]
    for epoch in range(epochs):
        opt.step()  # no gradients: nothing moves, but torch wants step() before scheduler.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        lrs.append(scheduler.get_last_lr())
        assert [group["lr"] for group in opt.param_groups] == lrs[-1]
    return lrs


SCHEDULES = [
    ("StepLR", {"step_size": 1}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("StepLR", {"step_size": 7, "gamma": 1.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("ExponentialLR", {"gamma": 0.5}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("CosineAnnealingLR", {"T_max": 40, "eta_min": 1e-4}),
    ("CosineAnnealingLR", {"T_max": 3.5}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[f"{n}-{k}" for n, k in SCHEDULES])
def test_schedule_matches_torch(name, kwargs):
    ours, theirs = make_optimizers()
    our_lrs = lr_trajectory(ours, getattr(lr_scheduler, name)(ours, **kwargs))
    their_lrs = lr_trajectory(theirs, getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs))
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=1e-15)
    assert len({lrs[0] for lrs in our_lrs}) > 3


PLATEAUS = [
    {},
    {"patience": 2},
    {"patience": 1, "factor": 0.5, "cooldown": 2},
    {"patience": 0, "factor": 0.7, "threshold": 0.01, "threshold_mode": "abs"},
    {"patience": 1, "factor": 0.5, "min_lr": [0.02, 0.001]},
    {"patience": 1, "factor": 0.2, "min_lr": 0.005, "eps": 1e-3},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.02, "cooldown": 1},
]


@pytest.mark.parametrize("kwargs", PLATEAUS, ids=[str(k) for k in PLATEAUS])
def test_reduce_on_plateau_matches_torch(kwargs):
    ours, theirs = make_optimizers()
    our_lrs = lr_trajectory(ours, lr_scheduler.ReduceLROnPlateau(ours, **kwargs), metrics=METRICS)
    their_lrs = lr_trajectory(theirs, torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs),
                              metrics=METRICS)
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=0)
    assert len({lrs[0] for lrs in our_lrs}) > 1


def test_closed_forms():
    ours, _ = make_optimizers()
    step = lr_scheduler.StepLR(ours, step_size=4, gamma=0.5)
    for epoch, lrs in enumerate(lr_trajectory(ours, step, epochs=20)):
        np.testing.assert_allclose(lrs, [lr * 0.5 ** (epoch // 4) for lr in LRS], rtol=1e-12)
    ours, _ = make_optimizers()
    cosine = lr_scheduler.CosineAnnealingLR(ours, T_max=10, eta_min=0.001)
    for epoch, lrs in enumerate(lr_trajectory(ours, cosine, epochs=10)):
        expected = [0.001 + (lr - 0.001) * (1 + math.cos(math.pi * epoch / 10)) / 2 for lr in LRS]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_initial_lr_recorded_in_groups():
    ours, _ = make_optimizers()
    scheduler = lr_scheduler.ExponentialLR(ours, gamma=0.5)
    assert scheduler.base_lrs == list(LRS)
    assert [group["initial_lr"] for group in ours.param_groups] == list(LRS)
    assert scheduler.get_last_lr() == list(LRS)
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.015]


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 6, "eta_min": 0.001}),
    ("ReduceLROnPlateau", {"patience": 1, "factor": 0.5, "cooldown": 1}),
])
def test_state_dict_resume(name, kwargs):
    metrics = METRICS if name == "ReduceLROnPlateau" else None
    opt, _ = make_optimizers()
    reference = lr_trajectory(opt, getattr(lr_scheduler, name)(opt, **kwargs), epochs=30, metrics=metrics)

    opt, _ = make_optimizers()
    scheduler = getattr(lr_scheduler, name)(opt, **kwargs)
    first = lr_trajectory(opt, scheduler, epochs=12, metrics=metrics)
    saved_opt = json.loads(json.dumps(opt.state_dict()))  # no state: all JSON
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))

    opt, _ = make_optimizers()
    scheduler = getattr(lr_scheduler, name)(opt, **kwargs)
    opt.load_state_dict(saved_opt)
    scheduler.load_state_dict(saved_scheduler)
    assert scheduler.get_last_lr() == first[-1]
    rest = lr_trajectory(opt, scheduler, epochs=18, metrics=None if metrics is None else metrics[12:])
    assert first + rest[1:] == reference


def test_load_state_dict_missing_key():
    opt, _ = make_optimizers()
    scheduler = lr_scheduler.StepLR(opt, step_size=2)
    state = scheduler.state_dict()
    del state["last_epoch"]
    with pytest.raises(ValueError, match="last_epoch"):
        scheduler.load_state_dict(state)


@pytest.mark.parametrize("make,message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "StepLR: step_size must be a positive int, got 0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), "StepLR: step_size must be a positive int, got 2.5"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0), "StepLR: gamma must be > 0 and finite"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), "ExponentialLR: gamma must be > 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max must be > 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=-1), "eta_min must be >= 0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="minimum"), "mode must be 'min' or 'max'"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), r"factor must be in \[0, 1\)"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), "patience must be a non-negative int"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="relative"), "threshold_mode must be"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), "one per parameter group"),
])
def test_bad_arguments(make, message):
    opt, _ = make_optimizers()
    with pytest.raises(ValueError, match=message):
        make(opt)


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="optimiser"):
        lr_scheduler.StepLR(object(), step_size=2)


# ------------------------------------------------------------ every registered schedule
ENTRIES = lr_scheduler.SCHEDULES.items()
IDS = [name for name, _ in ENTRIES]
_SAMPLE_VALUES = {"int": 3, "float": 0.5}


# Schedules whose required arguments their signature cannot give: a cycle of EPOCHS + 1 steps,
# other schedules to run in turn. ``module`` is backprop's lr_scheduler or torch's.
_EXAMPLES = {
    "one_cycle_lr": lambda module, opt: {"max_lr": 0.5, "total_steps": EPOCHS + 1},
    "sequential_lr": lambda module, opt: {
        "schedulers": [module.LinearLR(opt, start_factor=0.1, total_iters=4), module.ExponentialLR(opt, gamma=0.9)],
        "milestones": [6]},
}


def required_arguments(cls, opt=None, module=lr_scheduler) -> dict:
    """A value for each argument the schedule requires (3 for an int, 0.5 for a float), from its signature."""
    if cls.name in _EXAMPLES:
        return _EXAMPLES[cls.name](module, opt)
    parameters = list(inspect.signature(cls).parameters.values())[1:]  # after the optimiser
    return {p.name: _SAMPLE_VALUES[p.annotation] for p in parameters if p.default is p.empty}


def steps(cls, scheduler, epochs=EPOCHS) -> list:
    opt = scheduler.optimizer
    return lr_trajectory(opt, scheduler, epochs, metrics=METRICS[:epochs] if _takes_metric(cls) else None)


def _takes_metric(cls) -> bool:
    return any(p.default is p.empty for p in list(inspect.signature(cls.step).parameters.values())[1:])


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_every_name_and_alias_builds_the_schedule(name, cls):
    aliases = [alias for alias, target in lr_scheduler.SCHEDULES.aliases().items() if target == name]
    assert cls.__name__.lower() in aliases  # PyTorch's class name is accepted
    for spelling in [name, *aliases, cls.__name__]:
        opt, _ = make_optimizers()
        assert lr_scheduler.SCHEDULES.get(spelling) is cls
        assert type(optim.get_lr_scheduler(spelling, opt, **required_arguments(cls, opt))) is cls


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_config_rebuilds_the_same_schedule(name, cls):
    opt, _ = make_optimizers()
    scheduler = optim.get_lr_scheduler(name, opt, **required_arguments(cls, opt))
    config = json.loads(json.dumps(scheduler.get_config()))
    opt_again, _ = make_optimizers()
    rebuilt = cls(opt_again, **config)
    assert rebuilt.get_config() == scheduler.get_config()
    assert steps(cls, rebuilt) == steps(cls, scheduler)


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_follows_torch_with_its_required_arguments(name, cls):
    ours, theirs = make_optimizers()
    our_lrs = steps(cls, optim.get_lr_scheduler(name, ours, **required_arguments(cls, ours)))
    their_lrs = steps(cls, getattr(torch.optim.lr_scheduler, cls.__name__)(
        theirs, **required_arguments(cls, theirs, torch.optim.lr_scheduler)))
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12)
    assert len({tuple(lrs) for lrs in our_lrs}) > 1  # the lr did change


def test_get_lr_scheduler_refuses_unknown_names_and_arguments():
    opt, _ = make_optimizers()
    with pytest.raises(ValueError, match="did you mean 'step_lr'"):
        optim.get_lr_scheduler("step_lrr", opt, step_size=2)
    with pytest.raises(ValueError, match="no argument"):
        optim.get_lr_scheduler("StepLR", opt, step_size=2, gama=0.5)
    scheduler = optim.get_lr_scheduler(lr_scheduler.StepLR, opt, step_size=2)
    assert optim.get_lr_scheduler(scheduler, opt) is scheduler
    with pytest.raises(TypeError):
        optim.get_lr_scheduler(3, opt)
