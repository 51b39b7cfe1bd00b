"""The printed trace, compared character for character with stored snapshots.

Each snapshot lives in ``tests/diagnostics/snapshots/<name>.txt``. After an
intended change of the table, regenerate them with::

    BACKPROP_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/diagnostics/test_trace_snapshot.py

and review the diff before committing. Every line must fit an 80-column terminal.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from backprop import nn
from backprop.diagnostics import trace

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("BACKPROP_UPDATE_SNAPSHOTS", "") not in ("", "0")


def dense(n_in, n_out, W, b, activation="sigmoid"):
    layer = nn.Dense(n_in, n_out, activation=activation, dtype="float64")
    layer.W.data[...] = W
    layer.b.data[...] = b
    return layer


def classic_trace():
    model = nn.Sequential(dense(2, 2, [[0.15, 0.20], [0.25, 0.30]], [0.35, 0.35]),
                          dense(2, 2, [[0.40, 0.45], [0.50, 0.55]], [0.60, 0.60]))
    return trace(model, np.array([0.05, 0.10]), np.array([0.01, 0.99]), loss="rss")


def batch_trace():
    model = nn.Sequential(dense(2, 3, [[0.5, -1.0], [1.5, 0.25], [-0.75, 0.5]], [0.1, -0.2, 0.0]),
                          dense(3, 1, [[1.0, -0.5, 0.25]], [0.05]))
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    return trace(model, X, np.array([1.0, 0.0, 0.5]), loss="half_mse")


def softmax_trace():
    model = nn.Sequential(dense(2, 3, [[1.0, -1.0], [0.5, 0.5], [-0.5, 1.0]], [0.0, 0.1, -0.1], activation="relu"),
                          dense(3, 3, [[0.2, -0.4, 0.6], [-0.3, 0.5, 0.1], [0.4, 0.1, -0.2]], [0.0, 0.0, 0.0],
                                activation=None))
    return trace(model, np.array([1.0, 2.0]), 2, loss="cross_entropy")


CASES = {"trace_classic_rss": classic_trace, "trace_batch_half_mse": batch_trace,
         "trace_softmax_cross_entropy": softmax_trace}


@pytest.mark.parametrize("name", sorted(CASES))
def test_printed_trace_matches_its_snapshot(name):
    text = str(CASES[name]())
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, too_long
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot {path.name}; create it with BACKPROP_UPDATE_SNAPSHOTS=1")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_a_wide_network_still_fits_80_columns():
    from backprop.datasets import load_digits

    X, y = load_digits()
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10))
    for t in (trace(model, X[0], y[0], loss="cross_entropy"), trace(model, X[:20], y[:20], loss="cross_entropy")):
        lines = str(t).splitlines()
        assert max(len(line) for line in lines) <= 80
        assert "… (64)" in str(t) and "(32 rows)" in str(t)
