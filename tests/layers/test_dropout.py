"""Dropout: share dropped ≈ rate, mean preserved, gradient through the same mask, eval = identity."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_share_dropped_and_mean_preserved(rate):
    x = bp.Tensor(np.ones((400, 500)))
    out = nn.Dropout(rate)(x).data
    assert abs((out == 0).mean() - rate) < 0.01
    assert abs(out.mean() - 1.0) < 0.02
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate))


def test_matches_torch_statistics_and_formula():
    """Same rule as torch.nn.Dropout: kept units are scaled by 1/(1 − rate); same drop share."""
    rate, x_np = 0.3, np.random.default_rng(0).standard_normal((300, 300))
    ours = nn.Dropout(rate)(bp.Tensor(x_np)).data
    torch.manual_seed(0)
    theirs = torch.nn.Dropout(rate)(torch.from_numpy(x_np)).numpy()
    for out in (ours, theirs):
        kept = out != 0
        np.testing.assert_allclose(out[kept], x_np[kept] / (1 - rate))
    assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.01


def test_gradient_uses_the_same_mask():
    rate = 0.4
    x = bp.Tensor(np.random.default_rng(1).standard_normal((50, 20)), requires_grad=True)
    out = nn.Dropout(rate)(x)
    upstream = np.random.default_rng(2).standard_normal((50, 20))
    out.backward(upstream)
    mask = (out.data != 0) / (1 - rate)
    np.testing.assert_allclose(x.grad, upstream * mask)
    np.testing.assert_allclose(out.data, x.data * mask)


def test_eval_is_identity_as_in_torch():
    layer = nn.Dropout(0.5).eval()
    x = bp.Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    assert layer(x) is x
    t = torch.from_numpy(x.data)
    np.testing.assert_array_equal(torch.nn.Dropout(0.5).eval()(t).numpy(), layer(x).data)
    assert nn.Dropout(0.0)(x) is x


def test_masks_come_from_the_library_generator():
    x = bp.Tensor(np.ones((10, 10)))
    bp.manual_seed(7)
    first = nn.Dropout(0.5)(x).data
    bp.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).data, first)
    assert not np.array_equal(nn.Dropout(0.5)(x).data, first)  # a fresh mask each step


def test_keeps_dtype():
    out = nn.Dropout(0.5)(bp.Tensor(np.ones((3, 3), dtype=np.float32)))
    assert out.dtype == np.float32


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5", None])
def test_rate_outside_range_is_refused(rate):
    with pytest.raises(ValueError, match=r"rate.*\[0, 1\)"):
        nn.Dropout(rate)
