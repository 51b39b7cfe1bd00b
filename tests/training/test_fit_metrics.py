"""The metrics fit and evaluate report: the task comes from the loss (Keras's binary accuracy on
multi-label targets), and every value equals scikit-learn's on the model's probabilities."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.metrics import METRICS

sklearn_metrics = pytest.importorskip("sklearn.metrics")

rng = np.random.default_rng(0)
X = rng.normal(size=(90, 4))
CLASSIFICATION = [name for name, metric in METRICS.items() if metric.takes_task]


def _fit(loss, y, n_out, metrics):
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(4, 8, activation="tanh", dtype="float64"), nn.Dense(8, n_out, dtype="float64"))
    model.fit(X, y, loss=loss, epochs=5, verbose=0, metrics=metrics)
    return model, model.evaluate(X, y)


def _reference(name, task, y, probabilities):
    """scikit-learn's value on the predicted probabilities (or the labels they give)."""
    import inspect

    metric = METRICS.get(name)
    function, kwargs, *how = metric.sklearn_equivalent[task]
    function = getattr(sklearn_metrics, function)
    if metric.kind != "scores":
        probabilities = probabilities.argmax(axis=1) if task == "multiclass" else (probabilities > 0.5).astype(int)
    keyword = "y_proba" if "y_proba" in inspect.signature(function).parameters else None

    def call(t, p):
        return function(t, **{keyword: p}, **kwargs) if keyword else function(t, p, **kwargs)

    if how == ["per_label"]:
        return float(np.mean([call(y[:, k], probabilities[:, k]) for k in range(y.shape[1])]))
    value = call(y, probabilities)
    return 1.0 - value if how == ["complement"] else value


def test_accuracy_on_a_multi_label_target_is_element_wise_as_in_keras():
    Y = (X[:, :3] + 0.5 * rng.normal(size=(90, 3)) > 0).astype(float)
    model, logs = _fit("binary_cross_entropy_with_logits", Y, 3, ["accuracy", "subset_accuracy"])
    P = model.predict_proba(X)
    assert logs["accuracy"] == pytest.approx(np.mean((P > 0.5) == Y))
    assert logs["subset_accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(Y, P > 0.5))
    assert logs["accuracy"] != pytest.approx(logs["subset_accuracy"])  # (the argmax of rows is neither)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_every_classification_metric_in_fit_is_scikit_learn_s(task):
    names = [name for name in CLASSIFICATION if task in METRICS.get(name).sklearn_equivalent]
    if task == "binary":
        y, loss, n_out = (X[:, 0] + 0.7 * rng.normal(size=90) > 0).astype(int), "binary_cross_entropy_with_logits", 1
    elif task == "multiclass":
        y, loss, n_out = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.6, 0, 0.6]), "cross_entropy", 4
    else:
        y, loss = (X[:, :3] + 0.5 * rng.normal(size=(90, 3)) > 0).astype(int), "binary_cross_entropy_with_logits"
        n_out = 3
    model, logs = _fit(loss, y, n_out, names)
    probabilities = model.predict_proba(X)
    if task == "binary":
        probabilities = probabilities[:, 1] if probabilities.ndim == 2 and probabilities.shape[1] == 2 else \
            probabilities.reshape(-1)
    for name in names:
        assert logs[name] == pytest.approx(_reference(name, task, y, probabilities), rel=1e-9, abs=1e-12), name


def test_two_classes_under_cross_entropy_are_a_binary_task():
    y = np.where(X[:, 0] > 0, "yes", "no")
    model, logs = _fit("cross_entropy", y, 2, ["f1", "roc_auc"])
    p_yes = model.predict_proba(X)[:, 1]
    assert logs["f1"] == pytest.approx(sklearn_metrics.f1_score(y, np.where(p_yes > 0.5, "yes", "no"), pos_label="yes"))
    assert logs["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(y == "yes", p_yes))
