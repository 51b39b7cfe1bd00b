"""fit / evaluate / predict end to end: the notes' examples, batch semantics, history, labels, determinism."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.training import Callback, Trainer, evaluate, fit, predict
from training_helpers import Recorder, assert_same_weights, mlp, weights

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


# --------------------------------------------------------------- the notes' examples
def test_digits_mlp_reaches_97_percent_test_accuracy(digits_split):
    X_train, y_train, X_test, y_test = digits_split
    model = mlp(64, 128, 64, 10, seed=0)
    history = model.fit(X_train, y_train, loss="cross_entropy", optimizer="adam", epochs=20, batch_size=32,
                        metrics=["accuracy"], seed=0, verbose=0)
    accuracy = np.mean(model.predict_classes(X_test) == y_test)
    assert accuracy >= 0.97, accuracy
    assert model.evaluate(X_test, y_test)["accuracy"] == pytest.approx(accuracy)
    assert history.history["accuracy"][-1] > 0.99
    np.testing.assert_array_equal(model.classes_, np.arange(10))


def test_xor_is_solved_with_one_hidden_layer():
    model = mlp(2, 8, 1, activation="tanh", seed=0)
    history = model.fit(XOR_X, XOR_Y, loss="binary_cross_entropy_with_logits",
                        optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=300, batch_size=None,
                        metrics=["accuracy"], verbose=0)
    np.testing.assert_array_equal(model.predict_classes(XOR_X), XOR_Y)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.01


def test_xor_is_not_solved_without_a_hidden_layer():
    model = mlp(2, 1, seed=0)  # logistic regression: a single line cannot separate XOR
    history = model.fit(XOR_X, XOR_Y, loss="binary_cross_entropy_with_logits",
                        optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=300, batch_size=None,
                        metrics=["accuracy"], verbose=0)
    assert np.mean(model.predict_classes(XOR_X) == XOR_Y) <= 0.75
    assert history.history["loss"][-1] > 0.6


def test_relu_network_fits_the_kink():
    """The notes' house price: price = max(a·size + b, 0) is one ReLU unit's shape."""
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 3, size=(200, 1)).astype(np.float32)
    price = np.maximum(2 * size[:, 0] - 2, 0)
    model = mlp(1, 16, 1, seed=0)
    history = model.fit(size, price, loss="mse", optimizer=optim.Adam(model.parameters(), lr=0.01), epochs=150,
                        batch_size=32, metrics=["r2"], verbose=0)
    assert history.history["loss"][-1] < 2e-3
    grid = np.linspace(0, 3, 31, dtype=np.float32)[:, None]
    np.testing.assert_allclose(model.predict(grid)[:, 0], np.maximum(2 * grid[:, 0] - 2, 0), atol=0.1)


# ---------------------------------------------------------------- batch semantics
@pytest.mark.parametrize("batch_size, sizes", [
    (None, [10]),          # batch gradient descent: one step per epoch on all examples
    (1, [1] * 10),         # stochastic gradient descent: one step per example
    (4, [4, 4, 2]),        # mini-batches; the last partial batch is kept
    (10, [10]),
    (32, [10]),            # larger than the data: one full batch
])
def test_batch_size_sets_the_number_and_size_of_steps(batch_size, sizes):
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    y = X.sum(axis=1)
    recorder = Recorder()
    model = mlp(3, 1)
    model.fit(X, y, loss="mse", optimizer="sgd", epochs=2, batch_size=batch_size, callbacks=[recorder], verbose=0)
    assert recorder.sizes == sizes * 2


def test_full_batch_gradient_descent_is_the_notes_update(regression_data):
    """batch_size=None and SGD: one step W ← W − η ∂J/∂W on the mean gradient of all examples."""
    X, y = regression_data
    model = mlp(2, 1)
    before = weights(model)
    model.fit(X, y, loss="half_mse", optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=1,
              batch_size=None, verbose=0)
    W, b = before["0.W"], before["0.b"]
    delta = (X @ W.T + b - y[:, None]) / len(X)  # ∂J/∂z for J = (1/2N) Σ (ŷ − y)²
    np.testing.assert_allclose(model.state_dict()["0.W"], W - 0.1 * delta.T @ X, rtol=1e-5)
    np.testing.assert_allclose(model.state_dict()["0.b"], b - 0.1 * delta.sum(axis=0), rtol=1e-5)


def test_invalid_batch_size_and_epochs_are_refused(regression_data):
    X, y = regression_data
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            mlp(2, 1).fit(X, y, loss="mse", batch_size=bad, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        mlp(2, 1).fit(X, y, loss="mse", epochs=-1, verbose=0)


# -------------------------------------------------------------------- history
def test_history_has_loss_metrics_and_their_validation_twins(blobs):
    X, y = blobs
    model = mlp(2, 8, 3)
    history = model.fit(X[:60], y[:60], loss="cross_entropy", epochs=3, metrics=["accuracy", "f1"],
                        validation_data=(X[60:], y[60:]), verbose=0)
    assert list(history.history) == ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1"]
    assert all(len(values) == 3 for values in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params["epochs"] == 3 and history.params["steps"] == 2


def test_validation_split_holds_out_the_last_fraction(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    recorder = Recorder()
    history = model.fit(X, y, loss="mse", epochs=2, batch_size=None, validation_split=0.25,
                        callbacks=[recorder], verbose=0)
    assert recorder.sizes == [45, 45]  # the first 75% train
    last = model.evaluate(X[45:], y[45:])["loss"]
    assert history.history["val_loss"][-1] == pytest.approx(last, rel=1e-6)


def test_validation_split_must_leave_both_parts_nonempty(regression_data):
    X, y = regression_data
    for bad in (1.0, -0.1, 1.5, "0.2"):
        with pytest.raises(ValueError, match="validation_split"):
            mlp(2, 1).fit(X, y, loss="mse", validation_split=bad, verbose=0)


def test_reported_loss_is_the_cost_with_the_l2_penalty(regression_data):
    X, y = regression_data
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(2, 4, activation="relu", weight_regularizer=nn.L2(0.1)), nn.Dense(4, 1))
    model.fit(X, y, loss="mse", epochs=2, verbose=0)
    outputs = model.predict(X)
    data_loss = np.mean((outputs[:, 0] - y) ** 2)
    penalty = float(model.regularization_loss().data)
    assert penalty > 0
    assert model.evaluate(X, y)["loss"] == pytest.approx(data_loss + penalty, rel=1e-5)


# --------------------------------------------------------- labels and outputs
def test_string_labels_are_encoded_sorted_and_decoded(blobs):
    X, y = blobs
    model = mlp(2, 8, 3)
    model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=30,
              batch_size=None, verbose=0)
    np.testing.assert_array_equal(model.classes_, ["setosa", "versicolor", "virginica"])
    assert model.fit_record.loss == "cross_entropy"
    labels = model.predict_classes(X)
    assert labels.dtype.kind == "U" and np.mean(labels == y) == 1.0
    proba = model.predict_proba(X)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], labels)
    logits = model.predict(X)
    np.testing.assert_allclose(proba, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-5)


def test_binary_labels_with_logits_give_two_probability_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    model = mlp(2, 1)
    model.fit(X, y, loss="binary_cross_entropy_with_logits", optimizer=optim.Adam(model.parameters(), lr=0.1),
              epochs=100, batch_size=None, metrics=["accuracy"], verbose=0)
    np.testing.assert_array_equal(model.classes_, ["no", "yes"])
    proba = model.predict_proba(X)
    z = model.predict(X)[:, 0]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict_classes(X), np.where(z > 0, "yes", "no"))
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_integer_labels_map_to_outputs_when_a_class_is_missing():
    X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    y = np.array([0, 2] * 10)  # class 1 absent: label k must still train output k
    model = mlp(2, 3)
    model.fit(X, y, loss="cross_entropy", epochs=1, verbose=0)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])


def test_classes_must_match_the_outputs(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="3 classes .* 4 outputs"):
        mlp(2, 4).fit(X, y, loss="cross_entropy", verbose=0)


def test_one_hot_targets_are_accepted(blobs):
    X, y = blobs
    codes = np.searchsorted(np.unique(y), y)
    one_hot = np.eye(3, dtype=np.float32)[codes]
    a, b = mlp(2, 3), mlp(2, 3)
    ha = a.fit(X, codes, loss="cross_entropy", epochs=2, seed=0, verbose=0)
    hb = b.fit(X, one_hot, loss="cross_entropy", epochs=2, seed=0, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)


def test_predict_proba_of_a_regressor_is_refused(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    model.fit(X, y, loss="mse", verbose=0)
    with pytest.raises(ValueError, match="predict_proba"):
        model.predict_proba(X)


def test_later_fits_reuse_the_classes(blobs):
    X, y = blobs
    model = mlp(2, 3)
    model.fit(X, y, loss="cross_entropy", verbose=0)
    model.fit(X[y != "setosa"], y[y != "setosa"], loss="cross_entropy", verbose=0)
    np.testing.assert_array_equal(model.classes_, ["setosa", "versicolor", "virginica"])


# ----------------------------------------------------------- input types
def test_lists_and_pandas_objects_are_accepted(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    frame = pd.DataFrame(X, columns=["a", "b"])
    series = pd.Series(y, dtype=object)
    a, b, c = mlp(2, 3), mlp(2, 3), mlp(2, 3)
    ha = a.fit(X, y, loss="cross_entropy", epochs=2, seed=0, verbose=0)
    hb = b.fit(frame, series, loss="cross_entropy", epochs=2, seed=0, verbose=0)
    hc = c.fit(X.tolist(), y.tolist(), loss="cross_entropy", epochs=2, seed=0, verbose=0)
    assert ha.history == hb.history == hc.history
    np.testing.assert_array_equal(b.predict_classes(frame), a.predict_classes(X))


def test_optimizer_by_name_and_instance(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trainer = Trainer(model, loss="mse", optimizer=optimizer, verbose=0)
    assert trainer.optimizer is optimizer
    trainer.fit(X, y, epochs=1)
    assert optimizer.state  # momentum buffers were created by the steps
    assert isinstance(Trainer(mlp(2, 1), loss="mse", optimizer="rmsprop").optimizer, optim.RMSprop)
    with pytest.raises(ValueError, match="unknown optimizer"):
        Trainer(mlp(2, 1), loss="mse", optimizer="adamm")
    with pytest.raises(ValueError, match="unknown loss"):
        Trainer(mlp(2, 1), loss="mean_sqared_error")


def test_a_custom_loss_callable_is_used(regression_data):
    X, y = regression_data
    calls = []

    def my_loss(outputs, target):
        calls.append(outputs.shape)
        return bp.losses.mse(outputs, target)

    model = mlp(2, 1)
    model.fit(X, y, loss=my_loss, epochs=1, batch_size=30, verbose=0)
    assert calls == [(30, 1), (30, 1)]
    assert model.evaluate(X, y)["loss"] > 0  # evaluate reuses the fit's loss


def test_zero_sample_weights_drop_examples(regression_data):
    X, y = regression_data
    w = np.r_[np.ones(40), np.zeros(20)].astype(np.float32)
    a, b = mlp(2, 1), mlp(2, 1)
    a.fit(X, y, loss="mse", optimizer="sgd", epochs=5, batch_size=None, sample_weight=w, verbose=0)
    b.fit(X[:40], y[:40], loss="mse", optimizer="sgd", epochs=5, batch_size=None, verbose=0)
    for key, value in a.state_dict().items():
        np.testing.assert_allclose(value, b.state_dict()[key], rtol=1e-5, atol=1e-6)


def test_the_module_functions_match_the_methods(regression_data):
    X, y = regression_data
    model = mlp(2, 1)
    fit(model, X, y, loss="mse", epochs=1, verbose=0)
    np.testing.assert_array_equal(predict(model, X), model.predict(X))
    assert evaluate(model, X, y, metrics=["mae"]) == model.evaluate(X, y, metrics=["mae"])


# ------------------------------------------------------------ prediction mode
def test_predict_runs_in_eval_mode_without_a_graph_and_restores_the_mode(regression_data):
    X, y = regression_data
    model = mlp(2, 16, 1, dropout=0.5)
    model.train()
    first, second = model.predict(X), model.predict(X)
    np.testing.assert_array_equal(first, second)  # no dropout at prediction
    assert isinstance(first, np.ndarray)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    model.predict(X, batch_size=7)
    assert not any(m.training for m in model.modules())
    np.testing.assert_allclose(model.predict(X, batch_size=7), first, rtol=1e-6)
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------- determinism
def test_the_same_seed_gives_bit_identical_runs(blobs):
    X, y = blobs

    def run(seed):
        model = mlp(2, 16, 3, dropout=0.2, seed=7)
        history = model.fit(X, y, loss="cross_entropy", epochs=4, batch_size=8, seed=seed, metrics=["accuracy"],
                            validation_split=0.2, verbose=0)
        return weights(model), history.history, model.predict(X)

    w1, h1, p1 = run(3)
    w2, h2, p2 = run(3)
    assert_same_weights(w1, w2)
    assert h1 == h2
    np.testing.assert_array_equal(p1, p2)
    _, h3, _ = run(4)
    assert h3 != h1


def test_stop_training_flag_stops_after_the_current_batch(regression_data):
    X, y = regression_data

    class StopAtThirdBatch(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 2:
                self.trainer.stop_training = True

    recorder = Recorder()
    history = mlp(2, 1).fit(X, y, loss="mse", epochs=5, batch_size=10, verbose=0,
                            callbacks=[recorder, StopAtThirdBatch()])
    assert len(recorder.sizes) == 3 and len(history.history["loss"]) == 1


def test_a_trainer_continues_across_calls_like_one_longer_run(regression_data):
    """What partial_fit relies on: the optimiser state, the epoch count and the history carry over."""
    X, y = regression_data
    a, b = mlp(2, 4, 1), mlp(2, 4, 1)
    trainer_a = Trainer(a, loss="mse", optimizer="adam", batch_size=16, verbose=0)
    trainer_b = Trainer(b, loss="mse", optimizer="adam", batch_size=16, verbose=0)
    bp.manual_seed(0)
    trainer_a.fit(X, y, epochs=1)
    history = trainer_a.fit(X, y, epochs=2)
    bp.manual_seed(0)
    trainer_b.fit(X, y, epochs=3)
    assert_same_weights(weights(a), weights(b))
    assert trainer_a.epoch == 3 and history.epoch == [0, 1, 2]
    assert history.history == trainer_b.history.history


def test_a_batch_whose_weights_are_all_zero_makes_no_step(regression_data):
    X, y = regression_data
    w = np.r_[np.zeros(10), np.ones(50)].astype(np.float32)
    model = mlp(2, 1)
    recorder = Recorder()
    model.fit(X, y, loss="mse", optimizer="sgd", epochs=1, batch_size=10, shuffle=False, sample_weight=w,
              callbacks=[recorder], verbose=0)
    assert recorder.losses[0] == 0.0 and all(loss > 0 for loss in recorder.losses[1:])
