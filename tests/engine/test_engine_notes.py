"""The worked examples of the course notes (Neural Networks II), computed by the engine."""

import numpy as np

import backprop as bp
from backprop import Tensor


def test_circuit_example_f_equals_one_over_w0_x0_plus_w1():
    """f(x, w) = 1/(w0·x0 + w1) at x0 = 3, w0 = −2, w1 = 4: y1 = −6, y2 = −2, ∂f/∂y2 = −0.25."""
    x0 = Tensor(3.0, requires_grad=True)
    w0 = Tensor(-2.0, requires_grad=True)
    w1 = Tensor(4.0, requires_grad=True)
    y1 = w0 * x0
    y2 = y1 + w1
    y2.retain_grad()
    f = 1 / y2
    f.backward()
    assert f.item() == -0.5
    assert y2.grad == -0.25
    assert w0.grad == -0.75  # (−0.25)(x0)
    assert x0.grad == 0.5  # (−0.25)(w0)
    assert w1.grad == -0.25  # (−0.25)(1)


def test_example_1_chain_rule_along_a_path():
    """y = 2a, a = 3x: dy/dx = (2)(3) = 6."""
    x = Tensor(1.5, requires_grad=True)
    a = 3 * x
    y = 2 * a
    y.backward()
    assert x.grad == 6.0


def test_example_2_sum_rule_across_paths():
    """y = 2a1 + a2, a1 = 3x, a2 = −x: dy/dx = (2)(3) + (1)(−1) = 5; x is used twice."""
    x = Tensor(0.7, requires_grad=True)
    a1 = 3 * x
    a2 = -x
    y = 2 * a1 + a2
    y.backward()
    assert x.grad == 5.0


def test_example_3_one_hidden_layer_of_linear_units():
    """y = Σ_j w2_j a_j, a_i = w1_i x: dy/dx = Σ w2_j w1_j, dy/dw2_i = a_i, dy/dw1_i = w2_i x."""
    w1_values, w2_values, x_value = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -3.0]), 2.0
    x = Tensor(x_value, requires_grad=True)
    w1 = Tensor(w1_values, requires_grad=True)
    w2 = Tensor(w2_values, requires_grad=True)
    a = w1 * x
    y = (w2 * a).sum()
    y.backward()
    assert x.grad == np.sum(w2_values * w1_values)
    assert np.array_equal(w2.grad, w1_values * x_value)
    assert np.array_equal(w1.grad, w2_values * x_value)


def test_two_sigmoid_units_match_the_notes_formula():
    """ŷ = σ(w2 σ(w1 z0)), E = ½(ŷ − y)²: ∂E/∂w1 = (ŷ − y) σ′(a2) w2 σ′(a1) z0, ∂E/∂w2 = (ŷ − y) σ′(a2) z1."""
    z0, y, w1_value, w2_value = 0.8, 1.0, 0.3, -1.2
    w1 = Tensor(w1_value, requires_grad=True, dtype="float64")
    w2 = Tensor(w2_value, requires_grad=True, dtype="float64")
    a1 = w1 * z0
    z1 = bp.sigmoid(a1)
    a2 = w2 * z1
    y_hat = bp.sigmoid(a2)
    E = 0.5 * (y_hat - y) ** 2
    E.backward()

    sigma = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    d_sigma = lambda v: sigma(v) * (1 - sigma(v))  # noqa: E731
    a1_v = w1_value * z0
    a2_v = w2_value * sigma(a1_v)
    error = sigma(a2_v) - y
    np.testing.assert_allclose(w1.grad, error * d_sigma(a2_v) * w2_value * d_sigma(a1_v) * z0, rtol=1e-14)
    np.testing.assert_allclose(w2.grad, error * d_sigma(a2_v) * sigma(a1_v), rtol=1e-14)
