"""Flatten keeps the batch axis, like torch.nn.Flatten()."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn

torch = pytest.importorskip("torch")


def test_matches_torch_and_routes_gradient_back():
    x_np = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    x = bp.Tensor(x_np, requires_grad=True)
    out = nn.Flatten()(x)
    np.testing.assert_array_equal(out.data, torch.nn.Flatten()(torch.from_numpy(x_np)).numpy())
    assert out.shape == (2, 60)
    out.backward(np.arange(120.0).reshape(2, 60))
    np.testing.assert_array_equal(x.grad, np.arange(120.0).reshape(2, 3, 4, 5))


def test_in_a_network():
    net = nn.Sequential(nn.Flatten(), nn.Dense(12, 2))
    assert net(np.ones((5, 3, 4), dtype=np.float32)).shape == (5, 2)
