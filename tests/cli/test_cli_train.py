"""``backprop train`` end to end, as a subprocess on CSV files."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_train_without_data_reaches_95_percent_on_bundled_digits(backprop_cli):
    result = backprop_cli("train", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["source"] == "digits (bundled)"
    assert report["task"] == "classification"
    assert report["test_accuracy"] >= 0.95
    assert 0 < report["test_f1_macro"] <= 1


def test_train_classification_with_a_string_column_and_string_target(backprop_cli, pets_csv, tmp_path):
    out = tmp_path / "pets.safetensors"
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "16", "--epochs", "40",
                          "--lr", "0.01", "--out", out)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("data: ") and "classification with 3 classes" in line for line in lines)
    accuracy = float(next(line for line in lines if line.startswith("test accuracy: ")).split(": ")[1])
    assert accuracy >= 0.85
    assert any(line.startswith("test f1_macro: ") for line in lines)
    assert out.is_file() and f"saved: {out}" in lines


def test_train_regression_reports_r2_and_rmse_in_target_units(backprop_cli, houses_csv):
    result = backprop_cli("train", houses_csv, "--target", "price", "--categorical", "zip_code",
                          "--hidden", "32,16", "--epochs", "60", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["task"] == "regression"
    assert report["test_r2"] > 0.8
    # The prices are in k$ with a spread of hundreds: an RMSE in standardised units would be < 1.
    assert 1.0 < report["test_rmse"] < 200.0
    assert set(report) >= {"test_r2", "test_rmse", "test_mae", "n_train", "n_test", "epochs_run"}
    assert report["n_train"] + report["n_test"] == 400


def test_json_is_the_last_line_and_holds_the_final_metrics(backprop_cli, pets_csv):
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "8", "--epochs", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    assert {"test_accuracy", "test_f1_macro", "task", "target", "epochs_run"} <= set(report)
    assert report["epochs_run"] == 2 and report["target"] == "species"


def test_plot_writes_a_valid_png(backprop_cli, pets_csv, tmp_path):
    plot = tmp_path / "curves.png"
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "8", "--epochs", "5",
                          "--val-split", "0.2", "--plot", plot)
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == PNG_SIGNATURE
    image = pytest.importorskip("matplotlib.image").imread(plot)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_early_stopping_stops_before_the_last_epoch(backprop_cli, pets_csv):
    # No --val-split: --early-stopping holds out 10% of the training rows by itself.
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "64,64", "--lr", "0.01",
                          "--epochs", "300", "--early-stopping", "3", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["epochs_run"] < 300


def test_regularisation_options_are_accepted(backprop_cli, pets_csv):
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "16,8", "--epochs", "3",
                          "--l2", "0.001", "--dropout", "0.2", "--optimizer", "sgd", "--lr", "0.05",
                          "--activation", "tanh", "--batch-size", "16", "--json")
    assert result.returncode == 0, result.stderr
    assert 0 <= result.json()["test_accuracy"] <= 1


def test_same_seed_gives_the_same_result(backprop_cli, pets_csv):
    args = ("train", pets_csv, "--target", "species", "--hidden", "8", "--epochs", "3", "--seed", "7", "--json")
    first, second = backprop_cli(*args).json(), backprop_cli(*args).json()
    assert first["test_accuracy"] == second["test_accuracy"]
    assert np.isclose(first["final_loss"], second["final_loss"])


def test_diagnostics_report_goes_to_stderr_with_json(backprop_cli, pets_csv):
    result = backprop_cli("train", pets_csv, "--target", "species", "--hidden", "8", "--epochs", "2",
                          "--diagnostics", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["epochs_run"] == 2
    assert "Gradient flow" in result.stderr


def test_diverged_training_fails_in_one_line_and_keeps_the_good_model_file(backprop_cli, houses_csv, tmp_path):
    out = tmp_path / "houses.safetensors"
    good = backprop_cli("train", houses_csv, "--target", "price", "--epochs", "2", "--out", out)
    assert good.returncode == 0, good.stderr
    before = out.read_bytes()
    bad = backprop_cli("train", houses_csv, "--target", "price", "--epochs", "3", "--optimizer", "sgd",
                       "--lr", "10", "--out", out)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "training diverged" in bad.stderr and "--lr" in bad.stderr and "nothing was saved" in bad.stderr
    assert out.read_bytes() == before


def test_a_finite_blow_up_fails_like_a_nan_and_saves_nothing(backprop_cli, pets_csv, tmp_path):
    """Adam at --lr 1e6: the loss reaches ~1e13 but stays finite, which TerminateOnNaN cannot see."""
    out = tmp_path / "pets.safetensors"
    bad = backprop_cli("train", pets_csv, "--target", "species", "--epochs", "5", "--optimizer", "adam",
                       "--lr", "1e6", "--out", out)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "training diverged" in bad.stderr and "--lr" in bad.stderr and "nothing was saved" in bad.stderr
    assert not out.exists()


def test_train_and_predict_on_parquet_files(backprop_cli, pets_csv, tmp_path):
    pytest.importorskip("pyarrow")
    data = tmp_path / "pets.parquet"
    pd.read_csv(pets_csv).to_parquet(data)
    out = tmp_path / "pets.safetensors"
    trained = backprop_cli("train", data, "--target", "species", "--epochs", "20", "--out", out, "--json")
    assert trained.returncode == 0, trained.stderr
    assert trained.json()["test_accuracy"] > 0.8
    predicted = backprop_cli("predict", out, data)
    assert predicted.returncode == 0, predicted.stderr
    assert len(predicted.stdout.strip().splitlines()) == len(pd.read_csv(pets_csv)) + 1  # header + one per row


def test_the_loss_comes_from_the_loss_registry(backprop_cli, houses_csv):
    result = backprop_cli("train", houses_csv, "--target", "price", "--epochs", "2", "--loss", "mae", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["final_loss"] > 0


def test_a_loss_that_does_not_suit_the_task_is_one_line_and_exit_2(backprop_cli, pets_csv):
    result = backprop_cli("train", pets_csv, "--target", "species", "--epochs", "1", "--loss", "mse")
    assert result.returncode == 2
    assert "--loss mse does not suit a classification task" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
