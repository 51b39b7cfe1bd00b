"""The drop-in's Adam is scikit-learn's, bit for bit; its compiled kernel equals its NumPy update."""

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

import backprop as bp
from backprop import jit, optim
from backprop.optim import pack_parameters
from backprop.sklearn._adam import ScikitLearnAdam, _sklearn_adam_kernel

SHAPES = ((20, 13), (13,), (4, 13), (4,))
SETTINGS = [{}, {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3}]


def _trajectory(kwargs, dtype, packed, compiled, steps=25, lr_change=False):
    rng = np.random.default_rng(1)
    params = [bp.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for shape in SHAPES]
    if packed:
        pack_parameters(params)
        flat_grad = np.empty(sum(p.data.size for p in params), dtype)
    opt = ScikitLearnAdam(params, **kwargs)
    grads = []
    for step in range(steps):
        offset = 0
        for p in params:
            g = rng.standard_normal(p.data.shape).astype(dtype)
            if packed:
                p.grad = flat_grad[offset:offset + g.size].reshape(g.shape)
                p.grad[...] = g
                offset += g.size
            else:
                p.grad = g
        grads.append([p.grad.copy() for p in params])
        if lr_change and step == 10:
            opt.param_groups[0]["lr"] *= 0.2
        if compiled:
            opt.step()
        else:
            with jit.disabled():
                opt.step()
    return [p.data.copy() for p in params], opt.state_dict(), grads


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "kernel"])
@pytest.mark.parametrize("packed", [False, True], ids=["per-parameter", "packed"])
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_equals_scikit_learns_adam_optimizer_bit_for_bit(kwargs, packed, compiled):
    weights, _, grads = _trajectory(kwargs, np.float64, packed, compiled)
    rng = np.random.default_rng(1)
    theirs = [rng.standard_normal(shape) for shape in SHAPES]
    lr = kwargs.get("lr", 1e-3)
    beta_1, beta_2 = kwargs.get("betas", (0.9, 0.999))
    adam = AdamOptimizer(theirs, lr, beta_1, beta_2, kwargs.get("eps", 1e-8))
    for step_grads in grads:
        adam.update_params(theirs, step_grads)
    for ours, expected in zip(weights, theirs):
        assert np.array_equal(ours, expected)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")
@pytest.mark.parametrize("packed", [False, True], ids=["per-parameter", "packed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_kernel_equals_numpy_bit_for_bit(kwargs, dtype, packed):
    weights, state, _ = _trajectory(kwargs, dtype, packed, compiled=True, lr_change=True)
    expected_weights, expected_state, _ = _trajectory(kwargs, dtype, packed, compiled=False, lr_change=True)
    for w, e in zip(weights, expected_weights):
        assert w.dtype == e.dtype == dtype
        assert np.array_equal(w, e)
    for index, entries in state["state"].items():
        for name, value in entries.items():
            assert np.array_equal(value, expected_state["state"][index][name]), name


@pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")
def test_the_kernel_is_what_runs(monkeypatch):
    calls = []
    compiled = _sklearn_adam_kernel.get()
    monkeypatch.setattr(_sklearn_adam_kernel, "_compiled", lambda *args: calls.append(len(args)) or compiled(*args))
    _trajectory({}, np.float32, packed=True, compiled=True, steps=3)
    assert len(calls) == 3


def test_differs_from_the_librarys_pytorch_adam_only_by_where_epsilon_goes():
    """optim.Adam keeps PyTorch's ε on √v̂; scikit-learn's with ε is PyTorch's with ε/√(1 − β₂ᵗ)."""
    W0 = np.random.default_rng(0).standard_normal(50)
    g = np.random.default_rng(1).standard_normal(50) * 1e-6  # small gradients: where ε goes matters
    ours, torch_form = bp.Tensor(W0.copy(), requires_grad=True), bp.Tensor(W0.copy(), requires_grad=True)
    sk_opt, torch_opt = ScikitLearnAdam([ours], eps=1e-8), optim.Adam([torch_form], eps=1e-8)
    ours.grad, torch_form.grad = g, g.copy()
    sk_opt.step()
    torch_opt.step()
    assert not np.allclose(ours.data, torch_form.data, rtol=0, atol=1e-12)
    equivalent = bp.Tensor(W0.copy(), requires_grad=True)
    equivalent.grad = g.copy()
    optim.Adam([equivalent], eps=1e-8 / np.sqrt(1 - 0.999)).step()
    np.testing.assert_allclose(ours.data, equivalent.data, rtol=1e-12)


def test_bad_arguments():
    p = bp.Tensor(np.zeros(3), requires_grad=True)
    for kwargs, match in (({"lr": 0}, "lr"), ({"betas": (1.0, 0.9)}, "betas"), ({"eps": 0}, "eps")):
        with pytest.raises(ValueError, match=match):
            ScikitLearnAdam([p], **kwargs)
