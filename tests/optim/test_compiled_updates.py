"""The optimisers' compiled kernels (numba) give bit for bit the numbers of their NumPy updates."""

import numpy as np
import pytest

import backprop as bp
from backprop import jit, optim
from backprop.optim import pack_parameters
from backprop.optim.adam import _adam_kernel
from backprop.optim.rmsprop import _rmsprop_kernel
from backprop.optim.sgd import _sgd_kernel

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")

CONFIGS = [
    (optim.Adam, {}),
    (optim.Adam, {"weight_decay": 0.1}),
    (optim.Adam, {"betas": (0.3, 0.9), "eps": 1e-3}),  # 1 − β₁ ≥ ½: torch's lerp from the other end
    (optim.Adam, {"amsgrad": True}),                   # NumPy path: no kernel
    (optim.AdamW, {}),
    (optim.AdamW, {"weight_decay": 0.5, "lr": 0.1}),
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    (optim.RMSprop, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "centered": True}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.RMSprop, {"lr": 0.01, "alpha": 0.3, "centered": True, "momentum": 0.5}),
]


def _trajectory(cls, kwargs, dtype, packed, compiled, steps=25):
    rng = np.random.default_rng(1)
    params = [bp.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
              for shape in ((20, 13), (13,), (4, 13), (4,))]
    if packed:
        pack_parameters(params)
        flat_grad = np.empty(sum(p.data.size for p in params), dtype)
    opt = cls(params, **kwargs)
    for _ in range(steps):
        offset = 0
        for p in params:
            g = rng.standard_normal(p.data.shape).astype(dtype)
            if packed:  # gradients laid out like the weights: one update over the flat arrays
                p.grad = flat_grad[offset:offset + g.size].reshape(g.shape)
                p.grad[...] = g
                offset += g.size
            else:
                p.grad = g
        if compiled:
            opt.step()
        else:
            with jit.disabled():
                opt.step()
    return [p.data.copy() for p in params], opt.state_dict()


@pytest.mark.parametrize("packed", [False, True], ids=["per-parameter", "packed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=[f"{c.__name__}-{k}" for c, k in CONFIGS])
def test_kernel_equals_numpy_bit_for_bit(cls, kwargs, dtype, packed):
    weights, state = _trajectory(cls, kwargs, dtype, packed, compiled=True)
    expected_weights, expected_state = _trajectory(cls, kwargs, dtype, packed, compiled=False)
    for w, e in zip(weights, expected_weights):
        assert w.dtype == e.dtype
        assert np.array_equal(w, e)
    assert state["param_groups"] == expected_state["param_groups"]
    assert state["state"].keys() == expected_state["state"].keys()
    for index, entries in state["state"].items():
        assert entries.keys() == expected_state["state"][index].keys()
        for name, value in entries.items():
            assert np.array_equal(value, expected_state["state"][index][name]), name


@pytest.mark.parametrize("kernel,cls,kwargs", [
    (_adam_kernel, optim.Adam, {}), (_sgd_kernel, optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (_rmsprop_kernel, optim.RMSprop, {}),
])
def test_the_kernel_is_what_runs(kernel, cls, kwargs, monkeypatch):
    calls = []
    compiled = kernel.get()
    monkeypatch.setattr(kernel, "_compiled", lambda *args: calls.append(len(args)) or compiled(*args))
    _trajectory(cls, kwargs, np.float32, packed=True, compiled=True, steps=3)
    assert calls  # (SGD's first momentum step copies g in NumPy, the next ones run the kernel)


def test_lr_zero_runs_numpy_and_leaves_weights():
    weights, _ = _trajectory(optim.Adam, {"lr": 1e-3}, np.float32, packed=True, compiled=True, steps=1)
    p = bp.Tensor(weights[0].copy(), requires_grad=True)
    opt = optim.Adam([p], lr=1e-3)
    opt.param_groups[0]["lr"] = 0.0
    p.grad = np.ones_like(p.data)
    opt.step()
    assert np.array_equal(p.data, weights[0])
