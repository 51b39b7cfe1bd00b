"""Callbacks: code that the training loop calls at fixed points, to watch or steer training.

The :class:`~backprop.training.loop.Trainer` calls, in this order::

    on_train_begin(logs)
    for each epoch:
        on_epoch_begin(epoch, logs)
        for each mini-batch:
            on_batch_begin(batch, logs)
            ... forward, cost, backward, optimiser step ...
            on_batch_end(batch, logs)        # logs: {"batch", "size", "loss"}
        on_epoch_end(epoch, logs)            # logs: {"loss", metrics, "val_loss", val_ metrics}
    on_train_end(logs)

Epochs and batches count from 0. A callback can stop training by setting
``self.trainer.stop_training = True``: the loop stops after the current batch
(when set in ``on_batch_*``) or after the current epoch.

Example — count the optimiser steps::

    >>> from backprop.training.callbacks import Callback
    >>> class CountSteps(Callback):
    ...     def on_train_begin(self, logs=None):
    ...         self.steps = 0
    ...     def on_batch_end(self, batch, logs=None):
    ...         self.steps += 1

Resuming from a checkpoint: the trainer calls ``on_train_begin`` (with
``logs["resumed"]`` true) and then ``load_state_dict`` with what
``state_dict`` returned when the checkpoint was written, so a callback whose
behaviour depends on the past (a patience counter, a best value) continues
exactly as if training had never stopped.
"""

from __future__ import annotations

import csv
import io
import inspect
import math
import os
import warnings
from typing import Any, Callable, Iterable

import numpy as np

from backprop.checks import check_int, check_real
from backprop.io.model_file import write_model_file
from backprop.metrics import METRICS

__all__ = [
    "Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger", "get_learning_rate", "set_learning_rate",
]


class Callback:
    """Base class: override the hooks you need; each one does nothing by default.

    Attributes:
        model: The model being trained (set by the trainer before ``on_train_begin``).
        trainer: The :class:`~backprop.training.loop.Trainer` running the loop; it
            gives access to ``trainer.optimizer``, ``trainer.stop_training``,
            ``trainer.epoch`` and ``trainer.params`` (epochs, steps per epoch, ...).
    """

    model = None
    trainer = None
    #: In a distributed fit, run only on rank 0: a callback that writes files or prints.
    #: The others run on every rank (they see the same logs, so they decide alike).
    main_rank_only = False

    def set_trainer(self, trainer) -> None:
        """Attach the callback to a trainer (and its model)."""
        self.trainer = trainer
        self.model = trainer.model

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once after the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of each epoch (counted from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of each epoch with the epoch's loss and metrics."""

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before each optimiser step (batches counted from 0 in each epoch)."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after each optimiser step; ``logs["loss"]`` is the batch's cost."""

    def state_dict(self) -> dict:
        """What the callback must remember to resume exactly: JSON values and ndarrays."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")


class CallbackList:
    """Calls one hook on every callback, in order.

    The per-batch hooks are called only on the callbacks that override them, so
    that callbacks interested only in epochs cost nothing per step.
    """

    def __init__(self, callbacks: Iterable[Callback]):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        self._batch_begin = [c for c in self.callbacks if _overrides(c, "on_batch_begin")]
        self._batch_end = [c for c in self.callbacks if _overrides(c, "on_batch_end")]
        self.has_batch_hooks = bool(self._batch_begin or self._batch_end)

    def set_trainer(self, trainer) -> None:
        for callback in self.callbacks:
            callback.set_trainer(trainer)

    def on_train_begin(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        for callback in self._batch_begin:
            callback.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        for callback in self._batch_end:
            callback.on_batch_end(batch, logs)


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


# --------------------------------------------------------------- helpers
def get_learning_rate(optimizer) -> float:
    """The optimiser's learning rate (that of its first parameter group)."""
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    return float(optimizer.lr)


def set_learning_rate(optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of the optimiser."""
    lr = float(lr)
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        for group in groups:
            group["lr"] = lr
    else:
        optimizer.lr = lr


class _Monitor:
    """A logged quantity to watch, with its direction (min or max) and Keras's fallbacks."""

    def __init__(self, owner: str, monitor: str, mode: str):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.owner = owner
        self.requested = monitor
        self.key = monitor
        self.mode = mode if mode != "auto" else _auto_mode(monitor)
        self._warned = False

    def value(self, logs: dict | None) -> float | None:
        """The monitored value in ``logs``, falling back from ``val_x`` to ``x`` with a warning."""
        logs = logs or {}
        if self.key in logs:
            return float(logs[self.key])
        base = self.requested[4:] if self.requested.startswith("val_") else None
        if base is not None and base in logs:
            warnings.warn(
                f"{self.owner}: monitor {self.requested!r} is not available (no validation data); "
                f"monitoring {base!r} instead. Available: {sorted(logs)}",
                RuntimeWarning, stacklevel=3,
            )
            self.key = base
            return float(logs[base])
        if not self._warned:
            warnings.warn(
                f"{self.owner}: monitor {self.requested!r} is not in the logs, which have {sorted(logs)}; "
                "this callback does nothing",
                RuntimeWarning, stacklevel=3,
            )
            self._warned = True
        return None

    def improved(self, current: float, best: float, min_delta: float) -> bool:
        """True when ``current`` beats ``best`` by more than ``min_delta`` in the monitor's direction."""
        if math.isnan(current):
            return False
        if self.mode == "min":
            return current < best - min_delta
        return current > best + min_delta

    def worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf


def _auto_mode(monitor: str) -> str:
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name in METRICS:
        return "max" if METRICS.get(name).higher_is_better else "min"
    return "max" if "acc" in name else "min"  # an unregistered metric: Keras's guess


# --------------------------------------------------------- early stopping
class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    After each epoch the monitored value ``current`` counts as an improvement
    when ``current < best − min_delta`` (mode ``"min"``; ``>`` ``best + min_delta``
    for ``"max"``). Training stops once ``patience`` epochs in a row bring no
    improvement (``patience=0``: at the first epoch that does not improve).

    Args:
        monitor: Key of the epoch logs to watch, e.g. ``"val_loss"``,
            ``"val_accuracy"``. If ``"val_…"`` is missing (no validation data) the
            training value is watched, with a warning.
        min_delta: Smallest change that counts as an improvement.
        patience: Epochs without improvement before stopping.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like metrics,
            min otherwise).
        restore_best_weights: At the end of training, load the weights (and
            buffers) of the best epoch back into the model.
        baseline: Training also stops if the value does not beat this baseline
            within ``patience`` epochs.

    Attributes:
        best, best_epoch, stopped_epoch (-1 if training was not stopped), wait.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False, baseline: float | None = None):
        patience = check_int(patience, "patience", "EarlyStopping", low=0)
        self._monitor = _Monitor("EarlyStopping", monitor, mode)
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = baseline
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best = self._monitor.worst()
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None:
            return
        self.wait += 1
        if self._monitor.improved(current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            # Only a value that also beats the baseline resets the patience.
            if self.baseline is None or self._monitor.improved(current, self.baseline, 0.0):
                self.wait = 0
                return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {
            "wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch, "monitor_key": self._monitor.key,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict) -> None:
        self.wait = int(state["wait"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self._monitor.key = state["monitor_key"]
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else {k: np.array(v) for k, v in weights.items()}


# -------------------------------------------------------- model checkpoint
class ModelCheckpoint(Callback):
    """Save the model and its fit record (a model file, as ``Model.save`` writes; ``bp.load``
    reads it) at the end of epochs.

    Args:
        path: File to write. It may contain ``str.format`` fields filled from the
            epoch number (counted from 1) and the logs, e.g.
            ``"model-{epoch:02d}-{val_loss:.3f}.safetensors"``. Writes are atomic.
        monitor: Key of the epoch logs compared when ``save_best_only``.
        save_best_only: Save only when ``monitor`` improves on the best so far.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (as :class:`EarlyStopping`).

    Attributes:
        best: The best monitored value so far; saved_epochs: epochs (from 0) saved.
    """

    main_rank_only = True  # (it writes a file)

    def __init__(self, path, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        self.path = os.fspath(path)
        self.monitor = monitor
        self._monitor = _Monitor("ModelCheckpoint", monitor, mode)
        self.save_best_only = bool(save_best_only)
        self.best = self._monitor.worst()
        self.saved_epochs: list[int] = []

    def on_train_begin(self, logs=None):
        self.best = self._monitor.worst()
        self.saved_epochs = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = self._monitor.value(logs)
            if current is None or not self._monitor.improved(current, self.best, 0.0):
                return
            self.best = current
        record = self.trainer.fit_record
        write_model_file(self.model, self.path.format(epoch=epoch + 1, **logs),
                         fit_record=None if record is None else record.to_json())
        self.saved_epochs.append(epoch)

    def state_dict(self) -> dict:
        return {"best": self.best, "saved_epochs": list(self.saved_epochs), "monitor_key": self._monitor.key}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.saved_epochs = [int(e) for e in state["saved_epochs"]]
        self._monitor.key = state["monitor_key"]


# ------------------------------------------------------- learning rate
class LearningRateScheduler(Callback):
    """Set the optimiser's learning rate from a schedule, once per epoch.

    Args:
        schedule: One of
            * a function ``epoch -> lr`` or ``(epoch, lr) -> lr`` (Keras style),
              called at the start of each epoch (epochs counted from 0) and
              applied to every parameter group;
            * a learning-rate schedule object from :mod:`backprop.optim` (anything
              with a ``step()`` method, e.g. ``StepLR``), stepped at the end of
              each epoch, or after each batch (each optimiser step) when its
              ``interval`` is ``"batch"`` (``LinearLR``, ``OneCycleLR``,
              ``CosineAnnealingWarmRestarts``, a ``SequentialLR`` of them). A plateau
              schedule whose ``step`` takes the monitored value is given ``logs[monitor]``.
        monitor: The value passed to a plateau schedule's ``step``.

    The current rate is ``get_learning_rate(trainer.optimizer)``.
    """

    def __init__(self, schedule, monitor: str = "val_loss"):
        self.schedule = schedule
        self._is_object = hasattr(schedule, "step") and not inspect.isfunction(schedule)
        if not self._is_object and not callable(schedule):
            raise TypeError("LearningRateScheduler: schedule must be a function or a schedule object with step()")
        self._monitor = _Monitor("LearningRateScheduler", monitor, "auto")
        self._step_takes_metric = self._is_object and _step_takes_argument(schedule)
        self._function_arity = None if self._is_object else _positional_arity(schedule)
        self._per_batch = False

    @property
    def steps_per_batch(self) -> bool:
        """Whether the schedule steps after every batch (its ``interval`` is ``"batch"``)."""
        interval = getattr(self.schedule, "interval", "epoch") if self._is_object else "epoch"
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: the schedule's interval must be 'epoch' or 'batch', "
                             f"got {interval!r}")
        if interval == "batch" and self._step_takes_metric:
            raise ValueError("LearningRateScheduler: a schedule stepped with a metric (ReduceLROnPlateau) "
                             "steps once per epoch; its interval must be 'epoch'")
        return interval == "batch"

    def on_train_begin(self, logs=None):
        self._per_batch = self.steps_per_batch

    def on_batch_end(self, batch, logs=None):
        if self._per_batch:
            self.schedule.step()

    def on_epoch_begin(self, epoch, logs=None):
        if self._is_object:
            return
        optimizer = self.trainer.optimizer
        if self._function_arity >= 2:
            lr = self.schedule(epoch, get_learning_rate(optimizer))
        else:
            lr = self.schedule(epoch)
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: schedule returned an invalid learning rate {lr!r}")
        set_learning_rate(optimizer, lr)

    def on_epoch_end(self, epoch, logs=None):
        if not self._is_object or self._per_batch:
            return
        if self._step_takes_metric:
            current = self._monitor.value(logs)
            if current is not None:
                self.schedule.step(current)
        else:
            self.schedule.step()

    def state_dict(self) -> dict:
        if self._is_object and hasattr(self.schedule, "state_dict"):
            return {"schedule": self.schedule.state_dict()}
        return {}

    def load_state_dict(self, state: dict) -> None:
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])


def _positional_arity(function: Callable) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return 2
    return len(positional)


def _step_takes_argument(schedule) -> bool:
    try:
        parameters = inspect.signature(schedule.step).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in parameters)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a monitored quantity stops improving.

    After ``patience`` epochs in a row without an improvement larger than
    ``min_delta``, every parameter group's lr becomes ``max(lr · factor, min_lr)``;
    then ``cooldown`` epochs pass before the patience count starts again.

    Args:
        monitor: Key of the epoch logs to watch (falls back from ``val_x`` to ``x``).
        factor: Multiplier in (0, 1).
        patience: Epochs without improvement before reducing.
        min_delta: Smallest change that counts as an improvement.
        cooldown: Epochs to wait after a reduction.
        min_lr: Lower bound on the learning rate.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, mode: str = "auto"):
        owner = "ReduceLROnPlateau"
        self.factor = check_real(factor, "factor", owner, low=0, high=1, low_open=True, high_open=True)
        self.monitor = monitor
        self._monitor = _Monitor(owner, monitor, mode)
        self.patience = check_int(patience, "patience", owner, low=0)
        self.min_delta = abs(float(min_delta))
        self.cooldown = check_int(cooldown, "cooldown", owner, low=0)
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self):
        self.best = self._monitor.worst()
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None:
            return
        optimizer = self.trainer.optimizer
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._monitor.improved(current, self.best, self.min_delta):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = get_learning_rate(optimizer)
                if old_lr > self.min_lr:
                    set_learning_rate(optimizer, max(old_lr * self.factor, self.min_lr))
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "monitor_key": self._monitor.key}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self._monitor.key = state["monitor_key"]


# ------------------------------------------------------------------ safety
class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    The check runs after every batch, so the diverging batch is the last one
    run; the model keeps the (non-finite) weights of that step for inspection.

    Attributes:
        stopped_batch: ``(epoch, batch)`` where the loss diverged, or None.
    """

    def __init__(self):
        self.stopped_batch = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.stopped_batch = (self._epoch, batch)
            self.trainer.stop_training = True


# ------------------------------------------------------------------ logging
class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (from 0), then the logs' keys in sorted order.

    The file is opened, appended to and closed at each epoch end, so a crash
    loses at most the current epoch, and a resumed run continues the same file.

    Args:
        path: The CSV file.
        append: Keep an existing file's rows (and header) instead of starting anew.
        separator: Field separator.
    """

    main_rank_only = True  # (it writes a file)

    def __init__(self, path, append: bool = False, separator: str = ","):
        self.path = os.fspath(path)
        self.append = bool(append)
        self.separator = separator
        self.keys: list[str] | None = None
        self._offset = 0

    def on_train_begin(self, logs=None):
        if (logs or {}).get("resumed"):
            return  # load_state_dict follows and says where our rows end
        self.keys = None
        if self.append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as file:
                header = file.readline().rstrip("\r\n")
            self.keys = header.split(self.separator)[1:] if header else None
            self._offset = os.path.getsize(self.path)
        else:
            self._offset = 0
            with open(self.path, "w", newline=""):
                pass

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.separator, lineterminator="\n")
        if self._offset == 0:
            writer.writerow(["epoch"] + self.keys)
        writer.writerow([epoch] + [_csv_value(logs.get(key, "NA")) for key in self.keys])
        data = buffer.getvalue().encode()
        with open(self.path, "r+b" if os.path.exists(self.path) else "wb") as file:
            # Seek to where our last row ended: a crash after a row was written
            # but before the checkpoint must not leave a duplicate row on resume.
            file.seek(self._offset)
            file.write(data)
            file.truncate()
        self._offset += len(data)

    def state_dict(self) -> dict:
        return {"keys": self.keys, "offset": self._offset}

    def load_state_dict(self, state: dict) -> None:
        self.keys = state["keys"]
        self._offset = int(state["offset"])


def _csv_value(value: Any):
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return value
