"""Bundled datasets equal scikit-learn's; the housing generator follows the notes."""

import ast
from pathlib import Path

import numpy as np
import pytest

from backprop.datasets import (
    ZIP_CODES, Dataset, housing_price, list_datasets, load, load_breast_cancer, load_diabetes,
    load_digits, load_iris, make_housing,
)

BUNDLED_LOADERS = {
    "iris": load_iris,
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
}


def sklearn_version_of(name, **kwargs):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    return getattr(sklearn_datasets, f"load_{name}")(**kwargs)


@pytest.mark.parametrize("name", list(BUNDLED_LOADERS))
def test_bundled_data_equal_scikit_learn(name):
    reference = sklearn_version_of(name)
    dataset = BUNDLED_LOADERS[name](dtype="float64")
    assert dataset.X.shape == reference.data.shape
    assert dataset.y.shape == reference.target.shape
    np.testing.assert_allclose(dataset.X, reference.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dataset.y, reference.target, rtol=0, atol=0)
    assert dataset.feature_names == [str(f) for f in reference.feature_names]
    if dataset.task == "classification":
        assert dataset.target_names == [str(t) for t in reference.target_names]
        assert dataset.n_classes == len(reference.target_names)
    else:
        assert dataset.target_names is None and dataset.n_classes is None


def test_unscaled_diabetes_equals_scikit_learn():
    reference = sklearn_version_of("diabetes", scaled=False)
    np.testing.assert_array_equal(load_diabetes(dtype="float64", scaled=False).X, reference.data)


@pytest.mark.parametrize("name", list(BUNDLED_LOADERS))
def test_default_dtypes(name):
    dataset = BUNDLED_LOADERS[name]()
    assert dataset.X.dtype == np.float32
    if dataset.task == "classification":
        assert dataset.y.dtype == np.int64
    else:
        assert dataset.y.dtype == np.float32
    assert dataset.name == name and dataset.description


def test_float32_values_are_the_float64_values_rounded():
    np.testing.assert_array_equal(load_iris().X, load_iris(dtype="float64").X.astype(np.float32))


@pytest.mark.parametrize("bad", ["int64", "float8", object])
def test_bad_dtype_is_refused(bad):
    with pytest.raises((TypeError, ValueError), match="dtype must be one of"):
        load_iris(dtype=bad)


def test_tuple_unpacking_gives_X_then_y():
    dataset = load_iris()
    X, y = dataset
    assert X is dataset.X and y is dataset.y
    assert X.shape == (150, 4) and y.shape == (150,)
    assert sorted(np.unique(y).tolist()) == [0, 1, 2]


def test_as_frame_has_features_and_target():
    pytest.importorskip("pandas")
    dataset = load_iris()
    frame = dataset.as_frame()
    assert list(frame.columns) == dataset.feature_names + ["target"]
    np.testing.assert_array_equal(frame[dataset.feature_names].to_numpy(), dataset.X)
    np.testing.assert_array_equal(frame["target"].to_numpy(), dataset.y)
    frame.iloc[0, 0] = -1.0
    assert dataset.X[0, 0] != -1.0  # the frame holds copies


def test_runtime_loader_does_not_use_scikit_learn():
    package = Path(__file__).resolve().parents[2] / "backprop" / "datasets"
    for path in package.glob("*.py"):
        if path.name == "_build_data.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not any(name.startswith("sklearn") for name in imported), path.name


# --- housing ---------------------------------------------------------------------------------------


def test_housing_is_deterministic_with_a_seed():
    first, second = make_housing(200, seed=3), make_housing(200, seed=3)
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.y, second.y)
    assert not np.array_equal(first.y, make_housing(200, seed=4).y)


def test_housing_seed_none_follows_manual_seed():
    from backprop.random import manual_seed

    manual_seed(11)
    first = make_housing(50)
    manual_seed(11)
    np.testing.assert_array_equal(first.y, make_housing(50).y)


def test_housing_prices_are_never_negative_and_the_kink_is_reached():
    dataset = make_housing(3000, noise=0.5, seed=0)
    assert dataset.y.min() >= 0
    assert (dataset.y == 0).any()  # some houses sit on the flat side of the ReLU
    assert (dataset.y > 0).mean() > 0.9


def test_housing_shapes_names_and_codes():
    dataset = make_housing(120, seed=0)
    assert dataset.X.shape == (120, 4) and dataset.y.shape == (120,)
    assert dataset.X.dtype == np.float32 and dataset.y.dtype == np.float32
    assert dataset.feature_names == ["size", "bedrooms", "zip_code", "wealth"]
    assert dataset.task == "regression" and dataset.target_names is None
    codes = dataset.X[:, 2]
    assert set(np.unique(codes).tolist()) <= set(range(len(ZIP_CODES)))
    bedrooms = dataset.X[:, 1]
    assert np.all(bedrooms == np.round(bedrooms)) and bedrooms.min() >= 1


def test_housing_without_noise_is_the_documented_function():
    pytest.importorskip("pandas")
    frame = make_housing(300, noise=0.0, seed=1, as_frame=True)
    expected = housing_price(frame["size"], frame["bedrooms"], frame["zip_code"], frame["wealth"])
    np.testing.assert_allclose(frame["price"].to_numpy(), expected, rtol=1e-12)


def test_housing_price_is_a_relu_of_the_hidden_features():
    # A 400 sq ft, one-bedroom house in the least walkable zip code with a poor
    # neighbourhood: every hidden unit is weak, so the price sits at the kink.
    assert housing_price([400], [1], ["85255"], [30.0])[0] == 0.0
    # Bigger houses cost more, all else equal.
    small, large = housing_price([1000, 3000], [2, 2], ["94110", "94110"], [100.0, 100.0])
    assert large > small > 0
    with pytest.raises(ValueError, match="unknown zip code"):
        housing_price([1000], [2], ["00000"], [100.0])


def test_housing_as_frame_has_a_string_zip_code_and_a_price():
    pd = pytest.importorskip("pandas")
    frame = make_housing(100, seed=5, as_frame=True)
    assert list(frame.columns) == ["size", "bedrooms", "zip_code", "wealth", "price"]
    assert pd.api.types.is_string_dtype(frame["zip_code"])
    assert set(frame["zip_code"]) <= set(ZIP_CODES)
    assert pd.api.types.is_integer_dtype(frame["size"]) and pd.api.types.is_integer_dtype(frame["bedrooms"])
    assert (frame["price"] >= 0).all()
    # The same seed gives the same houses whichever form is asked for.
    dataset = make_housing(100, seed=5)
    np.testing.assert_allclose(frame["price"].to_numpy(), dataset.y, rtol=1e-6)
    decoded = dataset.as_frame()
    assert list(decoded.columns) == list(frame.columns)
    assert decoded["zip_code"].tolist() == frame["zip_code"].tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"seed": -1}, "seed"),
        ({"seed": "abc"}, "seed"),
        ({"as_frame": "yes"}, "as_frame"),
    ],
)
def test_housing_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make_housing(**kwargs)


# --- registry --------------------------------------------------------------------------------------


def test_list_datasets_matches_what_load_returns():
    records = list_datasets()
    assert [r["name"] for r in records] == ["iris", "digits", "breast_cancer", "diabetes", "housing", "shops"]
    for record in records:
        assert set(record) >= {"name", "task", "n_samples", "n_features", "n_classes", "description"}
        dataset = load(record["name"])
        assert isinstance(dataset, Dataset)
        assert dataset.task == record["task"]
        assert dataset.X.shape == (record["n_samples"], record["n_features"])
        assert dataset.n_classes == record["n_classes"]


def test_load_passes_arguments_and_ignores_case():
    assert load("Breast-Cancer").name == "breast_cancer"
    assert load("housing", n_samples=10, seed=0).X.shape == (10, 4)
    assert load("iris", dtype="float64").X.dtype == np.float64


def test_unknown_dataset_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'digits'"):
        load("digit")
    with pytest.raises(ValueError, match="unknown dataset 'zzz'"):
        load("zzz")
    with pytest.raises(TypeError, match="name must be a string"):
        load(3)


# --- shops: a high-cardinality categorical column ----------------------------------------------------------


def test_shops_are_reproducible_and_their_codes_name_the_shops():
    from backprop.datasets import make_shops
    a, b = make_shops(n_samples=300, n_shops=50, seed=1), make_shops(n_samples=300, n_shops=50, seed=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    codes = a.X[:, 0]
    assert (codes == np.round(codes)).all() and 0 <= codes.min() and codes.max() < 50
    assert len(a.categories["shop"]) == 50 and set(a.y) == {0, 1}
    frame = make_shops(n_samples=300, n_shops=50, seed=1, as_frame=True)
    assert list(frame.columns) == ["shop", "price", "income", "distance", "hour", "purchase"]
    assert frame["shop"].tolist() == [a.categories["shop"][int(k)] for k in codes]
    assert not np.array_equal(make_shops(n_samples=300, n_shops=50, seed=2).y, a.y)


def test_the_shop_carries_signal_that_a_lookup_of_its_rate_recovers():
    from backprop.datasets import make_shops
    data = make_shops(n_samples=40000, n_shops=100, seed=0)
    codes = data.X[:, 0].astype(int)
    rates = np.bincount(codes, data.y, minlength=100) / np.bincount(codes, minlength=100)
    assert rates.std() > 0.15  # shops differ a lot; the base rate alone would not explain them


@pytest.mark.parametrize("kwargs", [{"n_shops": 0}, {"n_samples": -1}, {"noise": -1.0}, {"n_shops": 10**7},
                                    {"seed": -3}])
def test_shops_refuses_bad_arguments(kwargs):
    from backprop.datasets import make_shops
    with pytest.raises(ValueError):
        make_shops(**kwargs)
