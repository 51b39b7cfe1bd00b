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
    assert metrics.f1(y_true, p) == pytest.approx(sklearn_metrics.f1_score(y_true, p > 0.5))  # average="binary"


def test_binary_f1_is_the_positive_class_s_and_average_macro_asks_for_the_mean():
    y_true = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 0, 0])
    for name, reference in [("precision", sklearn_metrics.precision_score), ("recall", sklearn_metrics.recall_score),
                            ("f1", sklearn_metrics.f1_score)]:
        metric = metrics.get_metric(name)
        assert metric(y_true, y_pred) == pytest.approx(reference(y_true, y_pred))
        assert metric(y_true, y_pred, average="macro") == pytest.approx(reference(y_true, y_pred, average="macro"))
        strings = np.array(["no", "yes"])  # two labels of another kind: the greater is the positive class
        assert metric(strings[y_true], strings[y_pred]) == pytest.approx(
            reference(strings[y_true], strings[y_pred], pos_label="yes"))
    assert metrics.f1(y_true, y_pred) != pytest.approx(metrics.f1(y_true, y_pred, average="macro"))
    with pytest.raises(ValueError, match="average must be"):
        metrics.f1(y_true, y_pred, average="micro")
    with pytest.raises(ValueError, match="task must be one of"):
        metrics.f1(y_true, y_pred, task="multi-label")


def test_roc_auc_counts_ties_as_one_half_and_is_nan_with_one_class():
    y_true = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.2, 0.5, 0.5, 0.9, 0.5, 0.2])
    assert metrics.roc_auc(y_true, scores) == pytest.approx(sklearn_metrics.roc_auc_score(y_true, scores))
    assert np.isnan(metrics.roc_auc(np.zeros(4, int), np.array([0.1, 0.2, 0.3, 0.4]), task="binary"))
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        metrics.log_loss(y_true, scores * 3)


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


TASKS = ("binary", "multiclass", "multilabel")


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample(task: str, seed: int = 0):
    """(y_true, a perfect y_pred, a noisy y_pred) of a task: probabilities for the classification tasks."""
    rng = np.random.default_rng(seed)
    if task == "binary":
        y_true = rng.integers(0, 2, size=120)
        return y_true, 0.1 + 0.8 * y_true, np.clip(0.35 * y_true + 0.65 * rng.uniform(size=120), 0, 1)
    if task == "multiclass":
        y_true = rng.integers(0, 4, size=120)
        one_hot = np.eye(4)[y_true]
        return y_true, _softmax(3.0 * one_hot), _softmax(1.2 * one_hot + rng.normal(size=one_hot.shape))
    if task == "multilabel":
        y_true = rng.integers(0, 2, size=(120, 3))
        y_true[0] = [1, 1, 0]  # (not all rows one-hot)
        noisy = 1 / (1 + np.exp(-(2.0 * y_true - 1 + 1.5 * rng.normal(size=y_true.shape))))
        return y_true, 0.1 + 0.8 * y_true, noisy
    y_true = rng.normal(size=(120, 2))
    return y_true, y_true.copy(), y_true + 0.5 * rng.normal(size=y_true.shape)


def tasks_of(metric) -> tuple:
    return ("regression",) if metric.kind == "values" else TASKS


def sklearn_value(metric, task: str, y_true, y_pred) -> float:
    """scikit-learn's value, from the metric's ``sklearn_equivalent`` for the task."""
    import inspect

    function, kwargs, *how = metric.sklearn_equivalent[task]
    function = getattr(sklearn_metrics, function)
    if metric.kind in ("labels", "binary"):  # scikit-learn takes the predicted labels
        y_pred = y_pred.argmax(axis=1) if task == "multiclass" else (y_pred > 0.5).astype(int)
    keyword = "y_proba" if "y_proba" in inspect.signature(function).parameters else None

    def call(t, p):
        return function(t, **{keyword: p}, **kwargs) if keyword else function(t, p, **kwargs)

    if how == ["per_label"]:
        return float(np.mean([call(y_true[:, k], y_pred[:, k]) for k in range(y_true.shape[1])]))
    value = call(y_true, y_pred)
    return 1.0 - value if how == ["complement"] else value


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_every_name_and_alias_resolves_to_the_metric(name, metric):
    aliases = [alias for alias, target in metrics.METRICS.aliases().items() if target == name]
    for spelling in [name, *aliases, name.upper()]:
        assert metrics.get_metric(spelling) is metric
        assert metrics.metric_name(spelling) == spelling  # the log key is the name as given
    assert metrics.get_metric(metric) is metric and metrics.metric_name(metric) == name
    assert metric.kind in metrics.Metric.kinds and callable(metric)


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_agrees_with_scikit_learn_on_every_task(name, metric):
    """Binary, multi-class and multi-label (or regression): equal to scikit-learn where the entry
    names an equivalent, refused where it names none."""
    for task in tasks_of(metric):
        for seed in range(3):
            y_true, _, y_pred = sample(task, seed)
            if task not in metric.sklearn_equivalent:
                with pytest.raises(ValueError, match=name):
                    metric(y_true, y_pred, task=task)
                continue
            expected = sklearn_value(metric, task, y_true, y_pred)
            assert metric(y_true, y_pred) == pytest.approx(expected, rel=1e-12, abs=1e-12)  # the task read
            if metric.takes_task:
                assert metric(y_true, y_pred, task=task) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name, metric", ENTRIES, ids=IDS)
def test_higher_is_better_says_which_way_perfect_predictions_lie(name, metric):
    for task in tasks_of(metric):
        if metric.sklearn_equivalent and task not in metric.sklearn_equivalent:
            continue
        y_true, perfect, noisy = sample(task)
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
