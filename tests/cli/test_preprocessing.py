"""TabularPreprocessor and read_table: the command line's path from a table to a matrix."""

import gzip
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from backprop.cli.preprocessing import (  # noqa: E402
    ID_LIKE_MIN_VALUES,
    MAX_CATEGORIES,
    MISSING_CATEGORY,
    IdentifierColumnWarning,
    TabularPreprocessor,
    infer_task,
    read_table,
)


@pytest.fixture
def houses():
    return pd.DataFrame({
        "size": [1000, 1500, 2000, 2500, 3000, 1200],
        "zip_code": ["94110", "10001", "94110", "60614", "10001", "60614"],
        "garden": [True, False, True, True, False, False],
        "price": [300.0, 450.0, 610.0, 700.0, 820.0, 350.0],
        "kind": ["flat", "flat", "house", "house", "house", "flat"],
    })


def roundtrip(preprocessor):
    return TabularPreprocessor.from_config(json.loads(json.dumps(preprocessor.get_config())))


# --- encoding ----------------------------------------------------------------------------------------


def test_numeric_columns_are_standardised_and_categorical_one_hot(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    X = prep.transform(houses)
    assert X.dtype == np.float32
    assert prep.feature_names_in == ["size", "zip_code", "garden", "kind"]
    assert prep.feature_names_out == [
        "size", "zip_code=10001", "zip_code=60614", "zip_code=94110",
        "garden=False", "garden=True", "kind=flat", "kind=house",
    ]
    assert X.shape == (6, prep.n_features_out) == (6, 8)
    size = houses["size"].to_numpy(dtype=float)
    np.testing.assert_allclose(X[:, 0], (size - size.mean()) / size.std(), rtol=1e-6)
    np.testing.assert_array_equal(X[:, 1:4], [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
    assert np.all(X[:, 1:].sum(axis=1) == 3)  # exactly one hot per categorical column


def test_constant_numeric_column_becomes_zero():
    frame = pd.DataFrame({"a": [5.0, 5.0, 5.0], "y": [0, 1, 0]})
    prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.get_config()["columns"][0]["std"] == 1.0
    np.testing.assert_array_equal(prep.transform(frame), np.zeros((3, 1), dtype=np.float32))


def test_unseen_category_encodes_as_all_zeros(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    new = houses.head(2).copy()
    new["zip_code"] = ["99999", "10001"]
    X = prep.transform(new)
    np.testing.assert_array_equal(X[0, 1:4], [0, 0, 0])
    np.testing.assert_array_equal(X[1, 1:4], [1, 0, 0])


def test_numbers_in_a_categorical_column_match_their_strings(houses):
    # A CSV read back may turn "94110" into the integer 94110; the encoding must not change.
    prep = TabularPreprocessor().fit(houses, target="price")
    as_ints = houses.assign(zip_code=houses["zip_code"].astype(int))
    np.testing.assert_array_equal(prep.transform(as_ints), prep.transform(houses))


def test_categorical_argument_one_hot_encodes_numbers(houses):
    frame = houses.assign(zip_code=houses["zip_code"].astype(int))
    prep = TabularPreprocessor(categorical=["zip_code"]).fit(frame, target="price")
    assert "zip_code=94110" in prep.feature_names_out
    with pytest.raises(ValueError, match="not in the frame"):
        TabularPreprocessor(categorical=["nope"]).fit(frame, target="price")
    with pytest.raises(ValueError, match="cannot also be a categorical"):
        TabularPreprocessor(categorical=["price"]).fit(frame, target="price")


def test_target_column_in_the_frame_is_ignored_by_transform(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    np.testing.assert_array_equal(prep.transform(houses), prep.transform(houses.drop(columns="price")))


def test_missing_feature_columns_are_named(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['zip_code', 'kind'\]"):
        prep.transform(houses.drop(columns=["zip_code", "kind"]))


def test_text_in_a_numeric_column_is_refused(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    with pytest.raises(ValueError, match="'size' was numeric"):
        prep.transform(houses.assign(size=["big"] * 6))


# --- missing values ----------------------------------------------------------------------------------


def test_missing_numbers_are_imputed_with_the_training_mean():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 4.0]})
    prep = TabularPreprocessor().fit(frame, target="y")
    column = prep.get_config()["columns"][0]
    present = np.array([1.0, 3.0, 4.0])
    assert column["mean"] == pytest.approx(present.mean())
    assert column["std"] == pytest.approx(present.std())
    assert column["n_missing"] == 1
    X = prep.transform(frame)
    assert X[1, 0] == 0.0  # the mean, standardised
    assert prep.transform(pd.DataFrame({"a": [None]}))[0, 0] == 0.0
    assert any("imputed with the mean" in line for line in prep.describe())


def test_missing_categories_are_their_own_category():
    frame = pd.DataFrame({"c": ["x", None, "y", "x"], "y": [1.0, 2.0, 3.0, 4.0]})
    prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.feature_names_out == [f"c={MISSING_CATEGORY}", "c=x", "c=y"]
    np.testing.assert_array_equal(prep.transform(frame)[1], [1, 0, 0])
    # Trained without missing cells, a missing cell later is simply unseen.
    prep = TabularPreprocessor().fit(frame.dropna(), target="y")
    np.testing.assert_array_equal(prep.transform(pd.DataFrame({"c": [None]})), [[0, 0]])


def test_missing_target_values_are_refused_with_their_count():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": ["u", None, None]})
    with pytest.raises(ValueError, match=r"'label' has 2 row\(s\) with a missing value"):
        TabularPreprocessor().fit(frame, target="label")


def test_all_missing_numeric_column_is_refused():
    frame = pd.DataFrame({"a": [np.nan, np.nan], "y": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'a' has no values"):
        TabularPreprocessor().fit(frame, target="y")


# --- target ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, expected_task",
    [
        (["cat", "dog", "cat", "dog"], "classification"),
        ([True, False, True, False], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.5, 1.5, 2.5, 3.0], "regression"),
        ([1.0, 2.0, 1.0, 2.0], "regression"),  # floats are always regression under "auto"
    ],
)
def test_auto_task(values, expected_task):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": values})
    assert TabularPreprocessor().fit(frame, target="y").task == expected_task


def test_auto_task_many_integers_is_regression():
    frame = pd.DataFrame({"a": np.arange(50.0), "y": np.arange(50) * 3})
    assert TabularPreprocessor().fit(frame, target="y").task == "regression"
    assert TabularPreprocessor().fit(frame, target="y", task="classification").task == "classification"


@pytest.mark.parametrize(
    "labels, expected_classes",
    [
        ([3, 1, 2, 1], [1, 2, 3]),
        (["b", "a", "c", "a"], ["a", "b", "c"]),
        ([True, False, False, True], [False, True]),
    ],
)
def test_label_types_survive_the_json_round_trip(labels, expected_classes):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": labels})
    prep = roundtrip(TabularPreprocessor().fit(frame, target="y", task="classification"))
    assert prep.classes == expected_classes
    assert [type(c) for c in prep.classes] == [type(c) for c in expected_classes]
    encoded = prep.transform_target(frame["y"])
    assert encoded.dtype == np.int64
    decoded = prep.inverse_transform_target(encoded)
    assert decoded.tolist() == labels
    assert [type(v) for v in decoded.tolist()] == [type(v) for v in labels]


def test_inverse_transform_of_scores_and_probabilities():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["no", "yes", "maybe"]})
    prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.classes == ["maybe", "no", "yes"]
    scores = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]])
    assert prep.inverse_transform_target(scores).tolist() == ["no", "maybe"]
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 3\)"):
        prep.inverse_transform_target(np.array([0, 3]))
    binary = TabularPreprocessor().fit(frame.head(2), target="y")
    assert binary.inverse_transform_target(np.array([[0.9], [0.2]])).tolist() == ["yes", "no"]


def test_unseen_labels_are_named():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": ["cat", "dog", "cat"]})
    prep = TabularPreprocessor().fit(frame, target="y")
    with pytest.raises(ValueError, match="not seen in fit: 'cow', 'emu'"):
        prep.transform_target(pd.Series(["cat", "emu", "cow"]))


def test_regression_target_is_standardised_and_inverted(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    y = prep.transform_target(houses)  # a frame holding the target works too
    assert y.dtype == np.float32
    assert abs(float(y.mean())) < 1e-6 and float(y.std()) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(prep.inverse_transform_target(y[:, None]), houses["price"], rtol=1e-6)
    raw = TabularPreprocessor(standardize_target=False).fit(houses, target="price")
    np.testing.assert_array_equal(raw.transform_target(houses["price"]), houses["price"].to_numpy(np.float32))


def test_regression_needs_a_numeric_target(houses):
    with pytest.raises(ValueError, match="needs a numeric target"):
        TabularPreprocessor().fit(houses, target="kind", task="regression")


# --- config round trip -------------------------------------------------------------------------------


def test_json_round_trip_gives_identical_transforms(houses):
    frame = houses.copy()
    frame.loc[2, "size"] = np.nan
    frame.loc[4, "zip_code"] = None
    prep = TabularPreprocessor(categorical=["garden"]).fit(frame, target="price")
    text = json.dumps(prep.get_config())
    rebuilt = TabularPreprocessor.from_config(json.loads(text))
    np.testing.assert_array_equal(rebuilt.transform(frame), prep.transform(frame))
    np.testing.assert_array_equal(rebuilt.transform_target(frame["price"]), prep.transform_target(frame["price"]))
    assert rebuilt.feature_names_out == prep.feature_names_out
    assert rebuilt.describe() == prep.describe()
    assert json.dumps(rebuilt.get_config()) == text


def test_get_config_is_a_copy(houses):
    prep = TabularPreprocessor().fit(houses, target="price")
    config = prep.get_config()
    config["columns"][1]["categories"].clear()
    assert prep.n_features_out == 8


def test_unfitted_round_trip_and_errors():
    prep = TabularPreprocessor.from_config(json.loads(json.dumps(TabularPreprocessor().get_config())))
    assert not prep.is_fitted
    with pytest.raises(RuntimeError, match="not fitted"):
        prep.transform(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="config type"):
        TabularPreprocessor.from_config({"type": "Other"})
    with pytest.raises(ValueError, match="lacks"):
        TabularPreprocessor.from_config({"type": "TabularPreprocessor", "version": 1})


# --- the caller's data and bad input -----------------------------------------------------------------


def test_the_callers_frame_is_not_changed(houses):
    frame = houses.copy()
    frame.loc[0, "size"] = np.nan
    frame.loc[1, "zip_code"] = None
    before = frame.copy()
    prep = TabularPreprocessor().fit(frame, target="price")
    prep.transform(frame)
    prep.transform_target(frame["price"])
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p, f: p.fit(f.to_numpy(), target="price"), TypeError, "DataFrame"),
        (lambda p, f: p.fit(f, target="nope"), ValueError, "'nope' is not in the frame"),
        (lambda p, f: p.fit(f, target="price", task="clustering"), ValueError, "task must be one of"),
        (lambda p, f: p.fit(f, task="regression"), ValueError, "needs a target"),
        (lambda p, f: p.fit(f.head(0), target="price"), ValueError, "no rows"),
        (lambda p, f: p.fit(f[["price"]], target="price"), ValueError, "no feature columns"),
        (lambda p, f: p.fit(f.assign(took=pd.Timedelta("1h")), target="price"), ValueError, "not supported"),
    ],
)
def test_bad_fit_arguments(houses, call, error, message):
    with pytest.raises(error, match=message):
        call(TabularPreprocessor(), houses)


def test_fit_without_target(houses):
    prep = TabularPreprocessor().fit(houses.drop(columns="price"))
    assert prep.task is None and prep.classes is None
    with pytest.raises(RuntimeError, match="without a target"):
        prep.transform_target(houses["price"])


# --- read_table --------------------------------------------------------------------------------------


def test_read_table_reads_csv_and_gzipped_tsv(tmp_path, houses):
    csv_path = tmp_path / "houses.csv"
    houses.to_csv(csv_path, index=False)
    pd.testing.assert_frame_equal(read_table(csv_path).astype({"zip_code": str}), houses, check_dtype=False)
    tsv_path = tmp_path / "houses.tsv.gz"
    with gzip.open(tsv_path, "wt") as handle:
        handle.write("a\tb\n1\tx\n2\ty\n")
    assert read_table(str(tsv_path))["b"].tolist() == ["x", "y"]


def test_read_table_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_table(tmp_path / "nope.csv")
    cases = {
        "empty.csv": ("", "is empty"),
        "blank.csv": ("\n\n", "is empty"),
        "header_only.csv": ("a,b\n", "no data rows"),
        "no_header.csv": ("1,2\n3,4\n", "no header row"),
        "ragged.csv": ("a,b\n1,2\n1,2,3,4\n", "could not parse"),
        "index.csv": (",a\n0,1\n", "no name"),
        "data.xlsx": ("a\n1\n", "unsupported file type"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(ValueError, match=message) as raised:
            read_table(path)
        assert name in str(raised.value)
    with pytest.raises(ValueError, match="is a directory"):
        read_table(tmp_path)


def test_read_table_parquet_needs_pyarrow(tmp_path):
    path = tmp_path / "data.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path.write_bytes(b"PAR1")
        with pytest.raises(ImportError, match="pyarrow"):
            read_table(path)
    else:
        pd.DataFrame({"a": [1, 2]}).to_parquet(path)
        assert read_table(path)["a"].tolist() == [1, 2]


def test_rows_with_more_fields_than_the_header_are_refused(tmp_path):
    from backprop.cli.preprocessing import read_table

    path = tmp_path / "shifted.csv"
    path.write_text("a,b\n1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="more fields than its header"):
        read_table(path)


def test_read_table_refuses_a_corrupt_parquet_file(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not a parquet file PAR1")
    with pytest.raises(ValueError, match="could not read .*broken.parquet as Parquet"):
        read_table(path)


# --- dates and times ---------------------------------------------------------------------------------


def dated(n=40, **columns):
    days = pd.date_range("2012-01-01", periods=n, freq="7D")
    return pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "x": np.arange(n, dtype=float),
                         **columns, "y": np.arange(n) % 2})


def test_a_date_column_becomes_the_year_and_cyclic_parts():
    frame = dated()
    prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.feature_names_out == ["day.year", "day.month_sin", "day.month_cos", "day.weekday_sin",
                                      "day.weekday_cos", "day.dayofyear_sin", "day.dayofyear_cos", "x"]
    assert prep.date_columns == [{"name": "day", "kind": "datetime",
                                  "features": ["year", "month", "day of week", "day of year"]}]
    X = prep.transform(frame)
    stamps = pd.to_datetime(frame["day"])
    year = stamps.dt.year + (stamps.dt.day_of_year - 1) / np.where(stamps.dt.is_leap_year, 366, 365)
    np.testing.assert_allclose(X[:, 0], (year - year.mean()) / year.std(ddof=0), atol=1e-5)
    month = 2 * np.pi * (stamps.dt.month - 1) / 12
    np.testing.assert_allclose(X[:, 1:3], np.column_stack([np.sin(month), np.cos(month)]), atol=1e-6)
    weekday = 2 * np.pi * stamps.dt.day_of_week / 7
    np.testing.assert_allclose(X[:, 3:5], np.column_stack([np.sin(weekday), np.cos(weekday)]), atol=1e-6)
    np.testing.assert_array_equal(X[0, 1:3], [0, 1])  # January: phase 0
    np.testing.assert_array_equal(roundtrip(prep).transform(frame), X)
    assert any(line.startswith("day: date, 7 features") for line in prep.describe())


def test_times_add_the_time_of_day_and_a_time_column_is_only_that():
    frame = dated(8, t=["08:15", "20:15:30"] * 4)
    frame["day"] = frame["day"] + " 06:00"
    frame.loc[2, "day"] = "2012-01-15T18:00:00Z"
    prep = TabularPreprocessor().fit(frame, target="y")
    names = prep.feature_names_out
    assert names[5:9] == ["day.dayofyear_sin", "day.dayofyear_cos", "day.timeofday_sin", "day.timeofday_cos"]
    assert names[-2:] == ["t.timeofday_sin", "t.timeofday_cos"] and prep.n_features_out == 12
    X = prep.transform(frame)
    six, eight = 2 * np.pi * 0.25, 2 * np.pi * (8 * 3600 + 15 * 60) / 86400
    np.testing.assert_allclose(X[0, 7:9], [np.sin(six), np.cos(six)], atol=1e-6)
    np.testing.assert_allclose(X[0, 10:12], [np.sin(eight), np.cos(eight)], atol=1e-6)


def test_missing_dates_become_zeros_and_non_dates_at_transform_are_named():
    frame = dated()
    frame.loc[3, "day"] = None
    prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.get_config()["columns"][0]["n_missing"] == 1
    np.testing.assert_array_equal(prep.transform(frame)[3, :7], np.zeros(7))
    with pytest.raises(ValueError, match=r"column 'day' holds 1 value\(s\) that are not dates, such as 'soon'"):
        prep.transform(frame.assign(day=["soon"] + frame["day"].tolist()[1:]))


def test_datetime_dtypes_and_time_zones_are_dates_too():
    frame = dated()
    as_dtype = frame.assign(day=pd.to_datetime(frame["day"]))
    aware = frame.assign(day=pd.to_datetime(frame["day"]).dt.tz_localize("Europe/Paris"))
    X = TabularPreprocessor().fit(frame, target="y").transform(frame)
    np.testing.assert_allclose(TabularPreprocessor().fit(as_dtype, target="y").transform(as_dtype), X)
    prep = TabularPreprocessor().fit(aware, target="y")
    assert "day.timeofday_sin" in prep.feature_names_out  # midnight in Paris is 23:00 UTC


@pytest.mark.parametrize("values", [
    ["2012-13-45", "2012-01-02"],  # matches the pattern but is no date
    ["2012-01-01", "soon"],  # not all dates
    ["01/02/2012", "03/04/2012"],  # day or month first: ambiguous, stays text
])
def test_columns_that_are_not_all_year_first_dates_stay_text(values):
    frame = pd.DataFrame({"d": values * 3, "y": [0, 1] * 3})
    assert TabularPreprocessor().fit(frame, target="y").get_config()["columns"][0]["kind"] == "categorical"


# --- identifier-like columns -------------------------------------------------------------------------


def test_identifier_like_text_columns_are_dropped_with_a_warning():
    n = 60
    frame = pd.DataFrame({"name": [f"car {i}" for i in range(n)], "colour": ["red", "blue"] * (n // 2),
                          "x": np.arange(n, dtype=float), "y": np.arange(n) % 2})
    with pytest.warns(IdentifierColumnWarning, match="'name' has 60 distinct values in 60 rows"):
        prep = TabularPreprocessor().fit(frame, target="y")
    assert prep.feature_names_in == ["colour", "x"] and prep.n_features_out == 3
    assert prep.dropped_columns == [{"name": "name", "reason": "identifier", "n_values": 60}]
    assert roundtrip(prep).dropped_columns == prep.dropped_columns
    assert any("name: dropped, identifier-like" in line for line in prep.describe())
    prep.transform(frame.drop(columns="name"))  # predict does not need the dropped column
    kept = TabularPreprocessor(keep_id_columns=True).fit(frame, target="y")
    assert kept.n_features_out == 63 and kept.dropped_columns == []
    named = TabularPreprocessor(categorical=["name"]).fit(frame, target="y")  # an explicit choice wins
    assert named.dropped_columns == []


def test_few_or_repeated_values_are_not_identifiers():
    n = 200
    repeated = [f"v{i % 40}" for i in range(n)]  # 40 values > 20, but 5 rows each
    few = [f"u{i}" for i in range(ID_LIKE_MIN_VALUES)] * 1  # unique, but only 20 of them
    frame = pd.DataFrame({"repeated": repeated, "y": np.arange(n) % 2})
    assert TabularPreprocessor().fit(frame, target="y").dropped_columns == []
    small = pd.DataFrame({"few": few, "y": np.arange(len(few)) % 2})
    assert TabularPreprocessor().fit(small, target="y").dropped_columns == []


def test_infer_task():
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series(np.arange(100))) == "regression"
    assert infer_task(pd.Series([1.5, 2.0]), "classification") == "classification"
    with pytest.raises(ValueError, match="task must be one of"):
        infer_task(pd.Series([1]), "clustering")


# --- configs from untrusted files --------------------------------------------------------------------


def _config(houses):
    frame = houses.assign(day=pd.date_range("2020-01-01", periods=len(houses)).strftime("%Y-%m-%d"))
    return json.loads(json.dumps(TabularPreprocessor().fit(frame, target="kind").get_config()))


def _set(path, value):
    def mutate(config):
        *keys, last = path
        node = config
        for key in keys:
            node = node[key]
        node[last] = value
    return mutate


# Columns of _config: 0 size (numeric), 1 zip_code (categorical), 2 garden (categorical),
# 3 price (numeric), 4 day (datetime); target kind (classification).
CRAFTED = {
    "a string mean": _set(["columns", 0, "mean"], "leaky_relu"),
    "a list std": _set(["columns", 0, "std"], [1.0, 2.0]),
    "a zero std": _set(["columns", 0, "std"], 0.0),
    "a NaN mean": _set(["columns", 3, "mean"], float("nan")),
    "a boolean mean": _set(["columns", 3, "mean"], True),
    "integer categories": _set(["columns", 1, "categories"], [10001, 60614]),
    "too many categories": _set(["columns", 1, "categories"], [f"c{i}" for i in range(MAX_CATEGORIES + 1)]),
    "repeated categories": _set(["columns", 1, "categories"], ["a", "a"]),
    "a huge category": _set(["columns", 1, "categories"], ["x" * 100_000]),
    "categories as a dict": _set(["columns", 1, "categories"], {"a": 1}),
    "a negative n_missing": _set(["columns", 1, "n_missing"], -1),
    "an unknown kind": _set(["columns", 2, "kind"], "pickle"),
    "an unhashable kind": _set(["columns", 2, "kind"], ["numeric"]),
    "an unknown key": _set(["columns", 0, "call"], "os.system"),
    "a list as a name": _set(["columns", 0, "name"], ["size"]),
    "a repeated name": _set(["columns", 3, "name"], "size"),
    "unknown date parts": _set(["columns", 4, "parts"], ["year", "hour"]),
    "date parts out of order": _set(["columns", 4, "parts"], ["month", "year"]),
    "an infinite year std": _set(["columns", 4, "year_std"], float("inf")),
    "unsorted classes": _set(["target", "classes"], ["house", "flat"]),
    "one class": _set(["target", "classes"], ["flat"]),
    "mixed classes": _set(["target", "classes"], [1, "flat"]),
    "a dict class": _set(["target", "classes"], [{}, {"a": 1}]),
    "an unknown task": _set(["target", "task"], "clustering"),
    "the target as a feature": _set(["target", "name"], "size"),
    "a string version": _set(["version"], "2"),
    "a string standardize_target": _set(["standardize_target"], "yes"),
    "columns as a string": _set(["columns"], "size"),
    "a dropped column with a reason": _set(["dropped"], [{"name": "id", "reason": "eval", "n_values": 3}]),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_configs_are_refused_with_one_short_line(houses, case):
    config = _config(houses)
    CRAFTED[case](config)
    with pytest.raises(ValueError) as refused:
        TabularPreprocessor.from_config(config)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 300, message


def test_a_valid_config_and_a_version_1_config_load(houses):
    config = _config(houses)
    assert TabularPreprocessor.from_config(config).n_features_out == 1 + 3 + 2 + 1 + 7
    old = json.loads(json.dumps(TabularPreprocessor().fit(houses, target="kind").get_config()))
    old["version"] = 1
    del old["dropped"], old["keep_id_columns"]
    prep = TabularPreprocessor.from_config(old)
    np.testing.assert_array_equal(prep.transform(houses), TabularPreprocessor().fit(houses, target="kind")
                                  .transform(houses))


def test_fit_refuses_more_categories_than_a_config_may_hold():
    frame = pd.DataFrame({"code": [str(i) for i in range(MAX_CATEGORIES + 1)], "y": [0, 1] * ((MAX_CATEGORIES + 1) // 2)
                          + [0]})
    with pytest.raises(ValueError, match="more than the 100000"):
        TabularPreprocessor(keep_id_columns=True).fit(frame, target="y")


# --- separators and encodings ------------------------------------------------------------------------


def test_read_table_sniffs_the_separator(tmp_path, houses):
    for sep in (";", "\t", "|"):
        path = tmp_path / "houses.csv"
        houses.to_csv(path, sep=sep, index=False)
        frame = read_table(path)
        assert list(frame.columns) == list(houses.columns), sep
        assert read_table(path, sep=sep).equals(frame)
    path = tmp_path / "quoted.csv"
    path.write_text('a;b;c\n"1,5";"x, y";2\n"2,5";"z";3\n')
    frame = read_table(path)  # commas inside quoted fields do not fool it; decimal commas are numbers
    assert list(frame.columns) == ["a", "b", "c"] and frame["a"].tolist() == [1.5, 2.5]


def test_decimal_commas_in_a_semicolon_file_are_numbers(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("price;rooms;city\n1,5;3;Lyon\n2;4;Nice\n-0,25;2;Metz\n")
    frame = read_table(path)
    assert frame["price"].tolist() == [1.5, 2.0, -0.25] and frame["city"].tolist() == ["Lyon", "Nice", "Metz"]


def test_a_latin_1_file_is_read_with_a_warning(tmp_path):
    path = tmp_path / "cities.csv"
    path.write_bytes("city,y\nZürich,1\nGenève,2\nKöln,3\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="is not UTF-8; read it as cp1252"):
        frame = read_table(path)
    assert frame["city"].tolist() == ["Zürich", "Genève", "Köln"]
    assert read_table(path, encoding="latin-1")["city"].tolist() == ["Zürich", "Genève", "Köln"]
    with pytest.raises(ValueError, match=r"could not decode .*cities.csv as utf-8: byte 0xfc .*--encoding"):
        read_table(path, encoding="utf-8")
    path.write_bytes(b"\xef\xbb\xbfcity,y\nBern,1\n")  # a UTF-8 byte-order mark
    assert list(read_table(path).columns) == ["city", "y"]


@pytest.mark.parametrize("sep, encoding, message", [
    (";;", None, "one character"), ("a", None, "one character"), ('"', None, "one character"),
    (None, "klingon", "unknown encoding 'klingon'"),
])
def test_bad_separator_or_encoding(tmp_path, sep, encoding, message):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=message):
        read_table(path, sep=sep, encoding=encoding)


def test_tab_can_be_written_as_backslash_t(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a\tb\n1\t2\n")
    assert list(read_table(path, sep="\\t").columns) == ["a", "b"]
