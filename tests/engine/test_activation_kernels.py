"""ReLU's compiled forms with a layer's bias agree bit for bit with the NumPy forms they replace."""

import numpy as np
import pytest

from backprop import jit
from backprop.engine.ops.activation import ACTIVATIONS, ReLU

needs_numba = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")

DTYPES = [np.float32, np.float64]


def _edge_matrix(dtype, n=6, k=5, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, k)).astype(dtype)
    Z[0, :4] = [np.nan, -np.inf, np.inf, -0.0]
    Z[1, 0] = 0.0
    return Z


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_bias_relu_is_numpy_bit_for_bit(dtype):
    Z = _edge_matrix(dtype)
    b = np.random.default_rng(1).standard_normal(Z.shape[1]).astype(dtype)
    b[3] = 0.0
    expected_Z = Z + b
    expected_A = np.maximum(expected_Z, 0)
    A = np.empty_like(Z)
    ReLU.add_bias_relu.get()(Z, b, A, dtype(0))
    np.testing.assert_array_equal(Z, expected_Z)
    np.testing.assert_array_equal(A, expected_A)
    assert np.array_equal(np.signbit(A), np.signbit(expected_A))  # max(−0, 0) is −0 in NumPy too


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_delta_and_bias_grad_is_numpy_bit_for_bit(dtype):
    Z = _edge_matrix(dtype)
    delta = np.random.default_rng(2).standard_normal(Z.shape).astype(dtype)
    delta[2, 1] = np.nan
    expected = delta * (Z > 0).astype(dtype)
    expected_b = np.add.reduce(expected, axis=0)
    grad_b = np.empty(Z.shape[1], dtype)
    ReLU.relu_delta_and_bias_grad.get()(delta, Z, grad_b, dtype(0))
    np.testing.assert_array_equal(delta, expected)
    np.testing.assert_array_equal(grad_b, expected_b)


@needs_numba
def test_the_kernels_refuse_mismatched_shapes_themselves():
    Z, b = np.zeros((2, 3), np.float32), np.zeros(5, np.float32)
    with pytest.raises(ValueError):
        ReLU.add_bias_relu.get()(Z, b, Z, np.float32(0))
    with pytest.raises(ValueError):
        ReLU.relu_delta_and_bias_grad.get()(Z, Z, b, np.float32(0))


@pytest.mark.parametrize("name", [name for name, cls in ACTIVATIONS.items() if cls.elementwise])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_activation_s_bias_forms_equal_its_two_steps(name, dtype):
    """add_bias_f_into and backprop_bias_into (a kernel or the default) give the numbers of
    z += b, f_into, backprop_into and Σ_rows δ, run one after another."""
    f = ACTIVATIONS.get(name)()
    rng = np.random.default_rng(3)
    Z, b, delta = (rng.standard_normal(shape).astype(dtype) for shape in ((7, 4), (4,), (7, 4)))
    Z1, Z2, A1, A2 = Z.copy(), Z.copy(), np.empty_like(Z), np.empty_like(Z)
    f.add_bias_f_into(Z1, b, A1)
    Z2 += b
    f.f_into(Z2, A2)
    np.testing.assert_array_equal(Z1, Z2)
    np.testing.assert_array_equal(A1, A2)
    d1, d2, grad_b = delta.copy(), delta.copy(), np.empty(4, dtype)
    f.backprop_bias_into(d1, Z1, A1, np.empty_like(Z), grad_b)
    f.backprop_into(d2, Z2, A2, np.empty_like(Z))
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(grad_b, np.add.reduce(d2, axis=0))


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_add_bias_relu_in_place_is_numpy_bit_for_bit_and_reports_non_finite_z(dtype):
    b = np.random.default_rng(1).standard_normal(5).astype(dtype)
    kernel = ReLU.add_bias_relu_in_place.get()
    for Z, finite in ((_edge_matrix(dtype), False), (np.random.default_rng(4).standard_normal((6, 5)).astype(dtype), True)):
        expected = np.maximum(Z + b, 0)
        assert kernel(Z, b, dtype(0)) is finite
        np.testing.assert_array_equal(Z, expected)
        assert np.array_equal(np.signbit(Z), np.signbit(expected))
    with pytest.raises(ValueError):
        kernel(np.zeros((2, 3), dtype), np.zeros(5, dtype), dtype(0))


def _finite_or_not(dtype):
    rng = np.random.default_rng(5)
    finite = rng.standard_normal((7, 4)).astype(dtype)
    for bad in (np.nan, np.inf, -np.inf):
        Z = finite.copy()
        Z[3, 2] = bad
        yield Z, False
    yield finite, True


@pytest.mark.parametrize("name", [name for name, cls in ACTIVATIONS.items() if cls.elementwise])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_every_activation_s_checked_bias_form_is_its_in_place_form_and_vouches_only_for_finite_z(name, dtype, with_bias):
    """add_bias_f_checked(z, b) leaves f(z + b) in z, as add_bias_f_into(z, b, z), and returns True
    only when every z was finite (the prediction then skips its own pass over X)."""
    f = ACTIVATIONS.get(name)()
    b = np.random.default_rng(6).standard_normal(4).astype(dtype) if with_bias else None
    for Z, finite in _finite_or_not(dtype):
        Z1, Z2 = Z.copy(), Z.copy()
        with np.errstate(invalid="ignore", over="ignore"):
            shown = f.add_bias_f_checked(Z1, b)
            if b is None:
                f.f_into(Z2, Z2)
            else:
                f.add_bias_f_into(Z2, b, Z2)
        np.testing.assert_array_equal(Z1, Z2)
        assert shown is finite


@pytest.mark.parametrize("name", [name for name, cls in ACTIVATIONS.items() if cls.elementwise and cls.derivative_from_output])
@pytest.mark.parametrize("dtype", DTYPES)
def test_an_activation_that_reads_its_derivative_from_a_gives_the_same_delta_from_a_as_from_z(name, dtype):
    """derivative_from_output lets a layer compute f in place and pass a for z to backward:
    the δ (and ∂J/∂b) must be bit for bit those from z, edge values (NaN, ±inf, ±0) included."""
    f = ACTIVATIONS.get(name)()
    Z = _edge_matrix(dtype, n=7, k=5)
    with np.errstate(invalid="ignore", over="ignore"):
        A = np.empty_like(Z)
        f.f_into(Z, A)
        delta = np.random.default_rng(7).standard_normal(Z.shape).astype(dtype)
        from_z, from_a = delta.copy(), delta.copy()
        f.backprop_into(from_z, Z, A, np.empty_like(Z))
        f.backprop_into(from_a, A, A, np.empty_like(Z))
        np.testing.assert_array_equal(from_z, from_a)
        grad_z, grad_a = np.empty(5, dtype), np.empty(5, dtype)
        from_z, from_a = delta.copy(), delta.copy()
        f.backprop_bias_into(from_z, Z, A, np.empty_like(Z), grad_z)
        f.backprop_bias_into(from_a, A, A, np.empty_like(Z), grad_a)
    np.testing.assert_array_equal(from_z, from_a)
    np.testing.assert_array_equal(grad_z, grad_a)


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_backprop_into_is_numpy_bit_for_bit(dtype):
    """δ ∘ 1[z > 0] in one compiled pass (any shape: a conv layer's (N, C, H, W) too) and in NumPy."""
    Z = _edge_matrix(dtype, n=12).reshape(2, 3, 2, 5)
    delta = np.random.default_rng(2).standard_normal(Z.shape).astype(dtype)
    delta.flat[[1, 7, 8]] = [np.nan, -0.0, np.inf]
    expected = delta.copy()
    with jit.disabled(), np.errstate(invalid="ignore"):  # (inf · 0 = NaN, on purpose)
        ReLU().backprop_into(expected, Z, None, np.empty_like(Z))
    got = delta.copy()
    ReLU().backprop_into(got, Z, None, np.empty_like(Z))
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))
    transposed = delta.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2)  # not C-contiguous: NumPy's path
    with np.errstate(invalid="ignore"):
        ReLU().backprop_into(transposed, Z, None, np.empty_like(Z))
    np.testing.assert_array_equal(transposed, expected)
