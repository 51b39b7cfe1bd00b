"""The column exports of the command line's preprocessing, each against ``TabularPreprocessor.transform``.

Dates are the hard part: the graph computes the calendar from seconds since the epoch, so it is
checked on dates around leap days, century years, the epoch and before it, with times and
missing cells. The full pipeline (every kind together, through ``backprop train`` and
``backprop export``) is tested in ``tests/cli/test_cli_export.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from backprop.cli import preprocessing as tabular  # noqa: E402
from backprop.onnx.graph import GraphBuilder  # noqa: E402
from backprop.onnx.preprocessing import COLUMN_EXPORTS  # noqa: E402
from onnx_runtime_helpers import run_onnx  # noqa: E402


def test_every_column_kind_of_the_preprocessor_has_an_export():
    assert sorted(COLUMN_EXPORTS) == sorted(tabular._COLUMN_KEYS)


def column_graph(column: dict, path) -> None:
    """A file with one input "x" (N, 1) and the column's features as "features" (N, k)."""
    graph = GraphBuilder(np.float64)
    graph.reserve("x")
    export, dtype = COLUMN_EXPORTS[column["kind"]]
    blocks = export(graph, "x", column)
    features = graph.node("Concat", blocks, axis=1) if len(blocks) > 1 else blocks[0]
    graph.reserve("features")
    model = graph.model([graph.value_info("x", dtype, ["N", 1])], [graph.output(features, "features", np.float64, None)])
    path.write_bytes(model.SerializeToString())


def transform_of(frame, name):
    preprocessor = tabular.TabularPreprocessor().fit(frame)
    column = next(c for c in preprocessor.get_config()["columns"] if c["name"] == name)
    return preprocessor, column


EDGE_DATES = ["1900-02-28", "1900-03-01", "1969-12-31 23:59:59", "1970-01-01", "1970-01-01 00:00:01",
              "1999-12-31 23:59:59.5", "2000-02-29 12:00", "2000-03-01", "2000-12-31", "2001-01-01",
              "2024-02-29 23:00", "2024-12-31 06:30", "2100-02-28", "2100-03-01", "1601-01-01", "2400-12-31"]


def test_dates_give_the_preprocessors_features(tmp_path):
    rng = np.random.default_rng(0)
    random = (np.datetime64("1850-01-01T00:00:00") + rng.integers(0, 300 * 365 * 86_400, 300).astype(
        "timedelta64[s]")).astype(str).tolist()
    frame = pd.DataFrame({"when": EDGE_DATES + random + [None]})
    preprocessor, column = transform_of(frame, "when")
    assert column["kind"] == "datetime" and "timeofday" in column["parts"]
    expected = preprocessor.transform(frame).astype(np.float64)  # (float32, as the network gets it)
    feeds = tabular_feeds(frame, preprocessor)
    column_graph(column, tmp_path / "dates.onnx")
    actual = run_onnx(tmp_path / "dates.onnx", {"x": feeds})["features"]
    np.testing.assert_allclose(actual, expected, atol=1e-6)
    assert np.all(actual[-1] == 0)  # missing: every feature 0


def tabular_feeds(frame, preprocessor):
    """The seconds since the epoch that onnx_inputs sends for the date column "when"."""
    stamps = tabular._parse_dates(frame["when"].dropna().astype(str))
    seconds = np.full(len(frame), np.nan)
    seconds[frame["when"].notna().to_numpy()] = (stamps - np.datetime64("1970-01-01")).dt.total_seconds()
    return seconds.reshape(-1, 1)


def test_times_of_day(tmp_path):
    frame = pd.DataFrame({"at": ["00:00", "06:00", "12:30:15", "23:59:59", None, "7:05"]})
    preprocessor, column = transform_of(frame, "at")
    assert column["kind"] == "time"
    seconds = np.array([0, 6 * 3600, 12 * 3600 + 30 * 60 + 15, 86_399, np.nan, 7 * 3600 + 300.0]).reshape(-1, 1)
    column_graph(column, tmp_path / "times.onnx")
    actual = run_onnx(tmp_path / "times.onnx", {"x": seconds})["features"]
    np.testing.assert_allclose(actual, preprocessor.transform(frame), atol=1e-6)


def test_numbers_are_imputed_and_standardised(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.5, np.nan, -4.0, 1e6]})
    preprocessor, column = transform_of(frame, "x")
    column_graph(column, tmp_path / "numbers.onnx")
    actual = run_onnx(tmp_path / "numbers.onnx", {"x": frame[["x"]].to_numpy()})["features"]
    np.testing.assert_allclose(actual, preprocessor.transform(frame), rtol=1e-6)


def test_categories_one_hot_with_missing_and_unseen(tmp_path):
    frame = pd.DataFrame({"c": ["b", "a", None, "b", "c"]})
    preprocessor, column = transform_of(frame, "c")
    column_graph(column, tmp_path / "categories.onnx")
    cells = np.array(["a", "", "<missing>", "zebra", "c"], dtype=object).reshape(-1, 1)
    actual = run_onnx(tmp_path / "categories.onnx", {"x": cells})["features"]
    expected = preprocessor.transform(pd.DataFrame({"c": ["a", None, None, "zebra", "c"]}))
    np.testing.assert_array_equal(actual, expected)
