"""The op table: one row per case of every differentiable op, Tensor operator and loss.

Each row says only three things, as in Chainer's op tests: the inputs (shape and
domain), the backprop expression, and the equivalent PyTorch expression.
``test_engine_ops.py`` gradchecks every row and fails when a public op has no row;
``test_engine_ops_torch.py`` compares every row's value and gradient with PyTorch.
Adding an op means adding a row here; a loss may add rows for its PyTorch comparison
(every registered loss is gradchecked by tests/test_losses.py, which iterates the registry).

Domains keep gradcheck inputs away from kinks and poles (relu/abs/leaky_relu at 0,
division by 0, clip's bounds), where central differences are meaningless.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import backprop as bp
from backprop import losses
from backprop.engine import ops

try:  # only the torch comparison calls the torch expressions
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - the torch tests skip themselves
    torch = F = None


@dataclass(frozen=True)
class Input:
    """One argument of a row: its shape and where its values are drawn from."""

    shape: tuple
    low: float = -2.0
    high: float = 2.0
    gap: float = 0.0  # values satisfy |x| >= gap (random sign): clear of a kink or pole at 0
    requires_grad: bool = True

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        if self.gap:
            magnitude = rng.uniform(self.gap, self.high, self.shape)
            return np.where(rng.random(self.shape) < 0.5, -magnitude, magnitude)
        return rng.uniform(self.low, self.high, self.shape)


def U(*shape, low=-2.0, high=2.0) -> Input:
    """Uniform on [low, high]."""
    return Input(tuple(shape), low, high)


def POS(*shape, low=0.2, high=2.5) -> Input:
    """Positive values (log, sqrt, the base of a power)."""
    return Input(tuple(shape), low, high)


def AWAY(*shape, gap=0.25, high=2.0) -> Input:
    """|x| in [gap, high] with random signs (relu, abs, divisors)."""
    return Input(tuple(shape), gap=gap, high=high)


def CONST(*shape, low=0.0, high=1.0) -> Input:
    """A constant argument (a target): passed as a Tensor without requires_grad."""
    return Input(tuple(shape), low, high, requires_grad=False)


@dataclass(frozen=True)
class Row:
    op: str  # the public name this row covers: an op, a loss, or a Tensor operator
    fn: Callable  # backprop: fn(*tensors) -> Tensor
    inputs: tuple
    torch_fn: Callable  # the same computation on torch tensors
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}[{self.note}]" if self.note else self.op

    def sample(self) -> list:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [spec.sample(rng) for spec in self.inputs]


ROWS: list = []


def row(op: str, fn: Callable, inputs, torch_fn: Optional[Callable] = None, note: str = "") -> None:
    """Add a row; ``torch_fn`` defaults to ``fn`` (an operator expression valid for both)."""
    ROWS.append(Row(op, fn, tuple(inputs), torch_fn or fn, note))


def T(array) -> "torch.Tensor":
    """A numpy constant as a torch tensor (float64 for floats)."""
    return torch.as_tensor(array, dtype=torch.float64) if np.asarray(array).dtype.kind == "f" else torch.as_tensor(array)


def weighted_mean(per_example, weights):
    """The hand-written Σ w_i J_i / Σ w_i that ``sample_weight`` must compute."""
    w = T(weights)
    return (per_example * w).sum() / w.sum()


# ------------------------------------------------------------------ constants
M23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)  # float32 x stays float32
REPEATED = np.array([0, 2, 0, 3, 2])
REPEATED_2D = np.array([[1, 1], [0, 3]])
MASK = np.array([[True, False, True], [False, False, True], [True, True, False], [False, True, True]])
LABELS = np.array([2, 0, 3, 3, 1])
ONE_HOT = np.eye(4)[LABELS]
PROBS = np.array([
    [0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0], [0.5, 0.0, 0.0, 0.5],
])
HARD = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
W4 = np.array([0.5, 2.0, 0.0, 1.5])
W5 = np.array([1.0, 0.5, 3.0, 0.0, 2.0])

# ------------------------------------------------------------------ arithmetic
row("__add__", lambda a, b: a + b, [U(3, 4), U(4)], note="(3,4)+(4,)")
row("__add__", lambda a, b: a + b, [U(2, 1, 4), U(3, 1)], note="(2,1,4)+(3,1)")
row("__add__", lambda a, b: a + b, [U(), U(3)], note="()+(3,)")
row("__radd__", lambda a: 2.5 + a, [U(3)])
row("add", ops.add, [U(3, 1), U(1, 4)], torch.add if torch else None)
row("__sub__", lambda a, b: a - b, [U(4), U(3, 4)], note="(4,)-(3,4)")
row("__rsub__", lambda a: 1.5 - a, [U(2, 3)])
row("sub", ops.sub, [U(2, 3), U(2, 1)], torch.sub if torch else None)
row("__mul__", lambda a, b: a * b, [U(3, 1), U(1, 4)], note="(3,1)*(1,4)")
row("__mul__", lambda a, b: a * b, [U(2, 3), U()], note="(2,3)*()")
row("__mul__", lambda a: a * a, [U(2, 3)], note="x*x")
row("__rmul__", lambda a: 3.0 * a, [U(3)])
row("mul", ops.mul, [U(2, 3, 4), U(4)], torch.mul if torch else None)
row("__truediv__", lambda a, b: a / b, [U(2, 3), AWAY(3)], note="(2,3)/(3,)")
row("__truediv__", lambda a, b: a / b, [U(1, 3), AWAY(2, 1)], note="(1,3)/(2,1)")
row("__rtruediv__", lambda a: 2.0 / a, [AWAY(3)])
row("div", ops.div, [U(4), AWAY(3, 1)], torch.div if torch else None)
row("__pow__", lambda a: a ** 3, [U(3, 4)], note="x**3")
row("__pow__", lambda a: a ** 0.5, [POS(4)], note="x**0.5")
row("__pow__", lambda a: a ** -1.5, [POS(2, 2)], note="x**-1.5")
row("__pow__", lambda a, b: a ** b, [POS(2, 3), U(3)], note="tensor**tensor")
row("__rpow__", lambda a: 2.0 ** a, [U(3, 2)])
row("pow", ops.pow, [POS(3, 1), U(1, 2)], torch.pow if torch else None)
row("__neg__", lambda a: -a, [U(2, 3)])
row("neg", ops.neg, [U(4)], torch.neg if torch else None)

# ------------------------------------------------------------------ matmul
row("__matmul__", lambda a, b: a @ b, [U(2, 3), U(3, 4)], note="2D@2D")
row("__matmul__", lambda a, b: a @ b, [U(3), U(3, 4)], note="1D@2D")
row("__matmul__", lambda a, b: a @ b, [U(2, 3), U(3)], note="2D@1D")
row("__matmul__", lambda a, b: a @ b, [U(3), U(3)], note="1D@1D")
row("__matmul__", lambda a, b: a @ b, [U(2, 2, 3), U(3, 4)], note="3D@2D")
row("__matmul__", lambda a, b: a @ b, [U(2, 3), U(2, 3, 2)], note="2D@3D")
row("__matmul__", lambda a, b: a @ b, [U(2, 1, 2, 3), U(3, 3, 2)], note="4D@3D broadcast")
row("__rmatmul__", lambda a: M23 @ a, [U(3, 4)], lambda a: T(M23) @ a, note="ndarray@x")
row("matmul", bp.matmul, [U(2, 3), U(3, 2)], torch.matmul if torch else None)

# ------------------------------------------------------------------ elementwise
row("exp", bp.exp, [U(3, 4)], torch.exp if torch else None)
row("log", bp.log, [POS(3, 4, low=0.1, high=3.0)], torch.log if torch else None)
row("sqrt", bp.sqrt, [POS(3, 4, low=0.1, high=3.0)], torch.sqrt if torch else None)
row("abs", bp.abs, [AWAY(3, 4)], torch.abs if torch else None)
row("clip", lambda x: bp.clip(x, -0.5, 0.5), [U(3, 4)], lambda x: torch.clamp(x, -0.5, 0.5), note="min,max")
row("clip", lambda x: bp.clip(x, min=0.3), [U(4)], lambda x: torch.clamp(x, min=0.3), note="min")
row("clip", lambda x: x.clip(max=-0.2), [U(2, 3)], lambda x: torch.clamp(x, max=-0.2), note="max")

# ------------------------------------------------------------------ reductions
for axis, keepdims, dim in [
    (None, False, ()), (None, True, (0, 1, 2)), (1, False, 1), (-1, True, -1), ((0, 2), False, (0, 2)),
    ((2, 0), True, (0, 2)),
]:
    note = f"axis={axis},keepdims={keepdims}"
    row("sum", lambda x, a=axis, k=keepdims: bp.sum(x, axis=a, keepdims=k), [U(2, 3, 4)],
        lambda x, d=dim, k=keepdims: x.sum(dim=d, keepdim=k) if d != () else x.sum(), note=note)
    row("mean", lambda x, a=axis, k=keepdims: x.mean(axis=a, keepdims=k), [U(2, 3, 4)],
        lambda x, d=dim, k=keepdims: x.mean(dim=d, keepdim=k) if d != () else x.mean(), note=note)
    row("max", lambda x, a=axis, k=keepdims: bp.max(x, axis=a, keepdims=k), [U(2, 3, 4)],
        lambda x, d=dim, k=keepdims: torch.amax(x, dim=d, keepdim=k), note=note)

# ------------------------------------------------------------------ shape
row("reshape", lambda x: bp.reshape(x, 6, 4), [U(2, 3, 4)], lambda x: x.reshape(6, 4), note="6,4")
row("reshape", lambda x: x.reshape((-1,)), [U(2, 3, 4)], lambda x: x.reshape(-1), note="-1")
row("reshape", lambda x: x.reshape((4, 1, -1)), [U(2, 3, 4)], lambda x: x.reshape(4, 1, -1), note="4,1,-1")
row("transpose", bp.transpose, [U(2, 3, 4)], lambda x: x.permute(2, 1, 0), note="reversed")
row("transpose", lambda x: bp.transpose(x, (1, 0, 2)), [U(2, 3, 4)], lambda x: x.permute(1, 0, 2), note="1,0,2")
row("transpose", lambda x: x.transpose(-1, 0, 1), [U(2, 3, 4)], lambda x: x.permute(2, 0, 1), note="-1,0,1")
row("T", lambda x: x.T, [U(3, 4)])
row("__getitem__", lambda x: x[1:3], [U(4, 3)], note="1:3")
row("__getitem__", lambda x: x[:, ::2], [U(4, 3)], note=":,::2")
row("__getitem__", lambda x: x[::-1, 1:], [U(4, 3)], lambda x: x.flip(0)[:, 1:], note="::-1,1:")
row("__getitem__", lambda x: x[2], [U(4, 3)], note="int")
row("__getitem__", lambda x: x[1, 2], [U(4, 3)], note="int,int")
row("__getitem__", lambda x: x[3], [U(5)], note="int on 1-D")
row("__getitem__", lambda x: x[..., -1], [U(2, 4, 3)], note="...,-1")
row("__getitem__", lambda x: x[None, 1], [U(4, 3)], note="None,1")
row("__getitem__", lambda x: x[REPEATED], [U(4, 3)], lambda x: x[T(REPEATED)], note="repeated ints")
row("__getitem__", lambda x: x[REPEATED_2D], [U(4, 3)], lambda x: x[T(REPEATED_2D)], note="2-D ints")
row("__getitem__", lambda x: x[REPEATED, 1:], [U(4, 3)], lambda x: x[T(REPEATED), 1:], note="ints,slice")
row("__getitem__", lambda x: x[REPEATED[:3], [0, 2, 2]], [U(4, 3)],
    lambda x: x[T(REPEATED[:3]), T(np.array([0, 2, 2]))], note="ints,ints")
row("__getitem__", lambda x: x[MASK], [U(4, 3)], lambda x: x[T(MASK)], note="bool mask")
row("__getitem__", lambda x: x[MASK[:, 0]], [U(4, 3)], lambda x: x[T(MASK[:, 0])], note="row mask")
row("getitem", lambda x: ops.getitem(x, REPEATED), [U(4)], lambda x: x[T(REPEATED)])

row("concatenate", lambda a, b: ops.concatenate([a, b], axis=1), [U(3, 2), U(3, 4)],
    lambda a, b: torch.cat([a, b], dim=1), note="axis=1")
row("concatenate", lambda a, b, c: ops.concatenate([a, b, c], axis=0), [U(1, 3), U(2, 3), U(2, 3)],
    lambda a, b, c: torch.cat([a, b, c], dim=0), note="three, axis=0")
# embedding: W is the only differentiable input; codes repeat, and code 1 of 5 is never used
CODES = np.array([[0, 3, 3], [4, 0, 2]])
row("embedding", lambda W: ops.embedding(W, CODES), [U(5, 3)], lambda W: F.embedding(T(CODES), W), note="2-D codes")
row("embedding", lambda W: ops.embedding(W, REPEATED), [U(4, 2)], lambda W: F.embedding(T(REPEATED), W),
    note="1-D repeated codes")
# (padding_idx zeroes a row's gradient on purpose, which no gradcheck can pass: tests/layers/test_embedding.py
# compares it with torch.)

# ------------------------------------------------------------------ activations
row("identity", bp.identity, [U(3, 4)], lambda x: x.clone())
row("relu", bp.relu, [AWAY(3, 4)], torch.relu if torch else None)
row("leaky_relu", bp.leaky_relu, [AWAY(3, 4)], lambda x: F.leaky_relu(x, 0.01), note="default")
row("leaky_relu", lambda x: x.leaky_relu(0.2), [AWAY(5)], lambda x: F.leaky_relu(x, 0.2), note="0.2")
row("sigmoid", bp.sigmoid, [U(3, 4, low=-6, high=6)], torch.sigmoid if torch else None)
row("tanh", bp.tanh, [U(3, 4)], torch.tanh if torch else None)
row("arctan", bp.arctan, [U(3, 4, low=-3, high=3)], torch.arctan if torch else None)
# torch has no derivative for heaviside; this has the same value and the zero gradient.
row("step", bp.step, [AWAY(3, 4)], lambda x: (x >= 0).to(x.dtype) + 0 * x)
for shape, axis in [((3, 4), -1), ((3, 4), 0), ((5,), -1), ((2, 3, 4), 1)]:
    row("softmax", lambda x, a=axis: bp.softmax(x, axis=a), [U(*shape, low=-3, high=3)],
        lambda x, a=axis: torch.softmax(x, dim=a), note=f"{shape},axis={axis}")
    row("log_softmax", lambda x, a=axis: x.log_softmax(axis=a), [U(*shape, low=-3, high=3)],
        lambda x, a=axis: torch.log_softmax(x, dim=a), note=f"{shape},axis={axis}")

# ------------------------------------------------------------------ linear: Z = A Wᵀ + b
row("linear", bp.linear, [U(4, 3), U(2, 3), U(2)], F.linear if torch else None, note="2-D,bias")
row("linear", bp.linear, [U(4, 3), U(2, 3)], F.linear if torch else None, note="2-D")
row("linear", bp.linear, [U(3), U(2, 3), U(2)], F.linear if torch else None, note="1-D,bias")
row("linear", bp.linear, [U(3), U(2, 3)], F.linear if torch else None, note="1-D")

# ------------------------------------------------------------------ convolution and pooling (NCHW)
row("conv2d", lambda x, W, b: ops.conv2d(x, W, b, stride=1, padding=1), [U(2, 3, 6, 5), U(4, 3, 3, 3), U(4)],
    (lambda x, W, b: F.conv2d(x, W, b, stride=1, padding=1)) if torch else None, note="3x3,pad1,bias")
row("conv2d", lambda x, W: ops.conv2d(x, W, stride=(2, 1), dilation=(1, 2)), [U(1, 2, 7, 8), U(3, 2, 2, 3)],
    (lambda x, W: F.conv2d(x, W, stride=(2, 1), dilation=(1, 2))) if torch else None, note="stride,dilation")
row("conv1d", lambda x, W, b: ops.conv1d(x, W, b, stride=2, padding=1), [U(2, 3, 9), U(2, 3, 3), U(2)],
    (lambda x, W, b: F.conv1d(x, W, b, stride=2, padding=1)) if torch else None)
row("max_pool2d", lambda x: ops.max_pool2d(x, 3, stride=2, padding=1), [U(2, 2, 7, 6)],
    (lambda x: F.max_pool2d(x, 3, stride=2, padding=1)) if torch else None)
row("avg_pool2d", lambda x: ops.avg_pool2d(x, 3, stride=2, padding=1), [U(2, 2, 7, 6)],
    (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1)) if torch else None, note="count_include_pad")
row("avg_pool2d", lambda x: ops.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False), [U(2, 2, 7, 6)],
    (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)) if torch else None,
    note="real elements")
row("max_pool1d", lambda x: ops.max_pool1d(x, 2), [U(2, 3, 9)], (lambda x: F.max_pool1d(x, 2)) if torch else None)
row("avg_pool1d", lambda x: ops.avg_pool1d(x, 3, stride=2, padding=1), [U(2, 3, 9)],
    (lambda x: F.avg_pool1d(x, 3, stride=2, padding=1)) if torch else None)
row("global_avg_pool2d", ops.global_avg_pool2d, [U(2, 3, 4, 5)], (lambda x: x.mean(dim=(2, 3))) if torch else None)

# ------------------------------------------------------------------ losses
row("mse", losses.mse, [U(4, 3), U(4, 3)], F.mse_loss if torch else None, note="(4,3)")
row("mse", losses.mse, [U(4, 1), U(4)], lambda p, y: F.mse_loss(p, y.reshape(4, 1)), note="(4,1) vs (4,)")
row("mse", lambda p, y: losses.mse(p, y, sample_weight=W4), [U(4, 3), U(4, 3)],
    lambda p, y: weighted_mean(((p - y) ** 2).mean(dim=1), W4), note="sample_weight")
row("half_mse", losses.half_mse, [U(4, 3), U(4, 3)], lambda p, y: 0.5 * F.mse_loss(p, y))
row("half_mse", lambda p, y: losses.half_mse(p, y, sample_weight=W4), [U(4, 2), U(4, 2)],
    lambda p, y: 0.5 * weighted_mean(((p - y) ** 2).mean(dim=1), W4), note="sample_weight")
row("rss", losses.rss, [U(4, 3), U(4, 3)], lambda p, y: F.mse_loss(p, y, reduction="sum"))
# |p| >= 0.5 and |y| <= 0.3 keep p − y clear of mae's kink at 0.
row("mae", losses.mae, [AWAY(4, 3, gap=0.5), U(4, 3, low=-0.3, high=0.3)], F.l1_loss if torch else None)
row("mae", lambda p, y: losses.mae(p, y, sample_weight=W4), [AWAY(4, 3, gap=0.5), U(4, 3, low=-0.3, high=0.3)],
    lambda p, y: weighted_mean((p - y).abs().mean(dim=1), W4), note="sample_weight")
row("binary_cross_entropy", losses.binary_cross_entropy, [U(4, 3, low=0.05, high=0.95), CONST(4, 3)],
    F.binary_cross_entropy if torch else None, note="soft targets")
row("binary_cross_entropy", lambda p: losses.binary_cross_entropy(p, HARD), [U(4, 3, low=0.05, high=0.95)],
    lambda p: F.binary_cross_entropy(p, T(HARD)), note="0/1 targets")
row("binary_cross_entropy", lambda p, y: losses.binary_cross_entropy(p, y, sample_weight=W4),
    [U(4, 3, low=0.05, high=0.95), CONST(4, 3)],
    lambda p, y: weighted_mean(F.binary_cross_entropy(p, y, reduction="none").mean(dim=1), W4), note="sample_weight")
row("binary_cross_entropy_with_logits", losses.binary_cross_entropy_with_logits, [U(4, 3, low=-4, high=4), CONST(4, 3)],
    F.binary_cross_entropy_with_logits if torch else None)
row("binary_cross_entropy_with_logits", lambda z: losses.binary_cross_entropy_with_logits(z, HARD[:, 0]),
    [U(4, 1, low=-4, high=4)], lambda z: F.binary_cross_entropy_with_logits(z, T(HARD[:, :1])), note="(4,1) vs (4,)")
row("binary_cross_entropy_with_logits",
    lambda z, y: losses.binary_cross_entropy_with_logits(z, y, sample_weight=W4), [U(4, 3, low=-4, high=4), CONST(4, 3)],
    lambda z, y: weighted_mean(F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(dim=1), W4),
    note="sample_weight")
row("cross_entropy", lambda z: losses.cross_entropy(z, LABELS), [U(5, 4, low=-3, high=3)],
    lambda z: F.cross_entropy(z, T(LABELS)), note="int labels")
row("cross_entropy", lambda z: losses.cross_entropy(z, ONE_HOT), [U(5, 4, low=-3, high=3)],
    lambda z: F.cross_entropy(z, T(ONE_HOT)), note="one-hot")
row("cross_entropy", lambda z: losses.cross_entropy(z, PROBS), [U(5, 4, low=-3, high=3)],
    lambda z: F.cross_entropy(z, T(PROBS)), note="probability rows")
row("cross_entropy", lambda z: losses.cross_entropy(z, 2), [U(4, low=-3, high=3)],
    lambda z: F.cross_entropy(z, T(np.array(2))), note="one example")
row("cross_entropy", lambda z: losses.cross_entropy(z, LABELS, sample_weight=W5), [U(5, 4, low=-3, high=3)],
    lambda z: weighted_mean(F.cross_entropy(z, T(LABELS), reduction="none"), W5), note="int labels,sample_weight")
row("cross_entropy", lambda z: losses.cross_entropy(z, PROBS, sample_weight=W5), [U(5, 4, low=-3, high=3)],
    lambda z: weighted_mean(F.cross_entropy(z, T(PROBS), reduction="none"), W5), note="probabilities,sample_weight")
