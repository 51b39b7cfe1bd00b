"""backprop.plot.gradients.gradient_norms: a PNG of the per-layer gradient norms."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import backprop as bp  # noqa: E402
from backprop import nn  # noqa: E402
from backprop.diagnostics import GradientMonitor  # noqa: E402
from backprop.plot.gradients import gradient_norms  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def trained_monitor():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 3, size=64)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(3, 8, activation="relu"), nn.Dense(8, 8, activation="relu"), nn.Dense(8, 3))
    monitor = GradientMonitor()
    model.fit(X, y, loss="cross_entropy", epochs=4, batch_size=16, verbose=0, callbacks=[monitor])
    return monitor


def test_the_plot_is_a_valid_png_with_one_line_per_layer(tmp_path):
    monitor = trained_monitor()
    path = tmp_path / "gradients.png"
    figure = gradient_norms(monitor, path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    (axes,) = figure.axes
    assert axes.get_yscale() == "log"
    assert [line.get_label() for line in axes.get_lines()] == ["layer 1", "layer 2", "layer 3"]
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary file left


def test_history_and_plain_dicts_are_accepted_and_not_finite_norms_are_skipped():
    monitor = trained_monitor()
    assert len(gradient_norms(monitor.history).axes[0].get_lines()) == 3
    figure = gradient_norms({"layer 1": [2e-3, 1e-3], "layer 2": [0.5, float("nan")]})
    assert [len(line.get_xdata()) for line in figure.axes[0].get_lines()] == [2, 1]


def test_a_gradient_of_zero_is_drawn_at_the_floor_and_marked():
    # A step layer (f′ = 0) or dead layer: its norm is exactly 0, which a log scale cannot show.
    figure = gradient_norms({"layer 1": [0.0, 0.0, 0.0], "layer 2": [3e-3, 2e-3, 1e-3], "layer 3": [0.5, 0.4, 0.3]})
    (axes,) = figure.axes
    layer1, layer2, layer3, floor_line = axes.get_lines()
    assert layer1.get_label() == "layer 1 (0 at the floor)" and layer2.get_label() == "layer 2"
    floor = 1e-4  # a decade below the smallest positive norm, 1e-3
    np.testing.assert_allclose(layer1.get_ydata(), [floor] * 3)
    np.testing.assert_allclose(floor_line.get_ydata(), [floor, floor])
    assert axes.get_ylim()[0] <= floor
    assert any(tuple(marker.get_offsets()[0]) == (1.0, floor) for marker in axes.collections)  # ▼ markers
    assert any("∂J/∂W = 0" in text.get_text() for text in axes.texts)


def test_the_legend_of_a_deep_network_stands_beside_the_lines(tmp_path):
    norms = {f"layer {m}": [10.0 ** -m, 10.0 ** -m] for m in range(1, 13)}
    figure = gradient_norms(norms, tmp_path / "deep.png")
    (axes,) = figure.axes
    figure.canvas.draw()
    legend, box = axes.get_legend().get_window_extent(), axes.get_window_extent()
    assert legend.x0 >= box.x1  # right of the axes: it covers no line


def test_nothing_to_plot_is_an_error():
    with pytest.raises(ValueError, match="no gradient norms"):
        gradient_norms(GradientMonitor())
    with pytest.raises(TypeError):
        gradient_norms([1, 2, 3])
