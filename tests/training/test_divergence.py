"""Divergence is never silent: a NaN/inf cost or a finite blow-up raises TrainingDivergedError."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.training import TerminateOnNaN, Trainer, TrainingDivergedError

from training_helpers import mlp


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def test_a_nan_cost_raises_by_default():
    X, y = _data()
    model = mlp(4, 16, 3)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match=r"training diverged: the cost became (nan|inf)") as caught:
        model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=1e4), epochs=5, verbose=0,
                  divergence_factor=None)  # (by default the blow-up before the NaN is caught first)
    error = caught.value
    assert isinstance(error, ValueError) and not math.isfinite(error.loss)
    assert "lr=10000" in str(error) and "TerminateOnNaN" in str(error)


def test_with_terminate_on_nan_the_run_stops_quietly_as_in_keras():
    X, y = _data()
    model = mlp(4, 16, 3)
    guard = TerminateOnNaN()
    with np.errstate(all="ignore"):
        history = model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=1e4),
                            epochs=5, verbose=0, callbacks=[guard], divergence_factor=None)
    assert guard.stopped_batch is not None
    assert len(history.history["loss"]) <= 5


def test_a_finite_blow_up_raises_too():
    """Adam at lr=1e6 drives the cost to ~1e13 while it stays finite."""
    X, y = _data()
    model = mlp(4, 32, 3)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="the cost rose to .* over 1e\\+06 times") as caught:
        model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e6), epochs=5, verbose=0)
    assert math.isfinite(caught.value.loss) and caught.value.loss > 1e6
    assert caught.value.epoch == 0  # caught in the first epoch, not after the run


def test_also_with_terminate_on_nan_a_finite_blow_up_raises():
    X, y = _data()
    model = mlp(4, 32, 3)
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="the cost rose"):
        model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e6), epochs=5,
                  verbose=0, callbacks=[TerminateOnNaN()])


def test_the_blow_up_check_can_be_turned_off_and_healthy_runs_never_trip_it():
    X, y = _data()
    model = mlp(4, 32, 3)
    with np.errstate(all="ignore"):
        history = model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e6),
                            epochs=2, verbose=0, divergence_factor=None)
    assert len(history.history["loss"]) == 2
    for lr in (1e-3, 0.1, 1.0):  # aggressive but healthy rates, including Adam's early spike at lr=1
        model = mlp(4, 32, 3)
        model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=lr), epochs=10,
                  batch_size=8, verbose=0)


@pytest.mark.parametrize("bad", [0.5, 1, float("inf"), float("nan"), "big", True])
def test_divergence_factor_is_checked(bad):
    with pytest.raises(ValueError, match="divergence_factor"):
        Trainer(mlp(2, 2), loss="mse", divergence_factor=bad)


def test_a_weight_that_overflows_at_the_last_step_is_reported():
    X = np.ones((4, 1), dtype=np.float32)
    y = np.ones((4, 1), dtype=np.float32)
    bp.manual_seed(0)
    model = nn.Dense(1, 1)

    class Explode(optim.SGD):
        def _update(self, W, g, state, group):
            W[...] = np.inf  # a step that leaves a weight infinite although this batch's cost was finite

    with pytest.raises(TrainingDivergedError, match="weight .* no longer finite"):
        # A bare layer trains through bp.fit (it has no fit of its own: it is no Model).
        bp.fit(model, X, y, loss="mse", optimizer=Explode(model.parameters(), lr=0.1), epochs=1, batch_size=None,
               verbose=0)
