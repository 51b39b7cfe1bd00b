"""skl2onnx converts the scikit-learn front as it converts scikit-learn's MLP, once ``backprop.onnx`` is imported.

Labels and probabilities of ``skl2onnx.to_onnx(clf, X[:1])`` run in ONNX Runtime equal ``predict``
and ``predict_proba`` (to 1e-5) for binary, multi-class and multi-label targets, and a regressor's
output equals ``predict`` for one output and several; float32 and float64 inputs, with the
estimator's Dropout and BatchNorm options.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("sklearn")

import backprop.onnx  # noqa: E402,F401 (registers the converters)
from backprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from onnx_runtime_helpers import assert_close, ort  # noqa: E402

RNG = np.random.default_rng(0)
X_TRAIN = RNG.normal(size=(80, 4))

TARGETS = {
    "binary strings": np.where(X_TRAIN[:, 0] > 0, "yes", "no"),
    "binary ints": (X_TRAIN[:, 1] > 0).astype(int) + 3,
    "multiclass strings": np.array(["a", "b", "c"])[np.argmax(X_TRAIN[:, :3], axis=1)],
    "multiclass ints": np.argmax(X_TRAIN[:, :3], axis=1),
    "multi-label": (X_TRAIN[:, :3] > 0).astype(int),
}


def run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few iterations suffice here
        return estimator.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"batch_norm": True, "dropout": 0.1}], ids=["dense", "batchnorm-dropout"])
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_classifier_labels_and_probabilities(target, options, dtype):
    X = X_TRAIN.astype(dtype)
    clf = fitted(MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=0, **options), X, TARGETS[target])
    outputs = run(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert list(outputs) == ["label", "probabilities"]
    np.testing.assert_array_equal(outputs["label"], clf.predict(X))
    assert_close(outputs["probabilities"], clf.predict_proba(X))


def test_classifier_probabilities_as_a_zipmap_by_default():
    clf = fitted(MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0), X_TRAIN.astype(np.float32),
                 TARGETS["multiclass strings"])
    outputs = run(skl2onnx.to_onnx(clf, X_TRAIN[:1].astype(np.float32)), X_TRAIN[:5].astype(np.float32))
    expected = clf.predict_proba(X_TRAIN[:5].astype(np.float32))
    labels, zipmap = outputs.values()  # ("output_label", "output_probability"), as for scikit-learn's MLP
    np.testing.assert_array_equal(labels, clf.predict(X_TRAIN[:5].astype(np.float32)))
    for row, probabilities in zip(zipmap, expected):
        assert sorted(row) == ["a", "b", "c"]
        assert_close([row[label] for label in ("a", "b", "c")], probabilities)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_single_and_multi_output(n_outputs, dtype):
    X = X_TRAIN.astype(dtype)
    y = X_TRAIN[:, 0] * 2 + 1 if n_outputs == 1 else X_TRAIN[:, :2] @ np.array([[1.0, -2.0], [0.5, 3.0]])
    reg = fitted(MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0, batch_norm=True), X, y)
    outputs = run(skl2onnx.to_onnx(reg, X[:1]), X)
    assert_close(outputs["variable"], reg.predict(X).reshape(len(X), n_outputs))


def test_the_registration_is_in_skl2onnx_tables():
    from skl2onnx._supported_operators import sklearn_operator_name_map

    assert sklearn_operator_name_map[MLPClassifier] == backprop.onnx.sklearn_converters.ALIASES["MLPClassifier"]
    assert sklearn_operator_name_map[MLPRegressor] == backprop.onnx.sklearn_converters.ALIASES["MLPRegressor"]
