"""Same data, same parameters, same random_state: the same numbers as scikit-learn's MLP.

With fewer than 200 examples, batch_size="auto" is one full batch, so no shuffling
is involved and a float64 run follows scikit-learn's step by step: the initial
weights (its Glorot-uniform draw), the cost (log-loss / ½·squared error / half
Poisson deviance + α/(2n)‖W‖²), SGD with (Nesterov) momentum and its learning-rate
schedules, the stopping rules, early stopping's split and scores, L-BFGS.
Adam differs only in where ε enters (ε·√(1−β₂ᵗ) here), so it agrees to ~1e-6.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from backprop import sklearn as bk


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X)[:180], y[:180] / 100


EXACT = 1e-9  # float64 rounding only
ADAM = 2e-6  # ε's placement


def _fit_both(name, X, y, sample_weight=None, **params):
    params = dict(random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, name)(**params).fit(X, y, sample_weight=sample_weight)
        ours = getattr(bk, name)(dtype="float64", **params).fit(X, y, sample_weight=sample_weight)
    return theirs, ours


def _assert_same(theirs, ours, rtol):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.n_layers_ == theirs.n_layers_
    assert ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        # Adam's ε difference moves the weights by ~1e-4 in 50 steps; SGD and L-BFGS agree closely.
        weight_tol = 1e-3 if rtol >= ADAM else rtol * 100
        np.testing.assert_allclose(a, b, rtol=weight_tol, atol=weight_tol)


@pytest.mark.parametrize("params, rtol", [
    (dict(solver="sgd"), EXACT),
    (dict(solver="sgd", nesterovs_momentum=False), EXACT),
    (dict(solver="sgd", momentum=0.0), EXACT),
    (dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5), EXACT),
    (dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2, max_iter=80), EXACT),
    (dict(solver="adam"), ADAM),
    (dict(solver="adam", activation="logistic", hidden_layer_sizes=(10, 5)), ADAM),
    (dict(solver="adam", activation="tanh", hidden_layer_sizes=(10, 5)), ADAM),
    (dict(solver="adam", activation="identity", alpha=0.1), ADAM),
    (dict(solver="lbfgs"), 1e-7),
])
def test_classifier_follows_scikit_learn(iris, params, rtol):
    X, y = iris
    params = {"hidden_layer_sizes": (10,), "max_iter": 50, **params}
    _assert_same(*_fit_both("MLPClassifier", X, y, **params), rtol)


def test_binary_and_multilabel_costs(iris):
    X, y = iris
    _assert_same(*_fit_both("MLPClassifier", X, y == 1, hidden_layer_sizes=(10,), max_iter=30), ADAM)
    Y = np.c_[y == 1, y == 2, X[:, 0] > 0]
    theirs, ours = _fit_both("MLPClassifier", X, Y, hidden_layer_sizes=(10,), max_iter=30)
    _assert_same(theirs, ours, ADAM)
    assert ours.out_activation_ == "logistic"
    assert ours.predict(X).shape == Y.shape


def test_sample_weight_cost(iris):
    X, y = iris
    sw = np.random.RandomState(0).rand(len(y)) * 2
    _assert_same(*_fit_both("MLPClassifier", X, y, sample_weight=sw, hidden_layer_sizes=(10,), max_iter=30), ADAM)
    _assert_same(*_fit_both("MLPClassifier", X, y, sample_weight=sw, solver="lbfgs", max_iter=30), 1e-7)


def test_early_stopping_split_scores_and_best_weights(iris):
    X, y = iris
    theirs, ours = _fit_both("MLPClassifier", X, y, hidden_layer_sizes=(10,), early_stopping=True, max_iter=50)
    _assert_same(theirs, ours, ADAM)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is None and theirs.best_loss_ is None
    assert len(ours.validation_loss_curve_) == ours.n_iter_


@pytest.mark.parametrize("params, rtol", [
    (dict(solver="adam"), ADAM),
    (dict(solver="sgd", learning_rate_init=0.01), EXACT),
    (dict(solver="lbfgs"), 1e-7),
    (dict(solver="adam", loss="poisson"), ADAM),
    (dict(solver="adam", early_stopping=True), ADAM),
])
def test_regressor_follows_scikit_learn(diabetes, params, rtol):
    X, y = diabetes
    theirs, ours = _fit_both("MLPRegressor", X, y, hidden_layer_sizes=(10,), max_iter=50, **params)
    _assert_same(theirs, ours, rtol)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=rtol * 100, atol=rtol * 10)


def test_partial_fit_follows_scikit_learn(iris):
    X, y = iris
    theirs = sk.MLPClassifier(hidden_layer_sizes=(10,), solver="sgd", learning_rate="invscaling",
                              learning_rate_init=0.5, random_state=0)
    ours = bk.MLPClassifier(hidden_layer_sizes=(10,), solver="sgd", learning_rate="invscaling",
                            learning_rate_init=0.5, random_state=0, dtype="float64")
    for _ in range(5):
        theirs.partial_fit(X, y, classes=np.unique(y))
        ours.partial_fit(X, y, classes=np.unique(y))
    _assert_same(theirs, ours, EXACT)
    assert ours.n_iter_ == 1 and ours.t_ == 5 * len(y)


def test_warm_start_follows_scikit_learn(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(10,), solver="sgd", warm_start=True, max_iter=10, random_state=0)
    theirs, ours = sk.MLPClassifier(**params), bk.MLPClassifier(dtype="float64", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            theirs.fit(X, y)
            ours.fit(X, y)
    _assert_same(theirs, ours, EXACT)
    assert len(ours.loss_curve_) == 30


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float32_follows_float64(iris):
    X, y = iris
    ours32 = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0).fit(X, y)
    ours64 = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0, dtype="float64").fit(X, y)
    assert ours64.coefs_[0].dtype == np.float64
    assert ours32.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(ours32.loss_curve_, ours64.loss_curve_, rtol=1e-4)
