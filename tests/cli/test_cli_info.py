"""``backprop info`` and ``backprop datasets``."""

from __future__ import annotations

import re


def test_info_lists_layers_whose_parameter_counts_sum_to_the_total(backprop_cli, pets_model):
    result = backprop_cli("info", pets_model, "--json")
    assert result.returncode == 0, result.stderr
    report = result.json()
    counts = [layer["count"] for layer in report["layers"]]
    # pets: weight, age (numeric) + colour one-hot (black, ginger, white, maybe <missing>); --hidden 16, 3 classes.
    n_in = int(report["layers"][0]["features"].split(" -> ")[0])
    assert n_in in (5, 6)
    assert counts == [n_in * 16 + 16, 16 * 3 + 3]
    assert report["total_parameters"] == sum(counts)
    assert report["task"] == "classification" and report["target"] == "species"


def test_info_text_is_the_models_summary_then_the_preprocessing(backprop_cli, pets_model):
    result = backprop_cli("info", pets_model)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    report = backprop_cli("info", pets_model, "--json").json()
    # Model.summary's table: one row per Dense with its output shape and parameter counts, then the totals.
    rows = re.findall(r"^\S+\s+Dense\S*\s+\(None, (\d+)\)\s+(\d+)\s+(\d+)$", text, flags=re.M)
    assert [(int(width), int(trainable)) for width, trainable, _ in rows] == [
        (16, report["layers"][0]["count"]), (3, report["layers"][1]["count"])]
    total = int(re.search(r"^Total parameters: ([\d,]+)$", text, flags=re.M).group(1).replace(",", ""))
    assert total == report["total_parameters"] == sum(int(t) for _, t, _ in rows)
    assert "colour: categorical" in text and "weight: numeric" in text
    assert "target species: classification, 3 classes" in text


def test_datasets_lists_the_six_datasets(backprop_cli):
    result = backprop_cli("datasets")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["iris", "digits", "breast_cancer", "diabetes", "housing", "shops"]
    assert backprop_cli("datasets", "--json").json()["datasets"][1]["n_samples"] == 1797
