"""Activation layers against torch, in float64; they reuse the engine's f and f′."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.engine.ops.activation import Activation

torch = pytest.importorskip("torch")

CASES = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Arctan(), torch.atan),
    (nn.Softmax(), torch.nn.Softmax(dim=-1)),
    (nn.Softmax(axis=0), torch.nn.Softmax(dim=0)),
    (nn.Identity(), torch.nn.Identity()),
]


@pytest.mark.parametrize("layer, reference", CASES, ids=lambda c: type(c).__name__)
def test_forward_and_gradient_match_torch(layer, reference):
    rng = np.random.default_rng(0)
    x_np, upstream = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    x = bp.Tensor(x_np, requires_grad=True)
    out = layer(x)
    out.backward(upstream)
    x_t = torch.tensor(x_np, requires_grad=True)
    out_t = reference(x_t)
    out_t.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_step_forward_matches_heaviside_and_blocks_gradient():
    x_np = np.array([[-1.0, 0.0, 2.0]])
    x = bp.Tensor(x_np, requires_grad=True)
    out = nn.Step()(x)
    expected = torch.heaviside(torch.from_numpy(x_np), torch.tensor(1.0, dtype=torch.float64))
    np.testing.assert_array_equal(out.data, expected.numpy())
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, 0)


def test_layers_hold_the_engine_activation_objects():
    for layer in (nn.ReLU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Tanh(), nn.Arctan(), nn.Step(), nn.Identity()):
        assert isinstance(layer.activation, Activation)
        assert layer.parameters() == []
    assert nn.LeakyReLU(0.3).activation.negative_slope == 0.3
    with pytest.raises(NotImplementedError, match="not elementwise"):
        nn.Softmax().activation.df(np.zeros(2), np.zeros(2))


def test_configs():
    assert nn.LeakyReLU(0.3).get_config() == {"negative_slope": 0.3}
    assert nn.Softmax(axis=0).get_config() == {"axis": 0}
    assert nn.ReLU().get_config() == {}


def test_bad_arguments():
    with pytest.raises(ValueError, match="negative_slope"):
        nn.LeakyReLU("a")
    with pytest.raises(ValueError, match="axis"):
        nn.Softmax(axis=1.5)


def test_step_threshold_k_is_the_notes_sigma_step_and_survives_a_model_file(tmp_path):
    # σ_Step(z; k) = 1 for z ≥ k, else 0 (seed 002); k = 0 is the plain step.
    z = np.array([[-1.0, 0.25, 0.5, 0.75]])
    np.testing.assert_array_equal(nn.Step(k=0.5)(z).data, [[0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(nn.Step()(z).data, (z >= 0).astype(float))
    assert nn.Step(0.5).get_config() == {"k": 0.5} and nn.Step().get_config() == {"k": 0.0}
    model = nn.Sequential(nn.Dense(2, 3, activation={"name": "step", "k": 0.5}), nn.Dense(3, 1), nn.Step(k=-1.0))
    bp.save(model, tmp_path / "step.safetensors")
    loaded = bp.load(tmp_path / "step.safetensors")
    assert loaded[0].activation.k == 0.5 and loaded[2].activation.k == -1.0
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


@pytest.mark.parametrize("k", [float("nan"), float("inf"), "0.5", True])
def test_step_threshold_must_be_a_finite_number(k):
    with pytest.raises(ValueError, match="k must be a finite number"):
        nn.Step(k=k)


def test_linear_slope_k_is_the_notes_sigma_linear_and_survives_a_model_file(tmp_path):
    # σ(z; k) = k z, f′(z) = k (seed 002); k = 1 is the identity, and "linear" alone is no activation.
    z = np.array([[-1.0, 0.25, 0.5, 3.0]])
    np.testing.assert_array_equal(nn.LinearActivation(k=2.0)(z).data, 2.0 * z)
    assert bp.gradcheck(nn.LinearActivation(k=-1.5), bp.Tensor(np.random.default_rng(0).normal(size=(3, 4)), requires_grad=True))
    assert nn.Dense(2, 3, activation="linear").activation is None
    assert nn.Dense(2, 3, activation={"name": "linear", "k": 1.0}).activation is None
    assert nn.LinearActivation(2.0).get_config() == {"k": 2.0} and nn.LinearActivation().get_config() == {"k": 1.0}
    model = nn.Sequential(nn.Dense(2, 3, activation={"name": "linear", "k": 2.0}), nn.Dense(3, 1),
                          nn.LinearActivation(k=-0.5))
    x = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    hidden = model[0]
    np.testing.assert_allclose(model(x).data, -0.5 * (2.0 * (x @ hidden.W.data.T + hidden.b.data)) @ model[1].W.data.T
                               - 0.5 * model[1].b.data, rtol=1e-5)
    model.fit(x, x.sum(axis=1), loss="mse", epochs=2, verbose=0)  # the fast path's in-place forms
    bp.save(model, tmp_path / "linear.safetensors")
    loaded = bp.load(tmp_path / "linear.safetensors")
    assert loaded[0].activation.k == 2.0 and loaded[2].activation.k == -0.5
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    with pytest.raises(ValueError, match="k must be a finite number"):
        nn.LinearActivation(k=float("nan"))
