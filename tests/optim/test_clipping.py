"""Gradient clipping: PyTorch's clip_grad_norm_/clip_grad_value_, Keras's clipnorm/clipvalue/global_clipnorm."""

import math
import os

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import nn, optim
from backprop.optim import OPTIMIZERS, get_optimizer
from backprop.optim.optimizer import Optimizer
from backprop.training import Trainer

rng = np.random.default_rng(0)
SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def _gradients(scale=5.0):
    return [scale * rng.normal(size=shape) for shape in SHAPES]


def _ours(grads, none_at=None):
    params = []
    for k, g in enumerate(grads):
        p = bp.Tensor(np.zeros_like(g), requires_grad=True)
        p.grad = None if k == none_at else g.copy()
        params.append(p)
    return params


def _theirs(grads, none_at=None):
    params = []
    for k, g in enumerate(grads):
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = None if k == none_at else torch.tensor(g.copy())
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_is_torch_s(norm_type, max_norm):
    grads = _gradients()
    ours, theirs = _ours(grads, none_at=1), _theirs(grads, none_at=1)
    total = bp.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12, atol=0)


def test_clip_grad_value_is_torch_s_and_takes_a_single_tensor():
    grads = _gradients()
    ours, theirs = _ours(grads), _theirs(grads)
    bp.nn.utils.clip_grad_value_(ours, 2.5)
    torch.nn.utils.clip_grad_value_(theirs, 2.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())
    single = _ours(grads)[0]
    assert bp.nn.utils.clip_grad_norm_(single, 1.0) == pytest.approx(np.linalg.norm(grads[0]))
    assert np.linalg.norm(single.grad) == pytest.approx(1.0 / (1 + 1e-6 / np.linalg.norm(grads[0])))


def test_clip_grad_norm_non_finite_and_bad_arguments():
    grads = _gradients()
    grads[0][0, 0] = np.inf
    params = _ours(grads)
    with pytest.raises(ValueError, match="non-finite"):
        bp.nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad, grads[1])  # nothing changed
    with pytest.raises(ValueError, match="max_norm"):
        bp.nn.utils.clip_grad_norm_(params, 0.0)
    with pytest.raises(ValueError, match="clip_value"):
        bp.nn.utils.clip_grad_value_(params, -1.0)
    with pytest.raises(TypeError, match="Tensors"):
        bp.nn.utils.clip_grad_norm_([np.zeros(3)], 1.0)
    assert bp.nn.utils.clip_grad_norm_(_ours(grads, none_at=None)[:0], 1.0) == 0.0


# ------------------------------------------------------------ the optimisers' clipping (Keras's)
def _keras_clipped(grads, setting, value):
    """Keras 3's formulas (keras/src/optimizers/base_optimizer.py)."""
    if setting == "clipnorm":
        return [g * value / max(np.sqrt(np.sum(g * g)), value) for g in grads]
    if setting == "global_clipnorm":
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * (value * min(1.0 / norm, 1.0 / value)) for g in grads]
    return [np.clip(g, -value, value) for g in grads]


def _step(name, steps, packed, **clipping):
    """Three optimiser steps, each on its own gradients; returns the weights and the optimiser."""
    params = _ours(steps[0])
    grads = [p.grad for p in params]
    if packed:  # the layout the fast path gives: weights and gradients slices of one flat array each
        from backprop.optim.packing import packed_like
        optim.pack_parameters(params)
        grads = packed_like([p.data for p in params])
    opt = get_optimizer(name, params, **clipping)
    for step in steps:
        for p, view, g in zip(params, grads, step):
            view[...] = g
            p.grad = view
        opt.step()
        for p, g in zip(params, step):
            np.testing.assert_array_equal(p.grad, g)  # the optimiser clips into its own work arrays
    return [p.data.copy() for p in params], opt


def _three_steps():
    steps = [_gradients() for _ in range(3)]
    steps[1][1] *= 1e-3  # a gradient inside the bounds: clipnorm leaves it alone
    return steps


@pytest.mark.parametrize("packed", [False, True], ids=["per parameter", "packed"])
@pytest.mark.parametrize("setting, value", [("clipnorm", 1.0), ("global_clipnorm", 2.0), ("clipvalue", 0.3)])
@pytest.mark.parametrize("name", [cls.name for cls in OPTIMIZERS])
def test_every_optimiser_clips_with_keras_s_meaning(name, setting, value, packed):
    steps = _three_steps()
    clipped, opt = _step(name, steps, packed, **{setting: value})
    assert getattr(opt.clipping, setting) == value
    expected, _ = _step(name, [_keras_clipped(grads, setting, value) for grads in steps], packed)
    for a, b in zip(clipped, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    unclipped, _ = _step(name, steps, packed)
    assert any(not np.allclose(a, b) for a, b in zip(clipped, unclipped))  # the clipping did something


@pytest.mark.parametrize("name", [cls.name for cls in OPTIMIZERS])
def test_clipping_settings_are_checked(name):
    params = _ours(_gradients())
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        get_optimizer(name, params, clipnorm=1.0, clipvalue=1.0)
    for setting in ("clipnorm", "clipvalue", "global_clipnorm"):
        with pytest.raises(ValueError, match=setting):
            get_optimizer(name, params, **{setting: -1.0})
    assert get_optimizer(name, params).clipping is None


def test_a_non_finite_global_norm_makes_the_step_nan_as_in_keras():
    grads = _gradients()
    grads[2][0, 0] = np.nan
    params = _ours(grads)
    optim.SGD(params, lr=0.1, global_clipnorm=1.0).step()
    assert all(np.isnan(p.data).all() for p in params)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_optimiser_clipping_matches_keras_itself():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    keras = pytest.importorskip("keras")
    grads = [g.astype(np.float32) for g in _gradients()]
    for setting, value in [("clipnorm", 1.0), ("global_clipnorm", 2.0), ("clipvalue", 0.3)]:
        variables = [keras.Variable(np.zeros(g.shape, dtype="float32")) for g in grads]
        keras.optimizers.SGD(learning_rate=0.5, **{setting: value}).apply_gradients(zip(grads, variables))
        params = [bp.Tensor(np.zeros(g.shape, dtype=np.float32), requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.copy()
        optim.SGD(params, lr=0.5, **{setting: value}).step()
        for p, v in zip(params, variables):
            np.testing.assert_allclose(p.data, np.asarray(v.numpy()), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("setting, value", [("clipnorm", 0.05), ("global_clipnorm", 0.1), ("clipvalue", 0.01)])
def test_fit_clips_on_the_fast_path_as_on_the_engine(setting, value, monkeypatch):
    data = np.random.default_rng(3)
    X = data.normal(size=(60, 5))
    y = data.integers(0, 3, 60)
    packed_steps = {"n": 0}
    original = Optimizer._step_packed

    def counted(self, *args):
        packed_steps["n"] += 1
        return original(self, *args)

    monkeypatch.setattr(Optimizer, "_step_packed", counted)
    results = []
    for fast in (True, False):
        bp.manual_seed(1)
        model = nn.Sequential(nn.Dense(5, 16, activation="relu", dtype="float64"), nn.Dense(16, 3, dtype="float64"))
        opt = optim.Adam(model.parameters(), lr=0.05, **{setting: value})
        history = Trainer(model, loss="cross_entropy", optimizer=opt, batch_size=8, verbose=0,
                          fast_path=fast).fit(X, y, epochs=3, seed=2)
        results.append((history.history["loss"], [p.data.copy() for p in model.parameters()]))
        if fast:
            assert packed_steps["n"] == 3 * 8  # the fast path's packed update ran, with clipping
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    bp.manual_seed(1)
    model = nn.Sequential(nn.Dense(5, 16, activation="relu", dtype="float64"), nn.Dense(16, 3, dtype="float64"))
    unclipped = Trainer(model, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=0.05),
                        batch_size=8, verbose=0).fit(X, y, epochs=3, seed=2).history["loss"]
    assert not np.allclose(unclipped, results[0][0])


def test_a_checkpoint_records_the_clipping(tmp_path):
    from backprop.training.checkpoint import CheckpointMismatchError

    data = np.random.default_rng(4)
    X, y = data.normal(size=(20, 3)), data.integers(0, 2, 20)
    path = tmp_path / "run.ckpt"

    def run(**clipping):
        bp.manual_seed(0)
        model = nn.Sequential(nn.Dense(3, 2))
        model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.1, **clipping),
                  epochs=2, verbose=0, checkpoint=path, seed=0)

    run(clipnorm=0.5)
    with pytest.raises(CheckpointMismatchError, match="clipping"):
        run(clipnorm=2.0)


def test_the_docstring_examples_run():
    import doctest

    import backprop.nn.utils

    assert doctest.testmod(backprop.nn.utils).failed == 0
