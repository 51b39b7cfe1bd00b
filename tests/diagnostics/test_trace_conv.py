"""bp.trace and the GradientMonitor on conv networks: the shared θ, z, δ and ∂J/∂θ summed over the
positions that share θ (the sum rule across paths), checked against the engine and against sums
written out by hand."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.diagnostics import DiagnosticsWarning, GradientMonitor, trace
from backprop.engine.ops import conv as conv_ops


def conv_network(conv_kwargs=None, dtype="float64"):
    bp.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, activation="relu", dtype=dtype, **(conv_kwargs or {"padding": 1})), nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2, dtype=dtype), nn.Tanh(), nn.GlobalAvgPool2d(), nn.Dense(4, 3, dtype=dtype))


def images(n=5, shape=(2, 8, 8), seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape))


CONV_SETTINGS = [{"padding": 1}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": "same"},
                 {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 0)}]


@pytest.mark.parametrize("settings", CONV_SETTINGS, ids=str)
def test_the_four_equations_hold_for_a_conv_network(settings):
    settings = dict(settings)
    kernel = settings.pop("kernel_size", 3)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, kernel, activation="relu", dtype="float64", **settings), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 2, dtype="float64"), nn.Tanh(), nn.GlobalAvgPool2d(),
                          nn.Dense(4, 3, dtype="float64"))
    t = trace(model, images(), np.array([0, 1, 2, 1, 0]), loss="cross_entropy")
    assert [layer.W.shape for layer in t.layers] == [(3, 2, *np.broadcast_to(kernel, 2)), (4, 3, 2, 2), (3, 4)]
    assert t.max_residual < 1e-12, t.residuals
    assert set(t.residuals["hidden_delta"]) == {1, 2} and set(t.residuals["weight_gradient"]) == {1, 2, 3}
    text = str(t)
    assert "Conv2d 2 → 3" in text and "MaxPool2d, then Conv2d 3 → 4" in text and "Σ_(n,r,c)" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_one_image_and_conv1d_are_traced():
    model = conv_network()
    single = trace(model, images(1)[0], 2, loss="cross_entropy")
    assert single.single and single.layers[0].z.shape == (3, 8, 8) and single.max_residual < 1e-12
    bp.manual_seed(1)
    sequences = nn.Sequential(nn.Conv1d(2, 3, 3, padding="same", dilation=2, activation="sigmoid", dtype="float64"),
                              nn.Flatten(), nn.Dense(30, 1, dtype="float64"))
    t = trace(sequences, images(4, (2, 10)), np.ones(4), loss="mse")
    assert t.layers[0].dW.shape == (3, 2, 3) and t.max_residual < 1e-12


def test_the_weight_gradient_is_the_sum_over_every_position_sharing_W():
    # Written out: ∂J/∂W[o,k,i,j] = Σ_{n,r,c} δ[n,o,r,c] · a[n,k,r·s+i,c·s+j] on the padded input.
    bp.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 2, 3, stride=2, padding=1, dtype="float64"), nn.Flatten(),
                          nn.Dense(2 * 3 * 3, 1, dtype="float64"))
    t = trace(model, images(3, (2, 5, 6)), np.ones(3), loss="mse")
    layer = t.layers[0]
    a = np.pad(layer.a_prev, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(layer.W)
    N, O, Ho, Wo = layer.delta.shape
    for n, o, r, c, k, i, j in itertools.product(range(N), range(O), range(Ho), range(Wo), range(2), range(3),
                                                 range(3)):
        expected[o, k, i, j] += layer.delta[n, o, r, c] * a[n, k, 2 * r + i, 2 * c + j]
    np.testing.assert_allclose(layer.dW, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.db, layer.delta.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_the_residuals_catch_a_wrong_conv_gradient(monkeypatch):
    # The trace's formulas do not reuse the engine's conv backward: a wrong engine shows up.
    backward = conv_ops._conv2d_backward

    def off_by_one_percent(*args, **kwargs):
        grad_x, grad_W, grad_b = backward(*args, **kwargs)
        return grad_x * 1.01 if grad_x is not None else None, grad_W, grad_b

    model = conv_network()
    assert trace(model, images(), np.array([0, 1, 2, 1, 0]), loss="cross_entropy").max_residual < 1e-12
    monkeypatch.setattr(conv_ops, "_conv2d_backward", off_by_one_percent)
    t = trace(model, images(), np.array([0, 1, 2, 1, 0]), loss="cross_entropy")
    assert t.residuals["hidden_delta"][1] > 1e-6


def test_the_gradient_monitor_watches_conv_layers():
    X = images(64, (2, 8, 8)).astype(np.float32)
    y = (X[:, 0].mean(axis=(1, 2)) > 0).astype(int)
    model = conv_network(dtype="float32")
    monitor = GradientMonitor(probe=(X[:32], y[:32]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticsWarning)
        model.fit(X, y, loss="cross_entropy", epochs=2, batch_size=16, verbose=0, callbacks=[monitor])
    assert monitor.probe_used
    assert [description for _, description in monitor.layers] == [
        "Conv2d 2 → 3, 3×3 kernel, padding 1, relu", "Conv2d 3 → 4, 2×2 kernel, tanh", "4 → 3, identity"]
    assert monitor.weight_sizes == [3 * 2 * 9, 4 * 3 * 4, 12]
    for quantity in ("grad_norm", "update_ratio"):
        assert all(len(values) == 2 and all(v > 0 for v in values) for values in monitor.history[quantity].values())
    dead = monitor.history["dead_relu"]["layer 1"]  # a conv unit is a channel, at every position
    assert len(dead) == 2 and all(share in (0.0, 1 / 3, 2 / 3, 1.0) for share in dead)
    assert "layer 1" in monitor.history["saturated"] or "layer 2" in monitor.history["saturated"]
    assert [line.split()[1] for line in monitor.report().splitlines() if line[:2] in ("1 ", "2 ")] == ["relu", "tanh"]


def test_a_conv_layer_started_at_zero_is_reported_as_symmetric():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, weight_init="zeros"), nn.GlobalAvgPool2d(), nn.Dense(4, 2))
    X = images(16, (1, 6, 6)).astype(np.float32)
    monitor = GradientMonitor(warn=False)
    model.fit(X, np.arange(16) % 2, loss="cross_entropy", epochs=1, verbose=0, callbacks=[monitor])
    assert any("symmetric initialisation" in message and "layer 1" in message for message in monitor.warnings)
