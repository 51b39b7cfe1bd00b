"""Callbacks: hooks, EarlyStopping, TerminateOnNaN, ModelCheckpoint, learning-rate control, CSVLogger."""

import csv
import math
import warnings

import numpy as np
import pytest

import backprop as bp
import backprop.callbacks
from backprop import optim
from backprop.training import (
    Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
)
from training_helpers import Recorder, assert_same_weights, mlp, weights


class ScriptedValLoss(Callback):
    """Overwrites logs["val_loss"] with a scripted sequence (placed before the callback under test)."""

    def __init__(self, values):
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_hooks_are_called_in_order_with_the_trainer_attached(regression_data):
    X, y = regression_data
    events = []

    class Log(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")
            assert self.trainer.optimizer is not None and self.model is model
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin {epoch}")
        def on_batch_begin(self, batch, logs=None): events.append(f"batch_begin {batch}")
        def on_batch_end(self, batch, logs=None): events.append(f"batch_end {batch} {sorted(logs)}")
        def on_epoch_end(self, epoch, logs=None): events.append(f"epoch_end {epoch} {sorted(logs)}")
        def on_train_end(self, logs=None): events.append("train_end")

    model = mlp(2, 1)
    model.fit(X, y, loss="mse", epochs=2, batch_size=40, validation_split=0.25, callbacks=[Log()], verbose=0)
    assert events == [
        "train_begin",
        "epoch_begin 0", "batch_begin 0", "batch_end 0 ['batch', 'loss', 'size']",
        "batch_begin 1", "batch_end 1 ['batch', 'loss', 'size']", "epoch_end 0 ['loss', 'val_loss']",
        "epoch_begin 1", "batch_begin 0", "batch_end 0 ['batch', 'loss', 'size']",
        "batch_begin 1", "batch_end 1 ['batch', 'loss', 'size']", "epoch_end 1 ['loss', 'val_loss']",
        "train_end",
    ]


def test_callbacks_alias_module_exports_the_callbacks():
    assert backprop.callbacks.EarlyStopping is EarlyStopping
    assert backprop.callbacks.Callback is Callback
    assert hasattr(backprop.callbacks, "History")


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_stops_and_restores_the_best_weights(regression_data):
    X, y = regression_data
    recorder = Recorder()
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    model = mlp(2, 1)
    history = model.fit(X, y, loss="mse", optimizer="sgd", epochs=30, batch_size=None,
                        callbacks=[recorder, ScriptedValLoss([5, 3, 4, 3.5, 1, 1, 1, 1] + [9] * 30), stopper],
                        verbose=0)
    # best epoch 1 (3.0); epochs 2 and 3 do not improve; patience 2 -> stop after epoch 3
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    assert len(history.history["loss"]) == 4
    assert_same_weights(weights(model), recorder.epoch_weights[1])
    assert not np.array_equal(recorder.epoch_weights[3]["0.W"], recorder.epoch_weights[1]["0.W"])


def test_early_stopping_on_real_validation_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) ^ (rng.random(80) < 0.25)  # 25% label noise: the network overfits
    recorder = Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    model = mlp(2, 64, 2, seed=1)
    history = model.fit(X[:40], y[:40], loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=0.05),
                        epochs=300, batch_size=None, validation_data=(X[40:], y[40:]),
                        callbacks=[recorder, stopper], verbose=0)
    val = history.history["val_loss"]
    assert len(val) < 300  # it stopped
    assert stopper.best_epoch == int(np.argmin(val)) and stopper.stopped_epoch == len(val) - 1
    assert_same_weights(weights(model), recorder.epoch_weights[stopper.best_epoch])
    assert model.evaluate(X[40:], y[40:])["loss"] == pytest.approx(min(val), rel=1e-5)


def test_early_stopping_mode_auto_maximises_accuracy(regression_data):
    assert EarlyStopping(monitor="val_accuracy")._monitor.mode == "max"
    assert EarlyStopping(monitor="val_loss")._monitor.mode == "min"
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_monitor_falls_back_to_training_loss_with_a_warning(regression_data):
    X, y = regression_data
    stopper = EarlyStopping(patience=0)
    with pytest.warns(RuntimeWarning, match="monitoring 'loss' instead"):
        mlp(2, 1).fit(X, y, loss="mse", epochs=2, callbacks=[stopper], verbose=0)
    assert stopper.best < math.inf


# ---------------------------------------------------------------- TerminateOnNaN
def test_terminate_on_nan_stops_within_the_diverging_batch(regression_data):
    X, y = regression_data
    model = mlp(2, 8, 1)
    recorder, terminate = Recorder(), TerminateOnNaN()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow is the point
        history = model.fit(X, 1e3 * y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=1e10), epochs=5,
                            batch_size=6, callbacks=[recorder, terminate], verbose=0)
    finite = [math.isfinite(loss) for loss in recorder.losses]
    first_bad = finite.index(False)
    assert len(recorder.losses) == first_bad + 1  # no batch ran after the diverging one
    assert len(recorder.losses) < 5 * 10
    assert terminate.stopped_batch == (0, first_bad)
    assert len(history.history["loss"]) == 1


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_save_best_only_keeps_the_best_epoch(tmp_path, regression_data):
    X, y = regression_data
    path = tmp_path / "best.safetensors"
    recorder = Recorder()
    saver = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model = mlp(2, 1)
    model.fit(X, y, loss="mse", optimizer="sgd", epochs=6, batch_size=None,
              callbacks=[recorder, ScriptedValLoss([4, 2, 3, 1.5, 1.6, 2]), saver], verbose=0)
    assert saver.saved_epochs == [0, 1, 3]
    assert_same_weights(weights(bp.load(path)), recorder.epoch_weights[3])


def test_model_checkpoint_every_epoch_with_a_formatted_path(tmp_path, regression_data):
    X, y = regression_data
    saver = ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{loss:.1f}.safetensors"))
    model = mlp(2, 1)
    history = model.fit(X, y, loss="mse", epochs=3, callbacks=[saver], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"m-{e + 1:02d}-{loss:.1f}.safetensors" for e, loss in enumerate(history.history["loss"])]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    np.testing.assert_array_equal(bp.load(tmp_path / names[-1]).predict(X), model.predict(X))


# ------------------------------------------------------------- learning rates
@pytest.mark.parametrize("schedule", [lambda epoch: 0.1 / (epoch + 1), lambda epoch, lr: 0.1 / (epoch + 1)])
def test_learning_rate_scheduler_with_a_function(regression_data, schedule):
    X, y = regression_data
    recorder = Recorder()
    model = mlp(2, 1)
    model.fit(X, y, loss="mse", optimizer="sgd", epochs=3,
              callbacks=[LearningRateScheduler(schedule), recorder], verbose=0)
    assert recorder.lrs == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_learning_rate_scheduler_keras_style_receives_the_current_rate(regression_data):
    X, y = regression_data
    recorder = Recorder()
    mlp(2, 1).fit(X, y, loss="mse", optimizer="sgd", epochs=3,
                  callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5), recorder], verbose=0)
    assert recorder.lrs == pytest.approx([0.005, 0.0025, 0.00125])  # SGD by name: lr 0.01


def test_learning_rate_scheduler_with_a_schedule_object(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    recorder = Recorder()
    schedule = optim.StepLR(optimizer, step_size=2, gamma=0.1)
    model.fit(X, y, loss="mse", optimizer=optimizer, epochs=5, callbacks=[recorder, LearningRateScheduler(schedule)],
              verbose=0)
    # the recorder runs before the schedule steps at each epoch end: the rate each epoch used
    assert recorder.lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_learning_rate_scheduler_with_a_plateau_schedule_gets_the_metric(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    plateau = optim.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    model.fit(X, y, loss="mse", optimizer=optimizer, epochs=3,
              callbacks=[ScriptedValLoss([1, 2, 3]), LearningRateScheduler(plateau)], verbose=0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.25)


def test_reduce_lr_on_plateau(regression_data):
    X, y = regression_data
    recorder = Recorder()
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.002)
    mlp(2, 1).fit(X, y, loss="mse", optimizer="sgd", epochs=9,
                  callbacks=[ScriptedValLoss([1, 1, 1, 1, 1, 1, 1, 1, 1]), reducer, recorder], verbose=0)
    # Keras's rule: epoch 0 improves; bad epochs 1, 2 -> halve at 2; epoch 3 ends the cooldown and
    # counts as bad, 4 -> halve; 5, 6 -> halve, floored at min_lr
    assert recorder.lrs == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002])


# ---------------------------------------------------------------- CSVLogger
def test_csv_logger_writes_one_row_per_epoch(tmp_path, regression_data):
    X, y = regression_data
    path = tmp_path / "log.csv"
    history = mlp(2, 1).fit(X, y, loss="mse", epochs=3, metrics=["mae"], validation_split=0.2,
                            callbacks=[CSVLogger(path)], verbose=0)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 2]
    for key, column in zip(rows[0][1:], list(zip(*rows[1:]))[1:]):
        assert [float(v) for v in column] == history.history[key]


def test_csv_logger_append_keeps_earlier_rows(tmp_path, regression_data):
    X, y = regression_data
    path = tmp_path / "log.csv"
    model = mlp(2, 1)
    model.fit(X, y, loss="mse", epochs=2, callbacks=[CSVLogger(path)], verbose=0)
    model.fit(X, y, loss="mse", epochs=1, callbacks=[CSVLogger(path, append=True)], verbose=0)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss"] and len(rows) == 4
    model.fit(X, y, loss="mse", epochs=1, callbacks=[CSVLogger(path)], verbose=0)
    assert len(list(csv.reader(path.open()))) == 2  # append=False starts anew
