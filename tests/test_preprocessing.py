"""TabularPreprocessor and read_table: the command line's path from a table to a matrix."""

import gzip
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from backprop.preprocessing import MISSING_CATEGORY, TabularPreprocessor, read_table  # noqa: E402


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
    from backprop.preprocessing import read_table

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
