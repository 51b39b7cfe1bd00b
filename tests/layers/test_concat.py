"""Concat: one branch per input, outputs joined along the features; gradients through it, fit/predict on
tuple and dict X, files, and clean refusals.

(Its inputs' validation is tests/training/test_inputs.py; the generic tests cover it through
tests/io/model_examples.py's "tabular" architecture.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.layers.registry import declared_state_shapes
from backprop.engine.gradcheck import gradcheck
from backprop.training import Trainer, fastpath


def _model(dtype="float64", seed=0):
    bp.manual_seed(seed)
    return nn.Sequential(
        nn.Concat({"codes": nn.Sequential(nn.Embedding(6, 2, dtype=dtype), nn.Flatten()),
                   "numeric": nn.Dense(3, 2, activation="tanh", dtype=dtype)}),
        nn.Dense(2 * 2 + 2, 4, activation="tanh", dtype=dtype), nn.Dense(4, 1, dtype=dtype))


def _inputs(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return {"codes": rng.integers(0, 6, size=(n, 2)), "numeric": rng.normal(size=(n, 3))}


def test_the_output_is_the_branches_outputs_side_by_side():
    concat = _model()[0]
    X = _inputs()
    out = concat({"numeric": bp.Tensor(X["numeric"]), "codes": X["codes"]}).data
    embedded = concat.codes[0].W.data[X["codes"]].reshape(10, 4)
    dense = concat.numeric(bp.Tensor(X["numeric"])).data
    np.testing.assert_array_equal(out, np.hstack([embedded, dense]))
    np.testing.assert_array_equal(concat((X["codes"], bp.Tensor(X["numeric"]))).data, out)  # a tuple, in order


def test_gradcheck_through_the_container():
    model = _model()
    X = _inputs(5)
    assert gradcheck(lambda x: model({"codes": X["codes"], "numeric": x}), bp.Tensor(X["numeric"], requires_grad=True))
    # every parameter, branches included: backprop against central differences
    delta = np.random.default_rng(1).normal(size=(5, 1))
    model.zero_grad()
    model({"codes": X["codes"], "numeric": bp.Tensor(X["numeric"])}).backward(delta)

    def J():
        with bp.no_grad():
            return float((model({"codes": X["codes"], "numeric": bp.Tensor(X["numeric"])}).data * delta).sum())

    for name, p in model.named_parameters():
        flat, eps = p.data.reshape(-1), 1e-6
        numeric = np.empty_like(flat)
        for k in range(flat.size):
            original = flat[k]
            flat[k] = original + eps
            plus = J()
            flat[k] = original - eps
            numeric[k] = (plus - J()) / (2 * eps)
            flat[k] = original
        np.testing.assert_allclose(p.grad.reshape(-1), numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_fit_on_a_dict_equals_fit_on_the_joined_columns():
    # Identity branches: the same network as a Dense on the concatenated columns. With the same
    # weights and seed, every shuffled batch must pair the same rows of both inputs.
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(50, 2)), rng.normal(size=(50, 3))
    y = a[:, 0] - 2 * b[:, 1] + rng.normal(scale=0.1, size=50)
    bp.manual_seed(3)
    branched = nn.Sequential(nn.Concat({"a": nn.Identity(), "b": nn.Identity()}), nn.Dense(5, 1, dtype="float64"))
    joined = nn.Sequential(nn.Dense(5, 1, dtype="float64"))
    joined.load_state_dict({"0.W": branched[1].W.data, "0.b": branched[1].b.data})
    for model, X in ((branched, {"a": a, "b": b}), (joined, np.hstack([a, b]))):
        Trainer(model, loss="mse", optimizer=bp.optim.SGD(model.parameters(), lr=0.05), batch_size=7, verbose=0,
                fast_path=False).fit(X, y, epochs=3, seed=4, validation_split=0.2)
    np.testing.assert_allclose(branched[1].W.data, joined[0].W.data, rtol=1e-12)


def test_fit_predict_evaluate_and_proba_take_tuples_and_dicts_and_validation_works():
    X = _inputs(80, seed=3)
    y = ((X["codes"][:, 0] % 2 == 0) ^ (X["numeric"][:, 0] > 0.5)).astype(int)
    model = _model("float32")
    history = model.fit(X, y, loss="binary_cross_entropy_with_logits", epochs=60, batch_size=16, verbose=0,
                        optimizer=bp.optim.Adam(model.parameters(), lr=0.05),
                        metrics=["accuracy"], validation_split=0.25, seed=0)
    assert history.history["accuracy"][-1] > 0.9 and "val_loss" in history.history
    as_tuple = (X["codes"], X["numeric"])
    np.testing.assert_array_equal(model.predict(X), model.predict(as_tuple))
    np.testing.assert_allclose(model.predict(X, batch_size=7), model.predict(X), rtol=1e-5, atol=1e-6)
    assert model.predict_proba(X).shape == (80, 2) and set(model.predict_classes(X)) <= {0, 1}
    assert model.evaluate(as_tuple, y)["accuracy"] > 0.85
    history = model.fit(X, y, loss="binary_cross_entropy_with_logits", epochs=1, verbose=0,
                        validation_data=({k: v[:10] for k, v in X.items()}, y[:10]), sample_weight=np.ones(80))
    assert len(history.history["val_loss"]) == 1


def test_a_concat_model_saves_and_loads(tmp_path):
    model = _model()
    X = _inputs(20)
    model.fit(X, X["numeric"][:, 0], loss="mse", epochs=2, verbose=0)
    model.save(tmp_path / "m.safetensors")
    loaded = bp.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert nn.module_to_config(loaded) == nn.module_to_config(model)
    unnamed = nn.Sequential(nn.Concat(nn.Identity(), nn.Embedding(4, 2)), nn.Dense(4, 1))
    unnamed.save(tmp_path / "u.safetensors")
    again = bp.load(tmp_path / "u.safetensors")
    inputs = (np.ones((3, 2), np.float32), np.array([0, 1, 3]))
    np.testing.assert_array_equal(again.predict(inputs), unnamed.predict(inputs))
    assert list(again.state_dict()) == ["0.1.W", "1.W", "1.b"]


def test_the_planner_leaves_a_concat_model_to_the_engine():
    model = _model("float32")
    assert fastpath.compile_model(model) is None
    assert fastpath.compile_model(model, bp.losses.get_loss("mse")) is None


@pytest.mark.parametrize("build, error, match", [
    (lambda: nn.Concat(), ValueError, "at least one branch"),
    (lambda: nn.Concat({}), ValueError, "at least one branch"),
    (lambda: nn.Concat({"a.b": nn.Identity()}), ValueError, "letters, digits"),
    (lambda: nn.Concat({3: nn.Identity()}), TypeError, "strings"),
    (lambda: nn.Concat(nn.Identity(), "relu"), TypeError, "branch '1' must be a Module"),
])
def test_bad_branches_are_refused(build, error, match):
    with pytest.raises(error, match=f"Concat: .*{match}"):
        build()


def test_inputs_that_do_not_fit_the_branches_are_refused():
    concat = _model()[0]
    X = _inputs(4)
    with pytest.raises(ValueError, match=r"missing \['numeric'\]"):
        concat({"codes": X["codes"]})
    with pytest.raises(ValueError, match="2 branches .* need 2 inputs, got 3"):
        concat((X["codes"], X["numeric"], X["numeric"]))
    with pytest.raises(ValueError, match="tuple or dict"):
        concat(bp.Tensor(X["numeric"]))
    with pytest.raises(ValueError, match=r"branch 'codes' outputs shape \(4, 2, 2\)"):
        nn.Concat({"codes": nn.Embedding(6, 2), "x": nn.Identity()})({"codes": X["codes"], "x": X["numeric"]})


def test_state_shapes_are_declared_from_the_config():
    model = _model()
    config = nn.module_to_config(model)
    assert declared_state_shapes(config) == {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(TypeError, match="Concat: config"):
        nn.Concat.state_shapes({"branches": "x"})
    with pytest.raises(ValueError, match="letters, digits"):
        nn.Concat.state_shapes({"branches": {"a.b": {"class_name": "Identity", "config": {}}}})
