"""Losses at extreme logits and clamped probabilities agree with PyTorch, in float32 and float64.

Ordinary inputs are compared with PyTorch through the op table (tests/engine/test_engine_ops_torch.py).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from backprop import Tensor, losses  # noqa: E402

EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [0.0, -1000.0, -1000.0]])


def run_both(ours_fn, torch_fn, logits, dtype):
    z = Tensor(logits.astype(dtype), requires_grad=True)
    t = torch.tensor(logits.astype(dtype), requires_grad=True)
    loss, expected = ours_fn(z), torch_fn(t)
    loss.backward()
    expected.backward()
    assert loss.dtype == dtype and z.grad.dtype == dtype
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    assert loss.item() == pytest.approx(expected.item(), rel=rtol)
    return z.grad, t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_at_extreme_logits(dtype, target):
    y = np.array([1, 0, 0]) if target == "labels" else np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [1.0, 0.0, 0.0]])
    y_torch = torch.as_tensor(y) if target == "labels" else torch.tensor(y.astype(dtype))
    ours, theirs = run_both(lambda z: losses.cross_entropy(z, y), lambda z: F.cross_entropy(z, y_torch), EXTREME, dtype)
    if target == "labels":  # every gradient is 0 or ±1/3: exactly representable
        assert np.array_equal(ours, theirs)
    else:  # ±0.25/3 and ±0.75/3 are rounded; allow an ulp or two
        np.testing.assert_allclose(ours, theirs, rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits_at_extreme_logits(dtype):
    y = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    ours, theirs = run_both(
        lambda z: losses.binary_cross_entropy_with_logits(z, y),
        lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(y.astype(dtype))),
        EXTREME, dtype,
    )
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_clamps_like_torch(dtype):
    p = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1e-30]])
    y = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    ours, theirs = run_both(
        lambda p_: losses.binary_cross_entropy(p_, y),
        lambda p_: F.binary_cross_entropy(p_, torch.tensor(y.astype(dtype))),
        p, dtype,
    )
    # Where p(1 − p) < 1e−12 both divide by that floor, but torch's 1e−12 is a float32
    # constant (9.99999996e−13), hence the 4e−9 relative difference on those elements.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-8)


def _limit_cases(dtype):
    """Logits at the edge of the dtype's range, where z − max z overflows to −∞ (issue 13, item 8)."""
    big = 3e38 if dtype == np.float32 else 1e308
    logits = np.array([[big, -big], [big, -big], [big, -big], [-big, -big], [big, big], [big, 0.0]])
    labels = np.array([0, 1, 1, 0, 1, 0])
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    return logits, labels, probabilities


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_at_the_limits_of_the_dtype_is_torchs_value_not_nan(dtype, target):
    logits, labels, probabilities = _limit_cases(dtype)
    for row in range(len(logits)):  # one example at a time: each value, finite or inf, must match
        z_row = logits[row:row + 1].astype(dtype)
        y = labels[row:row + 1] if target == "labels" else probabilities[row:row + 1].astype(dtype)
        z = Tensor(z_row, requires_grad=True)
        t = torch.tensor(z_row, requires_grad=True)
        loss = losses.cross_entropy(z, y)
        expected = F.cross_entropy(t, torch.as_tensor(y))
        if torch.isnan(expected):  # torch's probability form has the 0 · (−∞); its label form is the limit
            assert target == "probabilities" and set(y.ravel()) == {0.0, 1.0}
            t = torch.tensor(z_row, requires_grad=True)
            expected = F.cross_entropy(t, torch.as_tensor(y.argmax(axis=1)))
        loss.backward()
        expected.backward()
        assert not np.isnan(loss.item()) and not np.any(np.isnan(z.grad)), (row, loss.item(), z.grad)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6), row
        np.testing.assert_allclose(z.grad, t.grad.numpy(), rtol=1e-6, atol=0, err_msg=str(row))
