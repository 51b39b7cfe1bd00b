"""Every row of the op table passes gradcheck in float64, and every public op has a row."""

import numpy as np
import pytest

import backprop as bp
from backprop.engine import ops
from backprop.engine.tensor import Tensor
from op_table import ROWS

NOT_OPS = {"ACTIVATIONS", "Activation", "get_activation"}
# The operator protocols a Tensor may implement; each one it does implement needs a row.
OPERATOR_DUNDERS = {
    f"__{prefix}{name}__"
    for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
    for prefix in ("", "r")
} | {"__neg__", "__pos__", "__abs__", "__invert__", "__getitem__"}


def public_ops() -> set:
    operators = {name for name in OPERATOR_DUNDERS if hasattr(Tensor, name)}
    return (set(ops.__all__) - NOT_OPS) | operators | {"T"}


def test_every_public_op_has_a_row():
    # (Every registered loss is gradchecked by tests/test_losses.py, which iterates the registry;
    # the rows here add PyTorch comparisons for the losses PyTorch has.)
    missing = public_ops() - {r.op for r in ROWS}
    assert not missing, f"ops without a row in tests/engine/op_table.py: {sorted(missing)}"


def test_every_row_names_a_public_op():
    stale = {r.op for r in ROWS} - public_ops() - set(bp.losses.LOSSES.names())
    assert not stale, f"rows for names that are not public ops: {sorted(stale)}"


def test_row_ids_are_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_gradcheck(row):
    inputs = [Tensor(x, requires_grad=spec.requires_grad) for x, spec in zip(row.sample(), row.inputs)]
    assert all(x.dtype == np.float64 for x in inputs)
    assert bp.gradcheck(row.fn, *inputs)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_float32_in_float32_out(row):
    """float32 inputs give a float32 value and float32 gradients (no silent upcast)."""
    inputs = [Tensor(x.astype(np.float32), requires_grad=spec.requires_grad) for x, spec in zip(row.sample(), row.inputs)]
    out = row.fn(*inputs)
    assert out.dtype == np.float32
    assert isinstance(out.data, np.ndarray)
    out.backward(np.ones(out.shape, dtype=np.float32))
    for x in inputs:
        if x.requires_grad:
            assert isinstance(x.grad, np.ndarray) and x.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_step_gradient_is_exactly_zero():
    x = Tensor(np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0]), requires_grad=True)
    bp.step(x).backward(np.ones(5))
    assert np.array_equal(x.grad, np.zeros(5))
    assert np.array_equal(bp.step(x).data, [0, 0, 1, 1, 1])


def test_getitem_repeated_indices_accumulate():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    assert np.array_equal(x.grad, [3.0, 0.0, 1.0, 0.0])


def test_max_splits_the_gradient_among_ties():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    assert np.array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])


def test_tensor_methods_match_functions():
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]))
    for name in ("exp", "abs", "relu", "sigmoid", "tanh", "arctan", "step", "softmax", "log_softmax", "sum", "mean", "max"):
        assert np.array_equal(getattr(x, name)().data, getattr(bp, name)(x).data), name
