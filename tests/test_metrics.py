"""Metrics agree with scikit-learn, from labels, logits or probabilities."""

import numpy as np
import pytest

sklearn_metrics = pytest.importorskip("sklearn.metrics")

import backprop.metrics  # noqa: E402 (after the importorskip)
from backprop import metrics  # noqa: E402


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, size=200)
    logits = rng.normal(size=(200, 4)) + 1.5 * np.eye(4)[y_true]
    return y_true, logits


@pytest.mark.parametrize("name, reference", [
    ("accuracy", lambda t, p: sklearn_metrics.accuracy_score(t, p)),
    ("precision", lambda t, p: sklearn_metrics.precision_score(t, p, average="macro", zero_division=0)),
    ("recall", lambda t, p: sklearn_metrics.recall_score(t, p, average="macro", zero_division=0)),
    ("f1", lambda t, p: sklearn_metrics.f1_score(t, p, average="macro", zero_division=0)),
])
def test_classification_metrics_match_sklearn(multiclass, name, reference):
    y_true, logits = multiclass
    labels = logits.argmax(axis=1)
    metric = metrics.get_metric(name)
    expected = reference(y_true, labels)
    assert metric(y_true, logits) == pytest.approx(expected, abs=1e-12)  # scores: argmax
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert metric(y_true, probabilities) == pytest.approx(expected, abs=1e-12)
    assert metric(y_true, labels) == pytest.approx(expected, abs=1e-12)  # labels as they are
    assert metric(np.eye(4)[y_true], logits) == pytest.approx(expected, abs=1e-12)  # one-hot truth


def test_macro_metrics_with_a_never_predicted_class_and_string_labels():
    y_true = np.array(["a", "b", "c", "c", "a", "b"])
    y_pred = np.array(["a", "a", "c", "c", "a", "a"])  # "b" never predicted
    for name, reference in [("precision", sklearn_metrics.precision_score), ("recall", sklearn_metrics.recall_score),
                            ("f1", sklearn_metrics.f1_score)]:
        expected = reference(y_true, y_pred, average="macro", zero_division=0)
        assert metrics.get_metric(name)(y_true, y_pred) == pytest.approx(expected)


def test_binary_predictions_threshold_probabilities_at_one_half_and_logits_at_zero():
    y_true = np.array([0, 1, 1, 0, 1])
    p = np.array([0.2, 0.7, 0.4, 0.5, 0.9])  # 0.5 is not > 0.5: class 0
    expected = sklearn_metrics.accuracy_score(y_true, (p > 0.5).astype(int))
    assert metrics.accuracy(y_true, p) == expected
    assert metrics.binary_accuracy(y_true, p[:, None]) == expected
    logits = np.log(p / (1 - p))
    assert metrics.accuracy(y_true, logits, threshold=0.0) == expected
    assert metrics.binary_accuracy(y_true, logits, threshold=0.0) == expected
    assert metrics.f1(y_true, p) == pytest.approx(sklearn_metrics.f1_score(y_true, p > 0.5, average="macro"))


def test_binary_accuracy_counts_every_element_of_multilabel_outputs():
    y_true = np.array([[1, 0, 1], [0, 0, 1]])
    p = np.array([[0.9, 0.6, 0.8], [0.1, 0.2, 0.3]])
    assert metrics.binary_accuracy(y_true, p) == pytest.approx(4 / 6)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.normal(size=50)
    y_pred = y_true + 0.3 * rng.normal(size=50)
    assert metrics.mse(y_true, y_pred) == pytest.approx(sklearn_metrics.mean_squared_error(y_true, y_pred))
    assert metrics.mae(y_true, y_pred) == pytest.approx(sklearn_metrics.mean_absolute_error(y_true, y_pred))
    assert metrics.r2(y_true, y_pred) == pytest.approx(sklearn_metrics.r2_score(y_true, y_pred))
    assert metrics.r2(y_true, y_pred[:, None]) == pytest.approx(sklearn_metrics.r2_score(y_true, y_pred))
    Y, P = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert metrics.r2(Y, P) == pytest.approx(sklearn_metrics.r2_score(Y, P))
    constant = np.ones(5)
    assert metrics.r2(constant, constant) == sklearn_metrics.r2_score(constant, constant) == 1.0
    assert metrics.r2(constant, constant + 1) == sklearn_metrics.r2_score(constant, constant + 1) == 0.0


def test_get_metric_resolves_names_and_suggests_on_typos():
    assert metrics.get_metric("acc") is metrics.accuracy
    assert metrics.get_metric("R2_SCORE") is metrics.r2
    custom = lambda t, p: 0.0  # noqa: E731
    assert metrics.get_metric(custom) is custom
    with pytest.raises(ValueError, match="did you mean 'accuracy'"):
        metrics.get_metric("acuracy")
    with pytest.raises(TypeError):
        metrics.get_metric(3)
    assert backprop.metrics.get_metric is metrics.get_metric


def test_mismatched_lengths_and_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="examples"):
        metrics.accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="at least one"):
        metrics.mse([], [])
    with pytest.raises(ValueError, match="shape"):
        metrics.mse(np.zeros((3, 2)), np.zeros((3, 3)))


# ---------------------------------------------------------- every registered metric
ENTRIES = metrics.METRICS.items()
IDS = [name for name, _ in ENTRIES]


def sample(kind: str, seed: int = 0):
    """(y_true, a perfect y_pred, a noisy y_pred) for what a metric of this kind compares."""
    rng = np.random.default_rng(seed)
    if kind == "labels":
        y_true = rng.integers(0, 3, size=120)
        perfect = 3.0 * np.eye(3)[y_true]  # class scores whose argmax is right
        return y_true, perfect, perfect + 2.5 * rng.normal(size=perfect.shape)
    if kind == "binary":
        y_true = rng.integers(0, 2, size=(120, 2))
        return y_true, 0.1 + 0.8 * y_true, rng.uniform(size=y_true.shape)  # probabilities
    y_true = rng.normal(size=(120, 2))
    return y_true, y_true.copy(), y_true + 0.5 * rng.normal(size=y_true.shape)


def sklearn_inputs(kind: str, y_true, y_pred):
    """What scikit-learn's function takes: labels (argmax of scores) or values as they are."""
    return (y_true, y_pred.argmax(axis=1)) if kind == "labels" else (y_true, y_pred)


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_every_name_and_alias_resolves_to_the_metric(name, metric):
    aliases = [alias for alias, target in metrics.METRICS.aliases().items() if target == name]
    for spelling in [name, *aliases, name.upper()]:
        assert metrics.get_metric(spelling) is metric
        assert metrics.metric_name(spelling) == spelling  # the log key is the name as given
    assert metrics.get_metric(metric) is metric and metrics.metric_name(metric) == name
    assert metric.kind in metrics.Metric.kinds and callable(metric)


@pytest.mark.parametrize("name, metric", [e for e in ENTRIES if e[1].sklearn_equivalent],
                         ids=[n for n, m in ENTRIES if m.sklearn_equivalent])
def test_agrees_with_scikit_learn(name, metric):
    function, kwargs = metric.sklearn_equivalent
    for seed in range(3):
        y_true, _, y_pred = sample(metric.kind, seed)
        expected = getattr(sklearn_metrics, function)(*sklearn_inputs(metric.kind, y_true, y_pred), **kwargs)
        assert metric(y_true, y_pred) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_higher_is_better_says_which_way_perfect_predictions_lie(name, metric):
    y_true, perfect, noisy = sample(metric.kind)
    better, worse = metric(y_true, perfect), metric(y_true, noisy)
    assert better > worse if metric.higher_is_better else better < worse


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_callbacks_auto_mode_reads_higher_is_better(name, metric):
    from backprop.training.callbacks import EarlyStopping, ModelCheckpoint

    expected = "max" if metric.higher_is_better else "min"
    aliases = [alias for alias, target in metrics.METRICS.aliases().items() if target == name]
    for key in [name, *aliases]:
        for monitor in (key, f"val_{key}"):
            assert EarlyStopping(monitor=monitor)._monitor.mode == expected
            assert ModelCheckpoint("unused.safetensors", monitor=monitor)._monitor.mode == expected
