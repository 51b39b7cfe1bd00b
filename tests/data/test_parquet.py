"""bp.data.ParquetBatches: every row once per epoch, shuffled per epoch within a buffer, in constant memory."""

import tracemalloc

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.data import ParquetBatches

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def write(path, n, row_group_size=64, start=0, extra=None):
    rng = np.random.default_rng(start)
    columns = {"id": np.arange(start, start + n, dtype=np.float64), "x": rng.normal(size=n),
               "flag": rng.integers(0, 2, n).astype(bool), "y": np.arange(start, start + n) % 3}
    columns.update(extra or {})
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def ids(batches):
    return np.concatenate([X[:, 0] for X, _ in batches]).astype(np.int64)


@pytest.fixture
def table(tmp_path):
    return write(tmp_path / "t.parquet", 1000)


@pytest.mark.parametrize("buffer", [0, 1, 50, 300, 5000])
def test_each_epoch_reads_every_row_once_in_batches_of_batch_size(table, buffer):
    batches = ParquetBatches(table, target="y", batch_size=64, shuffle_buffer=buffer)
    sizes = [X.shape[0] for X, _ in batches]
    assert sizes == [64] * 15 + [40] and len(batches) == 16
    seen = ids(batches)
    assert sorted(seen.tolist()) == list(range(1000))
    if buffer == 0:
        assert seen.tolist() == list(range(1000))
    for X, y in batches:  # the target follows its row
        assert X.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(y, X[:, 0].astype(np.int64) % 3)
        break


def test_the_shuffle_is_new_each_epoch_and_fixed_by_seed_and_epoch(table):
    batches = ParquetBatches(table, target="y", batch_size=100, shuffle_buffer=200, seed=4)
    first, second = ids(batches), ids(batches)
    assert not np.array_equal(first, second)
    batches.set_epoch(0)
    np.testing.assert_array_equal(ids(batches), first)
    again = ParquetBatches(table, target="y", batch_size=100, shuffle_buffer=200, seed=4)
    np.testing.assert_array_equal(ids(again), first)
    other = ParquetBatches(table, target="y", batch_size=100, shuffle_buffer=200, seed=5)
    assert not np.array_equal(ids(other), first)


def test_a_larger_buffer_moves_rows_further(table):
    def displacement(buffer):
        order = ids(ParquetBatches(table, target="y", batch_size=100, shuffle_buffer=buffer))
        return np.abs(order - np.arange(1000)).mean()
    assert displacement(10) < displacement(100) < displacement(1000)


def test_a_folder_is_a_dataset_read_in_path_order(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "part-1.parquet", 30, row_group_size=7, start=30)
    write(folder / "part-0.parquet", 30, row_group_size=7, start=0)
    batches = ParquetBatches(folder, target="y", batch_size=8, columns=["id", "x"])
    assert ids(batches).tolist() == list(range(60)) and batches.n_rows == 60 and batches.n_features == 2


def test_a_float_target_is_float32_and_several_targets_are_columns(table):
    X, y = next(iter(ParquetBatches(table, target="x", batch_size=10)))
    assert y.dtype == np.float32 and y.shape == (10,) and X.shape == (10, 3)
    X, y = next(iter(ParquetBatches(table, target=["x", "id"], batch_size=10)))
    assert y.shape == (10, 2) and X.shape == (10, 2)


def _errors(tmp_path):
    good = write(tmp_path / "good.parquet", 20)
    text = write(tmp_path / "text.parquet", 20, extra={"city": np.array(["a", "b"] * 10)})
    holes = tmp_path / "holes.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, None, 3.0]), "y": [0, 1, 0]}), holes)
    (tmp_path / "empty").mkdir()
    return {
        "missing target": (dict(path=good, target="price"), ValueError, r"target column\(s\) \['price'\] not in"),
        "unknown column": (dict(path=good, target="y", columns=["nope"]), ValueError, r"columns \['nope'\] not in"),
        "text column": (dict(path=text, target="y"), ValueError, r"city \(string\) are not numeric.*--stream"),
        "no file": (dict(path=tmp_path / "none.parquet", target="y"), FileNotFoundError, "no such file"),
        "empty folder": (dict(path=tmp_path / "empty", target="y"), ValueError, "holds no Parquet file"),
        "bad batch size": (dict(path=good, target="y", batch_size=0), ValueError, "batch_size must be"),
        "bad buffer": (dict(path=good, target="y", shuffle_buffer=-1), ValueError, "shuffle_buffer must be"),
        "target twice": (dict(path=good, target="y", columns=["x", "y"]), ValueError, "also the target"),
        "missing values": (dict(path=holes, target="y"), ValueError, r"\['x'\] have missing values"),
    }


ERROR_CASES = ["missing target", "unknown column", "text column", "no file", "empty folder", "bad batch size",
               "bad buffer", "target twice", "missing values"]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_bad_input_is_refused_with_a_message_naming_it(tmp_path, case):
    cases = _errors(tmp_path)
    assert sorted(cases) == sorted(ERROR_CASES)
    arguments, error, message = cases[case]
    with pytest.raises(error, match=message):
        list(ParquetBatches(arguments.pop("path"), **arguments))


def test_reading_takes_memory_for_a_row_group_and_the_buffer_not_the_file(tmp_path):
    n, f = 200_000, 10  # 8 MB of float32 features
    columns = {f"c{j}": np.random.default_rng(j).normal(size=n) for j in range(f)}
    columns["y"] = np.arange(n) % 2
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=5000)
    batches = ParquetBatches(path, target="y", batch_size=256, shuffle_buffer=5000)
    tracemalloc.start()
    try:
        rows = sum(X.shape[0] for X, _ in batches)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == n
    assert peak < 8e6 / 4, peak  # a row group (5000 rows, in float64 and float32) and the buffer


def model():
    bp.manual_seed(0)
    return bp.Model(nn.Sequential(nn.Dense(3, 8, activation="relu"), nn.Dropout(0.1), nn.Dense(8, 3)))


def test_a_resumed_fit_reads_what_an_uninterrupted_one_reads(table, tmp_path):
    def run(epochs, checkpoint):
        batches = ParquetBatches(table, target="y", batch_size=50, shuffle_buffer=100, seed=2)
        m = model() if run.model is None else run.model
        history = m.fit(batches, loss="cross_entropy", epochs=epochs, verbose=0, checkpoint=checkpoint,
                        validation_data=ParquetBatches(table, target="y", batch_size=200), metrics=["accuracy"])
        return m, history.history

    run.model = None
    straight, straight_history = run(4, tmp_path / "a.ckpt")
    run(2, tmp_path / "b.ckpt")  # interrupted after 2 epochs (its checkpoint says epoch 2)
    run.model = model()  # a new process: a fresh model, the state from the checkpoint
    resumed, resumed_history = run(4, tmp_path / "b.ckpt")
    assert resumed_history == straight_history
    assert all(np.array_equal(a.data, b.data) for a, b in zip(straight.parameters(), resumed.parameters()))


def test_fit_on_parquet_batches_learns(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    path = tmp_path / "blobs.parquet"
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + x[:, 1] > 0).astype(np.int64)}), path,
                   row_group_size=256)
    bp.manual_seed(0)
    m = bp.Model(nn.Sequential(nn.Dense(2, 8, activation="relu"), nn.Dense(8, 2)))
    history = m.fit(ParquetBatches(path, target="y", batch_size=32, shuffle_buffer=512), loss="cross_entropy",
                    optimizer=bp.optim.Adam(m.parameters(), lr=0.02), epochs=5, verbose=0, metrics=["accuracy"])
    assert history.history["accuracy"][-1] > 0.95
