"""Tensor and backward: accumulation, determinism, deep graphs, grad mode, dtypes, and bad input."""

import sys
import time

import numpy as np
import pytest

import backprop as bp
from backprop import Tensor


@pytest.fixture
def restore_default_dtype():
    previous = bp.get_default_dtype()
    yield
    bp.set_default_dtype(previous)


# ------------------------------------------------------------------ backward
def small_network_gradients(seed: int) -> list:
    """A two-layer network with broadcasting, reuse and a fused loss, built from scratch."""
    rng = np.random.default_rng(seed)
    X = Tensor(rng.standard_normal((8, 5)))
    W1 = Tensor(rng.standard_normal((6, 5)), requires_grad=True)
    b1 = Tensor(rng.standard_normal(6), requires_grad=True)
    W2 = Tensor(rng.standard_normal((3, 6)), requires_grad=True)
    A1 = bp.tanh(bp.linear(X, W1, b1))
    Z2 = A1 @ W2.T + (A1 * A1).mean(axis=1, keepdims=True)  # A1 used twice
    loss = bp.losses.cross_entropy(Z2, np.arange(8) % 3) + 0.01 * (W1 ** 2).sum()
    loss.backward()
    return [W1.grad, b1.grad, W2.grad]


def test_backward_on_fresh_graphs_is_bit_identical():
    first, second = small_network_gradients(0), small_network_gradients(0)
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()


def test_gradients_accumulate_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert np.array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None


def test_a_chain_of_10000_ops_backpropagates_without_recursion():
    x = Tensor(1.0, requires_grad=True, dtype="float64")
    y = x
    start = time.perf_counter()
    for _ in range(5000):
        y = y * 1.0001
        y = y + 0.5
    assert 10_000 > sys.getrecursionlimit()
    y.backward()
    assert time.perf_counter() - start < 5.0
    np.testing.assert_allclose(x.grad, 1.0001 ** 5000, rtol=1e-12)
    del y  # freeing a deep graph must not overflow the C stack either


def test_backward_with_an_explicit_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 0.0, -1.0]))
    assert np.array_equal(x.grad, [2.0, 0.0, -6.0])


def test_only_leaves_keep_grad_unless_retained():
    x = Tensor([1.0, -2.0], requires_grad=True)
    z = x * 2
    z.retain_grad()
    hidden = x * 3
    (z * z + hidden).sum().backward()
    assert np.array_equal(z.grad, 2 * z.data)  # δ = ∂J/∂z
    assert hidden.grad is None
    assert z.is_leaf is False and x.is_leaf is True


def test_constants_get_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


# ------------------------------------------------------------------ grad mode
def test_no_grad_records_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with bp.no_grad():
        y = bp.sigmoid(x * 2 + 1).sum()
        assert not bp.is_grad_enabled()
    assert bp.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y._parents == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_a_decorator():
    @bp.no_grad()
    def predict(x):
        return x * 2

    @bp.no_grad
    def predict_bare(x):
        return x * 2

    x = Tensor([1.0], requires_grad=True)
    assert not predict(x).requires_grad
    assert not predict_bare(x).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_decorator_restores_the_mode_after_recursion_and_errors():
    @bp.no_grad()
    def recurse(n):
        if n == 0:
            raise KeyError("bottom")
        return recurse(n - 1)

    with pytest.raises(KeyError):
        recurse(3)
    assert bp.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with bp.no_grad():
        with bp.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert bp.is_grad_enabled()


# ------------------------------------------------------------------ dtypes
def test_float32_is_the_default(restore_default_dtype):
    assert bp.get_default_dtype() == np.float32
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor([1.5, 2.5]).dtype == np.float32
    assert Tensor(3.0).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32  # an integer array
    assert Tensor(np.array([True, False])).dtype == np.float32
    assert Tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64  # a float64 array stays float64
    assert Tensor([1.0], dtype="float64").dtype == np.float64


def test_set_default_dtype(restore_default_dtype):
    bp.set_default_dtype("float64")
    assert bp.get_default_dtype() == np.float64
    assert Tensor([1.0, 2.0]).dtype == np.float64
    assert Tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32  # a float32 array stays float32
    bp.set_default_dtype(np.float32)
    assert Tensor([1.0]).dtype == np.float32


@pytest.mark.parametrize("dtype", ["int32", "complex64", "bool"])
def test_set_default_dtype_refuses_non_floats(dtype, restore_default_dtype):
    with pytest.raises(ValueError, match="float"):
        bp.set_default_dtype(dtype)


def test_python_scalars_on_either_side_keep_float32():
    x = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    for y in (2 * x, x * 2, 1 / x, x / 2, x ** 2, 2 ** x, x + 1, 1 - x, x - 0.5, 3.5 + x, -x, x + np.float64(1.0)):
        assert y.dtype == np.float32, y
    (2 * x + 1 / x + x ** 2).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 2 - 1 / x.data ** 2 + 2 * x.data, rtol=1e-6)


def test_an_ndarray_on_the_left():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = np.array([2.0, 3.0, 4.0]) * x
    assert isinstance(y, Tensor) and y.requires_grad
    z = np.ones((2, 3)) @ x
    assert isinstance(z, Tensor) and z.shape == (2,)
    (y.sum() + z.sum() + (np.ones(3) - x).sum()).backward()
    assert np.array_equal(x.grad, [2.0 + 2.0 - 1.0, 3.0 + 2.0 - 1.0, 4.0 + 2.0 - 1.0])


def test_a_float32_leaf_gets_a_float32_grad_from_float64_neighbours():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = np.ones(3) * x  # NumPy promotes to float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_zero_dimensional_results_hold_arrays():
    a, b = Tensor(2.0, requires_grad=True), Tensor(3.0)
    y = a * b + a
    assert isinstance(y.numpy(), np.ndarray) and y.shape == ()
    y.backward()
    assert isinstance(a.grad, np.ndarray) and a.grad == 4.0


# ------------------------------------------------------------------ detach, numpy, indexing
def test_detach_shares_data_and_stops_the_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, x.data)
    (d * x).sum().backward()
    assert np.array_equal(x.grad, [1.0, 2.0])  # only the path through x, not through d


def test_numpy_returns_the_array():
    x = Tensor([1.0, 2.0])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.data


def test_indexing_result_does_not_follow_later_updates():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    head = x[:2]
    x.data[0] = 100.0  # what an optimiser step does
    assert np.array_equal(head.data, [1.0, 2.0])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("data", ["abc", ["a", "b"], object(), [object()], None, [[1.0, 2.0], [3.0]]])
def test_non_numeric_data_is_refused(data):
    with pytest.raises(TypeError, match="numeric"):
        Tensor(data)


@pytest.mark.parametrize("data", [1 + 2j, [1.0, 2j], np.array([1j]), np.complex128(1j)])
def test_complex_data_is_refused(data):
    with pytest.raises(TypeError, match="complex"):
        Tensor(data)


@pytest.mark.parametrize("other", [1j, np.complex128(1j), "2", None])
def test_ops_refuse_complex_and_non_numeric_operands(other):
    x = Tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        x + other


def test_matmul_shape_mismatch_names_the_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"\(2, 2, 3\).*\(4, 3, 1\)"):
        Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((4, 3, 1)))
    with pytest.raises(ValueError, match="dimension"):
        Tensor(2.0) @ a


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_broadcast_mismatch_names_the_shapes(op):
    names = {"a": Tensor(np.ones((2, 3))), "b": Tensor(np.ones((4,)))}
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        eval(f"a {op} b", {}, names)


def test_linear_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        bp.linear(Tensor(np.ones((4, 3))), Tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        bp.linear(Tensor(np.ones((4, 5))), Tensor(np.ones((2, 5))), Tensor(np.ones(3)))


def test_reshape_and_axis_errors_name_the_problem():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="axis 2"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="permutation"):
        x.transpose(0, 0)


def test_backward_on_a_non_scalar_needs_a_gradient():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_without_requires_grad_explains():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor([1.0]) * 2).backward()


def test_a_wrong_gradient_shape_from_an_op_is_caught():
    from backprop.engine.tensor import make_result

    x = Tensor(np.ones(3), requires_grad=True)
    y = make_result(x.data.sum(), (x,), lambda g: (g,), "broken_sum")
    with pytest.raises(RuntimeError, match="broken_sum"):
        y.backward()


def test_truth_value_of_a_non_scalar_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))
