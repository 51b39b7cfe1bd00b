"""GradientMonitor: the problems of the notes are found, and healthy training is left alone."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.datasets import load_digits
from backprop.diagnostics import DiagnosticsWarning, GradientMonitor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:600] / 16.0, y[:600]


def deep_network(activation, weight_init, depth=10, width=16, n_in=64, n_out=10):
    layers = [nn.Dense(n_in, width, activation=activation, weight_init=weight_init)]
    layers += [nn.Dense(width, width, activation=activation, weight_init=weight_init) for _ in range(depth - 2)]
    layers.append(nn.Dense(width, n_out, weight_init=weight_init))
    return nn.Sequential(*layers)


def train(model, X, y, monitor, *, lr=0.1, epochs=2, batch_size=64):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticsWarning)
        model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=lr), epochs=epochs,
                  batch_size=batch_size, verbose=0, callbacks=[monitor])
    return monitor


def kinds(monitor):
    found = set()
    for message in monitor.warnings:
        for kind in ("vanishing", "exploding", "symmetric", "learning rate", "dead ReLUs"):
            if kind in message:
                found.add(kind)
    return found


def test_a_deep_sigmoid_network_with_standard_normal_weights_has_vanishing_gradients(digits):
    X, y = digits
    bp.manual_seed(0)
    model = deep_network("sigmoid", {"name": "normal", "std": 1.0})
    monitor = GradientMonitor(probe=(X[:128], y[:128]))
    with pytest.warns(DiagnosticsWarning, match="vanishing gradients") as record:
        model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2,
                  batch_size=64, verbose=0, callbacks=[monitor])
    assert "vanishing" in kinds(monitor)
    vanishing = [m for m in monitor.warnings if "vanishing" in m]
    assert len(vanishing) == 1  # once, although every epoch shows it
    assert "Use ReLU and He initialisation, or batch normalisation." in vanishing[0]
    assert sum("vanishing" in str(w.message) for w in record) == 1
    # the recorded norms show it too: per weight, layer 1 gets a tiny share of layer 10's gradient
    first, last = monitor.history["grad_norm"]["layer 1"][0], monitor.history["grad_norm"]["layer 10"][0]
    sizes = monitor.weight_sizes
    assert (first / math.sqrt(sizes[0])) / (last / math.sqrt(sizes[-1])) < 1e-2
    assert set(monitor.history["saturated"]) == {f"layer {m}" for m in range(1, 10)}


def test_the_same_depth_with_relu_and_he_initialisation_does_not(digits):
    X, y = digits
    bp.manual_seed(0)
    monitor = train(deep_network("relu", "he_normal"), X, y, GradientMonitor(probe=(X[:128], y[:128])))
    assert "vanishing" not in kinds(monitor) and "exploding" not in kinds(monitor)
    assert "symmetric" not in kinds(monitor) and "learning rate" not in kinds(monitor)
    assert len(monitor.history["grad_norm"]["layer 1"]) == 2
    assert set(monitor.history["dead_relu"]) == {f"layer {m}" for m in range(1, 10)}


@pytest.mark.parametrize("weight_init", ["zeros", {"name": "constant", "value": 0.05}])
def test_zero_or_equal_initialisation_is_symmetric(digits, weight_init):
    X, y = digits
    model = nn.Sequential(nn.Dense(64, 16, activation="tanh", weight_init=weight_init),
                          nn.Dense(16, 10, weight_init=weight_init))
    monitor = train(model, X, y, GradientMonitor(), epochs=1)
    assert "symmetric" in kinds(monitor)
    message = next(m for m in monitor.warnings if "symmetric" in m)
    assert "neurons of a layer stay identical" in message
    assert "he_normal/xavier_normal" in message
    # and the neurons did stay identical: every row of W^1 is still the same (up to float32 rounding)
    W = model[0].W.data
    np.testing.assert_allclose(W, np.broadcast_to(W[0], W.shape), rtol=1e-4, atol=1e-6)


def test_random_initialisation_is_not_symmetric(digits):
    X, y = digits
    bp.manual_seed(1)
    model = nn.Sequential(nn.Dense(64, 16, activation="tanh"), nn.Dense(16, 10))
    monitor = train(model, X, y, GradientMonitor(), epochs=1)
    assert "symmetric" not in kinds(monitor)


def test_learning_rate_10_on_the_digits_diverges(digits):
    X, y = load_digits()
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    monitor = GradientMonitor(probe=(X[:256], y[:256]))
    with pytest.warns(DiagnosticsWarning) as record:
        model.fit(X, y, loss="cross_entropy", optimizer=optim.SGD(model.parameters(), lr=10.0), epochs=3,
                  batch_size=32, verbose=0, callbacks=[monitor])
    assert [str(w.message) for w in record] == monitor.warnings
    message = next(m for m in monitor.warnings if "learning rate too high" in m)
    assert "Lower the learning rate, e.g. by 10×." in message
    assert "learning rate" in monitor.report()


def test_a_healthy_run_gets_no_warning_and_a_readable_report(digits):
    X, y = digits
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    monitor = GradientMonitor(probe=(X[:128], y[:128]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticsWarning)
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=32, verbose=0,
                  callbacks=[monitor])
    assert monitor.warnings == []
    assert set(monitor.history) == {"grad_norm", "update_ratio", "dead_relu", "saturated"}
    for quantity in ("grad_norm", "update_ratio"):
        assert set(monitor.history[quantity]) == {"layer 1", "layer 2"}
        assert all(len(v) == 3 and all(x > 0 for x in v) for v in monitor.history[quantity].values())
    assert len(monitor.losses) == 3
    report = monitor.report()
    assert "No problems found" in report
    assert max(len(line) for line in report.splitlines()) <= 80


def test_without_a_probe_or_gradients_the_norms_come_from_the_probe():
    """A training step that leaves no .grad (a fused fast path) still gets norms from the probe."""
    from backprop.training.loop import Trainer

    class NoGradTrainer(Trainer):
        def _train_step(self, x_batch, y_batch, w_batch):
            loss = super()._train_step(x_batch, y_batch, w_batch)
            self.optimizer.zero_grad()
            return loss

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, size=64)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(3, 4, activation="tanh"), nn.Dense(4, 2))
    with_probe = GradientMonitor(probe=(X, y))
    NoGradTrainer(model, loss="cross_entropy", optimizer="sgd", callbacks=[with_probe], verbose=0).fit(X, y, epochs=2)
    assert all(v > 0 for v in with_probe.history["grad_norm"]["layer 1"])
    without = GradientMonitor()
    NoGradTrainer(model, loss="cross_entropy", optimizer="sgd", callbacks=[without], verbose=0).fit(X, y, epochs=1)
    assert math.isnan(without.history["grad_norm"]["layer 1"][0])
    assert "—" in without.report()


def test_a_monitor_can_be_reused_on_another_network():
    import numpy as np

    import backprop as bp
    from backprop import nn

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    monitor = bp.GradientMonitor(probe=(X, y))
    for hidden in ([8], [8, 8]):
        bp.manual_seed(0)
        sizes = [4] + hidden
        layers = [nn.Dense(a, b, activation="relu") for a, b in zip(sizes, sizes[1:])] + [nn.Dense(sizes[-1], 3)]
        nn.Sequential(*layers).fit(X, y, loss="cross_entropy", epochs=2, verbose=0, callbacks=[monitor])
    assert len(monitor.history["grad_norm"]) == 3


# ------------------------------------------------------------- advice that fits the network

def test_equal_weights_get_initialisation_advice_not_relu_advice(digits):
    X, y = digits
    model = deep_network("relu", {"name": "constant", "value": 0.05}, depth=4, width=32)
    monitor = train(model, X, y, GradientMonitor(probe=(X[:128], y[:128])), epochs=2)
    assert "symmetric" in kinds(monitor)
    for message in monitor.warnings:
        assert "Use ReLU" not in message, message
    vanishing = [m for m in monitor.warnings if "vanishing" in m]
    assert vanishing and "start all equal" in vanishing[0] and "random initialisation" in vanishing[0]


def test_zero_weights_explain_the_dead_relus(digits):
    X, y = digits
    monitor = train(deep_network("relu", "zeros", depth=4, width=32), X, y,
                    GradientMonitor(probe=(X[:128], y[:128])), epochs=2)
    dead = next(m for m in monitor.warnings if "dead ReLUs" in m)
    assert "started at zero" in dead and "Lower the learning rate" not in dead
    assert not any("Use ReLU" in m for m in monitor.warnings)


def vanishing_advice(model, probe=None) -> str:
    """The advice the monitor gives for vanishing gradients in ``model`` (as at the start of training)."""
    from backprop.diagnostics.monitor import _watched_layers

    monitor = GradientMonitor(warn=False)
    monitor.model = model
    monitor._groups, _ = _watched_layers(model)
    monitor._probe = None if probe is None else (np.asarray(probe, dtype=np.float32), None)
    monitor._check_symmetry()
    return monitor._vanishing_advice()


def test_the_advice_for_vanishing_gradients_fits_the_network(digits):
    X, _ = digits
    bp.manual_seed(0)
    relu = deep_network("relu", "he_normal", depth=4, width=32)
    assert "already uses ReLU" in vanishing_advice(relu, X[:128]) and "Use ReLU" not in vanishing_advice(relu)
    for dense in (relu[0], relu[1]):
        dense.b.data[...] = -100.0  # z < 0 for every example: dead ReLUs, as after a too-large step
    assert "ReLUs are dead" in vanishing_advice(relu, X[:128])
    assert "Use ReLU and He" in vanishing_advice(deep_network("sigmoid", "xavier_normal", depth=4))
    assert "start all zero" in vanishing_advice(deep_network("relu", "zeros", depth=4))
    assert "He or Xavier" in vanishing_advice(deep_network(None, {"name": "normal", "std": 0.01}, depth=4))


def test_a_deep_linear_network_with_large_weights_is_told_its_activations_explode(digits):
    X, y = digits
    bp.manual_seed(0)
    model = deep_network(None, {"name": "normal", "std": 0.5}, depth=8, width=32)
    monitor = train(model, X, y, GradientMonitor(probe=(X[:128], y[:128])), lr=1e-5, epochs=2)
    assert monitor.losses[0] > 100  # the loss is in the thousands, and nothing else would warn
    message = next(m for m in monitor.warnings if "exploding activations" in m)
    assert "in layer 8" in message and "Xavier/He initialisation" in message
    # The same network with Xavier's σ keeps z at the input's scale: no warning.
    bp.manual_seed(0)
    healthy = train(deep_network(None, "xavier_normal", depth=8, width=32), X, y,
                    GradientMonitor(probe=(X[:128], y[:128])), lr=1e-2, epochs=2)
    assert not any("exploding" in m for m in healthy.warnings)


@pytest.mark.parametrize("position", [0, 1])
def test_a_step_layer_is_said_to_have_no_gradient_not_to_vanish(digits, position):
    X, y = digits
    bp.manual_seed(0)
    activations = ["relu", "relu"]
    activations[position] = "step"
    model = nn.Sequential(nn.Dense(64, 16, activation=activations[0]), nn.Dense(16, 16, activation=activations[1]),
                          nn.Dense(16, 10))
    before = [dense.W.data.copy() for dense in (model[0], model[1])]
    monitor = train(model, X, y, GradientMonitor(probe=(X[:128], y[:128])), epochs=1)
    message = next(m for m in monitor.warnings if "step function has no gradient" in m)
    assert f"layer {position + 1} applies step" in message
    assert ("layer 1 never learn" if position == 0 else "layers 1 to 2 never learn") in message
    assert not any("vanishing" in m for m in monitor.warnings)
    # and it is so: the weights up to the step layer never moved
    for dense, W in zip((model[0], model[1])[:position + 1], before):
        np.testing.assert_array_equal(dense.W.data, W)


def test_noise_on_a_loss_near_zero_is_not_a_learning_rate_problem():
    # Seen in the playground: Adam on the circle falls from 0.7 to 0.0092, then an epoch at 0.0176.
    monitor = GradientMonitor(warn=False)
    monitor._start_loss, monitor._best_loss = 0.7, 0.0092
    monitor._check_loss(0.0176, 16)
    assert monitor.warnings == []
    monitor._check_loss(0.5, 17)  # most of the way back up: the steps overshoot
    assert len(monitor.warnings) == 1 and "learning rate too high" in monitor.warnings[0]
    never_fell = GradientMonitor(warn=False)
    never_fell._start_loss, never_fell._best_loss = 2.3, 2.3
    never_fell._check_loss(4.0, 2)
    assert "learning rate too high" in never_fell.warnings[0]
