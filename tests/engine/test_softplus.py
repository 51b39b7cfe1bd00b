"""Softplus, a = ln(1 + e^z): values and f′ = σ against PyTorch, no overflow, and by name everywhere.

(The registry's generic tests in test_activation_registry.py also cover it: names, config,
float64 gradcheck, in-place forms, its derived layer saved and loaded.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import Tensor
from backprop.engine.ops.activation import ACTIVATIONS


def test_softplus_equals_pytorch_values_and_gradients():
    torch = pytest.importorskip("torch")
    z = np.linspace(-15, 15, 61)
    x = Tensor(z, requires_grad=True)
    a = bp.nn.Softplus()(x)
    a.sum().backward()
    t = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.softplus(t)
    expected.sum().backward()
    np.testing.assert_allclose(a.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_softplus_does_not_overflow():
    softplus = ACTIVATIONS.get("softplus")()
    z = np.array([-1000.0, 1000.0], dtype=np.float32)
    assert np.array_equal(softplus.f(z), np.array([0.0, 1000.0], np.float32))
    assert np.array_equal(softplus.df(z, None), np.array([0.0, 1.0], np.float32))


def test_softplus_by_name_in_fit_the_fast_path_trace_and_files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    histories = []
    for fast_path in (True, False):
        bp.manual_seed(0)
        model = bp.nn.Sequential(bp.nn.Dense(2, 6, activation="softplus", dtype="float64"),
                                 bp.nn.Softplus(), bp.nn.Dense(6, 2, dtype="float64"))
        trainer = bp.training.Trainer(model, loss="cross_entropy", batch_size=8, verbose=0, fast_path=fast_path)
        histories.append(trainer.fit(X, y, epochs=3, seed=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-12)
    trace = bp.trace(bp.nn.Sequential(bp.nn.Dense(2, 3, activation="softplus", dtype="float64"),
                                      bp.nn.Dense(3, 2, dtype="float64")), X[0], y[0], loss="cross_entropy")
    assert trace.max_residual < 1e-12
    path = tmp_path / "softplus.safetensors"
    model.save(path)
    np.testing.assert_array_equal(bp.load(path).predict(X), model.predict(X))


def test_softplus_in_place_form_and_the_fused_predict_equal_the_engine():
    # f_into(z, z): the fused predict applies f in place, so max(z, 0) must be read before z is overwritten
    z = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    expected = ACTIVATIONS.get("softplus")().f(z)
    ACTIVATIONS.get("softplus")().f_into(z, z)
    np.testing.assert_allclose(z, expected, rtol=1e-15)
    bp.manual_seed(0)
    model = bp.nn.Sequential(bp.nn.Dense(3, 4, activation="softplus"), bp.nn.Softplus())
    X = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    with bp.no_grad():
        reference = model(X).data
    np.testing.assert_allclose(model.predict(X), reference, rtol=1e-6)

def test_softplus_in_place_form_reads_z_before_overwriting_it():
    """``f_into(z, out=z)`` (the fast path's in-place predict) once added max(f(z), 0) instead of max(z, 0)."""
    softplus = ACTIVATIONS.get("softplus")()
    z = np.linspace(-4, 4, 17)
    expected = softplus.f(z)
    in_place = z.copy()
    softplus.f_into(in_place, in_place)
    np.testing.assert_allclose(in_place, expected, rtol=1e-15)
