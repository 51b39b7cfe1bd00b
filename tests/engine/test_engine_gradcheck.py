"""bp.gradcheck: True for a correct op, GradcheckError naming input, element and values for a wrong one."""

import re

import numpy as np
import pytest

import backprop as bp
from backprop import Tensor
from backprop.engine.tensor import make_result


def mul_with_wrong_gradient_at(element):
    """a · b whose gradient for b is off by 1 at one element."""

    def bad_mul(a, b):
        def backward(g):
            grad_b = g * a.data
            grad_b[element] += 1.0
            return g * b.data, grad_b

        return make_result(a.data * b.data, (a, b), backward, "bad_mul")

    return bad_mul


def test_returns_true_for_a_correct_op():
    a = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    b = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]]), requires_grad=True)
    assert bp.gradcheck(lambda a, b: a * b, a, b) is True


def test_raises_naming_the_input_the_element_and_both_values():
    a_values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    a = Tensor(a_values, requires_grad=True)
    b = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(bp.GradcheckError) as info:
        bp.gradcheck(lambda a, b: mul_with_wrong_gradient_at((1, 2))(a, b).sum(), a, b)
    message = str(info.value)
    assert "input 1" in message
    assert "(1, 2)" in message
    numbers = [float(n) for n in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", message)]
    assert any(n == 7.0 for n in numbers), message  # backprop's value: a[1, 2] + 1
    assert any(abs(n - 6.0) < 1e-6 for n in numbers), message  # central differences: a[1, 2]


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(bp.GradcheckError, AssertionError)


def test_checks_in_float64_and_leaves_the_inputs_alone():
    x = Tensor(np.array([0.1, 0.2, 0.3], dtype=np.float32), requires_grad=True)
    seen = []
    bp.gradcheck(lambda x: (seen.append(x.dtype), (x * x).sum())[1], x)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and x.grad is None
    assert np.array_equal(x.data, np.array([0.1, 0.2, 0.3], dtype=np.float32))


def test_only_inputs_that_require_grad_are_checked():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]))  # the wrong gradient for b is never looked at
    assert bp.gradcheck(lambda a, b: mul_with_wrong_gradient_at(0)(a, b).sum(), a, b)


def test_an_output_independent_of_the_inputs_has_zero_gradient():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert bp.gradcheck(lambda x: Tensor(np.ones(3)), x)


def test_nothing_to_check_raises():
    with pytest.raises(ValueError, match="requires_grad"):
        bp.gradcheck(lambda x: x * 2, Tensor([1.0, 2.0]))


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        bp.gradcheck(lambda x: 1.0, Tensor([1.0], requires_grad=True))
