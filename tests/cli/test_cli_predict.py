"""``backprop predict`` and ``backprop evaluate`` on raw rows, with a model from ``backprop train``."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def test_predict_writes_labels_and_one_probability_column_per_class(backprop_cli, pets_model, pets_csv):
    # pets.csv still holds the target column "species": predict ignores it.
    result = backprop_cli("predict", pets_model, pets_csv)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(io.StringIO(result.stdout))
    raw = pd.read_csv(pets_csv)
    assert list(predictions.columns) == ["species", "prob_cat", "prob_dog", "prob_fox"]
    assert len(predictions) == len(raw)
    assert set(predictions["species"]) <= {"cat", "dog", "fox"}
    probabilities = predictions[["prob_cat", "prob_dog", "prob_fox"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities >= 0).all()
    best = np.array(["cat", "dog", "fox"])[probabilities.argmax(axis=1)]
    assert (best == predictions["species"].to_numpy()).all()
    assert (predictions["species"] == raw["species"]).mean() > 0.85


def test_predict_on_rows_without_the_target_to_a_file(backprop_cli, pets_model, pets_csv, tmp_path):
    rows = pd.read_csv(pets_csv).drop(columns=["species"]).head(10)
    rows = rows[["age", "colour", "weight"]]  # column order does not matter
    data, out = tmp_path / "new_pets.csv", tmp_path / "predictions.csv"
    rows.to_csv(data, index=False)
    result = backprop_cli("predict", pets_model, data, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(pd.read_csv(out)) == 10


def test_predict_regression_gives_values_in_target_units(backprop_cli, houses_model, houses_csv):
    result = backprop_cli("predict", houses_model, houses_csv)
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(io.StringIO(result.stdout))
    truth = pd.read_csv(houses_csv)["price"]
    assert list(predictions.columns) == ["price"]
    assert np.corrcoef(predictions["price"], truth)[0, 1] > 0.9
    assert abs(predictions["price"].mean() - truth.mean()) < 0.2 * truth.std()


def test_evaluate_reports_the_metrics_as_json(backprop_cli, pets_model, houses_model, pets_csv, houses_csv):
    classification = backprop_cli("evaluate", pets_model, pets_csv, "--target", "species", "--json")
    assert classification.returncode == 0, classification.stderr
    report = classification.json()
    assert report["accuracy"] > 0.85 and 0 < report["f1_macro"] <= 1
    regression = backprop_cli("evaluate", houses_model, houses_csv, "--target", "price")
    assert regression.returncode == 0, regression.stderr
    lines = regression.stdout.splitlines()
    assert float(next(line for line in lines if line.startswith("r2: ")).split()[1]) > 0.8
    assert any(line.startswith("rmse: ") for line in lines)
