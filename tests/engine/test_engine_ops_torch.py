"""Every row of the op table agrees with PyTorch in value and gradient (float64, relative error ≤ 1e-10)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import backprop as bp  # noqa: E402
from backprop.engine.tensor import Tensor  # noqa: E402
from op_table import ROWS  # noqa: E402

RTOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def torch_float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def assert_close(ours, theirs, what: str, rtol: float = RTOL) -> None:
    """max |ours − theirs| ≤ rtol · max |theirs| (exact equality where torch gives all zeros)."""
    ours, theirs = np.asarray(ours), theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    scale = np.max(np.abs(theirs), initial=0.0)
    error = np.max(np.abs(ours - theirs), initial=0.0)
    assert error <= rtol * scale, f"{what}: max error {error:.3g} against max |torch| {scale:.3g}"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_matches_torch(row):
    arrays = row.sample()
    ours = [Tensor(x, requires_grad=spec.requires_grad) for x, spec in zip(arrays, row.inputs)]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=spec.requires_grad) for x, spec in zip(arrays, row.inputs)]

    out, expected = row.fn(*ours), row.torch_fn(*theirs)
    assert out.dtype == np.float64
    assert_close(out.data, expected, "value")

    upstream = np.random.default_rng(1).standard_normal(out.shape)  # checks the vector–Jacobian product
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        if x.requires_grad:
            assert_close(x.grad, t.grad, f"gradient of input {i}")


EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, torch_fn", [
    ("softmax", lambda z: torch.softmax(z, dim=-1)),
    ("log_softmax", lambda z: torch.log_softmax(z, dim=-1)),
    ("sigmoid", torch.sigmoid),
])
def test_extreme_logits_match_torch(name, torch_fn, dtype):
    """At ±1000 the outputs stay finite and the gradients are exact (they are 0, ±1 or 0.5)."""
    z = Tensor(EXTREME.astype(dtype), requires_grad=True)
    t = torch.tensor(EXTREME.astype(dtype), requires_grad=True)
    upstream = np.array([[1.0, 2.0, -1.0], [0.5, -2.0, 1.0], [1.0, -1.0, 3.0]], dtype=dtype)

    out = getattr(bp, name)(z)
    out.backward(upstream)
    expected = torch_fn(t)
    expected.backward(torch.tensor(upstream))

    assert out.dtype == dtype and z.grad.dtype == dtype
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(z.grad))
    assert np.array_equal(out.data, expected.detach().numpy())
    assert np.array_equal(z.grad, t.grad.numpy())
