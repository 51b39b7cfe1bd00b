"""The estimators inside scikit-learn's tools: Pipeline, GridSearchCV, cross_val_score, clone, pickle."""

import pickle

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from backprop import nn
from backprop.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                                            max_iter=200, random_state=0))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.predict_proba(X).shape == (150, 3)


def test_grid_search(iris):
    X, y = iris
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", max_iter=100, random_state=0)),
        {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__alpha": [1e-4, 1e-1]},
        cv=3,
    )
    search.fit(X, y)
    assert search.best_score_ > 0.9
    assert set(search.best_params_) == {"mlpclassifier__hidden_layer_sizes", "mlpclassifier__alpha"}


def test_cross_val_score():
    X, y = load_diabetes(return_X_y=True)
    scores = cross_val_score(
        make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1.0,
                                                     max_iter=200, random_state=0)),
        X, y / 100, cv=3,
    )
    assert scores.shape == (3,) and scores.mean() > 0.3


def test_clone_keeps_parameters_and_drops_fitted_state(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(7,), alpha=0.01, dropout=0.1, dtype="float64", max_iter=5).fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "coefs_")


@pytest.mark.parametrize("Estimator, solver", [
    (MLPClassifier, "adam"), (MLPClassifier, "lbfgs"), (MLPRegressor, "sgd"),
])
def test_pickle_round_trip_gives_identical_predictions(iris, Estimator, solver):
    X, y = iris
    est = Estimator(hidden_layer_sizes=(8, 4), solver=solver, max_iter=20, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    for a, b in zip(restored.coefs_, est.coefs_):
        np.testing.assert_array_equal(a, b)
    if solver != "lbfgs":  # the optimiser's state survives too: training continues identically
        restored.partial_fit(X, y)
        est.partial_fit(X, y)
        np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_tags_are_scikit_learns():
    assert get_tags(MLPClassifier()) == get_tags(sk.MLPClassifier())
    assert get_tags(MLPRegressor()) == get_tags(sk.MLPRegressor())


def test_model_is_the_librarys_sequential(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), max_iter=5, random_state=0).fit(X, y)
    assert isinstance(clf.model_, nn.Sequential)
    dense = [layer for layer in clf.model_ if isinstance(layer, nn.Dense)]
    # coefs_ is scikit-learn's (n_in, n_out): the transpose of the notes' W (n_out, n_in), as a view
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 4), (4, 3)]
    assert all(np.shares_memory(c, layer.W.data) for c, layer in zip(clf.coefs_, dense))
    z = clf.model_(X.astype(np.float32)).data
    np.testing.assert_allclose(clf.predict_proba(X), np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)
    # and writing coefs_ changes the model, as in scikit-learn
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3, rtol=1e-6)
