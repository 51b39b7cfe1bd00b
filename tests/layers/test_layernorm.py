"""LayerNorm: the notes-style formulas against PyTorch, gradcheck, its fused form, and by name everywhere.

(The generic tests also cover it: tests/layers/test_fused_forms.py compares its fused form
with the engine, and the model-file tests load it, through tests/io/model_examples.py.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import Tensor, nn


def _layer(seed=0, size=5):
    layer = nn.LayerNorm(size, dtype="float64")
    rng = np.random.default_rng(seed)
    layer.gamma.data[...] = rng.uniform(0.5, 1.5, size)
    layer.beta.data[...] = rng.standard_normal(size)
    return layer


def test_each_row_is_normalised_over_its_features():
    x = np.random.default_rng(1).standard_normal((4, 6)) * 3 + 2
    y = nn.LayerNorm(6, dtype="float64")(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1 / (1 + 1e-5 / x.var(axis=1)), rtol=1e-9)


def test_layernorm_equals_pytorch_values_and_gradients():
    torch = pytest.importorskip("torch")
    layer = _layer()
    x = np.random.default_rng(2).standard_normal((7, 5))
    g = np.random.default_rng(3).standard_normal((7, 5))
    X = Tensor(x, requires_grad=True)
    (layer(X) * Tensor(g)).sum().backward()
    reference = torch.nn.LayerNorm(5, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.gamma.data))
        reference.bias.copy_(torch.from_numpy(layer.beta.data))
    t = torch.tensor(x, requires_grad=True)
    out = reference(t)
    (out * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(layer(Tensor(x)).data, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.gamma.grad, reference.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.beta.grad, reference.bias.grad.numpy(), rtol=1e-12)


def test_layernorm_passes_a_float64_gradcheck():
    layer = _layer()
    x = Tensor(np.random.default_rng(4).standard_normal((3, 5)), requires_grad=True)
    assert bp.gradcheck(lambda x, gamma, beta: layer(x), x, layer.gamma, layer.beta)


@pytest.mark.parametrize("config, problem", [({"normalized_shape": 0}, "normalized_shape"),
                                             ({"normalized_shape": 3, "eps": 0.0}, "eps"),
                                             ({"normalized_shape": 3, "eps": float("nan")}, "eps")])
def test_bad_arguments_are_refused(config, problem):
    with pytest.raises(ValueError, match=f"LayerNorm: {problem}"):
        nn.LayerNorm(**config)


def test_a_wrong_width_names_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"LayerNorm: expected input of shape \(N, \.\.\., 5\).*\(2, 4\)"):
        _layer()(Tensor(np.zeros((2, 4))))


def test_layernorm_in_fit_on_the_fast_path_equals_the_engine_and_saves(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((48, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)
    results = []
    for fast_path in (True, False):
        bp.manual_seed(0)
        model = nn.Sequential(nn.Dense(4, 8, dtype="float64"), nn.LayerNorm(8, dtype="float64"), nn.ReLU(),
                              nn.Dense(8, 2, dtype="float64"))
        trainer = bp.training.Trainer(model, loss="cross_entropy", batch_size=16, verbose=0, fast_path=fast_path)
        history = trainer.fit(X, y, epochs=3, seed=0).history["loss"]
        if fast_path:
            plan = trainer._fused
            assert plan is not None and not any(type(step).__name__ == "EngineStep" for step in plan.steps)
        results.append((history, [p.data.copy() for p in model.parameters()]))
    (fast, fast_weights), (engine, engine_weights) = results
    np.testing.assert_allclose(fast, engine, rtol=1e-12)
    for a, b in zip(fast_weights, engine_weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    path = tmp_path / "layernorm.safetensors"
    model.save(path)
    np.testing.assert_array_equal(bp.load(path).predict(X), model.predict(X))
