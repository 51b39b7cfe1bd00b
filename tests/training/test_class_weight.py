"""fit(class_weight=...): Keras's per-class weights, equal to repeated rows and to sample_weight."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn

rng = np.random.default_rng(0)
X = rng.normal(size=(30, 3))
LABELS = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 30)]


def _model(n_out=3):
    bp.manual_seed(0)
    return nn.Sequential(nn.Dense(3, 8, activation="tanh", dtype="float64"), nn.Dense(8, n_out, dtype="float64"))


def _fit(X, y, loss="cross_entropy", n_out=3, **kwargs):
    model = _model(n_out)
    history = model.fit(X, y, loss=loss, optimizer="sgd", epochs=3, batch_size=None, shuffle=False, verbose=0,
                        **kwargs)
    return history.history["loss"], [p.data.copy() for p in model.parameters()]


def _same(a, b):
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    for p, q in zip(a[1], b[1]):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_a_class_weight_of_two_is_two_copies_of_each_example_of_that_class():
    weighted = _fit(X, LABELS, class_weight={"dog": 2})
    twice = LABELS == "dog"
    repeated = _fit(np.concatenate([X, X[twice]]), np.concatenate([LABELS, LABELS[twice]]))
    _same(weighted, repeated)


def test_class_weight_is_sample_weight_by_class_and_multiplies_a_given_sample_weight():
    class_weight = {"cat": 0.5, "emu": 3.0}  # dog is left out: weight 1
    per_example = np.array([class_weight.get(label, 1.0) for label in LABELS])
    _same(_fit(X, LABELS, class_weight=class_weight), _fit(X, LABELS, sample_weight=per_example))
    sample_weight = rng.random(30) + 0.1
    _same(_fit(X, LABELS, class_weight=class_weight, sample_weight=sample_weight),
          _fit(X, LABELS, sample_weight=sample_weight * per_example))


def test_binary_labels_and_balanced_weights_are_scikit_learn_s():
    compute_sample_weight = pytest.importorskip("sklearn.utils.class_weight").compute_sample_weight
    y = (X[:, 0] > 0.6).astype(int)  # unbalanced
    expected = compute_sample_weight("balanced", y)
    _same(_fit(X, y, loss="binary_cross_entropy_with_logits", n_out=1, class_weight="balanced"),
          _fit(X, y, loss="binary_cross_entropy_with_logits", n_out=1, sample_weight=expected))
    _same(_fit(X, y, loss="binary_cross_entropy_with_logits", n_out=1, class_weight={1: 4.0}),
          _fit(X, y, loss="binary_cross_entropy_with_logits", n_out=1, sample_weight=np.where(y == 1, 4.0, 1.0)))


def test_validation_data_are_not_weighted():
    model = _model()
    history = model.fit(X[:20], LABELS[:20], loss="cross_entropy", epochs=1, verbose=0,
                        validation_data=(X[20:], LABELS[20:]), class_weight={"dog": 5.0})
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(X[20:], LABELS[20:])["loss"], rel=1e-12)


@pytest.mark.parametrize("class_weight, message", [
    ({"wolf": 2.0}, "class_weight contains labels the model never saw: .*wolf.*known classes are"),
    ({"dog": -1.0}, r"class_weight\['dog'\] must be a finite number >= 0"),
    ({"dog": float("nan")}, "must be a finite number"),
    ("balance", "class_weight must be a dict {label: weight} or 'balanced'"),
    ([1, 2, 3], "class_weight must be a dict"),
    ({"cat": 0, "dog": 0, "emu": 0}, "weight 0"),
])
def test_bad_class_weights_are_refused_before_training(class_weight, message):
    model = _model()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        model.fit(X, LABELS, loss="cross_entropy", verbose=0, class_weight=class_weight)
    for p, q in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, q)


def test_class_weight_needs_class_labels():
    with pytest.raises(ValueError, match="class_weight needs one class label per example"):
        _model(1).fit(X, X[:, 0], loss="mse", verbose=0, class_weight={0: 1.0})
    multi_label = (X > 0).astype(float)
    with pytest.raises(ValueError, match="multi-label"):
        _model(3).fit(X, multi_label, loss="binary_cross_entropy_with_logits", verbose=0, class_weight={0: 2.0})


def test_class_weight_on_a_model_of_several_inputs_is_sample_weight_by_class():
    codes = rng.integers(0, 4, 30)

    def fit(**weights):
        bp.manual_seed(0)
        model = nn.Sequential(nn.Concat({"code": nn.Embedding(4, 2, dtype="float64"), "x": nn.Identity()}),
                              nn.Dense(2 + 3, 3, dtype="float64"))
        history = model.fit({"code": codes, "x": X}, LABELS, loss="cross_entropy", optimizer="sgd", epochs=2,
                            shuffle=False, verbose=0, **weights)
        return history.history["loss"], [p.data.copy() for p in model.parameters()]

    per_example = np.where(LABELS == "emu", 3.0, 1.0)
    _same(fit(class_weight={"emu": 3.0}), fit(sample_weight=per_example))
