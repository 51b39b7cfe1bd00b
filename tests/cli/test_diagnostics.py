"""``backprop explain MODEL DATA --row N`` and ``backprop train --diagnostics``, run as a user would.

Until the commands are registered on the ``backprop`` group, the tests run the
same Click command objects through ``backprop.cli.errors.run_command`` in a
subprocess; afterwards they run ``python -m backprop.cli``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("click")

_RUN_EXPLAIN = ("import sys; from backprop.cli.errors import run_command; "
                "from backprop.cli.diagnostics import explain_command; "
                "sys.exit(run_command(explain_command, sys.argv[1:]))")


def _registered(name: str) -> bool:
    from backprop.cli.main import cli

    return name in cli.commands


def run(args, *, explain: bool = False):
    env = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    if explain and not _registered("explain"):
        command = [sys.executable, "-c", _RUN_EXPLAIN, *map(str, args)]
    else:
        command = [sys.executable, "-m", "backprop.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """A small classification table and a model trained on it by ``backprop train``."""
    rng = np.random.default_rng(0)
    n = 200
    colour = rng.choice(["black", "white", "ginger"], size=n)
    weight = rng.normal(5.0, 2.0, size=n).round(2)
    score = weight + np.select([colour == "black", colour == "white"], [-3.0, 3.0], 0.0)
    species = np.where(score < 3.5, "cat", np.where(score < 7.0, "fox", "dog"))
    folder = tmp_path_factory.mktemp("explain")
    data = folder / "pets.csv"
    pd.DataFrame({"weight": weight, "colour": colour, "species": species}).to_csv(data, index=False)
    model = folder / "pets.safetensors"
    trained = run(["train", data, "--target", "species", "--hidden", "8", "--epochs", "5", "--out", model])
    assert trained.returncode == 0, trained.stderr
    return model, data, pd.read_csv(data)


def test_explain_prints_the_trace_of_one_row(pets):
    model, data, frame = pets
    result = run([model, data, "--row", "3"] if not _registered("explain") else ["explain", model, data, "--row", "3"],
                 explain=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Row 3 of {data}:")
    assert f"target species = '{frame['species'][3]}'" in out
    assert re.search(r"Trace of one example through a \d+-8-3 network", out)
    assert "the loss applies f = softmax" in out
    assert "All four equations hold to rounding error." in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_explain_refuses_a_row_out_of_range(pets):
    model, data, _ = pets
    args = [model, data, "--row", "500"]
    result = run(args if not _registered("explain") else ["explain", *args], explain=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: --row 500 is out of range: {data} has rows 0 to 199"]


def test_explain_needs_the_target_column(pets, tmp_path):
    model, _, frame = pets
    features = tmp_path / "features.csv"
    frame.drop(columns="species").to_csv(features, index=False)
    args = [model, features]
    result = run(args if not _registered("explain") else ["explain", *args], explain=True)
    assert result.returncode == 2
    assert "no target column 'species'" in result.stderr


def test_train_with_diagnostics_reports_the_gradient_flow(pets):
    from backprop.cli import train as train_module

    _, data, _ = pets
    if any(p.name == "diagnostics" for p in train_module.train_command.params):
        result = run(["train", data, "--target", "species", "--hidden", "8,8", "--epochs", "3", "--diagnostics"])
        assert result.returncode == 0, result.stderr
        report = result.stdout[result.stdout.index("Gradient flow"):]
    else:  # the pieces the option is made of, in process
        from pathlib import Path

        from backprop.cli.diagnostics import attach_monitor

        settings = train_module.TrainSettings(data=Path(data), target="species", hidden=(8, 8), epochs=3)
        monitor = attach_monitor(settings)
        train_module.run_training(settings)
        report = monitor.report()
    assert "Gradient flow over 3 epochs" in report
    assert "layer" in report and "‖∂J/∂W‖" in report
    assert max(len(line) for line in report.splitlines()) <= 80


def test_train_with_diagnostics_measures_dead_relus_on_training_rows(pets):
    _, data, _ = pets
    result = run(["train", data, "--target", "species", "--hidden", "8,8", "--epochs", "2", "--diagnostics"])
    assert result.returncode == 0, result.stderr
    report = result.stdout[result.stdout.index("Gradient flow"):]
    assert "need GradientMonitor(probe" not in report  # no Python advice on the command line
    relu_rows = [line for line in report.splitlines() if re.match(r"^[12]\s+relu\s", line)]
    assert len(relu_rows) == 2 and all(line.rstrip().endswith("%") for line in relu_rows), report


def test_explain_prints_the_predicted_class(pets):
    model, data, _ = pets
    result = run(["explain", model, data, "--row", "3"], explain=True)
    from backprop.cli import pipeline

    loaded = pipeline.load_model_file(model)
    frame = pd.read_csv(data)
    probabilities = loaded.model.predict_proba(loaded.preprocessor.transform(frame.iloc[[3]]))[0]
    label = loaded.preprocessor.classes[int(np.argmax(probabilities))]
    assert f"prediction: species = '{label}' (class {int(np.argmax(probabilities))}" in result.stdout
    assert f"{probabilities.max():.4g}" in result.stdout


def test_explain_shows_raw_categories_and_predicts_in_the_targets_units(tmp_path):
    rng = np.random.default_rng(1)
    n = 120
    zip_code = rng.choice([30305, 94110], size=n).astype(float)
    zip_code[5] = np.nan  # a missing cell: pandas reads the column as floats
    rooms = rng.integers(1, 6, size=n)
    price = 100 + 20 * rooms + np.where(zip_code == 94110, 80, 0)
    data = tmp_path / "houses.csv"
    pd.DataFrame({"rooms": rooms, "zip_code": zip_code, "price": price}).to_csv(data, index=False)
    model = tmp_path / "house.safetensors"
    trained = run(["train", data, "--target", "price", "--task", "regression", "--categorical", "zip_code",
                   "--epochs", "20", "--out", model])
    assert trained.returncode == 0, trained.stderr
    result = run(["explain", model, data, "--row", "0"], explain=True)
    assert result.returncode == 0, result.stderr
    first = pd.read_csv(data).iloc[0]
    assert f"rooms={int(first['rooms'])}, zip_code={int(first['zip_code'])}" in result.stdout  # not 30305.0
    from backprop.cli import pipeline

    loaded = pipeline.load_model_file(model)
    X = loaded.preprocessor.transform(pd.read_csv(data).iloc[[0]])
    expected = loaded.preprocessor.inverse_transform_target(loaded.model.predict(X))[0]
    match = re.search(r"prediction: price = ([-\d.e+]+) \(a\^L = ", result.stdout)
    assert match and float(match[1]) == pytest.approx(expected, rel=1e-5)
