"""Fixtures for the command-line tests: run ``backprop`` as a user would, on CSV files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("click")


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        """The JSON object on the last line of stdout."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def run_backprop(*args, cwd=None, env=None) -> Completed:
    """``python -m backprop.cli ARGS`` in a subprocess; returns its status and output."""
    environment = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    environment.update(env or {})
    process = subprocess.run(
        [sys.executable, "-m", "backprop.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=environment, timeout=120,
    )
    return Completed(process.returncode, process.stdout, process.stderr)


@pytest.fixture
def backprop_cli():
    return run_backprop


def make_pets(n: int = 300, seed: int = 0):
    """A small classification table: two numbers, a string column that matters, a string target.

    The class is decided by ``weight + colour offset``; one numeric and one
    string cell are missing, to go through the preprocessor's imputation.
    """
    rng = np.random.default_rng(seed)
    colour = rng.choice(["black", "white", "ginger"], size=n)
    weight = rng.normal(5.0, 2.0, size=n)
    age = rng.uniform(0, 15, size=n)
    score = weight + np.select([colour == "black", colour == "white"], [-3.0, 3.0], 0.0)
    species = np.where(score < 3.5, "cat", np.where(score < 7.0, "fox", "dog"))
    frame = pd.DataFrame({"weight": weight.round(2), "colour": colour, "age": age.round(1), "species": species})
    frame.loc[3, "age"] = np.nan
    frame.loc[5, "colour"] = np.nan
    return frame


@pytest.fixture(scope="session")
def pets_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("pets") / "pets.csv"
    make_pets().to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def houses_csv(tmp_path_factory):
    from backprop.datasets import make_housing

    path = tmp_path_factory.mktemp("houses") / "houses.csv"
    make_housing(n_samples=400, seed=0, as_frame=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def pets_model(tmp_path_factory, pets_csv):
    """A classifier trained once by ``backprop train`` for the predict/evaluate/info tests."""
    path = tmp_path_factory.mktemp("models") / "pets.safetensors"
    result = run_backprop("train", pets_csv, "--target", "species", "--hidden", "16", "--epochs", "40",
                          "--lr", "0.01", "--out", path, "--json")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="session")
def houses_model(tmp_path_factory, houses_csv):
    """A regressor trained once by ``backprop train``."""
    path = tmp_path_factory.mktemp("models") / "houses.safetensors"
    result = run_backprop("train", houses_csv, "--target", "price", "--categorical", "zip_code",
                          "--hidden", "32,16", "--epochs", "60", "--out", path, "--json")
    assert result.returncode == 0, result.stderr
    return path
