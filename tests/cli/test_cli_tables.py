"""``backprop`` on real-world tables: dates, identifiers, separators, encodings, missing targets,
column choice, the default training length, tiny splits, and crafted preprocessing in model files."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from backprop.cli.errors import run_command
from backprop.cli.main import cli

pd = pytest.importorskip("pandas")


def assert_one_line_error(result, *fragments):
    """Exit 2 and one ``error:`` line, last, after at most some ``warning:`` lines."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    *warnings, error = result.stderr.splitlines()
    assert error.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    assert all(line.startswith("warning: ") for line in warnings), result.stderr
    for fragment in fragments:
        assert fragment in error, error


def in_process(capsys, *args) -> tuple[int, str, str]:
    """Run ``backprop ARGS`` in this process (the console script's code path, no interpreter start-up)."""
    status = run_command(cli, [str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def the_error(err: str) -> str:
    """The one ``error:`` line of stderr, which may follow ``warning:`` lines."""
    *warnings, error = err.splitlines()
    assert error.startswith("error: ") and all(line.startswith("warning: ") for line in warnings), err
    return error


def make_orders(n: int = 240, seed: int = 0):
    """A messy shop table: a date, an order id, a customer name with accents, a number, a label.

    Whether an order is ``late`` depends on the weekday (weekends) and the distance, so the
    date's features matter; ``order_id`` and ``customer`` are unique per row.
    """
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    distance = rng.uniform(1, 50, n).round(1)
    late = np.where((day.day_of_week >= 5) | (distance > 40), "yes", "no")
    return pd.DataFrame({
        "order_id": [f"A{100000 + i}" for i in range(n)],
        "ordered": day.strftime("%Y-%m-%d"),
        "customer": [f"Zoë Müller-{i}" for i in range(n)],
        "distance": distance,
        "late": late,
    })


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory):
    """The orders, ';'-separated and Latin-1 encoded, with three missing targets."""
    frame = make_orders()
    frame.loc[[4, 50, 99], "late"] = None
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    path.write_bytes(frame.to_csv(sep=";", index=False).encode("latin-1"))
    return path


# --- a messy table, end to end ------------------------------------------------------------------------


def test_a_messy_table_needs_drop_missing_target(backprop_cli, orders_csv):
    assert_one_line_error(backprop_cli("train", orders_csv, "--target", "late", "--epochs", "1"),
                          "'late' is missing in 3 of 240 row(s)", "--drop-missing-target")


def test_a_messy_table_trains_and_predicts_from_raw_rows(backprop_cli, orders_csv, tmp_path):
    out = tmp_path / "orders.safetensors"
    trained = backprop_cli("train", orders_csv, "--target", "late", "--drop-missing-target", "--out", out)
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.splitlines()
    assert "dropped: 3 rows with a missing target" in lines
    assert "dates: 'ordered' -> 7 features (year, month, day of week, day of year)" in lines
    assert "dropped: 'order_id', 'customer': identifier-like text (--keep-id-columns keeps it)" in lines
    n_train, n_test = map(int, re.fullmatch(r"split: (\d+) train, (\d+) test \(seed 0\)",
                                            next(line for line in lines if line.startswith("split: "))).groups())
    assert n_train + n_test == 237
    assert any(line.startswith("model: 8 -> 128 -> 64 -> 2") for line in lines)  # 7 date features + distance
    warnings = trained.stderr.splitlines()
    assert any(w.startswith("warning: ") and "is not UTF-8; read it as cp1252" in w for w in warnings)
    assert sum("looks like an identifier" in w for w in warnings) == 2
    accuracy = float(next(line for line in lines if line.startswith("test accuracy: ")).split(": ")[1])
    assert accuracy > 0.85  # the weekday, which only the date's features carry, decides part of the label

    predicted = backprop_cli("predict", out, orders_csv)
    assert predicted.returncode == 0, predicted.stderr
    table = pd.read_csv(io.StringIO(predicted.stdout))
    assert list(table.columns) == ["late", "prob_no", "prob_yes"] and len(table) == 240
    info = backprop_cli("info", out)
    assert info.returncode == 0, info.stderr
    assert "ordered: date, 7 features" in info.stdout and "order_id: dropped, identifier-like" in info.stdout


def test_keep_id_columns_features_and_drop_choose_the_inputs(capsys, orders_csv):
    base = ("train", orders_csv, "--target", "late", "--drop-missing-target", "--epochs", "1", "--json")
    status, out, _ = in_process(capsys, *base, "--keep-id-columns")
    report = json.loads(out.splitlines()[-1])
    assert status == 0 and report["n_features"] == 1 + 7 + 2 * report["n_train"]  # one-hot of 2 unique columns
    status, out, _ = in_process(capsys, *base, "--features", "distance,ordered")
    report = json.loads(out.splitlines()[-1])
    assert status == 0 and report["n_features"] == 8 and report["dropped_columns"] == []
    status, out, _ = in_process(capsys, *base, "--drop", "ordered,order_id,customer")
    report = json.loads(out.splitlines()[-1])
    assert status == 0 and report["n_features"] == 1 and report["date_columns"] == []


@pytest.mark.parametrize("option, value, fragment", [
    ("--features", "distance,speed", "--features names column(s) 'speed'"),
    ("--drop", "nope", "--drop names column(s) 'nope'"),
    ("--drop", "late", "--drop names the target column 'late'"),
    ("--features", "late", "--features names the target column"),
    ("--drop", "order_id,ordered,customer,distance", "no feature columns are left"),
])
def test_bad_column_choices(capsys, orders_csv, option, value, fragment):
    status, _, err = in_process(capsys, "train", orders_csv, "--target", "late", "--drop-missing-target",
                                "--epochs", "1", option, value)
    assert status == 2 and fragment in the_error(err), err


def test_separator_and_encoding_options(capsys, orders_csv, tmp_path):
    args = ("train", orders_csv, "--target", "late", "--drop-missing-target", "--epochs", "1", "--json")
    status, _, err = in_process(capsys, *args, "--sep", ";", "--encoding", "latin-1")
    assert status == 0 and "UTF-8" not in err, err  # given, nothing to guess
    status, _, err = in_process(capsys, *args, "--encoding", "utf-8")
    assert status == 2 and "could not decode" in the_error(err) and "--encoding" in err
    status, _, err = in_process(capsys, *args, "--sep", ",,")
    assert status == 2 and "one character" in err
    odd = tmp_path / "colons.csv"
    odd.write_text("x1:x2:y\n1:2:3\n4:5:6\n")
    status, _, err = in_process(capsys, "train", odd, "--target", "y")
    assert status == 2 and "one column only" in err and "--sep" in err


def test_predict_and_evaluate_read_the_same_kinds_of_file(backprop_cli, pets_model, pets_csv, tmp_path):
    semicolons = tmp_path / "pets.csv"
    pd.read_csv(pets_csv).to_csv(semicolons, sep=";", index=False)
    assert backprop_cli("predict", pets_model, semicolons).returncode == 0
    evaluated = backprop_cli("evaluate", pets_model, semicolons, "--sep", ";", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.json()["n_rows"] == 300


# --- the default training length -----------------------------------------------------------------------


def test_epochs_auto_trains_small_tables_for_about_2000_steps(capsys):
    status, out, _ = in_process(capsys, "train", "--dataset", "iris", "--json")
    report = json.loads(out.splitlines()[-1])
    assert status == 0 and report["epochs_auto"] and report["epochs"] == report["epochs_run"] == 500
    assert report["test_accuracy"] >= 0.85  # 0.767 with the former 20 epochs
    status, out, _ = in_process(capsys, "train", "--dataset", "iris", "--epochs", "3", "--json")
    report = json.loads(out.splitlines()[-1])
    assert report["epochs_run"] == 3 and not report["epochs_auto"] and report["early_stopping_patience"] is None


def test_epochs_auto_stops_regression_early(capsys):
    status, out, _ = in_process(capsys, "train", "--dataset", "diabetes")
    trained = next(line for line in out.splitlines() if line.startswith("trained: "))
    assert status == 0 and "of up to 167 epochs (auto, early stopping on val_loss)" in trained, trained


def test_epochs_option_values(capsys):
    for value in ("0", "-1", "many"):
        status, _, err = in_process(capsys, "train", "--epochs", value)
        assert status == 2 and "--epochs" in err and "'auto'" in err


# --- splits -------------------------------------------------------------------------------------------


def test_a_test_split_that_leaves_too_few_training_rows_is_refused(capsys):
    status, _, err = in_process(capsys, "train", "--dataset", "iris", "--test-split", "0.99")
    assert status == 2 and err.count("\n") == 1, err
    assert "--test-split 0.99 leaves 1 training row(s) of a class with 50 rows" in err
    assert "use a --test-split between 0.02 and 0.9" in err  # 0.01 would hold out no row of 50


def test_a_regression_split_needs_ten_training_rows(capsys, tmp_path):
    path = tmp_path / "small.csv"
    pd.DataFrame({"x": np.arange(30.0), "y": np.arange(30.0) * 1.5}).to_csv(path, index=False)
    status, _, err = in_process(capsys, "train", path, "--test-split", "0.8", "--task", "regression")
    assert status == 2 and "leaves 6 training row(s)" in err and "between 0.02 and 0.68" in err, err


def test_advice_when_every_class_has_a_single_row(capsys, tmp_path):
    path = tmp_path / "names.csv"
    pd.DataFrame({"x": np.arange(12.0), "who": [f"p{i}" for i in range(12)]}).to_csv(path, index=False)
    status, _, err = in_process(capsys, "train", path, "--test-split", "0.5")
    assert status == 2 and "every one of the 12 classes has a single row" in err
    assert "larger --test-split" not in err and "--task regression" in err


def test_advice_when_most_classes_have_a_single_row(capsys, tmp_path):
    path = tmp_path / "rare.csv"
    labels = [f"c{i}" for i in range(10)] + ["a", "a", "b", "b"]
    pd.DataFrame({"x": np.arange(14.0), "y": labels}).to_csv(path, index=False)
    status, _, err = in_process(capsys, "train", path, "--target", "y")
    assert status == 2, err
    assert "holds out no row" in err and "10 of the 12 classes have a single row, which always stays in training" in err
    assert "use a --test-split between 0.26 and" in err  # round(0.26 * 2) = 1 row of a and of b


# --- crafted preprocessing in a model file -------------------------------------------------------------


def _craft(pets_model, path, mutate):
    """A copy of the pets model whose metadata ``mutate`` edited (weights unchanged)."""
    from backprop import load_with_metadata

    model, metadata = load_with_metadata(pets_model)
    mutate(metadata)
    model.save(path, metadata=metadata)
    return path


def _column(metadata, name):
    return next(c for c in metadata["preprocessing"]["columns"] if c["name"] == name)


# pets: weight (numeric), colour (categorical, 4 values with <missing>), age (numeric); species has 3 classes.
CRAFTED_MODELS = {
    "a string mean": lambda m: _column(m, "weight").update(mean="leaky_relu"),
    "a list std": lambda m: _column(m, "age").update(std=[1.0, 2.0]),
    "integer categories": lambda m: _column(m, "colour").update(categories=[1, 2, 3, 4]),
    "a million categories": lambda m: _column(m, "colour").update(categories=[f"c{i}" for i in range(10**6)]),
    "one category more than the network's inputs": lambda m: _column(m, "colour")["categories"].append("zz"),
    "a class more than the network's outputs": lambda m: m["preprocessing"]["target"]["classes"].append("owl"),
    "a column kind that does not exist": lambda m: _column(m, "age").update(kind="eval"),
    "a preprocessing config that is a list": lambda m: m.update(preprocessing=[1, 2]),
}


@pytest.mark.parametrize("case", CRAFTED_MODELS)
def test_crafted_preprocessing_is_refused_by_every_command(capsys, pets_model, pets_csv, tmp_path, case):
    path = _craft(pets_model, tmp_path / "crafted.safetensors", CRAFTED_MODELS[case])
    for command in (("predict", path, pets_csv), ("evaluate", path, pets_csv), ("info", path)):
        status, _, err = in_process(capsys, *command)
        assert status == 2, (command[0], err)
        assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err and len(err) < 400, err


def test_a_million_categories_are_refused_in_bounded_memory(pets_model, pets_csv, tmp_path):
    path = _craft(pets_model, tmp_path / "million.safetensors", CRAFTED_MODELS["a million categories"])
    # A fresh parent, so that the peak resident size of its children is that of this one command.
    measure = ("import resource, subprocess, sys\n"
               "done = subprocess.run([sys.executable, '-m', 'backprop.cli', *sys.argv[1:]], capture_output=True)\n"
               "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)")
    for command in (("info", path), ("predict", path, pets_csv)):
        status, peak_mib = subprocess.run([sys.executable, "-c", measure, *map(str, command)], capture_output=True,
                                          text=True, check=True).stdout.split()
        assert status == "2" and int(peak_mib) < 300, (command[0], peak_mib)  # 3.6 GB before the checks


def test_info_skips_training_metadata_it_cannot_show(capsys, pets_model, tmp_path):
    def odd_training(metadata):
        metadata["training"].update(test_metrics={"accuracy": "high", "f1_macro": 0.5}, n_train=[1])
    status, out, err = in_process(capsys, "info", _craft(pets_model, tmp_path / "odd.safetensors", odd_training))
    assert status == 0, err
    assert "test f1_macro 0.5000" in out and "high" not in out
