"""scikit-learn's own estimator checks, run on our MLPs exactly as scikit-learn runs them on its own.

scikit-learn's test suite (``sklearn/tests/test_common.py::test_estimators``) builds its
MLPs with ``max_iter=100`` (``PER_ESTIMATOR_CHECK_PARAMS`` / ``_construct_instances`` in
``sklearn/utils/_test_common/instance_generator.py``), re-parametrises one check per
estimator, expects no check to fail (its ``PER_ESTIMATOR_XFAIL_CHECKS`` has no MLP
entry) and ignores the same warnings. We do the same, with our default estimators
(which, as scikit-learn's, train in X's dtype).

At scikit-learn 1.9 ``parametrize_with_checks`` yields 67 checks for its MLPClassifier
and 60 for its MLPRegressor. Our classifier gets one more, 68, because it has a
``class_weight`` parameter, which adds ``check_class_weight_classifiers``.
"""

import numpy as np
import pytest
from scipy.linalg import LinAlgWarning
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._testing import ignore_warnings
from sklearn.utils.estimator_checks import parametrize_with_checks

from backprop.sklearn import MLPClassifier, MLPRegressor

# scikit-learn's PER_ESTIMATOR_CHECK_PARAMS entries for MLPClassifier / MLPRegressor. (The
# sample-weight equivalence checks compare a weighted and a repeated fit at rtol=1e-7, below
# float32's resolution: they hold in float64, the default for their float64 data; see
# test_sample_weight_equivalence_in_float32 below for what dtype="float32" gives.)
CHECK_PARAMS = {
    MLPClassifier: {
        "check_sample_weight_equivalence_on_dense_data": [dict(solver="lbfgs")],
    },
    MLPRegressor: {
        "check_sample_weight_equivalence_on_dense_data": [dict(solver="sgd", tol=1e-2, random_state=42)],
    },
}

ESTIMATORS = [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)]


def _check_name(check) -> str:
    return getattr(check, "__name__", None) or check.func.__name__


def _instances_for_check(check, estimator):
    """scikit-learn's ``_yield_instances_for_check``: one clone per parameter set, if any."""
    param_sets = CHECK_PARAMS[type(estimator)].get(_check_name(check))
    if param_sets is None:
        yield estimator
        return
    for params in param_sets:
        yield clone(estimator).set_params(**params)


def _expected_failed_checks(estimator) -> dict:
    return {}  # as scikit-learn's for its MLPs


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with ignore_warnings(category=(FutureWarning, ConvergenceWarning, UserWarning, LinAlgWarning)):
        for instance in _instances_for_check(check, estimator):
            check(instance)


def _check_count(estimator) -> int:
    return len(parametrize_with_checks([estimator]).mark.args[1])


def test_check_counts_match_scikit_learn():
    import sklearn
    from sklearn.neural_network import MLPClassifier as SkClassifier
    from sklearn.neural_network import MLPRegressor as SkRegressor

    theirs = _check_count(SkClassifier(max_iter=100)), _check_count(SkRegressor(max_iter=100))
    if sklearn.__version__.startswith("1.9."):
        assert theirs == (67, 60)
    assert _check_count(MLPClassifier(max_iter=100)) == theirs[0] + 1  # + check_class_weight_classifiers
    assert _check_count(MLPRegressor(max_iter=100)) == theirs[1]


@pytest.mark.parametrize("Estimator, params", [
    (MLPClassifier, dict(solver="lbfgs")),
    (MLPRegressor, dict(solver="sgd", tol=1e-2)),
    (MLPClassifier, dict(solver="adam")),
])
def test_sample_weight_equivalence_in_float32(Estimator, params):
    """Integer weights = repeated rows, up to float32 rounding (rtol 1e-3 instead of 1e-7)."""
    rng = np.random.RandomState(42)
    X = rng.rand(15, 30)
    y = rng.randint(0, 3, size=15)
    sw = rng.randint(0, 5, size=15)
    est = Estimator(max_iter=100, random_state=0, dtype="float32", **params)
    with ignore_warnings(category=ConvergenceWarning):
        weighted = clone(est).fit(X, y, sample_weight=sw)
        repeated = clone(est).fit(X.repeat(sw, axis=0), y.repeat(sw))
    method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-3, atol=1e-6)
