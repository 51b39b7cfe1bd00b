"""float16 parameters: the optimiser's state and arithmetic run in float32 (as with PyTorch AMP).

In float16 Adam's ε = 1e-8 is 0 and √v̂ underflows, so the first step used to make
every weight NaN. Now each step equals the float32 step on the float16 weight,
rounded back to float16, for every registered optimiser.
"""

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim


@pytest.mark.parametrize("name", optim.OPTIMIZERS.names())
def test_a_float16_step_is_the_float32_step_rounded(name):
    rng = np.random.default_rng(0)
    W0 = rng.normal(scale=0.5, size=(4, 3)).astype(np.float16)
    half = bp.Tensor(W0, requires_grad=True)
    reference = bp.Tensor(W0.astype(np.float32), requires_grad=True)
    opt_half = optim.get_optimizer(name, [half], lr=1e-3)
    opt_ref = optim.get_optimizer(name, [reference], lr=1e-3)
    for _ in range(20):
        g = (rng.normal(size=W0.shape) * 1e-3).astype(np.float16)  # small gradients: v ≈ 1e-6 underflows in float16
        half.grad, reference.grad = g, g.astype(np.float32)
        opt_half.step()
        opt_ref.step()
        reference.data[...] = reference.data.astype(np.float16).astype(np.float32)  # the weight lives in float16
        assert half.data.dtype == np.float16 and np.all(np.isfinite(half.data))
        np.testing.assert_array_equal(half.data, reference.data.astype(np.float16))
    state = opt_half.state_dict()["state"].get(0, {})  # (plain SGD keeps none)
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def test_default_adam_trains_a_float16_model():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(2, 8, activation="tanh"), nn.Dense(8, 2)).to("float16")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2)).astype(np.float16)
    y = (X[:, 0] > 0).astype(int)
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=30, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
    assert all(p.data.dtype == np.float16 and np.all(np.isfinite(p.data)) for p in model.parameters())


def test_float16_optimiser_state_survives_a_state_dict_round_trip():
    p = bp.Tensor(np.ones(3, dtype=np.float16), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = np.full(3, 1e-3, dtype=np.float16)
    opt.step()
    again = optim.Adam([p])
    again.load_state_dict(opt.state_dict())
    assert again.state[p]["exp_avg_sq"].dtype == np.float32
