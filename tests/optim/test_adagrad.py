"""Adagrad: PyTorch's trajectory, its compiled kernel bit for bit, and by name in fit, checkpoints and the CLI.

(The registry's generic tests in test_optimizer_registry.py also cover it.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import jit, optim

from test_compiled_updates import _trajectory
from test_optim_torch_parity import train

CONFIGS = [{}, {"lr": 0.1}, {"lr": 0.1, "lr_decay": 0.05}, {"lr": 0.05, "weight_decay": 0.1},
           {"lr": 0.05, "initial_accumulator_value": 0.3, "eps": 1e-6}]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_adagrad_follows_pytorch(kwargs):
    pytest.importorskip("torch")
    ours, _ = train("backprop", "Adagrad", kwargs)
    theirs, _ = train("torch", "Adagrad", kwargs)
    for step_ours, step_theirs in zip(ours, theirs):
        for a, b in zip(step_ours, step_theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_the_compiled_update_is_numpy_bit_for_bit(kwargs, dtype, packed):
    weights, state = _trajectory(optim.Adagrad, kwargs, dtype, packed, compiled=True)
    expected, expected_state = _trajectory(optim.Adagrad, kwargs, dtype, packed, compiled=False)
    for w, e in zip(weights, expected):
        assert w.dtype == e.dtype and np.array_equal(w, e)
    for index, entries in state["state"].items():
        for name, value in entries.items():
            assert np.array_equal(value, expected_state["state"][index][name]), name


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), True])
@pytest.mark.parametrize("name", ["lr_decay", "weight_decay", "initial_accumulator_value", "eps"])
def test_bad_hyper_parameters_are_refused(name, value):
    with pytest.raises(ValueError, match=f"Adagrad: {name} must be"):
        optim.Adagrad([bp.Tensor(np.ones(2), requires_grad=True)], **{name: value})


def test_adagrad_by_name_in_fit_and_a_resumed_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 3))
    y = (X.sum(axis=1) > 0).astype(int)

    def model():
        bp.manual_seed(0)
        return bp.nn.Sequential(bp.nn.Dense(3, 8, activation="relu"), bp.nn.Dense(8, 2))

    straight = model()
    straight.fit(X, y, loss="cross_entropy", optimizer="adagrad", epochs=4, batch_size=16, verbose=0, seed=1)
    resumed, path = model(), tmp_path / "run.ckpt"
    resumed.fit(X, y, loss="cross_entropy", optimizer="adagrad", epochs=2, batch_size=16, verbose=0, seed=1,
                checkpoint=path)
    again = model()
    again.fit(X, y, loss="cross_entropy", optimizer="adagrad", epochs=4, batch_size=16, verbose=0, seed=1,
              checkpoint=path)
    for a, b in zip(again.parameters(), straight.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
