"""Checkpoints: a resumed run equals an uninterrupted one, bit for bit — also after SIGKILL."""

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import backprop as bp
from backprop.io import ModelFileError
from backprop.io.safefile import read_safetensors
from backprop.training import Callback, CSVLogger, EarlyStopping, ReduceLROnPlateau
from training_helpers import assert_same_weights, mlp, weights

REPO = pathlib.Path(__file__).resolve().parents[2]


class Interrupt(Callback):
    """Raises at the start of epoch ``at``, like a crash between two epochs."""

    def __init__(self, at=None):
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def _run(blobs, tmp_path, name, *, interrupt_at=None, model_seed=5, epochs=6, checkpoint=True):
    X, y = blobs
    model = mlp(2, 16, 3, dropout=0.2, seed=model_seed)
    callbacks = [EarlyStopping(patience=100, restore_best_weights=True), ReduceLROnPlateau(patience=1, factor=0.5),
                 CSVLogger(tmp_path / f"{name}.csv"), Interrupt(interrupt_at)]
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=epochs, batch_size=8, seed=0,
                        metrics=["accuracy"], validation_split=0.2, callbacks=callbacks, verbose=0,
                        checkpoint=tmp_path / f"{name}.ckpt" if checkpoint else None)
    return model, history


def test_resumed_run_equals_an_uninterrupted_one(blobs, tmp_path):
    X, _ = blobs
    model_a, history_a = _run(blobs, tmp_path, "a")
    with pytest.raises(KeyboardInterrupt):
        _run(blobs, tmp_path, "b", interrupt_at=3)
    tensors, metadata = read_safetensors(tmp_path / "b.ckpt", kind="checkpoint")
    assert json.loads(metadata["checkpoint"])["epoch"] == 3
    model_b, history_b = _run(blobs, tmp_path, "b", model_seed=99)  # other initial weights: all are restored
    assert_same_weights(weights(model_a), weights(model_b))
    assert history_a.history == history_b.history and len(history_b.history["loss"]) == 6
    np.testing.assert_array_equal(model_a.predict(X), model_b.predict(X))
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    np.testing.assert_array_equal(model_b.classes_, model_a.classes_)
    # and checkpointing itself changes nothing
    model_c, history_c = _run(blobs, tmp_path, "c", checkpoint=False)
    assert_same_weights(weights(model_a), weights(model_c))
    assert history_c.history == history_a.history


def test_a_finished_checkpoint_returns_the_stored_history_without_training(blobs, tmp_path):
    X, y = blobs
    model_a, history_a = _run(blobs, tmp_path, "a", epochs=3)
    calls = []

    class Spy(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(batch)

    model = mlp(2, 16, 3, dropout=0.2, seed=42)
    history = model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=8, callbacks=[Spy()], verbose=0,
                        checkpoint=tmp_path / "a.ckpt")
    assert calls == []
    assert history.history == history_a.history
    assert_same_weights(weights(model), weights(model_a))


def test_a_larger_epoch_count_continues_a_finished_run(regression_data, tmp_path):
    X, y = regression_data
    path = tmp_path / "run.ckpt"
    a = mlp(2, 4, 1)
    a.fit(X, y, loss="mse", epochs=4, seed=1, verbose=0)
    b = mlp(2, 4, 1)
    b.fit(X, y, loss="mse", epochs=2, seed=1, verbose=0, checkpoint=path)
    history = b.fit(X, y, loss="mse", epochs=4, seed=1, verbose=0, checkpoint=path)
    assert len(history.history["loss"]) == 4
    assert_same_weights(weights(a), weights(b))


def test_an_early_stopped_run_is_not_resumed(regression_data, tmp_path):
    X, y = regression_data
    path = tmp_path / "run.ckpt"
    model = mlp(2, 1)
    history = model.fit(X, y, loss="mse", epochs=20, verbose=0, checkpoint=path,
                        callbacks=[EarlyStopping(monitor="loss", min_delta=1e9, patience=1)])
    assert len(history.history["loss"]) == 2
    again = mlp(2, 1).fit(X, y, loss="mse", epochs=20, verbose=0, checkpoint=path,
                          callbacks=[EarlyStopping(monitor="loss", min_delta=1e9, patience=1)])
    assert again.history == history.history


def test_a_checkpoint_of_another_architecture_is_refused(regression_data, tmp_path):
    X, y = regression_data
    path = tmp_path / "run.ckpt"
    mlp(2, 8, 1).fit(X, y, loss="mse", epochs=1, verbose=0, checkpoint=path)
    other = mlp(2, 4, 1)
    before = weights(other)
    with pytest.raises(ValueError, match="different architecture"):
        other.fit(X, y, loss="mse", epochs=2, verbose=0, checkpoint=path)
    assert_same_weights(before, weights(other))
    with pytest.raises(ValueError, match="optimiser is Adam, not SGD"):
        mlp(2, 8, 1).fit(X, y, loss="mse", optimizer="sgd", epochs=2, verbose=0, checkpoint=path)


def test_a_checkpoint_is_not_a_model_file(regression_data, tmp_path):
    X, y = regression_data
    path = tmp_path / "run.ckpt"
    mlp(2, 1).fit(X, y, loss="mse", epochs=1, verbose=0, checkpoint=path)
    with pytest.raises(ModelFileError, match="kind is 'checkpoint', expected 'model'"):
        bp.load(path)


_SCRIPT = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    import backprop as bp
    from backprop import nn
    from backprop.training import Callback, EarlyStopping

    checkpoint, out = sys.argv[1] or None, sys.argv[2]

    class Slow(Callback):  # stretch the run so that the kill lands mid-training
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.04)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    bp.manual_seed(123)
    model = nn.Sequential(nn.Dense(4, 16, activation="relu"), nn.Dropout(0.1), nn.Dense(16, 3))
    history = model.fit(X, y, loss="cross_entropy", epochs=40, batch_size=16, seed=0, metrics=["accuracy"],
                        validation_split=0.2, callbacks=[Slow(), EarlyStopping(patience=50)], verbose=0,
                        checkpoint=checkpoint)
    np.savez(out + ".npz", predictions=model.predict(X), **model.state_dict())
    with open(out + ".json", "w") as file:
        json.dump(history.history, file)
''')


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = lambda checkpoint, out: subprocess.Popen(  # noqa: E731
        [sys.executable, str(script), checkpoint, str(tmp_path / out)], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    plain = run("", "plain")
    checkpoint = tmp_path / "run.ckpt"
    victim = run(str(checkpoint), "killed")
    deadline = time.monotonic() + 60
    while not checkpoint.exists():
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    delay = random.uniform(0.0, 0.8)
    time.sleep(delay)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.json").exists()
    epoch = json.loads(read_safetensors(checkpoint, kind="checkpoint")[1]["checkpoint"])["epoch"]
    assert 1 <= epoch < 40, f"killed after {delay:.2f} s at epoch {epoch}"

    resumed = run(str(checkpoint), "resumed")
    for process in (resumed, plain):
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
    assert json.loads((tmp_path / "plain.json").read_text()) == json.loads((tmp_path / "resumed.json").read_text())
    plain_arrays, resumed_arrays = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "resumed.npz")
    assert sorted(plain_arrays.files) == sorted(resumed_arrays.files)
    for key in plain_arrays.files:
        np.testing.assert_array_equal(plain_arrays[key], resumed_arrays[key], err_msg=f"{key} (killed at epoch {epoch})")
