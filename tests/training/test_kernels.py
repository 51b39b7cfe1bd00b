"""The fast path's compiled kernels agree with the NumPy code they replace."""

import numpy as np
import pytest

import backprop as bp
from backprop import jit, losses, nn
from backprop.training import fastpath, kernels

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")

DTYPES = [np.float32, np.float64]


def _edge_matrix(dtype, n=6, k=5, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, k)).astype(dtype)
    Z[0, :4] = [np.nan, -np.inf, np.inf, -0.0]
    Z[1, 0] = 0.0
    return Z


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_bias_relu_is_numpy_bit_for_bit(dtype):
    Z = _edge_matrix(dtype)
    b = np.random.default_rng(1).standard_normal(Z.shape[1]).astype(dtype)
    b[3] = 0.0
    expected_Z = Z + b
    expected_A = np.maximum(expected_Z, 0)
    A = np.empty_like(Z)
    kernels.add_bias_relu.get()(Z, b, A, dtype(0))
    np.testing.assert_array_equal(Z, expected_Z)
    np.testing.assert_array_equal(A, expected_A)
    assert np.array_equal(np.signbit(A), np.signbit(expected_A))  # max(−0, 0) is −0 in NumPy too


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_delta_and_bias_grad_is_numpy_bit_for_bit(dtype):
    Z = _edge_matrix(dtype)
    delta = np.random.default_rng(2).standard_normal(Z.shape).astype(dtype)
    delta[2, 1] = np.nan
    expected = delta * (Z > 0).astype(dtype)
    expected_b = np.add.reduce(expected, axis=0)
    grad_b = np.empty(Z.shape[1], dtype)
    kernels.relu_delta_and_bias_grad.get()(delta, Z, grad_b, dtype(0))
    np.testing.assert_array_equal(delta, expected)
    np.testing.assert_array_equal(grad_b, expected_b)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_softmax_cross_entropy_matches_numpy(dtype, rtol):
    rng = np.random.default_rng(3)
    Z = (rng.standard_normal((9, 4)) * 5).astype(dtype)
    Z[0] = [1000, -1000, 0, 999]  # extreme logits stay finite
    labels = rng.integers(0, 4, 9)
    delta, expected_delta = np.empty_like(Z), np.empty_like(Z)
    loss = kernels.softmax_cross_entropy.get()(Z, labels, delta, dtype(1 / 9), dtype(0), dtype(1))
    with jit.disabled():
        expected = fastpath._cross_entropy(Z, labels, None, expected_delta)
    assert loss == pytest.approx(expected, rel=rtol)
    np.testing.assert_allclose(delta, expected_delta, rtol=rtol, atol=rtol / 9)


def test_softmax_cross_entropy_out_of_range_label_is_nan_not_a_crash():
    Z = np.zeros((2, 3))
    delta = np.empty_like(Z)
    loss = kernels.softmax_cross_entropy.get()(Z, np.array([0, 7]), delta, 0.5, 0.0, 1.0)
    assert np.isnan(loss)


def _model(dtype):
    bp.manual_seed(0)
    return nn.Sequential(nn.Dense(6, 8, activation="relu", dtype=dtype), nn.Dense(8, 8, activation="relu", dtype=dtype),
                         nn.Dropout(0.0), nn.Dense(8, 3, dtype=dtype))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_train_step_with_and_without_kernels(dtype, rtol, monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((10, 6)).astype(dtype)
    y = rng.integers(0, 3, 10)
    calls = []
    for kernel in (kernels.add_bias_relu, kernels.relu_delta_and_bias_grad, kernels.softmax_cross_entropy):
        compiled = kernel.get()
        monkeypatch.setattr(kernel, "_compiled",
                            lambda *args, _f=compiled, _k=kernel: calls.append(_k) or _f(*args))
    results = []
    for disabled in (False, True):
        model = _model(dtype)
        net = fastpath.compile_model(model, losses.cross_entropy)
        if disabled:
            with jit.disabled():
                cost, outputs = net.train_step(X, y, None)
        else:
            cost, outputs = net.train_step(X, y, None)
        results.append((cost, outputs.copy(), [p.grad.copy() for p in model.parameters()]))
    assert {k.py_func.__name__ for k in calls} == {"add_bias_relu", "relu_delta_and_bias_grad",
                                                   "softmax_cross_entropy"}
    (cost, outputs, grads), (cost0, outputs0, grads0) = results
    assert cost == pytest.approx(cost0, rel=rtol)
    np.testing.assert_array_equal(outputs, outputs0)  # the forward pass is bit-identical
    for g, g0 in zip(grads, grads0):
        np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol)
