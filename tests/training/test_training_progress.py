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


# --- in a real (pseudo-)terminal -------------------------------------------------------------------

_PTY_SCRIPT = """
import sys
if sys.argv[1] == "builtin":
    sys.modules["tqdm"] = None  # the built-in bar
import numpy as np
import backprop as bp
from backprop import nn
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4)).astype(np.float32)
y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
bp.manual_seed(0)
model = nn.Sequential(nn.Dense(4, 8, activation="relu"), nn.Dense(8, 2))
model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=8, metrics=["accuracy"], validation_split=0.2,
          verbose=1)
"""

_EPOCH_END = re.compile(r"Epoch (\d)/3 .*loss: \d+\.\d{4} - accuracy: \d+\.\d{4} - val_loss: \d+\.\d{4} - "
                        r"val_accuracy: \d+\.\d{4} - \d+\.\d\ds$")


def _run_in_a_terminal(bar: str, columns: int = 80) -> str:
    """Run a short fit(verbose=1) with its stdout on a pseudo-terminal ``columns`` wide; what it wrote."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "24"}
    process = subprocess.Popen([sys.executable, "-c", _PTY_SCRIPT, bar], stdout=follower, stderr=follower,
                               stdin=subprocess.DEVNULL, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
@pytest.mark.parametrize("bar", ["tqdm", "builtin"])
def test_the_end_of_epoch_line_shows_every_metric_in_an_80_column_terminal(bar):
    if bar == "tqdm":
        pytest.importorskip("tqdm")
    text = _run_in_a_terminal(bar)
    # What stays on screen: the text after the last \r of each line (ANSI clear-line codes removed).
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r\n", "\n")  # the tty writes \n as \r\n
    lines = [line.split("\r")[-1] for line in text.split("\n")]
    finals = [line for line in lines if _EPOCH_END.search(line)]
    assert [int(_EPOCH_END.search(line).group(1)) for line in finals] == [1, 2, 3], text
    assert all(len(line) > 80 for line in finals)  # longer than the terminal, and not cut


def test_the_bar_drawn_during_an_epoch_fits_the_terminal(monkeypatch):
    from backprop.training.progress import _TextBar

    monkeypatch.setenv("COLUMNS", "60")
    terminal = FakeTerminal()
    bar = _TextBar("Epoch 1/3", 10, terminal)
    bar.advance(5)
    bar.show(5, "loss: 0.1234 - accuracy: 0.9650 - val_loss: 0.1500 - val_accuracy: 0.9600")
    drawn = terminal.getvalue().replace("\033[K", "")
    assert drawn.startswith("\r") and len(drawn) - 1 < 60
    bar.close("loss: 0.1234 - accuracy: 0.9650 - val_loss: 0.1500 - val_accuracy: 0.9600", 0.5)
    assert terminal.getvalue().rstrip("\n").endswith("val_accuracy: 0.9600 - 0.50s\033[K")
