"""``backprop train DATA --stream``: the streaming preprocessing fit, the positional split, the run."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from backprop.cli.main import cli
from backprop.cli.errors import run_command
from backprop.cli.preprocessing import TabularPreprocessor
from backprop.cli.preprocessing_stream import Moments, StreamingPreprocessorFit

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def mixed_frame(n=600, seed=0):
    """Every column kind the preprocessor knows, with missing cells, and both kinds of target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "num": rng.normal(10, 3, n),
        "holes": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "colour": rng.choice(["red", "blue", "green", None], n),
        "flag": rng.random(n) < 0.5,
        "zip": rng.integers(0, 5, n),
        "when": pd.Series(pd.date_range("2012-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M")),
        "day": pd.Series(pd.date_range("2012-01-01", periods=n, freq="D").strftime("%Y-%m-%d")),
        "time": [f"{h % 24:02d}:{h % 60:02d}" for h in range(n)],
        "name": [f"n{i}" for i in range(n)],  # identifier-like: dropped
        "label": rng.integers(0, 3, n),
        "price": rng.normal(100, 20, n),
    })


def assert_same(a, b, where="config"):
    """Equal, floats to a relative 1e-9 (the streaming moments merge in another order than NumPy's sums)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{k}]")
    else:
        assert a == b and type(a) is type(b), (where, a, b)


assert_same_config = assert_same


@pytest.mark.parametrize("chunk", [1, 37, 600])
@pytest.mark.parametrize("target", ["label", "price"])
def test_the_streaming_fit_learns_what_the_in_memory_fit_learns(target, chunk):
    frame = mixed_frame()
    features = [c for c in frame.columns if c != target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TabularPreprocessor(categorical=["zip"]).fit(frame, target=target).get_config()
        fit = StreamingPreprocessorFit(TabularPreprocessor(categorical=["zip"]), features, target)
        for start in range(0, len(frame), chunk):
            fit.add(frame.iloc[start:start + chunk])
        streamed = fit.finish().get_config()
    assert_same_config(streamed, expected)
    assert [c["name"] for c in streamed["dropped"]] == ["name"]


def test_the_task_counts_every_row_and_the_statistics_the_training_rows():
    frame = mixed_frame()
    fit = StreamingPreprocessorFit(TabularPreprocessor(), ["num"], "label")
    for start in range(0, 600, 100):
        fit.add_target(frame["label"].iloc[start:start + 100])
    fit.add(frame.iloc[:400])
    expected = TabularPreprocessor().fit(frame.iloc[:400][["num", "label"]], target="label",
                                         task="classification").get_config()
    assert_same_config(fit.finish().get_config(), expected)


def test_a_column_that_changes_type_between_chunks_is_refused():
    fit = StreamingPreprocessorFit(TabularPreprocessor(), ["x"], "y")
    fit.add(pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}))
    fit.add(pd.DataFrame({"x": ["a", "b"], "y": [0, 1]}))
    with pytest.raises(ValueError, match="numbers in some chunks and text in others; name it with --categorical"):
        fit.finish()


def test_moments_merge_to_the_whole_arrays_mean_and_std():
    values = np.random.default_rng(0).normal(1e3, 5.0, 10_001)
    moments = Moments()
    for part in np.array_split(values, 17):
        moments.add(part)
    assert moments.n == values.size
    assert moments.mean == pytest.approx(values.mean(), rel=1e-14)
    assert moments.std == pytest.approx(values.std(), rel=1e-10)


# ------------------------------------------------------------------ the command
def run(capsys, *argv):
    status = run_command(cli, [str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def parquet_table(tmp_path_factory):
    frame = mixed_frame(2000)
    frame["label"] = np.where(frame["num"] + 3 * (frame["colour"] == "red") > 11, "high", "low")
    path = tmp_path_factory.mktemp("stream") / "table.parquet"
    frame.to_parquet(path, row_group_size=300)
    return path, frame


FAST = ["--hidden", "16", "--epochs", "3", "--batch-size", "64"]


@pytest.mark.parametrize("target", ["label", "price"])
def test_stream_training_holds_out_the_last_rows_and_scores_them_as_in_memory(capsys, parquet_table, tmp_path,
                                                                              target):
    from backprop.cli import pipeline

    path, frame = parquet_table
    out = tmp_path / "model.safetensors"
    status, stdout, err = run(capsys, "train", path, "--target", target, "--stream", "--val-split", "0.1",
                              "--drop", "name", "--shuffle-buffer", "500", *FAST, "--out", out, "--json")
    assert status == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (1440, 160, 400) and summary["streamed"]
    loaded = pipeline.load_model_file(out)
    test = frame.iloc[1600:]
    expected = pipeline.score(loaded.preprocessor, test, loaded.model.predict(loaded.preprocessor.transform(test)))
    reported = {key.removeprefix("test_"): value for key, value in summary.items() if key.startswith("test_")}
    # The held-out rows are predicted a chunk at a time there and all at once here: a float32 BLAS
    # product may round a row differently with another number of rows (OpenBLAS's Haswell kernels on
    # an AMD Zen 5 do: 3e-8 apart), so the scores agree to float32's rounding, not bit for bit.
    assert reported == pytest.approx(expected, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        in_memory = TabularPreprocessor(categorical=[]).fit(frame.iloc[:1440].drop(columns=["name"]), target=target)
    assert_same_config(loaded.preprocessor.get_config(), in_memory.get_config())


def test_stream_training_learns(capsys, parquet_table):
    path, _ = parquet_table
    status, stdout, err = run(capsys, "train", path, "--target", "label", "--stream", "--features",
                              "num,colour", "--epochs", "8", "--json")
    assert status == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["test_accuracy"] > 0.9


def test_stream_refusals_are_one_line(capsys, parquet_table, tmp_path):
    path, frame = parquet_table
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    holes = tmp_path / "holes.parquet"
    frame.assign(price=frame["price"].where(frame.index != 7)).to_parquet(holes)
    for argv, fragment in (((csv, "--target", "price"), "--stream reads Parquet files"),
                           ((holes, "--target", "price"), "missing in 1 of 2000 row(s)"),
                           ((path, "--target", "nope"), "target column 'nope' is not in"),
                           ((path, "--target", "price", "--drop-missing-target"), "--drop-missing-target does not")):
        status, _, err = run(capsys, "train", *argv, "--stream", *FAST)
        assert status == 2, err
        assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err
