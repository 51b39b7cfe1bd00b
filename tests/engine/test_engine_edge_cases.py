"""Edge cases found in review: indexing with Tensors, 0 ** 0, axes, dtypes, caller arrays."""

import numpy as np
import pytest

import backprop as bp
from backprop import losses, optim


def test_a_float_mask_tensor_is_refused_and_a_bool_array_mask_works():
    x = bp.Tensor(np.arange(4.0), requires_grad=True)
    with pytest.raises(ValueError, match="bool array"):
        x[bp.Tensor([0.5, 1.0])]
    y = x[np.array([True, False, True, False])]
    np.testing.assert_array_equal(y.data, [0.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 0, 1, 0])
    np.testing.assert_array_equal(x[bp.Tensor([3.0, 1.0])].data, [3.0, 1.0])


def test_pow_with_exponent_zero_has_zero_gradient_at_zero():
    a = bp.Tensor([0.0, 2.0], requires_grad=True, dtype="float64")
    (a ** 0).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    b = bp.Tensor([0.0, 2.0], requires_grad=True, dtype="float64")
    (b ** bp.Tensor([0.0, 0.0])).sum().backward()
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])


def test_reduction_axes_are_validated():
    x = bp.Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="axis"):
        x.sum(axis=1.0)
    with pytest.raises(ValueError, match="twice"):
        x.sum(axis=(1, -1))
    with pytest.raises(ValueError, match="permutation"):
        x.transpose(0, 5)
    s = bp.Tensor(3.0)
    assert float(s.sum(axis=0).data) == 3.0 and float(s.mean(axis=-1).data) == 3.0


def test_zero_d_arrays_do_not_change_a_tensors_dtype():
    x = bp.Tensor(np.ones(3, np.float32))
    assert (x * np.array(2.0)).dtype == np.float32
    assert (np.array(2.0) + x).dtype == np.float32


def test_a_constant_float64_target_does_not_promote_the_loss():
    p = bp.Tensor(np.ones(3, np.float32), requires_grad=True)
    assert losses.mse(p, bp.Tensor(np.zeros(3, np.float64))).dtype == np.float32


def test_optimising_a_tensor_never_modifies_the_callers_array():
    mine = np.ones(3, np.float32)
    w = bp.nn.Parameter(mine)
    v = bp.Tensor(mine, requires_grad=True)
    for t in (w, v):
        t.grad = np.ones(3, np.float32)
    optim.SGD([w, v], lr=0.5).step()
    np.testing.assert_array_equal(mine, 1.0)
    np.testing.assert_array_equal(w.data, 0.5)
    shared = bp.Tensor(mine)  # a constant shares (the library never writes into it)
    assert np.shares_memory(shared.data, mine)
