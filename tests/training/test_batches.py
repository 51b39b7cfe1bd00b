"""Streaming fit (backprop.training.batches): streams of batches, and memmaps read without a copy.

The reference is always the array fit: a stream of the same batches as an array fit with
shuffle=False must follow the same trajectory, bit for bit, on the fast path and in the engine.
"""

import tracemalloc
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.training import Trainer
from backprop.training.callbacks import EarlyStopping

N, F, BATCH = 103, 5, 16  # a last batch of 7


class Batches:
    """A re-iterable of the batches an unshuffled array fit makes (optionally with weights)."""

    def __init__(self, X, y, w=None, size=BATCH):
        self.X, self.y, self.w, self.size = X, y, w, size
        self.iterations = 0

    def __iter__(self):
        self.iterations += 1
        for start in range(0, len(self.X), self.size):
            cut = slice(start, start + self.size)
            yield (self.X[cut], self.y[cut]) if self.w is None else (self.X[cut], self.y[cut], self.w[cut])


def endless(batches):
    while True:
        yield from batches


TASKS = {  # loss: (targets, n_outputs, metrics)
    "cross_entropy": (lambda rng: rng.integers(0, 3, N), 3, ["accuracy", "f1"]),
    "mse": (lambda rng: rng.normal(size=(N, 1)).astype(np.float32), 1, ["mae", "r2"]),
    "binary_cross_entropy_with_logits": (lambda rng: rng.integers(0, 2, N), 1, ["accuracy"]),
}


def data(loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, F)).astype(np.float32)
    make_y, n_out, metrics = TASKS[loss]
    return X, make_y(rng), rng.uniform(0.5, 2.0, N).astype(np.float32), n_out, metrics


def model(n_out):
    bp.manual_seed(0)
    return bp.Model(nn.Sequential(nn.Dense(F, 8, activation="tanh"), nn.Dropout(0.2), nn.Dense(8, n_out)))


def weights(m):
    return [p.data.copy() for p in m.parameters()]


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", list(TASKS))
def test_a_stream_of_the_array_batches_follows_the_array_trajectory_bit_for_bit(loss, weighted, fast_path):
    X, y, w, n_out, metrics = data(loss)
    w = w if weighted else None
    histories, finals = [], []
    for source in ("arrays", "stream", "generator"):
        m = model(n_out)
        trainer = Trainer(m, loss=loss, optimizer="adam", metrics=metrics, batch_size=BATCH,
                          shuffle=False if source == "arrays" else None, verbose=0, fast_path=fast_path)
        val = (X[:40], y[:40])
        if source == "arrays":
            history = trainer.fit(X, y, sample_weight=w, epochs=3, validation_data=val, seed=1)
        elif source == "stream":
            history = trainer.fit(Batches(X, y, w), epochs=3, validation_data=val, seed=1)
        else:
            history = trainer.fit(endless(Batches(X, y, w)), epochs=3, steps_per_epoch=7, validation_data=val, seed=1)
        histories.append(history.history)
        finals.append(weights(m))
    for history, final in zip(histories[1:], finals[1:]):
        assert history == histories[0]
        assert all(np.array_equal(a, b) for a, b in zip(final, finals[0]))


@pytest.mark.parametrize("loss", list(TASKS))
def test_a_validation_stream_gives_the_loss_over_all_its_examples(loss):
    X, y, w, n_out, metrics = data(loss)
    Xv, yv, wv = X[:50], y[:50], w[:50]
    m = model(n_out)
    arrays = m.fit(X, y, loss=loss, metrics=metrics, epochs=2, shuffle=False, batch_size=BATCH, verbose=0,
                   validation_data=(Xv, yv, wv)).history
    m = model(n_out)
    streamed = m.fit(Batches(X, y), loss=loss, metrics=metrics, epochs=2, verbose=0,
                     validation_data=Batches(Xv, yv, wv, size=12)).history
    for key in arrays:
        np.testing.assert_allclose(streamed[key], arrays[key], rtol=2e-6, err_msg=key)


def test_a_one_shot_validation_generator_is_read_validation_steps_batches_each_epoch():
    X, y, _, n_out, _ = data("cross_entropy")
    m = model(n_out)
    history = m.fit(Batches(X, y), loss="cross_entropy", epochs=3, verbose=0,
                    validation_data=endless(Batches(X[:32], y[:32])), validation_steps=2).history
    m = model(n_out)
    reference = m.fit(Batches(X, y), loss="cross_entropy", epochs=3, verbose=0,
                      validation_data=(X[:32], y[:32])).history
    np.testing.assert_allclose(history["val_loss"], reference["val_loss"], rtol=1e-6)


def test_early_stopping_watches_a_validation_stream():
    X, y, _, n_out, _ = data("mse")
    m = model(n_out)
    stopper = EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0)
    history = m.fit(Batches(X, y), loss="mse", epochs=20, verbose=0, callbacks=[stopper],
                    validation_data=Batches(X[:30], y[:30]))
    assert len(history.history["val_loss"]) == 2  # no epoch improves by 10: stopped after the patience


def test_steps_per_epoch_caps_a_re_iterable_and_iter_is_called_each_epoch():
    X, y, _, n_out, _ = data("mse")
    batches = Batches(X, y)
    m = model(n_out)
    m.fit(batches, loss="mse", epochs=4, steps_per_epoch=3, verbose=0)
    assert batches.iterations == 4
    m2 = model(n_out)
    m2.fit(X[:48], y[:48], loss="mse", epochs=4, shuffle=False, batch_size=BATCH, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(weights(m), weights(m2)))


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    X, y, _, n_out, _ = data("mse")
    m = model(n_out)
    with pytest.warns(RuntimeWarning, match="ran out of batches at epoch 2"):
        history = m.fit(iter(list(Batches(X, y))), loss="mse", epochs=5, steps_per_epoch=5, verbose=0)
    assert len(history.history["loss"]) == 2  # 7 batches: one full epoch of 5, then a short one of 2


def _fit_errors():
    X, y, w, _, _ = data("cross_entropy")
    stream = Batches(X, y)
    return {
        "y": (dict(X=stream, y=y), "takes no y"),
        "sample_weight": (dict(X=stream, sample_weight=w), "takes no sample_weight"),
        "validation_split": (dict(X=stream, validation_split=0.2), "takes no validation_split"),
        "shuffle": (dict(X=stream, shuffle=True), "takes no shuffle=True"),
        "generator without steps": (dict(X=endless(stream), epochs=2), "pass steps_per_epoch="),
        "validation generator without steps": (dict(X=stream, epochs=2, validation_data=endless(stream)),
                                               "pass validation_steps="),
        "bad steps": (dict(X=stream, steps_per_epoch=0), "steps_per_epoch must be a positive integer"),
        "not a batch": (dict(X=iter([X[:5]])), r"must be \(X, y\) or \(X, y, sample_weight\)"),
        "empty": (dict(X=iter([])), "gave no batch"),
        "string labels": (dict(X=iter([(X[:4], np.array(["a", "b", "a", "c"]))])), "codes 0..K-1"),
        "steps with arrays": (dict(X=X, y=y, steps_per_epoch=3), "steps_per_epoch is for a stream"),
        "validation steps with arrays": (dict(X=X, y=y, validation_steps=3), "validation_steps is for"),
        "validation stream with arrays": (dict(X=X, y=y, validation_data=stream), "needs a training stream"),
        "wrong features": (dict(X=iter([(X[:4, :3], y[:4])])), "has 3 features"),
    }


@pytest.mark.parametrize("case", list(_fit_errors()))
def test_what_makes_no_sense_with_a_stream_is_a_value_error_before_any_step(case):
    arguments, message = _fit_errors()[case]
    m = model(3)
    before = weights(m)
    arguments.setdefault("y", None)
    with pytest.raises(ValueError, match=message):
        m.fit(arguments.pop("X"), arguments.pop("y"), loss="cross_entropy", verbose=0, **arguments)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(m)))


def test_a_bad_batch_later_in_the_stream_names_the_problem():
    X, y, _, _, _ = data("cross_entropy")
    bad = X[:4].copy()
    bad[1, 2] = np.nan
    m = model(3)
    with pytest.raises(ValueError, match="NaN"):
        m.fit(iter([(X[:4], y[:4]), (bad, y[:4])]), loss="cross_entropy", verbose=0)


def test_labels_of_a_previous_fit_are_kept_for_a_stream():
    X, _, _, _, _ = data("cross_entropy")
    labels = np.array(["cat", "dog", "emu"])[np.arange(N) % 3]
    m = model(3)
    m.fit(X, labels, loss="cross_entropy", verbose=0)
    m.fit(Batches(X, labels), loss="cross_entropy", verbose=0, epochs=2)
    assert list(m.classes_) == ["cat", "dog", "emu"]


# ------------------------------------------------------------------ memmaps
@pytest.fixture
def memmaps(tmp_path):
    rng = np.random.default_rng(3)
    n, f = 40_000, 50  # 8 MB as float32, 16 MB as float64
    values = rng.normal(size=(n, f))
    y = (values[:, 0] > 0).astype(np.int64)
    out = {}
    for dtype in (np.float32, np.float64):
        path = tmp_path / f"X_{np.dtype(dtype).name}.dat"
        array = np.memmap(path, dtype=dtype, mode="w+", shape=(n, f))
        array[:] = values
        array.flush()
        out[np.dtype(dtype).name] = np.memmap(path, dtype=dtype, mode="r", shape=(n, f))
    return out, y


def _fit_memory(X, y, shuffle):
    bp.manual_seed(0)
    m = bp.Model(nn.Sequential(nn.Dense(X.shape[1], 4, activation="relu"), nn.Dense(4, 2)))
    # A first fit on a few rows of the same kind of array compiles the kernels it needs, so that
    # the peak below is the data's (numba's compiler allocates tens of MB once per signature).
    bp.Model(nn.Sequential(nn.Dense(X.shape[1], 4, activation="relu"), nn.Dense(4, 2))).fit(
        X[:600], y[:600], loss="cross_entropy", epochs=1, batch_size=256, shuffle=shuffle, verbose=0, seed=0,
        validation_split=0.1)
    bp.manual_seed(0)
    tracemalloc.start()
    try:
        m.fit(X, y, loss="cross_entropy", epochs=2, batch_size=256, shuffle=shuffle, verbose=0, seed=0,
              validation_split=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, weights(m)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_memmap_is_read_without_a_copy_and_trains_as_its_array(memmaps, dtype, shuffle):
    arrays, y = memmaps
    X = arrays[dtype]
    peak, final = _fit_memory(X, y, shuffle)
    # The file is X.nbytes; a whole copy (the float32 cast) would be 8 MB.
    assert peak < 0.3 * arrays["float32"].nbytes, (peak, X.nbytes)
    _, reference = _fit_memory(np.array(arrays["float32"]), y, shuffle)  # what the cast of X would train
    assert all(np.array_equal(a, b) for a, b in zip(final, reference))


def test_a_memmap_with_a_value_float32_cannot_hold_is_refused(tmp_path):
    X = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(100, F))
    X[:] = 1.0
    X[57, 1] = 1e300  # inf as float32
    m = model(3)
    with pytest.raises(ValueError, match=r"NaN or infinite values \(as float32\) in rows 0..99"):
        m.fit(X, np.zeros(100, dtype=int), loss="cross_entropy", verbose=0)


def test_no_warning_for_an_ordinary_stream_fit():
    X, y, _, n_out, _ = data("mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(n_out).fit(Batches(X, y), loss="mse", epochs=2, verbose=0)
