"""Learning curves: figures without pyplot, atomic PNG files, a clear error without matplotlib."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

from backprop.plot import learning_curves  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HISTORY = {
    "loss": [1.2, 0.6, 0.4, 0.3], "val_loss": [1.3, 0.8, 0.7, 0.75],
    "accuracy": [0.5, 0.7, 0.8, 0.9], "val_accuracy": [0.45, 0.6, 0.7, 0.7],
}


class FakeHistory:
    history = HISTORY


def test_loss_and_default_metric_training_against_validation():
    figure = learning_curves(HISTORY)
    loss_axes, metric_axes = figure.axes
    assert loss_axes.get_ylabel() == "loss" and metric_axes.get_ylabel() == "accuracy"
    assert [line.get_label() for line in loss_axes.get_lines()] == ["training", "validation"]
    assert list(loss_axes.get_lines()[1].get_ydata()) == HISTORY["val_loss"]
    assert list(loss_axes.get_lines()[0].get_xdata()) == [1, 2, 3, 4]


def test_accepts_a_history_object_and_an_explicit_metric():
    figure = learning_curves(FakeHistory(), metric="val_accuracy")
    assert figure.axes[1].get_ylabel() == "val_accuracy"


def test_loss_only_history_gives_one_panel():
    figure = learning_curves({"loss": [0.9, 0.5]})
    assert len(figure.axes) == 1 and len(figure.axes[0].get_lines()) == 1


def test_bad_histories_are_refused():
    with pytest.raises(ValueError, match="'loss'"):
        learning_curves({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="'f1' is not in the history"):
        learning_curves(HISTORY, metric="f1")
    with pytest.raises(TypeError, match="History"):
        learning_curves([0.5, 0.4])


def test_png_written_atomically(tmp_path):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    learning_curves(HISTORY, path)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    from matplotlib.image import imread

    assert imread(path).shape[2] in (3, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]  # no temporary file left


def test_unknown_extension_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="image format"):
        learning_curves(HISTORY, tmp_path / "curves.xyz")
    assert list(tmp_path.iterdir()) == []


def test_pyplot_is_never_imported():
    # pyplot switches a global backend and keeps figures alive; checked in a fresh
    # interpreter, as other tests may have imported pyplot in this one.
    code = ("import io, sys; from backprop.plot import learning_curves; "
            f"learning_curves({HISTORY!r}).savefig(io.BytesIO(), format='png'); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    with pytest.raises(ImportError, match=r"pip install \"backprop-nn\[plot\]\""):
        learning_curves(HISTORY)


@pytest.mark.parametrize("losses, first_bad", [
    ([2.0, 1.5, float("nan"), float("nan")], 3),
    ([float("inf"), float("nan")], 1),
])
def test_a_diverged_run_says_so_in_the_plot(losses, first_bad, tmp_path):
    figure = learning_curves({"loss": losses}, tmp_path / "diverged.png")
    (axes,) = figure.axes
    texts = [t.get_text() for t in axes.texts]
    assert any(f"not finite from epoch {first_bad}" in t for t in texts), texts
    if all(not math.isfinite(v) for v in losses):
        assert any("no finite value to draw" in t for t in texts)
    else:
        assert any(list(line.get_xdata()) == [first_bad, first_bad] for line in axes.get_lines())


def test_a_finite_run_has_no_divergence_mark():
    (axes, _) = learning_curves({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}).axes
    assert not axes.texts
