"""SGD against the notes' formulas, computed by hand."""

import numpy as np

import backprop as bp
from backprop import optim

rng = np.random.default_rng(3)
GRADIENTS = [rng.normal(size=(2, 3)) for _ in range(12)]
W0 = rng.normal(size=(2, 3))


def run(**kwargs):
    W = bp.Tensor(W0.copy(), requires_grad=True)
    opt = optim.SGD([W], **kwargs)
    trajectory = []
    for g in GRADIENTS:
        W.grad = g.copy()
        opt.step()
        trajectory.append(W.data.copy())
    return trajectory


def test_plain_gradient_descent():
    W = W0.copy()
    for g, ours in zip(GRADIENTS, run(lr=0.1)):
        W = W - 0.1 * g  # W ← W − η ∂J/∂W
        np.testing.assert_allclose(ours, W, rtol=0, atol=1e-15)


def test_notes_ema_momentum_is_momentum_beta_dampening_beta():
    beta, eta = 0.9, 0.1
    W, v = W0.copy(), None
    for g, ours in zip(GRADIENTS, run(lr=eta, momentum=beta, dampening=beta)):
        v = g.copy() if v is None else beta * v + (1 - beta) * g  # v₁ = g₁, then the notes' EMA
        W = W - eta * v
        np.testing.assert_allclose(ours, W, rtol=0, atol=1e-14)


def test_notes_l2_update_is_weight_decay():
    lam, eta = 0.5, 0.1
    W = W0.copy()
    for g, ours in zip(GRADIENTS, run(lr=eta, weight_decay=lam)):
        W = (1 - eta * lam) * W - eta * g  # the notes: W ← (1 − αλ) W − α ∂J/∂W
        np.testing.assert_allclose(ours, W, rtol=0, atol=1e-14)


def test_nesterov_by_hand():
    mu, eta = 0.8, 0.05
    W, v = W0.copy(), None
    for g, ours in zip(GRADIENTS, run(lr=eta, momentum=mu, nesterov=True)):
        v = g.copy() if v is None else mu * v + g
        W = W - eta * (g + mu * v)
        np.testing.assert_allclose(ours, W, rtol=0, atol=1e-14)


def test_get_optimizer_sgd_default_lr():
    W = bp.Tensor(W0.copy(), requires_grad=True)
    opt = optim.get_optimizer("SGD", [W])
    assert isinstance(opt, optim.SGD)
    assert opt.param_groups[0]["lr"] == 0.01
    assert opt.param_groups[0]["momentum"] == 0
