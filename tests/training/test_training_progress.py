"""Progress output: silent, one line per epoch, or a bar in a terminal."""

import io
import re
import sys

import pytest

from backprop.training.progress import ProgressLogger, format_logs
from training_helpers import mlp

LINE = re.compile(r"^Epoch (\d+)/3 - loss: \d+\.\d{4} - mae: \d+\.\d{4} - val_loss: \d+\.\d{4} - "
                  r"val_mae: \d+\.\d{4} - \d+\.\d\ds$")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _fit(data, verbose):
    X, y = data
    return mlp(2, 1).fit(X, y, loss="mse", epochs=3, batch_size=8, metrics=["mae"], validation_split=0.2,
                         verbose=verbose)


def test_verbose_0_prints_nothing(capsys, regression_data):
    _fit(regression_data, 0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("verbose", [1, 2])
def test_one_line_per_epoch_when_not_a_terminal(capsys, regression_data, verbose):
    history = _fit(regression_data, verbose)  # capsys's stdout is not a tty
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(LINE.match(line) for line in lines), lines
    assert [int(LINE.match(line).group(1)) for line in lines] == [1, 2, 3]
    assert f"loss: {history.history['loss'][0]:.4f}" in lines[0]


def test_verbose_2_prints_lines_even_in_a_terminal(monkeypatch, regression_data):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    _fit(regression_data, 2)
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in terminal.getvalue()


def test_verbose_1_draws_a_bar_in_a_terminal(monkeypatch, regression_data):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the built-in bar
    _fit(regression_data, 1)
    text = terminal.getvalue()
    assert "\r" in text
    finals = [part for part in text.split("\r") if part.endswith("\n")]
    assert len(finals) == 3
    assert re.search(r"Epoch 1/3 \[=+\] 6/6 - loss: \d+\.\d{4} - mae: \d+\.\d{4} - val_loss", finals[0])


def test_tqdm_bar_is_used_when_installed(regression_data):
    pytest.importorskip("tqdm")
    X, y = regression_data
    terminal = FakeTerminal()
    logger = ProgressLogger(1, stream=terminal)
    mlp(2, 1).fit(X, y, loss="mse", epochs=2, callbacks=[logger], verbose=0)
    text = terminal.getvalue()
    assert "Epoch 2/2" in text and "loss=" not in text and "loss: " in text


def test_format_logs():
    assert format_logs({"loss": 0.123456, "accuracy": 1, "tiny": 1e-6}) == \
        "loss: 0.1235 - accuracy: 1.0000 - tiny: 1.0000e-06"
    with pytest.raises(ValueError):
        ProgressLogger(3)
