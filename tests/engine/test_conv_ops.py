"""Convolution and pooling ops: float64 gradcheck and PyTorch parity over kernel sizes, strides,
paddings and dilations (odd shapes included), dtypes, and the errors for bad arguments."""

import numpy as np
import pytest

import backprop as bp
from backprop import jit
from backprop.checks import check_int_tuple
from backprop.engine import ops
from backprop.engine.ops import conv as conv_module
from backprop.engine.tensor import Tensor

needs_numba = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")

# (x shape, W shape, stride, padding, dilation, bias)
CONV2D_CASES = [
    ((1, 1, 5, 5), (1, 1, 1, 1), 1, 0, 1, True),            # 1×1 kernel
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, True),            # plain 3×3, non-square image
    ((2, 2, 8, 7), (3, 2, 5, 5), 1, 2, 1, False),           # LeNet-style 5×5, pad 2
    ((1, 3, 9, 10), (2, 3, 3, 2), 2, 1, 1, True),           # non-square kernel, stride 2
    ((2, 2, 9, 9), (2, 2, 3, 3), (2, 3), (1, 0), 2, True),  # per-axis stride/padding, dilation 2
    ((1, 2, 6, 5), (3, 2, 4, 3), 1, "same", 1, True),       # "same" with an even kernel: odd pad after
    ((1, 2, 7, 7), (2, 2, 3, 3), 1, "same", (2, 1), False),  # "same" with dilation
    ((2, 1, 5, 7), (2, 1, 5, 7), 1, 0, 1, True),            # kernel = input: a 1×1 output
    ((1, 2, 4, 4), (2, 2, 3, 3), 3, 1, 1, True),            # stride leaves a remainder
    ((3, 1, 1, 9), (2, 1, 1, 3), (1, 2), (0, 1), (1, 3), True),  # height-1 image
    ((2, 3, 12, 11), (4, 3, 5, 5), 2, 0, 1, True),          # the ball net's stride-2 5×5 (phase planes), odd width
    ((1, 2, 9, 10), (3, 2, 3, 2), (2, 1), (1, 0), (1, 2), True),  # stride on one axis, dilation on the other
    ((2, 2, 10, 9), (2, 2, 2, 3), (3, 2), (1, 0), 1, False),  # a kernel row shorter than the stride
    ((2, 4, 9, 8), (3, 4, 3, 3), 1, (1, 0), (1, 2), True),   # fewer output channels: ∂J/∂x as a convolution of δ
    ((1, 3, 4, 5), (2, 3, 3, 3), 1, (3, 1), 1, False),       # padding beyond d·(k − 1): ∂J/∂x by col2im
    ((2, 2, 6, 7), (17, 2, 3, 3), 2, 1, 1, True),           # more output channels than the direct form takes
]
# (x shape, kernel, stride, padding, dilation)
MAX_POOL_CASES = [
    ((2, 2, 6, 6), 2, None, 0, 1),
    ((1, 3, 7, 5), 3, 2, 1, 1),        # overlapping windows, padding
    ((2, 1, 7, 8), 3, 1, 1, 2),        # dilation
    ((1, 2, 5, 9), (2, 3), (1, 2), (1, 1), 1),
    ((1, 1, 3, 3), 3, None, 0, 1),     # one window
    ((2, 3, 7, 9), 2, None, 0, 1),     # 2×2 side by side on odd sizes (the unrolled kernel; last row/column unused)
    ((2, 2, 13, 13), 13, None, 0, 1),  # a global max pool (one window per plane: a reduction)
    ((1, 2, 14, 11), (13, 10), 13, 0, 1),  # one window that leaves the last row and column out
    ((1, 2, 9, 8), 4, None, 0, 2),     # one dilated window
]
# (x shape, kernel, stride, padding, count_include_pad)
AVG_POOL_CASES = [
    ((2, 2, 6, 6), 2, None, 0, True),
    ((1, 3, 7, 5), 3, 2, 1, True),
    ((1, 3, 7, 5), 3, 2, 1, False),
    ((1, 2, 5, 9), (2, 3), (1, 2), (1, 1), False),
    ((2, 1, 4, 4), 4, 1, 2, True),
]


def conv_case_id(case):
    x, W, stride, padding, dilation, bias = case
    return f"x{x}-W{W}-s{stride}-p{padding}-d{dilation}-{'b' if bias else 'nob'}".replace(" ", "")


def sample(shape, seed):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape)


def conv_inputs(case):
    x_shape, W_shape, *_, bias = case
    arrays = [sample(x_shape, 1), sample(W_shape, 2)]
    if bias:
        arrays.append(sample(W_shape[:1], 3))
    return arrays


def conv2d_fn(case):
    _, _, stride, padding, dilation, _ = case
    return lambda *t: ops.conv2d(*t, stride=stride, padding=padding, dilation=dilation)


# ------------------------------------------------------------------ gradcheck
@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_conv2d_gradcheck(case):
    inputs = [Tensor(a, requires_grad=True) for a in conv_inputs(case)]
    assert bp.gradcheck(conv2d_fn(case), *inputs)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, "same", 2), (3, 2, 1)])
def test_conv1d_gradcheck(stride, padding, dilation):
    x, W, b = (Tensor(sample(s, k), requires_grad=True) for k, s in enumerate([(2, 3, 11), (4, 3, 3), (4,)]))
    assert bp.gradcheck(lambda *t: ops.conv1d(*t, stride=stride, padding=padding, dilation=dilation), x, W, b)


@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=str)
def test_max_pool2d_gradcheck(case):
    shape, kernel, stride, padding, dilation = case
    x = Tensor(sample(shape, 4), requires_grad=True)
    assert bp.gradcheck(lambda t: ops.max_pool2d(t, kernel, stride, padding, dilation), x)


@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=str)
def test_avg_pool2d_gradcheck(case):
    shape, kernel, stride, padding, count_include_pad = case
    x = Tensor(sample(shape, 5), requires_grad=True)
    assert bp.gradcheck(lambda t: ops.avg_pool2d(t, kernel, stride, padding, count_include_pad), x)


def test_pool1d_and_global_pool_gradcheck():
    x3 = Tensor(sample((2, 3, 10), 6), requires_grad=True)
    assert bp.gradcheck(lambda t: ops.max_pool1d(t, 3, 2, 1), x3)
    assert bp.gradcheck(lambda t: ops.avg_pool1d(t, 4, 3, 2, count_include_pad=False), x3)
    x4 = Tensor(sample((2, 3, 3, 5), 7), requires_grad=True)
    assert bp.gradcheck(lambda t: ops.global_avg_pool2d(t), x4)
    assert bp.gradcheck(lambda t: ops.global_avg_pool2d(t, keepdims=True), x4)


def test_shared_kernel_gradient_is_the_sum_over_positions():
    """∂J/∂W of J = Σ z is, per tap, the sum of the input over every window that tap saw."""
    x = sample((2, 1, 5, 6), 8)
    W = Tensor(np.zeros((1, 1, 2, 3)), requires_grad=True)
    ops.conv2d(x, W).sum().backward()
    expected = [[x[:, 0, i:i + 4, j:j + 4].sum() for j in range(3)] for i in range(2)]
    np.testing.assert_allclose(W.grad[0, 0], expected, rtol=1e-12)


# ------------------------------------------------------------------ PyTorch parity
def assert_close(ours, theirs, what, rtol=1e-10):
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    scale = max(np.abs(theirs).max(initial=0.0), 1e-300)
    assert np.abs(ours - theirs).max(initial=0.0) <= rtol * scale, what


def compare_with_torch(fn, torch_fn, arrays):
    torch = pytest.importorskip("torch")
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), torch_fn(*theirs)
    assert_close(out.data, expected, "value")
    g = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(g)
    expected.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, b.grad, f"gradient of input {i}")


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note that it copies the input too
@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_conv2d_matches_torch(case):
    import torch.nn.functional as F

    _, _, stride, padding, dilation, _ = case
    compare_with_torch(conv2d_fn(case), lambda *t: F.conv2d(*t, stride=stride, padding=padding, dilation=dilation),
                       conv_inputs(case))


@pytest.mark.torch
@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, "same", 2), (3, 2, 1)])
def test_conv1d_matches_torch(stride, padding, dilation):
    import torch.nn.functional as F

    arrays = [sample((2, 3, 11), 1), sample((4, 3, 4), 2), sample((4,), 3)]
    compare_with_torch(lambda *t: ops.conv1d(*t, stride=stride, padding=padding, dilation=dilation),
                       lambda *t: F.conv1d(*t, stride=stride, padding=padding, dilation=dilation), arrays)


@pytest.mark.torch
@pytest.mark.parametrize("case", MAX_POOL_CASES, ids=str)
def test_max_pool2d_matches_torch(case):
    import torch.nn.functional as F

    shape, kernel, stride, padding, dilation = case
    compare_with_torch(lambda t: ops.max_pool2d(t, kernel, stride, padding, dilation),
                       lambda t: F.max_pool2d(t, kernel, stride, padding, dilation), [sample(shape, 4)])


@pytest.mark.torch
def test_max_pool2d_ties_go_to_the_first_maximum_as_in_torch():
    """After a ReLU, whole windows are 0: the gradient must go where PyTorch sends it."""
    import torch.nn.functional as F

    x = np.maximum(sample((2, 2, 6, 6), 10), 0.0)
    x[0, 0, :2, :2] = 0.0
    x[1, 1, 2:4, 2:4] = 0.7
    compare_with_torch(lambda t: ops.max_pool2d(t, 2), lambda t: F.max_pool2d(t, 2), [x])
    compare_with_torch(lambda t: ops.max_pool2d(t, 3, 1, 1), lambda t: F.max_pool2d(t, 3, 1, 1), [x])


@pytest.mark.torch
def test_max_pool2d_propagates_nan_as_torch_does():
    torch = pytest.importorskip("torch")
    x = sample((1, 1, 4, 4), 11)
    x[0, 0, 0, 1] = np.nan
    ours = ops.max_pool2d(x, 2).data
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()
    np.testing.assert_array_equal(ours, theirs)  # NaN where torch has NaN
    assert np.isnan(ours[0, 0, 0, 0])


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [((3, 2, 8, 6), 2, 2, 1), ((2, 3, 13, 13), 13, 13, 1), ((2, 2, 9, 8), 4, 4, 2),
                                  ((1, 2, 14, 11), (13, 10), 13, 1)], ids=str)
def test_fast_pools_give_the_windowed_kernel_results(case, dtype):
    """The unrolled 2×2 kernel and the one-window reduction against the general windowed kernel:
    the same maxima and winners, ties (first maximum) and NaN (the last NaN wins) included."""
    shape, kernel, stride, dilation = case
    kernel, stride, dilation = (conv_module.check_int_tuple(v, "v", "test", length=2) for v in (kernel, stride, dilation))
    x = sample(shape, 12).astype(dtype)
    x.flat[::5] = x.flat[0]    # ties
    x[0, 0] = 0.25             # a whole plane of ties
    x[-1, -1].flat[[1, 3, 4]] = [np.nan, 9.0, -np.nan]  # NaN, a larger value after it, then another NaN
    x[-1, 0, 0, 0] = x[-1, 0, 1, 1] = np.nan            # two NaN in one 2×2 window
    pads = ((0, 0), (0, 0))
    out_hw = conv_module.window_geometry(x.shape, kernel, stride, pads, dilation, "test")
    got, got_winner = conv_module._max_pool_forward(x, kernel, stride, pads, dilation, out_hw, True)
    out = np.empty(got.shape, dtype)
    winner = np.empty(got.shape, np.int32)
    conv_module._max_pool_kernel.get()(x, out, winner, *kernel, *stride, 0, 0, *dilation)
    np.testing.assert_array_equal(got_winner, winner)
    np.testing.assert_array_equal(got.view(f"u{x.itemsize}"), out.view(f"u{x.itemsize}"))  # NaN's bits too
    delta = sample(got.shape, 13).astype(dtype)
    grad = conv_module._max_pool_backward(delta, got_winner, x.shape, kernel, stride, pads, dilation, out_hw)
    with jit.disabled():
        expected = conv_module._max_pool_backward(delta, winner, x.shape, kernel, stride, pads, dilation, out_hw)
        np.testing.assert_array_equal(conv_module._max_pool_forward(x, kernel, stride, pads, dilation, out_hw,
                                                                    True)[1], winner)
    np.testing.assert_array_equal(grad, expected)


@pytest.mark.torch
def test_global_max_pool_routes_nan_and_ties_as_torch_does():
    """One window per plane: ties go to the first maximum, NaN wins (the last one), as PyTorch."""
    torch = pytest.importorskip("torch")
    x = np.maximum(sample((3, 2, 5, 5), 14), 0.0)
    x[0, 0] = 0.0
    x[1, 1, 1, 2] = x[1, 1, 3, 4] = 7.0
    x[2, 0, 0, 1] = x[2, 0, 4, 0] = np.nan
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 5).sum().backward()
    t = Tensor(x, requires_grad=True)
    out = ops.max_pool2d(t, 5)
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(out.data, torch.nn.functional.max_pool2d(torch.tensor(x), 5).numpy())
    np.testing.assert_array_equal(t.grad, xt.grad.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=str)
def test_avg_pool2d_matches_torch(case):
    import torch.nn.functional as F

    shape, kernel, stride, padding, count_include_pad = case
    compare_with_torch(lambda t: ops.avg_pool2d(t, kernel, stride, padding, count_include_pad),
                       lambda t: F.avg_pool2d(t, kernel, stride, padding, count_include_pad=count_include_pad),
                       [sample(shape, 5)])


@pytest.mark.torch
def test_pool1d_and_global_pool_match_torch():
    import torch.nn.functional as F

    x3, x4 = sample((2, 3, 10), 6), sample((2, 3, 3, 5), 7)
    compare_with_torch(lambda t: ops.max_pool1d(t, 3, 2, 1, 2), lambda t: F.max_pool1d(t, 3, 2, 1, 2), [x3])
    compare_with_torch(lambda t: ops.avg_pool1d(t, 4, 3, 2, False),
                       lambda t: F.avg_pool1d(t, 4, 3, 2, count_include_pad=False), [x3])
    compare_with_torch(lambda t: ops.global_avg_pool2d(t, keepdims=True), lambda t: F.adaptive_avg_pool2d(t, 1), [x4])


# ------------------------------------------------------------------ dtypes, graph, caller's arrays
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    x = Tensor(sample((2, 3, 6, 6), 1).astype(dtype), requires_grad=True)
    W = Tensor(sample((4, 3, 3, 3), 2).astype(dtype), requires_grad=True)
    b = Tensor(sample((4,), 3).astype(dtype), requires_grad=True)
    z = ops.conv2d(x, W, b, padding=1)
    pooled = ops.avg_pool2d(ops.max_pool2d(z, 2), 3, 1, 1)
    out = ops.global_avg_pool2d(pooled)
    assert z.dtype == pooled.dtype == out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == dtype


def test_float32_agrees_with_float64():
    arrays = [sample((2, 3, 8, 8), 1), sample((5, 3, 3, 3), 2), sample((5,), 3)]
    z64 = ops.conv2d(*arrays, stride=2, padding=1).data
    z32 = ops.conv2d(*[a.astype(np.float32) for a in arrays], stride=2, padding=1).data
    np.testing.assert_allclose(z32, z64, rtol=1e-5, atol=1e-5)


def test_caller_arrays_are_not_modified():
    x, W = sample((2, 2, 5, 5), 1), sample((3, 2, 3, 3), 2)
    before = x.copy(), W.copy()
    xt = Tensor(x, requires_grad=True)
    out = ops.max_pool2d(ops.conv2d(xt, W, padding=1), 2, 1, 1)
    ops.avg_pool2d(out, 2).sum().backward()
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(W, before[1])


def test_max_pool_without_graph_gives_the_same_values():
    x = sample((2, 3, 7, 7), 1)
    with bp.no_grad():
        plain = ops.max_pool2d(Tensor(x, requires_grad=True), 3, 2, 1)
    recorded = ops.max_pool2d(Tensor(x, requires_grad=True), 3, 2, 1)
    assert not plain.requires_grad and recorded.requires_grad
    np.testing.assert_array_equal(plain.data, recorded.data)


def test_a_constant_input_is_not_differentiated():
    """The first layer's input needs no gradient: only W and b get one."""
    W = Tensor(sample((2, 1, 3, 3), 2), requires_grad=True)
    ops.conv2d(sample((1, 1, 5, 5), 1), W).sum().backward()
    assert W.grad.shape == (2, 1, 3, 3)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("call,message", [
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 5, 5))), r"conv2d: the window 5×5 .* padded input 4×4"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), dilation=2),
     r"dilated span 5×5\) .* padded input 4×4"),
    (lambda: ops.conv2d(np.zeros((1, 3, 4, 4)), np.zeros((1, 2, 3, 3))), r"has 3 channels but W of shape \(1, 2, 3, 3\)"),
    (lambda: ops.conv2d(np.zeros((3, 4, 4)), np.zeros((1, 3, 3, 3))), r"4-D \(N, C, H, W\), got shape \(3, 4, 4\)"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3)), ), r"W must be 4-D"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3)), np.zeros(3)), r"b must have shape \(2,\)"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=0), r"stride must be a positive int"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), padding=-1), r"padding must be a non-negative int"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), padding="full"), r"'valid' or 'same'"),
    (lambda: ops.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), stride=2, padding="same"), r"needs stride 1"),
    (lambda: ops.conv1d(np.zeros((1, 1, 4)), np.zeros((1, 1, 6))), r"conv1d: the window 6 .* padded input 4"),
    (lambda: ops.max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2), r"at most half the kernel size"),
    (lambda: ops.max_pool2d(np.zeros((1, 1, 2, 2)), 3), r"max_pool2d: the window 3×3 .* padded input 2×2"),
    (lambda: ops.avg_pool2d(np.zeros((1, 1, 4, 4)), 0), r"kernel_size must be a positive int"),
    (lambda: ops.avg_pool2d(np.zeros((1, 1, 4, 4)), 2, count_include_pad=1), r"count_include_pad must be True or False"),
    (lambda: ops.global_avg_pool2d(np.zeros((1, 4, 4))), r"global_avg_pool2d: input must be 4-D"),
])
def test_bad_arguments_raise_before_work(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("view", [lambda a: a[:, :, ::-1, :], lambda a: a.transpose(0, 1, 3, 2), lambda a: a[:, :, ::2, 1:]],
                         ids=["reversed", "transposed", "strided"])
def test_non_contiguous_inputs_give_the_contiguous_results(view):
    x, W = view(sample((2, 3, 8, 9), 1)), sample((4, 3, 3, 3), 2)
    dense = np.ascontiguousarray(x)
    np.testing.assert_allclose(ops.conv2d(x, W, padding=1).data, ops.conv2d(dense, W, padding=1).data, rtol=1e-13)
    np.testing.assert_array_equal(ops.max_pool2d(x, 2).data, ops.max_pool2d(dense, 2).data)
    np.testing.assert_allclose(ops.avg_pool2d(x, 3, 1, 1).data, ops.avg_pool2d(dense, 3, 1, 1).data, rtol=1e-13)


# ------------------------------------------------------------------ chunks and compiled kernels
def conv_and_pool_results(case, pool_case, dtype):
    """conv2d's z and gradients, and max_pool2d's output and input gradient, for one case each."""
    stride, padding, dilation = case[2:5]
    inputs = [Tensor(a.astype(dtype), requires_grad=True) for a in conv_inputs(case)]
    z = ops.conv2d(*inputs, stride=stride, padding=padding, dilation=dilation)
    z.backward(np.random.default_rng(5).standard_normal(z.shape).astype(dtype))
    shape, kernel, pool_stride, pool_padding, pool_dilation = pool_case
    x = sample(shape, 6).astype(dtype)
    x.flat[::7] = x.flat[0]  # ties
    x = Tensor(x, requires_grad=True)
    out = ops.max_pool2d(x, kernel, pool_stride, pool_padding, pool_dilation)
    out.backward(np.random.default_rng(7).standard_normal(out.shape).astype(dtype))
    return [z.data, *(t.grad for t in inputs), out.data, x.grad]


@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_results_do_not_depend_on_the_chunk_of_examples(case, monkeypatch):
    """cols is gathered a chunk of examples at a time; one example per chunk gives the same values."""
    whole = conv_and_pool_results(case, MAX_POOL_CASES[0], np.float64)
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 1)
    for chunked, expected in zip(conv_and_pool_results(case, MAX_POOL_CASES[0], np.float64), whole):
        np.testing.assert_allclose(chunked, expected, rtol=1e-12, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", range(len(MAX_POOL_CASES)))
def test_compiled_kernels_give_the_numpy_results_bit_for_bit(index, dtype, monkeypatch):
    """col2im's runs and max pooling (forward, routed δ) compiled and in NumPy: the same bits (the
    direct form, which sums in its own order, is held to the GEMM by the next test)."""
    monkeypatch.setattr(conv_module, "_DIRECT_MAX_CHANNELS", 0)
    cases = (CONV2D_CASES[index], CONV2D_CASES[-1 - index])  # every conv case, with one pool case each
    for case in cases:
        compiled = conv_and_pool_results(case, MAX_POOL_CASES[index], dtype)
        with jit.disabled():
            reference = conv_and_pool_results(case, MAX_POOL_CASES[index], dtype)
        for got, expected in zip(compiled, reference):
            np.testing.assert_array_equal(got, expected)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_the_compiled_im2col_copies_numpy_s_windows(case, dtype):
    """im2col of the flat layout compiled (each row of cols one run of the flattened phase planes)
    and as NumPy's copy of the windows' strided views: the same cols for every chunk of examples."""
    x_shape, W_shape, stride, padding, dilation, _ = case
    x, W = sample(x_shape, 1).astype(dtype), sample(W_shape, 2).astype(dtype)
    kernel = W_shape[2:]
    stride, dilation = (check_int_tuple(v, "v") for v in (stride, dilation))
    pads = conv_module.conv_padding(padding, kernel, dilation, stride, "test")
    out_hw = conv_module.window_geometry(x.shape, kernel, stride, pads, dilation, "test")
    if not conv_module._flat_windows(x, W, stride, dilation):  # the general layout: NumPy's copy only
        general = conv_module._Windows(x, kernel, stride, pads, dilation, out_hw, np.dtype(dtype), False)
        assert general.compiled_gather(np.dtype(dtype)) is None
        return
    windows = conv_module._Windows(x, kernel, stride, pads, dilation, out_hw, np.dtype(dtype), True)
    assert windows.compiled_gather(np.dtype(dtype)) is not None
    taps = W_shape[1] * kernel[0] * kernel[1]
    for start, stop in [(0, x.shape[0]), (x.shape[0] - 1, x.shape[0])]:
        compiled = windows.gather(start, stop, taps, dtype).copy()
        with jit.disabled():
            expected = windows.gather(start, stop, taps, dtype)
        np.testing.assert_array_equal(compiled, expected)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_the_direct_form_gives_the_gemm_results(case, dtype, monkeypatch):
    """z, ∂J/∂x, ∂J/∂W and ∂J/∂b with the direct form (runs read where they lie) and with im2col + GEMM
    agree to the rounding of a sum in another order, and the direct form runs wherever it applies."""
    x_shape, W_shape, stride, padding, dilation, _ = case
    kernel = W_shape[2:]
    stride_t, dilation_t = (check_int_tuple(v, "v") for v in (stride, dilation))
    pads = conv_module.conv_padding(padding, kernel, dilation_t, stride_t, "test")
    out_hw = conv_module.window_geometry(x_shape, kernel, stride_t, pads, dilation_t, "test")
    x, W = sample(x_shape, 1).astype(dtype), sample(W_shape, 2).astype(dtype)
    flat = conv_module._flat_windows(x, W, stride_t, dilation_t)
    windows = conv_module._Windows(x, kernel, stride_t, pads, dilation_t, out_hw, np.dtype(dtype), flat)
    applies = windows.direct_kernels(np.dtype(dtype), W_shape[0]) is not None
    assert applies == (flat and W_shape[0] <= conv_module._DIRECT_MAX_CHANNELS)
    direct = conv_and_pool_results(case, MAX_POOL_CASES[0], dtype)[:-2]
    monkeypatch.setattr(conv_module, "_DIRECT_MAX_CHANNELS", 0)
    gemm = conv_and_pool_results(case, MAX_POOL_CASES[0], dtype)[:-2]
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for got, expected in zip(direct, gemm):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@needs_numba
@pytest.mark.parametrize("case", CONV2D_CASES, ids=conv_case_id)
def test_the_direct_form_split_over_threads_gives_one_thread_s_results(case, monkeypatch):
    """Each example's output is computed by one thread, and ∂J/∂W is the sum of the threads' partial
    sums in a fixed order: the same bits call after call, and one thread's values to rounding. The
    phase planes and max pooling, split too, are one thread's bits."""
    monkeypatch.setattr(conv_module, "_DIRECT_PART_MACS", 1)  # (a part per example, at most 3 threads)
    monkeypatch.setattr(conv_module, "_PART_COPIES", 1)
    pool_case = MAX_POOL_CASES[CONV2D_CASES.index(case) % len(MAX_POOL_CASES)]  # (each pool case in turn)
    previous = bp.set_num_threads(1)
    try:
        single = conv_and_pool_results(case, pool_case, np.float64)
        bp.set_num_threads(3)
        split = conv_and_pool_results(case, pool_case, np.float64)
        again = conv_and_pool_results(case, pool_case, np.float64)
    finally:
        bp.set_num_threads(previous)
    for got, repeated, expected in zip(split[:-2], again, single):
        np.testing.assert_array_equal(got, repeated)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    for got, expected in zip(split[-2:], single[-2:]):
        np.testing.assert_array_equal(got, expected)


@needs_numba
def test_conv_calls_from_several_threads_give_the_sequential_results(monkeypatch):
    """Callers on several threads share the worker pool (and each has its own work arrays)."""
    import threading

    monkeypatch.setattr(conv_module, "_DIRECT_PART_MACS", 1)
    cases = [case for case in CONV2D_CASES if case[1][0] <= conv_module._DIRECT_MAX_CHANNELS]
    expected = [conv_and_pool_results(case, MAX_POOL_CASES[0], np.float32) for case in cases]
    failures = []

    def caller():
        for _ in range(5):
            for case, want in zip(cases, expected):
                for got, value in zip(conv_and_pool_results(case, MAX_POOL_CASES[0], np.float32), want):
                    if not np.array_equal(got, value):
                        failures.append(conv_case_id(case))

    workers = [threading.Thread(target=caller) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures


def test_inputs_that_are_not_finite_take_the_general_layout():
    """Stride-1 windows are contiguous runs that also cover wrapped-around columns, which δ = 0
    cancels; an inf there would make 0·inf = NaN, so such inputs use the general layout."""
    x = sample((1, 1, 5, 6), 1)
    x[0, 0, 2, 5] = np.inf  # in the last column: in wrapped-around windows of the first columns
    W = Tensor(sample((1, 1, 3, 3), 2), requires_grad=True)
    z = ops.conv2d(x, W)
    z.backward(np.ones(z.shape))
    expected = [[x[0, 0, i:i + 3, j:j + 4].sum() for j in range(3)] for i in range(3)]
    assert not np.isnan(W.grad).any()
    np.testing.assert_allclose(W.grad[0, 0], expected, rtol=1e-13)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_crop_pass_s_relu_is_numpy_s_maximum_bit_for_bit(dtype):
    """A conv layer's ReLU written in the pass that crops z (the fused form's forward): np.maximum's bits."""
    rng = np.random.default_rng(15)
    x, W, b = (rng.standard_normal(shape).astype(dtype) for shape in [(3, 2, 11, 10), (4, 2, 3, 3), (4,)])
    b[1] = 0.0
    pads = ((1, 1), (0, 0))
    out_hw = conv_module.window_geometry(x.shape, (3, 3), (2, 1), pads, (1, 1), "test")
    z, a = np.empty((3, 4, *out_hw), dtype), np.empty((3, 4, *out_hw), dtype)
    result, activated = conv_module._conv2d_arrays(x, W, b, (2, 1), pads, (1, 1), out_hw, True, None, z, a)
    assert result is z and activated
    np.testing.assert_array_equal(z, conv_module._conv2d_arrays(x, W, b, (2, 1), pads, (1, 1), out_hw, True))
    np.testing.assert_array_equal(a, np.maximum(z, 0))
    assert np.array_equal(np.signbit(a), np.signbit(np.maximum(z, 0)))


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
def test_the_crop_pass_writing_only_the_relu_gives_the_same_bits(dtype, with_bias, monkeypatch):
    """relu_only: the crop pass writes a = max(z, 0) and not z (a ReLU layer's fused forward): a's bits
    (NaN, −0 and the sign of every value included) are those of the pass that writes both."""
    monkeypatch.setattr(conv_module, "_DIRECT_MAX_CHANNELS", 0)  # (z compared with NumPy's at the end)
    rng = np.random.default_rng(16)
    x, W, b = (rng.standard_normal(shape).astype(dtype) for shape in [(3, 2, 11, 10), (4, 2, 3, 3), (4,)])
    x[0, 0, 3, 4] = np.nan
    b = b if with_bias else None
    pads = ((1, 1), (0, 0))
    out_hw = conv_module.window_geometry(x.shape, (3, 3), (2, 1), pads, (1, 1), "test")
    z, a, a_only = (np.empty((3, 4, *out_hw), dtype) for _ in range(3))
    z_only = np.full_like(z, 7.0)
    conv_module._conv2d_arrays(x, W, b, (2, 1), pads, (1, 1), out_hw, True, None, z, a)
    result, activated = conv_module._conv2d_arrays(x, W, b, (2, 1), pads, (1, 1), out_hw, True, None, z_only,
                                                   a_only, relu_only=True)
    assert result is None and activated
    assert (z_only == 7.0).all()  # z's buffer untouched
    np.testing.assert_array_equal(a_only, a)
    assert np.array_equal(np.signbit(a_only), np.signbit(a))
    with jit.disabled():  # no compiled crop: z written and returned, as without relu_only
        result, activated = conv_module._conv2d_arrays(x, W, b, (2, 1), pads, (1, 1), out_hw, True, None,
                                                       z_only, a_only, relu_only=True)
    assert result is z_only and not activated
    np.testing.assert_array_equal(z_only, z)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride, pads", [((2, 2), ((0, 0), (0, 0))), ((2, 3), ((1, 2), (0, 1))), ((3, 1), ((1, 1), (2, 2)))])
def test_phase_planes_made_in_the_finiteness_check_are_numpy_s(dtype, stride, pads):
    """A strided conv's phase planes made in the compiled pass that checks x: NumPy's planes bit for bit;
    any inf or NaN (in any plane) sends the conv to the general layout, and no planes are handed on."""
    rng = np.random.default_rng(17)
    x, W = rng.standard_normal((2, 3, 11, 10)).astype(dtype), rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    made = []
    assert conv_module._flat_windows(x, W, stride, (1, 1), pads, made)
    with jit.disabled():
        expected = conv_module._phase_planes(conv_module._padded(x, pads, 0), stride)
    np.testing.assert_array_equal(made[0], expected)
    for where, value in [((1, 2, 10, 9), np.inf), ((0, 0, 0, 1), -np.inf), ((1, 1, 5, 4), np.nan)]:
        bad, made = x.copy(), []
        bad[where] = value
        assert not conv_module._flat_windows(bad, W, stride, (1, 1), pads, made) and made == []
    x_view = np.asfortranarray(x)  # any memory layout
    made = []
    assert conv_module._flat_windows(x_view, W, stride, (1, 1), pads, made)
    np.testing.assert_array_equal(made[0], expected)
