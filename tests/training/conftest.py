"""Shared data and small models for the training tests."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_split():
    """The bundled 8×8 digits, standardised with training statistics, 75/25 split (seeded)."""
    from backprop.datasets import load_digits

    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    cut = int(0.75 * len(X))
    train, test = order[:cut], order[cut:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0) + 1e-8
    standardise = lambda A: ((A - mean) / std).astype(np.float32)  # noqa: E731
    return standardise(X[train]), y[train], standardise(X[test]), y[test]


@pytest.fixture
def regression_data():
    """y = 3 x₀ − 2 x₁ + 0.5 + noise, 60 examples."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    y = (3 * X[:, 0] - 2 * X[:, 1] + 0.5 + 0.1 * rng.normal(size=60)).astype(np.float32)
    return X, y


@pytest.fixture
def blobs():
    """Three separable 2-D classes with string labels, 90 examples."""
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    X = np.concatenate([rng.normal(c, 0.5, size=(30, 2)) for c in centres]).astype(np.float32)
    y = np.repeat(np.array(["setosa", "versicolor", "virginica"]), 30)
    order = rng.permutation(90)
    return X[order], y[order]
