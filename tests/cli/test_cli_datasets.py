"""``backprop datasets``: the list, and ``backprop datasets NAME`` writing a dataset as CSV."""

from __future__ import annotations

import io

import numpy as np
import pytest

from backprop.cli.datasets import dataset_frame
from backprop.datasets import list_datasets, load, make_housing

pd = pytest.importorskip("pandas")


def test_housing_is_written_with_its_usual_size_and_seed_0(backprop_cli, tmp_path):
    out = tmp_path / "houses.csv"
    result = backprop_cli("datasets", "housing", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == f"wrote 500 rows of housing to {out}\n"
    written = pd.read_csv(out, dtype={"zip_code": str})
    expected = make_housing(seed=0, as_frame=True)
    assert list(written.columns) == ["size", "bedrooms", "zip_code", "wealth", "price"]
    assert written["size"].dtype.kind == "i" and written["bedrooms"].dtype.kind == "i"
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=1e-12)


def test_rows_seed_and_no_target_give_a_table_to_predict(backprop_cli, tmp_path):
    result = backprop_cli("datasets", "housing", "--rows", 7, "--seed", 3, "--no-target")
    assert result.returncode == 0, result.stderr
    written = pd.read_csv(io.StringIO(result.stdout), dtype={"zip_code": str})
    expected = make_housing(n_samples=7, seed=3, as_frame=True).drop(columns=["price"])
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("record", [r for r in list_datasets() if not r["generated"]], ids=lambda r: r["name"])
def test_a_bundled_dataset_is_written_with_class_names_and_every_row(record):
    frame = dataset_frame(record["name"])
    dataset = load(record["name"], dtype="float64")
    assert frame.shape == (record["n_samples"], record["n_features"] + 1)
    np.testing.assert_array_equal(frame[dataset.feature_names].to_numpy(dtype=np.float64), dataset.X)
    target = frame[dataset.target_column]
    if dataset.target_names is None:
        np.testing.assert_array_equal(target.to_numpy(), dataset.y)
    else:
        assert list(target) == [dataset.target_names[k] for k in dataset.y]


def test_the_written_file_round_trips_through_train(backprop_cli, tmp_path):
    assert backprop_cli("datasets", "iris", "--out", tmp_path / "iris.csv").returncode == 0
    result = backprop_cli("train", tmp_path / "iris.csv", "--target", "target", "--epochs", 2,
                          "--out", tmp_path / "iris.safetensors")
    assert result.returncode == 0, result.stderr
    assert "classification with 3 classes" in result.stdout
    info = backprop_cli("info", tmp_path / "iris.safetensors", "--json").json()
    assert "target target: classification, 3 classes (setosa, versicolor, virginica)" in info["preprocessing"]


@pytest.mark.parametrize("args, message", [
    (("iris", "--rows", 5), "--rows and --seed apply to generated datasets only; iris is bundled"),
    (("iris", "--seed", 1), "--rows and --seed apply to generated datasets only"),
    (("irsi",), "unknown dataset 'irsi'"),
    (("--out", "x.csv"), "--out needs a dataset NAME"),
    (("--no-target",), "--no-target needs a dataset NAME"),
    (("iris", "--json"), "--json lists the datasets; it takes no NAME"),
    (("housing", "--rows", 0), "--rows"),
])
def test_bad_arguments_are_one_line_and_exit_2(backprop_cli, tmp_path, args, message):
    result = backprop_cli("datasets", *args, cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "x.csv").exists()


def test_names_are_matched_as_load_matches_them():
    assert list(dataset_frame("Breast-Cancer").columns) == list(dataset_frame("breast_cancer").columns)
