"""scikit-learn's cost runs on the fused fast path with the engine's exact gradients."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

import backprop as bp  # noqa: E402
from backprop import nn  # noqa: E402
from backprop.sklearn._objective import MLPObjective  # noqa: E402
from backprop.training import fastpath  # noqa: E402


def _model(k):
    bp.manual_seed(0)
    return nn.Sequential(nn.Dense(4, 6, activation="relu", dtype="float64"), nn.Dense(6, k, dtype="float64"))


def _targets(kind, n, k, rng):
    if kind == "softmax":
        return np.eye(k)[rng.integers(0, k, n)]
    if kind == "logistic":
        return (rng.random((n, k)) > 0.5).astype(float)
    return rng.standard_normal((n, k))


@pytest.mark.parametrize("kind,k", [("softmax", 3), ("logistic", 1), ("logistic", 3), ("identity", 1), ("identity", 2)])
@pytest.mark.parametrize("alpha,penalise", [(0.0, True), (0.3, True), (0.3, False)])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_fused_equals_engine(kind, k, alpha, penalise, weighted):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 4))
    Y = _targets(kind, 10, k, rng)
    w = rng.random(10) + 0.5 if weighted else None
    model = _model(k)
    objective = MLPObjective(kind, [layer.W for layer in model], alpha, penalise)

    out = model(bp.Tensor(X))
    cost = objective(out, Y, sample_weight=w)
    cost.backward()
    expected = [p.grad.copy() for p in model.parameters()]

    net = fastpath.compile_model(model, objective)
    assert net is not None
    got_cost, _ = net.train_step(X, Y, w)
    assert got_cost == pytest.approx(float(cost.data), rel=1e-12)
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad, e, rtol=1e-10, atol=1e-13)


def test_poisson_objective_uses_the_engine():
    model = _model(1)
    assert fastpath.compile_model(model, MLPObjective("exp", [layer.W for layer in model], 0.1)) is None
