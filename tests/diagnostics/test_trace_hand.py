"""bp.trace against values computed by hand from the notes' four equations, written out in NumPy.

The 2-2-2 sigmoid network is the classic worked example of backpropagation
(x = (0.05, 0.10), target (0.01, 0.99)); with the notes' E = ½ Σ (ŷ − y)² its
error is 0.298371109 and ∂E/∂w5 = 0.082167041, ∂E/∂w1 = 0.000438568 (w5 = W²₁₁,
w1 = W¹₁₁). Our ``rss`` is Σ (ŷ − y)² = 2E, so its gradients are twice those.
"""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.diagnostics import EQUATIONS, trace

TIGHT = dict(rtol=1e-12, atol=1e-15)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def dense(n_in, n_out, W, b, activation="sigmoid", dtype="float64"):
    layer = nn.Dense(n_in, n_out, activation=activation, dtype=dtype)
    layer.W.data[...] = W
    layer.b.data[...] = b
    return layer


W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
b1 = np.array([0.35, 0.35])
W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
b2 = np.array([0.60, 0.60])
X = np.array([0.05, 0.10])
Y = np.array([0.01, 0.99])


def classic_network(**kwargs):
    return nn.Sequential(dense(2, 2, W1, b1, **kwargs), dense(2, 2, W2, b2, **kwargs))


def assert_residuals_tiny(t, bound=1e-12):
    assert set(t.residuals) == set(EQUATIONS)
    for equation, per_layer in t.residuals.items():
        for m, value in per_layer.items():
            assert value <= bound, (equation, m, value)


def test_one_example_matches_the_four_equations_by_hand():
    t = trace(classic_network(), X, Y, loss="rss")

    # Forward propagation, column form: z = W a + b, a = f(z).
    z1 = W1 @ X + b1
    a1 = sigmoid(z1)
    z2 = W2 @ a1 + b2
    a2 = sigmoid(z2)
    J = np.sum((a2 - Y) ** 2)
    # The four equations.
    dJ_da2 = 2 * (a2 - Y)
    delta2 = a2 * (1 - a2) * dJ_da2                  # (1) δ^L = f′(z^L) ∘ ∂J/∂a^L
    delta1 = a1 * (1 - a1) * (W2.T @ delta2)         # (2) δ^m = f′(z^m) ∘ (W^(m+1))ᵀ δ^(m+1)
    dW2, dW1 = np.outer(delta2, a1), np.outer(delta1, X)  # (3) ∂J/∂W^m = δ^m (a^(m−1))ᵀ
    db2, db1 = delta2, delta1                         # (4) ∂J/∂b^m = δ^m

    assert t.single and len(t.layers) == 2
    first, out = t.layers
    np.testing.assert_allclose(t.loss, J, **TIGHT)
    for got, want in [(first.a_prev, X), (first.z, z1), (first.a, a1), (first.df, a1 * (1 - a1)),
                      (first.delta, delta1), (first.dW, dW1), (first.db, db1),
                      (out.a_prev, a1), (out.z, z2), (out.a, a2), (out.df, a2 * (1 - a2)),
                      (t.dJ_da, dJ_da2), (out.delta, delta2), (out.dW, dW2), (out.db, db2)]:
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **TIGHT)
    np.testing.assert_array_equal(first.W, W1)
    np.testing.assert_array_equal(out.b, b2)
    assert_residuals_tiny(t)

    # The published numbers of the worked example (E = J/2).
    assert t.loss / 2 == pytest.approx(0.298371109, abs=1e-9)
    assert out.dW[0, 0] / 2 == pytest.approx(0.082167041, abs=1e-9)
    assert first.dW[0, 0] / 2 == pytest.approx(0.000438568, abs=1e-9)


def test_batch_of_a_2_3_1_network_with_half_mse_sums_the_gradients_over_examples():
    rng = np.random.default_rng(7)
    V1, c1 = rng.normal(size=(3, 2)), rng.normal(size=3)
    V2, c2 = rng.normal(size=(1, 3)), rng.normal(size=1)
    model = nn.Sequential(dense(2, 3, V1, c1), dense(3, 1, V2, c2))
    Xb = rng.normal(size=(4, 2))
    yb = rng.uniform(size=4)
    t = trace(model, Xb, yb, loss="half_mse")

    N = len(Xb)
    d1, d2, g1, g2 = [], [], np.zeros_like(V1), np.zeros_like(V2)
    J = 0.0
    for x, y in zip(Xb, yb):  # one example at a time, in column form
        a1 = sigmoid(V1 @ x + c1)
        a2 = sigmoid(V2 @ a1 + c2)
        J += 0.5 * np.sum((a2 - y) ** 2) / N
        delta2 = a2 * (1 - a2) * (a2 - y) / N        # ∂J/∂a^L = (a − y)/N for the batch mean
        delta1 = a1 * (1 - a1) * (V2.T @ delta2)
        d1.append(delta1), d2.append(delta2)
        g1 += np.outer(delta1, x)
        g2 += np.outer(delta2, a1)

    assert not t.single
    np.testing.assert_allclose(t.loss, J, **TIGHT)
    np.testing.assert_allclose(t.layers[0].delta, np.array(d1), **TIGHT)
    np.testing.assert_allclose(t.layers[1].delta, np.array(d2), **TIGHT)
    np.testing.assert_allclose(t.layers[0].dW, g1, **TIGHT)
    np.testing.assert_allclose(t.layers[1].dW, g2, **TIGHT)
    np.testing.assert_allclose(t.layers[0].db, np.sum(d1, axis=0), **TIGHT)
    np.testing.assert_allclose(t.layers[1].db, np.sum(d2, axis=0), **TIGHT)
    assert_residuals_tiny(t)


def test_separate_activation_layers_are_grouped_with_their_dense_layer():
    grouped = nn.Sequential(dense(2, 2, W1, b1, activation=None), nn.Sigmoid(),
                            dense(2, 2, W2, b2, activation=None), nn.Dropout(0.5), nn.Sigmoid())
    inside = trace(classic_network(), X, Y, loss="rss")
    apart = trace(grouped, X, Y, loss="rss")
    assert len(apart.layers) == 2
    assert apart.layers[0].activation == "sigmoid"
    for a, b in zip(inside.layers, apart.layers):
        for key in ("z", "a", "df", "delta", "dW", "db"):
            np.testing.assert_allclose(getattr(a, key), getattr(b, key), **TIGHT)


def test_trace_leaves_the_model_untouched_and_model_trace_delegates():
    model = classic_network()
    before = [p.data.copy() for p in model.parameters()]
    t = model.trace(X, Y, loss="rss")
    assert all(p.grad is None for p in model.parameters())
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, old)
    assert t.loss == pytest.approx(trace(model, X, Y, loss=bp.losses.rss).loss)


def test_softmax_with_cross_entropy_gives_delta_a_minus_y_and_the_softmax_jacobian():
    rng = np.random.default_rng(3)
    model = nn.Sequential(dense(3, 4, rng.normal(size=(4, 3)), rng.normal(size=4), activation="tanh"),
                          dense(4, 3, rng.normal(size=(3, 4)), rng.normal(size=3), activation=None))
    Xb, labels = rng.normal(size=(5, 3)), np.array([0, 2, 1, 2, 0])
    t = trace(model, Xb, labels, loss="cross_entropy")
    out = t.layers[-1]
    z = Xb @ model[0].W.data.T + model[0].b.data
    a = np.tanh(z) @ model[1].W.data.T + model[1].b.data
    p = np.exp(a - a.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = np.eye(3)[labels]
    assert t.output_in_loss == "softmax" and out.jacobian
    np.testing.assert_allclose(out.a, p, rtol=1e-12)
    np.testing.assert_allclose(out.delta, (p - y) / 5, rtol=1e-10, atol=1e-15)
    assert out.df.shape == (5, 3, 3)
    np.testing.assert_allclose(out.df[1], np.diag(p[1]) - np.outer(p[1], p[1]), atol=1e-15)
    np.testing.assert_array_equal(t.y, y)
    assert_residuals_tiny(t)
    text = str(t)
    assert "softmax Jacobian diag(a) − a aᵀ" in text
    assert "δ^L = a^L − y" in text

    single = trace(model, Xb[1], labels[1], loss="cross_entropy")
    np.testing.assert_allclose(single.layers[-1].delta, p[1] - y[1], rtol=1e-10, atol=1e-15)
    assert single.layers[-1].df.shape == (3, 3)


def test_an_explicit_softmax_layer_with_mse_uses_the_jacobian_in_equation_1():
    rng = np.random.default_rng(4)
    model = nn.Sequential(dense(2, 3, rng.normal(size=(3, 2)), rng.normal(size=3), activation=None), nn.Softmax())
    t = trace(model, rng.normal(size=(3, 2)), np.eye(3), loss="mse")
    assert t.layers[0].jacobian and t.layers[0].activation == "softmax"
    assert_residuals_tiny(t)
    assert "(diag(a) − a aᵀ) ∂J/∂a^L" in str(t)


@pytest.mark.parametrize("loss, activation", [("binary_cross_entropy_with_logits", None),
                                              ("binary_cross_entropy", "sigmoid")])
def test_binary_cross_entropy_delta_is_sigma_minus_y(loss, activation):
    rng = np.random.default_rng(5)
    model = nn.Sequential(dense(2, 3, rng.normal(size=(3, 2)), rng.normal(size=3), activation="relu"),
                          dense(3, 1, rng.normal(size=(1, 3)), rng.normal(size=1), activation=activation))
    Xb, yb = rng.normal(size=(4, 2)), np.array([0, 1, 1, 0])
    t = trace(model, Xb, yb, loss=loss)
    out = t.layers[-1]
    np.testing.assert_allclose(out.delta, (out.a - yb[:, None]) / 4, rtol=1e-10, atol=1e-15)
    assert_residuals_tiny(t)


def test_a_float32_model_can_be_traced_in_float64():
    model = nn.Sequential(nn.Dense(2, 3, activation="tanh"), nn.Dense(3, 1))
    t32 = trace(model, X, [0.5], loss="mse")
    t64 = trace(model, X, [0.5], loss="mse", dtype="float64")
    assert t32.layers[0].delta.dtype == np.float32 and t64.layers[0].delta.dtype == np.float64
    assert t32.max_residual < 1e-5
    assert_residuals_tiny(t64)


def test_softmax_applied_twice_is_pointed_out():
    model = nn.Sequential(nn.Dense(2, 3, activation="softmax"))
    t = trace(model, X, 1, loss="cross_entropy")
    assert any("applied twice" in note for note in t.notes)
    assert "applied twice" in str(t)


def test_layers_the_trace_cannot_explain_are_refused():
    with pytest.raises(TypeError, match="BatchNorm"):
        trace(nn.Sequential(nn.Dense(2, 2), nn.BatchNorm(2), nn.Dense(2, 1)), X, [1.0], loss="mse")
    with pytest.raises(TypeError, match="before any Dense"):
        trace(nn.Sequential(nn.ReLU(), nn.Dense(2, 1)), X, [1.0], loss="mse")


def test_models_of_several_inputs_or_of_codes_are_refused_naming_what_is_supported():
    supported = r"supports one array of features .*\(Dense, Conv1d, Conv2d\)"
    concat = nn.Sequential(nn.Concat({"code": nn.Embedding(4, 2), "x": nn.Identity()}), nn.Dense(4, 1))
    with pytest.raises(TypeError, match=r"a Concat of the inputs \['code', 'x'\]; trace " + supported):
        concat.trace({"code": np.array([1]), "x": X[None]}, [1.0], loss="mse")
    with pytest.raises(TypeError, match=r"a Concat of the inputs \['0', '1'\]"):  # branches without weights too
        trace(nn.Sequential(nn.Concat(nn.Identity(), nn.Identity()), nn.Dense(4, 1)), X, [1.0], loss="mse")
    with pytest.raises(TypeError, match="an Embedding, which takes category codes; trace " + supported):
        bp.trace(nn.Sequential(nn.Embedding(4, 2), nn.Dense(2, 1)), np.array([1]), [1.0], loss="mse")
