"""Every user error is one ``error: ...`` line on stderr, exit status 2, and never a traceback."""

from __future__ import annotations

import click
import numpy as np
import pandas as pd
import pytest

from backprop.cli.errors import run_command
from backprop.cli.main import cli


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("option, value", [
    ("--epochs", "-3"), ("--dropout", "1.5"), ("--val-split", "1"), ("--hidden", "0,5"), ("--lr", "-1"),
])
def test_option_value_out_of_range(backprop_cli, option, value):
    assert_one_line_error(backprop_cli("train", option, value), option)


@pytest.mark.parametrize("option, value", [
    ("--epochs", "0"), ("--hidden", "12,abc"), ("--lr", "0"), ("--batch-size", "0"), ("--l2", "-0.1"),
    ("--test-split", "1"), ("--early-stopping", "0"), ("--optimizer", "adamm"), ("--task", "clustering"),
])
def test_more_option_values_out_of_range_in_process(capsys, option, value):
    # The same code path as the console script, without the cost of a new interpreter.
    assert run_command(cli, ["train", option, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and option in err


def test_unknown_option_and_command(backprop_cli):
    assert_one_line_error(backprop_cli("train", "--bogus"), "--bogus")
    assert_one_line_error(backprop_cli("trian"), "trian")


def test_missing_data_file(backprop_cli, tmp_path):
    assert_one_line_error(backprop_cli("train", tmp_path / "nope.csv"), "nope.csv")


def test_missing_model_and_missing_data_for_predict(backprop_cli, pets_model, tmp_path):
    assert_one_line_error(backprop_cli("predict", tmp_path / "nope.safetensors", tmp_path / "x.csv"),
                          "nope.safetensors")
    assert_one_line_error(backprop_cli("predict", pets_model, tmp_path / "nope.csv"), "nope.csv")


def test_missing_target_column(backprop_cli, pets_csv, pets_model):
    assert_one_line_error(backprop_cli("train", pets_csv, "--target", "colur", "--epochs", "1"),
                          "'colur'", "species")
    assert_one_line_error(backprop_cli("evaluate", pets_model, pets_csv, "--target", "kind"), "'kind'")


def test_evaluate_target_that_is_an_input_column(backprop_cli, pets_csv, pets_model):
    assert_one_line_error(backprop_cli("evaluate", pets_model, pets_csv, "--target", "weight"),
                          "'weight' is one of the model's input columns", "'species'")


def test_predict_file_lacking_a_feature_column(backprop_cli, pets_model, pets_csv, tmp_path):
    data = tmp_path / "no_colour.csv"
    pd.read_csv(pets_csv).drop(columns=["colour"]).to_csv(data, index=False)
    assert_one_line_error(backprop_cli("predict", pets_model, data), "'colour'", "no_colour.csv")
    assert_one_line_error(backprop_cli("evaluate", pets_model, data), "'colour'")


@pytest.mark.parametrize("content, command", [
    (b"", "predict"),
    (b"not a model at all, just some text\n", "evaluate"),
    (np.random.default_rng(0).bytes(4096), "info"),
    (b"weight,colour\n1,black\n", "predict"),
])
def test_a_file_that_is_not_a_backprop_model(backprop_cli, pets_csv, tmp_path, content, command):
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(content)
    args = (command, fake) if command == "info" else (command, fake, pets_csv)
    assert_one_line_error(backprop_cli(*args), "fake.safetensors")


def test_a_foreign_safetensors_file(backprop_cli, pets_csv, tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    foreign = tmp_path / "foreign.safetensors"
    safetensors_numpy.save_file({"weight": np.zeros((2, 2), dtype=np.float32)}, str(foreign))
    assert_one_line_error(backprop_cli("info", foreign), "foreign.safetensors")
    assert_one_line_error(backprop_cli("predict", foreign, pets_csv), "foreign.safetensors")


def test_data_that_cannot_be_trained_on(backprop_cli, tmp_path):
    single_class = tmp_path / "one_class.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a"] * 4}).to_csv(single_class, index=False)
    assert_one_line_error(backprop_cli("train", single_class, "--target", "y"), "single class")
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert_one_line_error(backprop_cli("train", text), "notes.txt")


def test_data_and_dataset_together(backprop_cli, pets_csv):
    assert_one_line_error(backprop_cli("train", pets_csv, "--dataset", "iris"), "--dataset")


# ------------------------------------------------------------- in process: unexpected errors


@click.command()
@click.option("--kind", default="bug")
def _failing(kind):
    if kind == "bug":
        raise RuntimeError("something broke\nacross two lines")
    if kind == "value":
        raise ValueError("bad value")
    raise FileNotFoundError(2, "No such file or directory", "gone.csv")


def test_unexpected_exception_is_one_line_with_status_1(capsys, monkeypatch):
    monkeypatch.delenv("BACKPROP_DEBUG", raising=False)
    assert run_command(_failing, []) == 1
    assert capsys.readouterr().err == "error: RuntimeError: something broke across two lines\n"
    assert run_command(_failing, ["--kind", "value"]) == 2
    assert capsys.readouterr().err == "error: bad value\n"
    assert run_command(_failing, ["--kind", "missing"]) == 2
    assert capsys.readouterr().err == "error: No such file or directory: gone.csv\n"


def test_backprop_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("BACKPROP_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something broke"):
        run_command(_failing, [])


def test_output_into_a_missing_folder_fails_before_training(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "backprop.cli", "train", "--epochs", "1",
                             "--out", str(tmp_path / "no" / "such" / "m.safetensors")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_distributed_without_mpi4py_names_the_extra(capsys, monkeypatch):
    from backprop import distributed

    monkeypatch.setattr(distributed, "_comm", None)  # as if `import mpi4py` had failed
    assert run_command(cli, ["train", "--distributed", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --distributed needs mpi4py")
    assert 'pip install "backprop-nn[mpi]"' in err
