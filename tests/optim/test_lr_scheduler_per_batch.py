"""The per-batch schedules (warm-up, 1cycle, warm restarts, sequences) give PyTorch's values step by step,
and fit steps them after every batch, on the fast path as on the engine."""

import json

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import nn, optim
from backprop.callbacks import Callback, LearningRateScheduler
from backprop.optim import lr_scheduler
from backprop.training import Trainer

STEPS = 600
LRS = (0.1, 0.03)


def _optimizers(name="SGD", **kwargs):
    def groups(tensor):
        return [{"params": [tensor(2)], "lr": LRS[0]}, {"params": [tensor(3)], "lr": LRS[1]}]
    kwargs = {"lr": LRS[0], **kwargs}
    ours = getattr(optim, name)(groups(lambda n: bp.Tensor(np.zeros(n), requires_grad=True)), **kwargs)
    theirs = getattr(torch.optim, name)(groups(lambda n: torch.zeros(n, requires_grad=True)), **kwargs)
    return ours, theirs


def _momentum(opt):
    return [group["betas"][0] if "betas" in group else group.get("momentum") for group in opt.param_groups]


def _trajectory(opt, scheduler, steps=STEPS, epochs_at=None):
    """(lrs, momenta) after construction and after each step."""
    lrs, momenta = [scheduler.get_last_lr()], [_momentum(opt)]
    for step in range(steps):
        opt.step()
        if epochs_at is None:
            scheduler.step()
        else:
            scheduler.step(epochs_at(step))
        lrs.append(scheduler.get_last_lr())
        momenta.append(_momentum(opt))
        assert [group["lr"] for group in opt.param_groups] == lrs[-1]
    return np.array(lrs), np.array(momenta, dtype=float)


CASES = [
    ("LinearLR", {"start_factor": 0.01, "total_iters": 250}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 599}),
    ("CosineAnnealingWarmRestarts", {"T_0": 50}),
    ("CosineAnnealingWarmRestarts", {"T_0": 20, "T_mult": 2, "eta_min": 1e-4}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": STEPS, "anneal_strategy": "linear", "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 20, "steps_per_epoch": 30, "three_phase": True,
                    "div_factor": 10.0, "final_div_factor": 100.0}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "cycle_momentum": False}),
]


@pytest.mark.parametrize("optimizer, optimizer_kwargs", [("SGD", {"momentum": 0.9}), ("Adam", {})])
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_per_batch_schedules_follow_torch_over_many_steps(name, kwargs, optimizer, optimizer_kwargs):
    ours, theirs = _optimizers(optimizer, **optimizer_kwargs)
    our_lrs, our_momenta = _trajectory(ours, getattr(lr_scheduler, name)(ours, **kwargs))
    their_lrs, their_momenta = _trajectory(theirs, getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs))
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(our_momenta, their_momenta, rtol=1e-12)  # OneCycleLR cycles them
    assert np.mean(np.diff(our_lrs[:, 0]) != 0) > 0.4  # the lr moves step by step, not once per epoch
    assert getattr(lr_scheduler, name).interval == "batch"


def test_warm_restarts_take_fractional_epochs_as_torch():
    ours, theirs = _optimizers()
    kwargs = {"T_0": 3, "T_mult": 2, "eta_min": 0.001}
    epochs = lambda step: step / 7  # noqa: E731 (the documented per-batch form: epoch + batch / n_batches)
    ours_lrs, _ = _trajectory(ours, lr_scheduler.CosineAnnealingWarmRestarts(ours, **kwargs), 200, epochs)
    theirs_lrs, _ = _trajectory(theirs, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs, **kwargs),
                                200, epochs)
    np.testing.assert_allclose(ours_lrs, theirs_lrs, rtol=1e-12)


def _warm_up_then(module, opt, kind):
    warm_up = module.LinearLR(opt, start_factor=0.01, total_iters=100)
    if kind == "cosine":
        then = module.CosineAnnealingLR(opt, T_max=STEPS - 100, eta_min=1e-4)
    elif kind == "restarts":
        then = module.CosineAnnealingWarmRestarts(opt, T_0=60)
    else:
        then = module.StepLR(opt, step_size=90, gamma=0.5)
    return module.SequentialLR(opt, [warm_up, then], milestones=[100])


@pytest.mark.parametrize("kind", ["cosine", "restarts", "step"])
def test_a_warm_up_then_a_decay_is_torch_s_sequential_lr(kind):
    ours, theirs = _optimizers()
    our_lrs, _ = _trajectory(ours, _warm_up_then(lr_scheduler, ours, kind))
    their_lrs, _ = _trajectory(theirs, _warm_up_then(torch.optim.lr_scheduler, theirs, kind))
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=1e-16)
    assert our_lrs[0, 0] == pytest.approx(0.001) and our_lrs[100, 0] == pytest.approx(0.1)


@pytest.mark.parametrize("name, kwargs", CASES[:5] + [("SequentialLR", None)])
def test_per_batch_schedules_resume_from_their_state_dict(name, kwargs):
    def build(opt):
        if name == "SequentialLR":
            return _warm_up_then(lr_scheduler, opt, "restarts")
        return getattr(lr_scheduler, name)(opt, **kwargs)

    opt, _ = _optimizers()
    reference, _ = _trajectory(opt, build(opt))
    opt, _ = _optimizers()
    scheduler = build(opt)
    first, _ = _trajectory(opt, scheduler, 230)
    saved_opt, saved = json.loads(json.dumps(opt.state_dict())), json.loads(json.dumps(scheduler.state_dict()))
    opt, _ = _optimizers()
    scheduler = build(opt)
    opt.load_state_dict(saved_opt)
    scheduler.load_state_dict(saved)
    rest, _ = _trajectory(opt, scheduler, STEPS - 230)
    np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), reference)


def test_bad_arguments_name_the_problem():
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="cosine")
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times"):
        _trajectory(opt, lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10), 11)
    momentum_free = optim.Adagrad([bp.Tensor(np.zeros(2), requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        lr_scheduler.OneCycleLR(momentum_free, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="start_factor must be in \\(0, 1\\]"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="T_mult must be a positive int"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=0)
    with pytest.raises(ValueError, match="interval must be one of"):
        lr_scheduler.LinearLR(opt, interval="step")
    with pytest.raises(ValueError, match="milestones must be a list of 1"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt), lr_scheduler.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.LinearLR(opt), lr_scheduler.ReduceLROnPlateau(opt)], [3])


# ------------------------------------------------------------------- in fit
class RecordLR(Callback):
    def on_train_begin(self, logs=None):
        self.lrs = []

    def on_batch_begin(self, batch, logs=None):
        self.lrs.append(self.trainer.optimizer.param_groups[0]["lr"])


def _fit(fast_path, make_schedule, epochs=4, n=70, batch_size=8):
    data = np.random.default_rng(0)
    X, y = data.normal(size=(n, 4)), data.integers(0, 3, n)
    bp.manual_seed(3)
    model = nn.Sequential(nn.Dense(4, 12, activation="relu", dtype="float64"), nn.Dense(12, 3, dtype="float64"))
    opt = optim.Adam(model.parameters(), lr=0.01)
    record = RecordLR()
    trainer = Trainer(model, loss="cross_entropy", optimizer=opt, batch_size=batch_size, verbose=0,
                      fast_path=fast_path, callbacks=[LearningRateScheduler(make_schedule(opt)), record])
    history = trainer.fit(X, y, epochs=epochs, seed=1)
    return record.lrs, history.history["loss"], [p.data.copy() for p in model.parameters()]


def test_fit_steps_a_per_batch_schedule_after_every_batch_with_torch_s_values():
    steps = 4 * 9  # 70 examples in batches of 8: 9 steps per epoch
    lrs, _, _ = _fit(True, lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=4, steps_per_epoch=9))
    reference = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(reference, max_lr=0.05, epochs=4, steps_per_epoch=9)
    expected = []
    for _ in range(steps):
        expected.append(reference.param_groups[0]["lr"])
        reference.step()
        schedule.step()
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


@pytest.mark.parametrize("make_schedule", [
    lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=36),
    lambda opt: _warm_up_then(lr_scheduler, opt, "cosine"),
    lambda opt: lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),  # per epoch, for comparison
], ids=["one_cycle", "warm_up_cosine", "step_per_epoch"])
def test_the_fast_path_honours_per_step_learning_rates(make_schedule):
    fast_lrs, fast_loss, fast_weights = _fit(True, make_schedule)
    engine_lrs, engine_loss, engine_weights = _fit(False, make_schedule)
    assert fast_lrs == engine_lrs
    np.testing.assert_allclose(fast_loss, engine_loss, rtol=1e-10)
    for a, b in zip(fast_weights, engine_weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    per_epoch = make_schedule(optim.SGD([bp.Tensor(np.zeros(1), requires_grad=True)], lr=0.01)).interval == "epoch"
    assert len(set(fast_lrs)) == (4 if per_epoch else len(fast_lrs))


def test_a_schedule_can_be_told_to_step_per_epoch():
    def per_epoch(opt):
        schedule = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3, interval="epoch")
        return schedule

    lrs, _, _ = _fit(True, per_epoch)
    np.testing.assert_allclose(sorted(set(lrs)), [0.0025, 0.005, 0.0075, 0.01])
