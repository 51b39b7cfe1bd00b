"""Same data, same parameters, same random_state: scikit-learn's numbers, step by step, in float64.

A float64 fit follows scikit-learn's MLP exactly: the initial weights (its Glorot-uniform
draw), each epoch's data order (its shuffle of the index array), the cost (log-loss /
½·squared error / half Poisson deviance + α/(2n)‖W‖²), the update (SGD with (Nesterov)
momentum and its learning-rate schedules, its Adam with ε on √v, L-BFGS on its
(value, gradient) pairs, multi-output regression stepping along n_outputs × the gradient
of the reported mean), the stopping rules, early stopping's split, scores and best weights.
``coefs_``, ``intercepts_``, ``loss_curve_`` and the validation scores agree to 1e-10 and
``n_iter_``, ``t_`` exactly.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_diabetes, load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from backprop import sklearn as bk

TOLERANCE = 1e-10


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def blobs():
    """450 examples: mini-batches of 200, 200 and 50, shuffled each epoch."""
    X, y = make_classification(n_samples=450, n_features=8, n_informative=5, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X)[:180], y[:180] / 100


def _targets(n_targets, n_samples=300):
    X, Y = make_regression(n_samples=n_samples, n_features=6, n_targets=n_targets, n_informative=4, noise=1.0,
                           random_state=0)
    return X, Y / Y.std(0)


def _fit_both(name, X, y, sample_weight=None, **params):
    params = dict(random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = getattr(sk, name)(**params).fit(X, y, sample_weight=sample_weight)
        ours = getattr(bk, name)(**params).fit(X, y, sample_weight=sample_weight)
    return theirs, ours


def _assert_same(theirs, ours):
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    if hasattr(theirs, "loss_curve_"):
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=TOLERANCE)
    assert len(ours.coefs_) == len(theirs.coefs_)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE)
    if getattr(theirs, "validation_scores_", None) is not None:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=TOLERANCE)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=TOLERANCE)


SGD = [
    dict(solver="sgd"),
    dict(solver="sgd", nesterovs_momentum=False),
    dict(solver="sgd", momentum=0.0),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5),
    dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2, max_iter=80),
]
ADAM = [
    dict(solver="adam"),
    dict(solver="adam", activation="logistic", hidden_layer_sizes=(10, 5)),
    dict(solver="adam", activation="tanh", hidden_layer_sizes=(10, 5)),
    dict(solver="adam", activation="identity", alpha=0.1),
]
# L-BFGS magnifies rounding: the two differ by 2e-16 at the first evaluation (another summation
# order), by 1e-13 after 30 iterations on iris, by 6e-10 after 50; 30 iterations here.
LBFGS = [dict(solver="lbfgs", max_iter=30), dict(solver="lbfgs", max_iter=30, activation="tanh", hidden_layer_sizes=(10, 5))]
SOLVERS = SGD + ADAM + LBFGS


@pytest.mark.parametrize("params", SOLVERS)
def test_multiclass_full_batch(iris, params):
    X, y = iris
    _assert_same(*_fit_both("MLPClassifier", X, y, **{"hidden_layer_sizes": (10,), "max_iter": 50, **params}))


@pytest.mark.parametrize("params", SGD[:1] + SGD[3:] + ADAM[:1])
def test_multiclass_shuffled_mini_batches(blobs, params):
    X, y = blobs
    _assert_same(*_fit_both("MLPClassifier", X, y, **{"hidden_layer_sizes": (16,), "max_iter": 30, **params}))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multilabel"])
def test_binary_and_multilabel(blobs, solver, target):
    X, y = blobs
    Y = (y == 1) if target == "binary" else np.c_[y == 1, y == 2, X[:, 0] > 0]
    theirs, ours = _fit_both("MLPClassifier", X, Y, solver=solver, hidden_layer_sizes=(10,), max_iter=30)
    _assert_same(theirs, ours)
    assert ours.out_activation_ == "logistic"
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_early_stopping_split_scores_and_best_weights(blobs, solver, n_targets):
    X, y = blobs
    if n_targets == 1:
        theirs, ours = _fit_both("MLPClassifier", X, y, solver=solver, hidden_layer_sizes=(10,),
                                 early_stopping=True, n_iter_no_change=3, max_iter=60)
    else:
        X, Y = _targets(n_targets, 450)
        theirs, ours = _fit_both("MLPRegressor", X, Y, solver=solver, hidden_layer_sizes=(10,),
                                 early_stopping=True, n_iter_no_change=3, max_iter=60)
    _assert_same(theirs, ours)
    assert ours.best_loss_ is None and theirs.best_loss_ is None
    assert len(ours.validation_loss_curve_) == ours.n_iter_


@pytest.mark.parametrize("params", SOLVERS + [dict(solver="adam", loss="poisson")])
def test_single_output_regression(diabetes, params):
    X, y = diabetes
    theirs, ours = _fit_both("MLPRegressor", X, y, **{"hidden_layer_sizes": (10,), "max_iter": 50, **params})
    _assert_same(theirs, ours)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("params", [SGD[0], SGD[1], SGD[3], ADAM[0], LBFGS[0], dict(solver="adam", loss="poisson")])
@pytest.mark.parametrize("n_targets", [3, 10])
def test_multi_output_regression(params, n_targets):
    """Shuffled mini-batches of 200 and 100; scikit-learn's step along n_outputs × the gradient."""
    X, Y = _targets(n_targets)
    if params.get("loss") == "poisson":
        Y = np.exp(Y / 3)
    theirs, ours = _fit_both("MLPRegressor", X, Y, **{"hidden_layer_sizes": (16,), "max_iter": 30, **params})
    _assert_same(theirs, ours)


def test_sample_weight(iris):
    X, y = iris
    sw = np.random.RandomState(0).rand(len(y)) * 2
    for solver in ("sgd", "adam", "lbfgs"):
        _assert_same(*_fit_both("MLPClassifier", X, y, sample_weight=sw, solver=solver,
                                hidden_layer_sizes=(10,), max_iter=30))


def test_partial_fit(blobs):
    X, y = blobs
    for params in (dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5), dict(solver="adam")):
        theirs = sk.MLPClassifier(hidden_layer_sizes=(10,), random_state=0, **params)
        ours = bk.MLPClassifier(hidden_layer_sizes=(10,), random_state=0, **params)
        for _ in range(5):
            theirs.partial_fit(X, y, classes=np.unique(y))
            ours.partial_fit(X, y, classes=np.unique(y))
        _assert_same(theirs, ours)
        assert ours.n_iter_ == 1 and ours.t_ == 5 * len(y)


def test_warm_start(iris):
    X, y = iris
    for solver in ("sgd", "adam"):
        params = dict(hidden_layer_sizes=(10,), solver=solver, warm_start=True, max_iter=10, random_state=0)
        theirs, ours = sk.MLPClassifier(**params), bk.MLPClassifier(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(3):
                theirs.fit(X, y)
                ours.fit(X, y)
        _assert_same(theirs, ours)
        assert len(ours.loss_curve_) == 30


def test_partial_fit_from_weights_assigned_by_hand(blobs):
    """scikit-learn's ``test_fit`` pattern: coefs_ and intercepts_ set on an unfitted estimator."""
    X, y = blobs
    rng = np.random.RandomState(1)
    coefs = [rng.uniform(-0.3, 0.3, (8, 6)), rng.uniform(-0.3, 0.3, (6, 3))]
    intercepts = [rng.uniform(-0.3, 0.3, 6), rng.uniform(-0.3, 0.3, 3)]
    fitted = []
    for module in (sk, bk):
        mlp = module.MLPClassifier(hidden_layer_sizes=(6,), solver="sgd", random_state=0)
        mlp.coefs_ = [c.copy() for c in coefs]
        mlp.intercepts_ = [b.copy() for b in intercepts]
        mlp.n_layers_, mlp.out_activation_, mlp.n_iter_, mlp.t_ = 3, "softmax", 0, 0
        mlp.loss_curve_, mlp.best_loss_, mlp._no_improvement_count = [], np.inf, 0
        for _ in range(3):
            mlp.partial_fit(X, y, classes=[0, 1, 2])
        fitted.append(mlp)
    _assert_same(*fitted)
    ours = bk.MLPRegressor(hidden_layer_sizes=(6,), solver="adam")
    ours.coefs_, ours.intercepts_ = [c.copy() for c in coefs[:1]] + [coefs[1][:, :1]], [intercepts[0], intercepts[1][:1]]
    ours.partial_fit(X, y)  # nothing else set: the rest as a first fit sets it
    assert ours.n_iter_ == 1 and len(ours.loss_curve_) == 1 and ours.out_activation_ == "identity"
    with pytest.raises(ValueError, match="shapes"):
        wrong = bk.MLPRegressor(hidden_layer_sizes=(5,))
        wrong.coefs_, wrong.intercepts_ = coefs, intercepts
        wrong.partial_fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dtype_follows_the_input_and_float32_is_a_choice(iris):
    X, y = iris
    ours64 = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0).fit(X, y)
    ours32 = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0).fit(X.astype(np.float32), y)
    chosen = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0, dtype="float32").fit(X, y)
    assert all(c.dtype == np.float64 for c in ours64.coefs_ + ours64.intercepts_)
    assert all(c.dtype == np.float32 for c in ours32.coefs_ + ours32.intercepts_ + chosen.coefs_)
    np.testing.assert_allclose(ours32.loss_curve_, ours64.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(chosen.loss_curve_, ours64.loss_curve_, rtol=1e-4)
    forced = bk.MLPClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0, dtype="float64")
    assert forced.fit(X.astype(np.float32), y).coefs_[0].dtype == np.float64


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("seed", range(10))
def test_lbfgs_runs_in_float64_for_a_float32_network(seed):
    """scikit-learn's ``test_mlp_vs_poisson_glm_equivalent`` with dtype="float32", seeds 0–9.

    A float32 cost makes SciPy's relative-reduction test stop L-BFGS early (on about a
    third of these seeds); the cost and gradient are evaluated in float64 whatever the dtype.
    """
    from sklearn.linear_model import PoissonRegressor

    X = np.linspace(0, 1, 100)
    y = np.random.default_rng(seed).poisson(np.exp(X + 1))
    X = X.reshape(-1, 1)
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = bk.MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0, solver="lbfgs",
                          tol=1e-7, random_state=np.random.RandomState(seed + 1), dtype="float32").fit(X, y)
    assert mlp.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)


def test_extras_at_their_defaults_change_nothing(blobs):
    """dropout, batch_norm, class_weight, callbacks, dtype at their defaults: scikit-learn's numbers."""
    from backprop.training.callbacks import Callback

    class CountEpochs(Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            CountEpochs.epochs += 1

    X, y = blobs
    params = dict(hidden_layer_sizes=(10,), early_stopping=True, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.MLPClassifier(**params).fit(X, y)
        ours = bk.MLPClassifier(dropout=0.0, batch_norm=False, class_weight=None, callbacks=[CountEpochs()],
                                dtype=None, **params).fit(X, y)
    _assert_same(theirs, ours)
    assert CountEpochs.epochs == ours.n_iter_ == len(ours.validation_loss_curve_)
