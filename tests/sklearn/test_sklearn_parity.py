"""Accuracy parity with scikit-learn's MLP: same data, same parameters, test scores within noise.

For each dataset and solver both estimators are fit on the same scaled training split
with the same parameters and random states, and scored on the test split: accuracy
within 2 percentage points, R² within 0.05, averaged over a few random states where
mini-batches are shuffled (our shuffling draws from another generator than
scikit-learn's, so single runs differ by a test example or two). max_iter is small so
that the whole test runs in seconds; the estimators need not have converged, only agree.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from backprop import sklearn as bk


def _split(loader, regression=False):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=None if regression else y)
    scaler = StandardScaler().fit(X_train)
    if regression:  # scikit-learn's MLP wants a scaled target too
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


DATASETS = {
    "iris": (load_iris, False),
    "digits": (load_digits, False),
    "breast_cancer": (load_breast_cancer, False),
    "diabetes": (load_diabetes, True),
}
SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=0.01, max_iter=20),
    "sgd": dict(solver="sgd", learning_rate_init=0.1, max_iter=20),
    "lbfgs": dict(solver="lbfgs", max_iter=50),
}
CASES = [(data, solver) for data in DATASETS for solver in SOLVERS]


@pytest.fixture(scope="module")
def splits():
    return {name: _split(loader, regression) for name, (loader, regression) in DATASETS.items()}


@pytest.mark.parametrize("data, solver", CASES)
def test_test_score_matches_scikit_learn(splits, data, solver):
    X_train, X_test, y_train, y_test = splits[data]
    regression = DATASETS[data][1]
    name = "MLPRegressor" if regression else "MLPClassifier"
    params = dict(hidden_layer_sizes=(32,), **SOLVERS[solver])
    if regression:
        params["alpha"] = 10.0  # 331 examples: without it L-BFGS overfits within 50 iterations
    # full-batch runs (fewer than 200 training examples) and L-BFGS are deterministic
    shuffled = solver != "lbfgs" and X_train.shape[0] > 200
    theirs, ours = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(3 if shuffled else 1):
            theirs.append(getattr(sk, name)(random_state=seed, **params).fit(X_train, y_train).score(X_test, y_test))
            ours.append(getattr(bk, name)(random_state=seed, **params).fit(X_train, y_train).score(X_test, y_test))
    tolerance = 0.05 if regression else 0.02
    assert abs(np.mean(ours) - np.mean(theirs)) <= tolerance, (ours, theirs)
    assert np.mean(ours) > (0.3 if regression else 0.75)  # both learnt something
