"""Progress reporting for ``fit``: a bar in a terminal, one line per epoch in logs.

``verbose`` as in Keras:

* 0 — silent;
* 1 — in a terminal (``stream.isatty()``), a progress bar per epoch showing the
  running loss and metrics (tqdm when it is installed, else a small built-in
  ``\\r`` bar); when the output is not a terminal (a log file, CI), one line per
  epoch, as with 2;
* 2 — one line per epoch::

      Epoch 3/10 - loss: 0.1234 - accuracy: 0.9650 - val_loss: 0.1500 - val_accuracy: 0.9600 - 0.21s

In a terminal, the bar drawn during an epoch is cut to the terminal's width (so that
redrawing it with ``\r`` stays on one line), but the line left at the end of each
epoch shows every metric in full, wrapping if it must.
"""

from __future__ import annotations

import shutil
import sys
import time

from backprop.training.callbacks import Callback

__all__ = ["ProgressLogger", "format_logs"]

_REFRESH_SECONDS = 0.1  # redraws per second are capped so the bar costs nothing per step


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - accuracy: 0.9650"``: the logs' values with 4 decimals, in their order."""
    return " - ".join(f"{key}: {_format_value(value)}" for key, value in logs.items())


def _format_value(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"


class ProgressLogger(Callback):
    """Prints training progress; ``fit(verbose=...)`` adds one for verbose ≥ 1.

    Args:
        verbose: 1 (bar in a terminal, else lines) or 2 (lines).
        stream: Where to write; ``sys.stdout`` at the time of training by default.
        use_tqdm: Use tqdm for the bar when it is importable.
    """

    main_rank_only = True  # (it prints)

    def __init__(self, verbose: int = 1, stream=None, use_tqdm: bool = True):
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self._stream = stream
        self.use_tqdm = use_tqdm
        self._bar = None
        self._epochs = 0
        self._steps = 0
        self._started = 0.0
        self._last_draw = 0.0
        self._label = ""

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def _interactive(self) -> bool:
        if self.verbose != 1:
            return False
        isatty = getattr(self.stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed stream
            return False

    def on_train_begin(self, logs=None):
        params = getattr(self.trainer, "params", {}) or {}
        self._epochs = int(params.get("epochs", 0))
        self._steps = int(params.get("steps") or 0)  # 0: unknown (a stream without steps_per_epoch)
        self._bar_mode = self._interactive()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._last_draw = 0.0
        self._label = f"Epoch {epoch + 1}/{self._epochs}" if self._epochs else f"Epoch {epoch + 1}"
        if self._bar_mode:
            self._bar = _make_bar(self._label, self._steps, self.stream, self.use_tqdm)

    def on_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        now = time.perf_counter()
        self._bar.advance(batch + 1)
        if now - self._last_draw >= _REFRESH_SECONDS or batch + 1 == self._steps:
            self._last_draw = now
            running = self.trainer.running_logs() if hasattr(self.trainer, "running_logs") else dict(logs or {})
            self._bar.show(batch + 1, format_logs(running))

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        summary = format_logs(logs or {})
        if self._bar is not None:
            self._bar.close(summary, seconds)
            self._bar = None
            return
        line = f"{self._label} - {summary} - {seconds:.2f}s" if summary else f"{self._label} - {seconds:.2f}s"
        self.stream.write(line + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close("", 0.0)
            self._bar = None


def _make_bar(label: str, total: int, stream, use_tqdm: bool):
    if use_tqdm:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            pass
        else:
            return _TqdmBar(label, total, stream)
    return _TextBar(label, total, stream)


class _TqdmBar:
    def __init__(self, label, total, stream):
        from tqdm import tqdm

        # leave=False: tqdm clears its own line at close, which is cut to the terminal's
        # width; close() writes the epoch's full line in its place.
        self._bar = tqdm(total=total, desc=label, file=stream, unit="batch", leave=False, dynamic_ncols=True)
        self._label, self._stream = label, stream
        self._count = 0

    def advance(self, count):
        self._bar.update(count - self._count)
        self._count = count

    def show(self, count, text):
        self._bar.set_postfix_str(text, refresh=True)

    def close(self, summary, seconds):
        self._bar.close()
        if summary:
            self._stream.write(f"{self._label} {self._count}/{self._bar.total} - {summary} - {seconds:.2f}s\n")
            self._stream.flush()


class _TextBar:
    """``Epoch 3/10 [=========>....................] 12/32 - loss: 0.1234``, redrawn with ``\\r``."""

    width = 30

    def __init__(self, label, total, stream):
        self.label, self.total, self.stream = label, max(int(total), 1), stream
        self._count = 0

    def advance(self, count):
        self._count = count

    def _line(self, count, text):
        filled = int(self.width * count / self.total)
        arrow = ">" if filled < self.width else ""
        bar = "=" * filled + arrow + "." * (self.width - filled - len(arrow))
        line = f"\r{self.label} [{bar}] {count}/{self.total}"
        return f"{line} - {text}" if text else line

    def show(self, count, text):
        # Cut to the terminal's width: a longer line would wrap, and \r would then
        # redraw only its last part, leaving a trail of copies.
        columns = shutil.get_terminal_size((80, 24)).columns
        line = self._line(count, text)[:max(columns - 1, 20) + 1]  # + 1: the leading \r
        self.stream.write(line + "\033[K")  # clear what a longer line left
        self.stream.flush()

    def close(self, summary, seconds):
        line = self._line(self._count, summary)
        self.stream.write(f"{line} - {seconds:.2f}s\033[K\n")
        self.stream.flush()
