"""optim.Momentum is the notes' two lines, v ← βv + (1 − β)g from v₀ = 0 and W ← W − αv."""

import doctest

import numpy as np
import pytest

import backprop as bp
from backprop import optim
from backprop.optim import momentum as momentum_module


def quadratic_step(opt, W):
    """J = ½ Σ W², so g = W."""
    opt.zero_grad()
    (0.5 * W * W).sum().backward()
    opt.step()


def test_two_steps_match_a_hand_computation():
    W = bp.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.Momentum([W], lr=0.5, beta=0.9)
    quadratic_step(opt, W)
    # v₁ = 0.9·0 + 0.1·[1, −2] = [0.1, −0.2];  W₁ = [1, −2] − 0.5·v₁ = [0.95, −1.9]
    np.testing.assert_allclose(opt.state[W]["velocity"], [0.1, -0.2], rtol=1e-15)
    np.testing.assert_allclose(W.data, [0.95, -1.9], rtol=1e-15)
    quadratic_step(opt, W)
    # v₂ = 0.9·[0.1, −0.2] + 0.1·[0.95, −1.9] = [0.185, −0.37];  W₂ = W₁ − 0.5·v₂ = [0.8575, −1.715]
    np.testing.assert_allclose(opt.state[W]["velocity"], [0.185, -0.37], rtol=1e-14)
    np.testing.assert_allclose(W.data, [0.8575, -1.715], rtol=1e-14)


def test_it_is_pytorchs_dampened_sgd_except_for_the_first_velocity():
    """SGD(momentum=β, dampening=β) starts from v₁ = g₁; Momentum from v₁ = (1 − β) g₁."""
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((6, 4))
    W_notes, W_torch_rule = (bp.Tensor(np.zeros(4), requires_grad=True) for _ in range(2))
    notes, torch_rule = optim.Momentum([W_notes], lr=0.1, beta=0.8), optim.SGD([W_torch_rule], lr=0.1,
                                                                              momentum=0.8, dampening=0.8)
    for g in grads:
        W_notes.grad, W_torch_rule.grad = g.copy(), g.copy()
        notes.step(), torch_rule.step()
    # The velocities differ by β^t · β g₁ (the part of g₁ that SGD keeps in v₁ and the notes' form does not).
    expected_gap = 0.8 ** 5 * 0.8 * grads[0]
    np.testing.assert_allclose(torch_rule.state[W_torch_rule]["momentum_buffer"] - notes.state[W_notes]["velocity"],
                               expected_gap, rtol=1e-12, atol=1e-15)


def test_beta_zero_is_plain_gradient_descent_and_float32_stays_float32():
    W = bp.Tensor(np.array([1.0, 3.0], dtype=np.float32), requires_grad=True)
    opt = optim.Momentum([W], lr=0.25, beta=0.0)
    quadratic_step(opt, W)
    assert W.data.dtype == np.float32
    np.testing.assert_array_equal(W.data, np.array([0.75, 2.25], dtype=np.float32))


def test_state_dict_round_trip_continues_the_same_trajectory():
    def run(steps, restart_at=None):
        W = bp.Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
        opt = optim.Momentum([W], lr=0.3, beta=0.7)
        for step in range(steps):
            if step == restart_at:
                state = opt.state_dict()
                opt = optim.Momentum([W], lr=0.3, beta=0.7)
                opt.load_state_dict(state)
            quadratic_step(opt, W)
        return W.data

    np.testing.assert_array_equal(run(5), run(5, restart_at=2))


def test_by_name_and_in_fit():
    W = bp.Tensor(np.ones(2), requires_grad=True)
    opt = optim.get_optimizer("momentum", [W])
    assert type(opt) is optim.Momentum and opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["beta"] == 0.9
    bp.manual_seed(0)
    model = bp.nn.Sequential(bp.nn.Dense(2, 8, activation="tanh"), bp.nn.Dense(8, 1))
    X = np.random.default_rng(1).standard_normal((64, 2)).astype(np.float32)
    y = X[:, 0] - 2 * X[:, 1]
    history = model.fit(X, y, loss="mse", optimizer=optim.Momentum(model.parameters(), lr=0.1), epochs=20,
                        batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


@pytest.mark.parametrize("kwargs,message", [({"lr": 0}, "lr"), ({"lr": 0.1, "beta": 1.0}, r"beta must be in \[0, 1\)"),
                                            ({"lr": 0.1, "beta": -0.1}, "beta")])
def test_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.Momentum([bp.Tensor(np.ones(2), requires_grad=True)], **kwargs)


def test_docstring_example():
    assert doctest.testmod(momentum_module).failed == 0
