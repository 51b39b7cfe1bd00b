"""Bad input fails with a ValueError naming the problem, before any training step; inputs are never modified."""

import numpy as np
import pytest

from backprop.training import Callback
from backprop.training.data import EpochBatches, encode_labels, infer_classes, normalise_labels
from training_helpers import assert_same_weights, mlp, weights


class FailIfTrained(Callback):
    def on_batch_begin(self, batch, logs=None):
        raise AssertionError("a training step started despite bad input")


def _fit_must_fail(model, X, y, match, **kwargs):
    before = weights(model)
    kwargs.setdefault("loss", "mse")
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, verbose=0, callbacks=[FailIfTrained()], **kwargs)
    assert_same_weights(before, weights(model))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 3)).astype(np.float32), rng.normal(size=12).astype(np.float32)


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_X_is_refused(data, value, word):
    X, y = data
    X = X.copy()
    X[4, 1] = value
    _fit_must_fail(mlp(3, 1), X, y, match=rf"X contains .*{word}.*rows: \[4\]" if word == "NaN"
                   else r"X contains 0 NaN and 1 infinite")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_y_is_refused(data, value):
    X, y = data
    y = y.copy()
    y[0] = value
    _fit_must_fail(mlp(3, 1), X, y, match="y contains")


def test_nan_class_label_is_refused(data):
    X, _ = data
    y = np.array([0.0, 1.0] * 5 + [np.nan, 1.0])
    _fit_must_fail(mlp(3, 2), X, y, loss="cross_entropy", match="NaN")
    y = np.array(["a", "b"] * 5 + [None, "a"], dtype=object)
    _fit_must_fail(mlp(3, 2), X, y, loss="cross_entropy", match="missing labels")


def test_wrong_number_of_features_is_refused(data):
    X, y = data
    _fit_must_fail(mlp(4, 1), X, y, match="X has 3 features, but the model expects 4")
    model = mlp(3, 1)
    model.fit(X, y, loss="mse", verbose=0)
    with pytest.raises(ValueError, match="X has 2 features, but the model expects 3"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="X has 2 features"):
        model.evaluate(X[:, :2], y)


def test_different_lengths_are_refused(data):
    X, y = data
    _fit_must_fail(mlp(3, 1), X, y[:-1], match="different lengths: 12 and 11")
    _fit_must_fail(mlp(3, 2), X, np.array([0, 1] * 7), loss="cross_entropy", match="different lengths: 12 and 14")
    _fit_must_fail(mlp(3, 1), X, y, sample_weight=np.ones(5), match="sample_weight")


def test_empty_X_is_refused():
    _fit_must_fail(mlp(3, 1), np.zeros((0, 3), np.float32), np.zeros(0, np.float32), match="empty")


def test_one_dimensional_X_is_refused_with_a_hint(data):
    X, y = data
    _fit_must_fail(mlp(1, 1), X[:, 0], y, match="reshape")


def test_non_numeric_X_is_refused(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "city": ["x"] * 12})
    _fit_must_fail(mlp(3, 1), frame, y, match=r"columns \['city'\]")
    _fit_must_fail(mlp(3, 1), np.full((12, 3), "a"), y, match="numeric")


def test_targets_that_do_not_fit_the_outputs_are_refused(data):
    X, y = data
    _fit_must_fail(mlp(3, 2), X, y, match="1 value.* 2 output")
    _fit_must_fail(mlp(3, 1), X, np.where(y > 0, "a", "b"), match="numeric")


def test_unseen_labels_at_evaluate_time_are_refused(data):
    X, _ = data
    y = np.array(["cat", "dog", "cow"] * 4)
    model = mlp(3, 3)
    model.fit(X, y, loss="cross_entropy", verbose=0)
    with pytest.raises(ValueError, match=r"never saw: \['horse'\]"):
        model.evaluate(X, np.array(["cat", "dog", "horse"] * 4))
    with pytest.raises(ValueError, match="never saw"):
        model.evaluate(X, np.arange(12) % 3)  # integers for a model trained on strings


def test_unseen_labels_in_validation_data_are_refused(data):
    X, _ = data
    y = np.array(["cat", "dog", "cow"] * 4)
    _fit_must_fail(mlp(3, 3), X, y, loss="cross_entropy", validation_data=(X, np.array(["emu"] * 12)),
                   match=r"validation y contains labels the model never saw: \['emu'\]")


def test_unseen_labels_in_a_later_fit_are_refused(data):
    X, _ = data
    model = mlp(3, 2)
    model.fit(X, np.array(["a", "b"] * 6), loss="cross_entropy", verbose=0)
    _fit_must_fail(model, X, np.array(["a", "c"] * 6), loss="cross_entropy", match=r"never saw: \['c'\]")


def test_bad_validation_data_is_refused_before_training(data):
    X, y = data
    bad = X.copy()
    bad[0, 0] = np.nan
    _fit_must_fail(mlp(3, 1), X, y, validation_data=(bad, y), match="validation X contains")
    _fit_must_fail(mlp(3, 1), X, y, validation_data=(X,), match="validation_data must be")


def test_caller_arrays_are_never_modified(data):
    pd = pytest.importorskip("pandas")
    X, _ = data
    X64 = X.astype(np.float64)  # converted to float32 by fit
    labels = np.array(["b", "a", "c"] * 4)
    weight = np.linspace(0.1, 1, 12)
    frame = pd.DataFrame(X64, columns=list("pqr"))
    series = pd.Series(labels)
    copies = (X.copy(), X64.copy(), labels.copy(), weight.copy(), frame.copy(), series.copy())
    model = mlp(3, 3, dropout=0.5)
    model.fit(X, labels, loss="cross_entropy", epochs=2, batch_size=5, sample_weight=weight,
              validation_data=(X64, labels, weight), metrics=["accuracy"], verbose=0)
    model.fit(frame, series, loss="cross_entropy", epochs=2, batch_size=5, validation_split=0.25, verbose=0)
    model.evaluate(X64, labels)
    model.predict_classes(frame)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(X64, copies[1])
    np.testing.assert_array_equal(labels, copies[2])
    np.testing.assert_array_equal(weight, copies[3])
    pd.testing.assert_frame_equal(frame, copies[4])
    pd.testing.assert_series_equal(series, copies[5])


# ----------------------------------------------------------------- the helpers
def test_label_helpers_follow_label_encoder():
    from sklearn.preprocessing import LabelEncoder

    labels = normalise_labels(np.array(["pear", "apple", "fig", "apple"], dtype=object))
    classes = infer_classes(labels, "multiclass", 3)
    encoder = LabelEncoder().fit(labels)
    np.testing.assert_array_equal(classes, encoder.classes_)
    np.testing.assert_array_equal(encode_labels(labels, classes), encoder.transform(labels))
    np.testing.assert_array_equal(infer_classes(normalise_labels([5, 7, 9]), "multiclass", 3), [5, 7, 9])
    assert normalise_labels([1.0, 0.0]).dtype == np.int64
    with pytest.raises(ValueError, match="mixes label types"):
        normalise_labels(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="binary loss needs two"):
        infer_classes(normalise_labels(["a", "b", "c"]), "binary_logits", 1)


def test_epoch_batches_gather_each_epoch_in_a_permuted_order():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    batches = EpochBatches([X, y, None], batch_size=4, shuffle=True)
    rng = np.random.default_rng(0)
    Xe, ye, we = batches.start_epoch(rng)
    assert we is None and batches.steps == 3 and batches.bounds() == [(0, 4), (4, 8), (8, 10)]
    order = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(ye, order)
    # X is gathered batch by batch into one reused buffer, never copied whole.
    batch_views = []
    for start, stop in batches.bounds():
        rows = Xe[start:stop]
        np.testing.assert_array_equal(rows, X[order[start:stop]])
        batch_views.append(rows)
    assert all(np.shares_memory(view, batch_views[0]) for view in batch_views)
    Xe2, ye2, _ = batches.start_epoch(rng)
    assert Xe2 is Xe and ye2 is ye  # the same preallocated buffers every epoch
    order2 = np.random.default_rng(0)
    order2.permutation(10)
    np.testing.assert_array_equal(Xe2[0:4], X[order2.permutation(10)[:4]])
    full = EpochBatches([X, y], batch_size=None, shuffle=True)
    assert full.start_epoch(rng)[0] is X  # a full batch is never permuted or copied
