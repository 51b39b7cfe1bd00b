"""Parameters: scikit-learn's names and defaults, and InvalidParameterError naming a bad one."""

import inspect

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.utils._param_validation import InvalidParameterError

from backprop.sklearn import MLPClassifier, MLPRegressor

EXTRAS = {"dropout": 0.0, "batch_norm": False, "callbacks": None, "dtype": None}
CLASSIFIER_EXTRAS = {**EXTRAS, "class_weight": None}


def _defaults(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


@pytest.mark.parametrize("ours, theirs, extras", [
    (MLPClassifier, sk.MLPClassifier, CLASSIFIER_EXTRAS),
    (MLPRegressor, sk.MLPRegressor, EXTRAS),
])
def test_same_parameters_and_defaults_plus_extras(ours, theirs, extras):
    assert _defaults(ours) == {**_defaults(theirs), **extras}
    # the same positional parameters, in the same order
    positional = [n for n, p in inspect.signature(ours.__init__).parameters.items()
                  if p.kind is p.POSITIONAL_OR_KEYWORD and n != "self"]
    positional_theirs = [n for n, p in inspect.signature(theirs.__init__).parameters.items()
                         if p.kind is p.POSITIONAL_OR_KEYWORD and n != "self"]
    assert positional == positional_theirs


BAD = [
    ("hidden_layer_sizes", "ten"),
    ("hidden_layer_sizes", 0),
    ("activation", "softmax"),
    ("solver", "newton"),
    ("alpha", -1.0),
    ("batch_size", 0),
    ("batch_size", "big"),
    ("learning_rate", "cyclic"),
    ("learning_rate_init", 0.0),
    ("power_t", -0.5),
    ("max_iter", 0),
    ("shuffle", "yes"),
    ("random_state", "seed"),
    ("tol", -1e-4),
    ("verbose", -1),
    ("warm_start", 1.5),
    ("momentum", 1.5),
    ("nesterovs_momentum", "no"),
    ("early_stopping", "no"),
    ("validation_fraction", 1.0),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0.0),
    ("n_iter_no_change", 0),
    ("max_fun", 0),
    ("dropout", 1.0),
    ("batch_norm", "yes"),
    ("callbacks", "early"),
    ("dtype", "float16"),
]


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("name, value", BAD)
def test_bad_parameter_raises_invalid_parameter_error_naming_it(Estimator, name, value):
    X, y = np.random.RandomState(0).rand(20, 3), np.arange(20) % 2
    estimator = Estimator(**{name: value})  # __init__ only stores
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {Estimator.__name__} must be"):
        estimator.fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


def test_bad_class_weight_and_loss():
    X, y = np.random.RandomState(0).rand(20, 3), np.arange(20) % 2
    with pytest.raises(InvalidParameterError, match="'class_weight'"):
        MLPClassifier(class_weight="auto").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'loss'"):
        MLPRegressor(loss="absolute_error").fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_extra_solvers_accepted():
    X, y = np.random.RandomState(0).rand(30, 3), np.arange(30) % 2
    for solver in ("rmsprop", "adamw"):
        clf = MLPClassifier(hidden_layer_sizes=(5,), solver=solver, max_iter=3).fit(X, y)
        assert clf.n_iter_ == 3


def test_other_errors_as_scikit_learn():
    X, y = np.random.RandomState(0).rand(20, 3), np.arange(20) % 2
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(5, -1)).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.01).fit(X, y)
    with pytest.raises(ValueError, match="lbfgs"):
        MLPClassifier(solver="lbfgs", dropout=0.5).fit(X, y)
    for Estimator in (MLPClassifier, MLPRegressor):
        estimator = Estimator(solver="lbfgs")
        assert not hasattr(estimator, "partial_fit")
        with pytest.raises(AttributeError, match="partial_fit"):
            estimator.partial_fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_values_beyond_float32_or_non_finite_weights():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    with pytest.raises(ValueError, match="too large for dtype='float32'"):  # an explicit float32
        MLPRegressor(dtype="float32").fit(X, y)
    message = ("Solver produced non-finite parameter weights. The input data may contain large values "
               "and need to be preprocessed.")  # scikit-learn's error, word for word
    for solver in ("adam", "sgd"):  # (L-BFGS, there as here, keeps finite weights: it rejects the step)
        with pytest.raises(ValueError, match=f"^{message}$"):
            with np.errstate(all="ignore"):
                MLPRegressor(solver=solver, max_iter=5).fit(X, y)
