"""Convolution and pooling: one small θ slid over the whole image (parameter sharing).

The notes: logistic regression on a 64×64×3 image ties θ₁ to the top-left pixel, so a
ball in a corner it never saw is missed. A convolution keeps one small θ (here a
kernel W[o] of shape (in_channels, kh, kw)) and applies it at every position,

    z[n, o, r, c] = Σ_{k,i,j} W[o, k, i, j] · a[n, k, r·s + i·d, c·s + j·d] + b[o]

(a padded with zeros, s the stride, d the dilation): the notes' a = Σᵢⱼ θᵢⱼ xᵢⱼ at every
(r, c). Because W is used at every position, ∂J/∂W is the sum over all those positions
(the sum rule across paths): ∂J/∂W[o,k,i,j] = Σ_{n,r,c} δ[n,o,r,c] · a[n,k,r·s+i·d,c·s+j·d],
∂J/∂b[o] = Σ_{n,r,c} δ[n,o,r,c], and ∂J/∂a gets δ · W back from every window it was in.

Layout: NCHW, W of shape (out_channels, in_channels, kh, kw), as in PyTorch, so its
weights copy over directly. The computation is im2col + one GEMM: the windows are a
strided view of the (padded) input, copied once into a matrix ``cols`` of shape
(in_channels·kh·kw, N·Ho·Wo), so that Z = W_mat · cols (W_mat = W reshaped to
(out_channels, in_channels·kh·kw)) and, going back, ∂J/∂W_mat = δ_mat · colsᵀ and
∂J/∂cols = W_matᵀ · δ_mat, which is scattered back onto the input one kernel offset at a
time (kh·kw vectorised adds). For up to 16 output channels, with compiled kernels, the
direct form computes the same sums without cols, reading each window's values where they
lie in the input, on every core (see "The direct form" below).

``conv1d`` and the 1-D pools are the 2-D ones on a height-1 image (views, no copies).
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from backprop import jit, threads
from backprop.checks import check_bool, check_int_tuple
from backprop.engine.tensor import Tensor, as_tensor, is_grad_enabled, make_result
from backprop.scratch import work_array

__all__ = [
    "conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "global_avg_pool2d",
    "conv_output_size", "conv_padding", "window_geometry", "check_size_keeping_padding",
    "MAX_PADDED_GROWTH", "PADDED_VALUES_FLOOR",
]

MAX_PADDED_GROWTH = 64
"""How many times the input's values the zero-padded work array of one call may hold (see
:func:`window_geometry`); a 3×3 kernel with padding 1 on a 1×1 feature map needs 9."""
PADDED_VALUES_FLOOR = 2**24
"""A padded work array of at most this many values is always allowed, whatever its growth."""


# ------------------------------------------------------------- arguments
def conv_padding(padding, kernel: tuple, dilation: tuple, stride: tuple, owner: str) -> tuple:
    """Per axis (before, after) zero padding for ``padding`` = an int, a tuple, "valid" or "same".

    "same" (stride 1 only, as in PyTorch) pads d·(k − 1) in total, the odd one after.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{owner}: padding='same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{owner}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
    return tuple((p, p) for p in check_int_tuple(padding, "padding", owner, low=0, length=n))


def conv_output_size(size: int, kernel: int, stride: int, pads: tuple, dilation: int) -> int:
    """⌊(size + pad_before + pad_after − d·(k − 1) − 1) / s⌋ + 1, PyTorch's output size (may be <= 0)."""
    return (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1


def check_size_keeping_padding(pads: tuple, kernel: tuple, stride: tuple, dilation: tuple, owner: str) -> None:
    """Refuse padding that would make a layer's output larger than its input along some axis.

    Along an axis of size n the output has ⌊(n + p_before + p_after − d·(k − 1) − 1)/s⌋ + 1
    positions. That is at most n for every n ≥ 1 exactly when

        p_before + p_after ≤ d·(k − 1) + s − 1

    (n = 1 is the worst case). "same" padding (d·(k − 1) in all), "valid", a 3×3 kernel with
    padding 1, a 4×4 one with stride 2 and padding 1, and PyTorch's usual pools all satisfy it.
    The layers require it so that sizes never grow along a network: a model file cannot make
    a small image into a huge one by stacking layers, and the memory of a prediction stays
    bounded by the input and the file's channel counts.

    Raises:
        ValueError: naming ``owner``, the axis's padding and the allowed range.
    """
    for axis, ((before, after), k, s, d) in enumerate(zip(pads, kernel, stride, dilation)):
        allowed = d * (k - 1) + s - 1
        if before + after > allowed:
            raise ValueError(
                f"{owner}: padding {before}+{after} along axis {axis} would make the output larger than the "
                f"input; with kernel size {k}, dilation {d} and stride {s} it may total at most "
                f"d·(k − 1) + s − 1 = {allowed} (\"same\" pads d·(k − 1))"
            )


def window_geometry(shape: tuple, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, owner: str) -> tuple:
    """The output's spatial size (Ho, Wo) or (Lo,) for an input of ``shape`` (N, C, *spatial), or a
    ValueError naming ``owner`` and the shapes when the (dilated) kernel is larger than the padded input,
    or when the zero-padded work array would hold more than ``MAX_PADDED_GROWTH`` times the input's
    values and more than ``PADDED_VALUES_FLOOR`` values.

    The second check runs before anything is allocated: a padding or a window (dilation,
    pool size) that a config sets far beyond the image it is applied to, e.g. in an untrusted
    model file, is refused here instead of asking for gigabytes of zeros.
    """
    spatial = tuple(shape[2:])
    given = math.prod(shape)
    padded = math.prod(shape[:2]) * math.prod(size + sum(p) for size, p in zip(spatial, pads))
    if padded > max(MAX_PADDED_GROWTH * given, PADDED_VALUES_FLOOR):
        raise ValueError(
            f"{owner}: padding {tuple(p[0] if p[0] == p[1] else p for p in pads)} around the input of shape "
            f"{tuple(shape)} would need a work array of {padded} values, more than {MAX_PADDED_GROWTH}× the "
            f"input's {given} (and more than {PADDED_VALUES_FLOOR}); the padding or the window "
            f"(kernel {kernel}, dilation {dilation}) is far too large for this input"
        )
    out = tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in zip(spatial, kernel, stride, pads, dilation))
    if min(out) < 1:
        padded = "×".join(str(size + sum(p)) for size, p in zip(spatial, pads))
        span = "×".join(str(d * (k - 1) + 1) for k, d in zip(kernel, dilation))
        raise ValueError(
            f"{owner}: the window {'×'.join(map(str, kernel))} (dilated span {span}) is larger than the padded "
            f"input {padded} (input of shape {tuple(shape)}, padding {tuple(p[0] if p[0] == p[1] else p for p in pads)})"
        )
    return out


def _check_images(x: Tensor, owner: str, ndim: int = 4) -> None:
    if x.ndim != ndim:
        layout = "(N, C, H, W)" if ndim == 4 else "(N, C, L)"
        raise ValueError(f"{owner}: input must be {ndim}-D {layout}, got shape {x.shape}")


# ------------------------------------------------------------- helpers on arrays
def _padded(x: np.ndarray, pads: tuple, fill: float) -> np.ndarray:
    """x with ``pads`` = ((top, bottom), (left, right)) of ``fill`` around the last two axes."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    N, C, H, W = x.shape
    out = np.empty((N, C, H + top + bottom, W + left + right), dtype=x.dtype)
    out[:, :, :top] = fill  # only the border is filled: the inside is overwritten next
    out[:, :, H + top:] = fill
    out[:, :, :, :left] = fill
    out[:, :, :, W + left:] = fill
    out[:, :, top:top + H, left:left + W] = x
    return out


def _windows(x_pad: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple,
             kernel_first: bool) -> np.ndarray:
    """A read-only strided view of every window: (N, C, kh, kw, Ho, Wo) or (N, C, Ho, Wo, kh, kw)."""
    N, C = x_pad.shape[:2]
    sN, sC, sH, sW = x_pad.strides
    k_shape, k_strides = kernel, (sH * dilation[0], sW * dilation[1])
    o_shape, o_strides = out_hw, (sH * stride[0], sW * stride[1])
    if kernel_first:
        shape, strides = (N, C, *k_shape, *o_shape), (sN, sC, *k_strides, *o_strides)
    else:
        shape, strides = (N, C, *o_shape, *k_shape), (sN, sC, *o_strides, *k_strides)
    return as_strided(x_pad, shape, strides, writeable=False)


def _scatter_windows(parts, grad: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple) -> None:
    """The adjoint of :func:`_windows`: parts(i, j) added at the window positions of tap (i, j) of the
    (N, C, Hp, Wp) array ``grad``, tap by tap (positions shared by several windows add up)."""
    Ho, Wo = out_hw
    for i in range(kernel[0]):
        top = i * dilation[0]
        rows = slice(top, top + stride[0] * (Ho - 1) + 1, stride[0])
        for j in range(kernel[1]):
            left = j * dilation[1]
            grad[:, :, rows, slice(left, left + stride[1] * (Wo - 1) + 1, stride[1])] += parts(i, j)


def _cropped(grad_pad: np.ndarray, pads: tuple, shape: tuple) -> np.ndarray:
    (top, _), (left, _) = pads
    if grad_pad.shape == tuple(shape):
        return grad_pad
    return np.ascontiguousarray(grad_pad[:, :, top:top + shape[2], left:left + shape[3]])


# ------------------------------------------------------------- im2col and col2im
# The windows of a chunk of examples are gathered into cols of shape (m, C·kh·kw, L), one row
# per (channel, tap) and one column per output position, so that Z[n] = W_cols · cols[n] (one
# GEMM per example, already NCHW; W_cols is W_mat, its columns in the rows' order).
#
# * The flat layout: the input is cut into "phase planes", P[n, c, p, p'] = the padded plane
#   a[n, c, p::s, p'::s'] (s, s' the strides; with stride 1, the padded plane itself). Output
#   position (r, q) is column r·pitch + q, pitch the planes' width. Tap (i, j) of an output
#   reads a[r·s + i·d, q·s' + j·d'] = P[(i·d) mod s, …][r + ⌊i·d/s⌋, q + ⌊j·d'/s'⌋], so all of a
#   tap's windows in a plane are one contiguous run of L = (Ho − 1)·pitch + Wo values of one
#   phase plane, and im2col and col2im are long contiguous copies and adds per plane instead
#   of kh·kw·Ho short (and, for a stride, strided) rows. The taps reading one phase plane form
#   a grid (every s-th tap, when the dilation is 1) and are gathered as one view, so a stride-2
#   5×5 kernel is 4 copies per chunk. The pitch − Wo columns between the rows of the output
#   (windows that wrap around the plane's edge) are computed and dropped: z is cropped, and δ
#   is zero there, so they add nothing to ∂J/∂W and ∂J/∂x (as long as x and W are finite:
#   0·inf would be NaN, so inputs that are not take the general layout). It applies along each
#   axis with a stride of 1 or a dilation of 1.
# * Otherwise (pitch None) L = Ho·Wo: the windows are a strided view of the padded input.
#
# cols is never kept: it is 25 times the input for a 5×5 kernel, and a fresh array that
# large costs page faults at every step. Each call gathers a chunk of examples at a time
# into a reused, thread-local buffer of about _CHUNK_BYTES, that stays in the cache for its
# GEMMs, and the backward pass gathers the windows again (from the phase planes, which the
# forward pass keeps for it).
_CHUNK_BYTES = 1 << 20


def _scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A work array of ``shape`` for use inside one call only (reused by the next; contents undefined).

    One example of a large image can need more than a chunk: such arrays are not kept, so
    that a thread holds at most a few chunks' worth of buffers.
    """
    return work_array(("conv", name), shape, dtype, 4 * _CHUNK_BYTES)


def _chunks(n: int, bytes_per_example: int, first: int = 0):
    """(start, stop) of consecutive chunks of the examples [first, n), each about _CHUNK_BYTES of cols
    (one example at least)."""
    step = max(1, min(n - first, _CHUNK_BYTES // max(1, bytes_per_example)))
    return [(start, min(n, start + step)) for start in range(first, n, step)]


def _flat_windows(x: np.ndarray, W: np.ndarray, stride: tuple, dilation: tuple = (1, 1), pads=None,
                  planes_out: Optional[list] = None) -> bool:
    """Whether the flat layout applies: along each axis a stride or a dilation of 1, and x and W
    finite (see above).

    ``planes_out`` (with ``pads``): a list to which, for a stride other than 1 where a compiled
    kernel applies (x and W of one float dtype), x's phase planes are appended, made in the pass
    that checks x's values (one read of x instead of two; pass them on to :func:`_conv2d_arrays`).
    """
    if not (all(s == 1 or d == 1 for s, d in zip(stride, dilation)) and bool(np.isfinite(W.sum()))):
        return False
    if (planes_out is not None and tuple(stride) != (1, 1) and x.dtype == W.dtype and jit.supports(x.dtype)
            and _phase_split_kernel.get() is not None):
        planes, finite = _phase_planes(_padded(x, pads, 0), stride, check_finite=True)
        if finite:
            planes_out.append(planes)
        return finite
    return bool(np.isfinite(x.sum()))


def _bias_gradient(delta: np.ndarray) -> np.ndarray:
    """∂J/∂b[o] = Σ_{n,r,q} δ[n, o, r, q] for a C-contiguous δ: the sums over positions as a product with
    ones (BLAS: three times faster than ``delta.sum(axis=(0, 2, 3))`` at batch 32), then over examples."""
    N, O = delta.shape[:2]
    positions = math.prod(delta.shape[2:])
    return (delta.reshape(N, O, positions) @ np.ones(positions, dtype=delta.dtype)).sum(axis=0)


def _output_grid(a: np.ndarray, out_hw: tuple, pitch: int) -> np.ndarray:
    """The (m, O, Ho, Wo) view of the output positions in a (m, O, L) array whose last axis is contiguous."""
    (Ho, Wo), (sN, sO, s) = out_hw, a.strides
    return as_strided(a, (a.shape[0], a.shape[1], Ho, Wo), (sN, sO, pitch * s, s))


def _output_gaps(a: np.ndarray, out_hw: tuple, pitch: int) -> np.ndarray:
    """The (m, O, Ho − 1, pitch − Wo) view of the dropped columns between the output rows of ``a``
    (as :func:`_output_grid`): the rest of the row after each output row's Wo positions."""
    (Ho, Wo), (sN, sO, s) = out_hw, a.strides
    return as_strided(a[:, :, Wo:], (a.shape[0], a.shape[1], Ho - 1, pitch - Wo), (sN, sO, pitch * s, s))


def _phase_planes(x_pad: np.ndarray, stride: tuple, check_finite: bool = False):
    """P of shape (N, C, s, s', ⌈Hp/s⌉, ⌈Wp/s'⌉), P[n, c, p, p'] = x_pad[n, c, p::s, p'::s'] (zeros
    below and right where s does not divide the size); with stride 1 a view of x_pad.

    ``check_finite`` (a stride other than 1, a float32/float64 x_pad, compiled kernels on): returns
    (P, whether every value is finite), checked in the compiled pass that copies them."""
    (sh, sw), (N, C, Hp, Wp) = stride, x_pad.shape
    if stride == (1, 1):
        return np.ascontiguousarray(x_pad)[:, :, None, None]
    Hq, Wq = -(-Hp // sh), -(-Wp // sw)
    if (Hq * sh, Wq * sw) != (Hp, Wp):
        x_pad = _padded(x_pad, ((0, Hq * sh - Hp), (0, Wq * sw - Wp)), 0)
    planes = np.empty((N, C, sh, sw, Hq, Wq), dtype=x_pad.dtype)
    if check_finite:
        kernel, flags = _phase_split_kernel.get(), {}

        def run(first, last):
            flags[first] = kernel(x_pad[first:last], planes[first:last], x_pad.dtype.type(0))

        threads.split(run, N, _examples_per_part(C * Hp * Wp, _PART_COPIES))
        return planes, not any(np.isnan(flag) for flag in flags.values())
    np.copyto(planes, x_pad.reshape(N, C, Hq, sh, Wq, sw).transpose(0, 1, 3, 5, 2, 4))
    return planes


@jit.kernel(reassociate=True)
def _phase_split_kernel(x_pad, planes, zero):
    """planes[n, c, p, p′, r, q] = x_pad[n, c, r·s + p, q·s′ + p′] (x_pad's sizes multiples of the strides),
    and Σ value·0 over the values: 0 when all are finite, NaN as soon as one is not (inf·0 and NaN·0 are
    NaN, whatever the order of the sum: hence ``reassociate``, which lets it be vectorised)."""
    N, C, sh, sw, Hq, Wq = planes.shape
    flag = zero
    for n in range(N):
        for c in range(C):
            for r in range(Hq * sh):
                row = x_pad[n, c, r]
                acc = zero
                if sw == 2:  # (the usual stride, unrolled: a third faster)
                    even, odd = planes[n, c, r % sh, 0, r // sh], planes[n, c, r % sh, 1, r // sh]
                    for q in range(Wq):
                        left, right = row[2 * q], row[2 * q + 1]
                        even[q] = left
                        odd[q] = right
                        acc += left * zero + right * zero
                else:
                    for p in range(sw):
                        target = planes[n, c, r % sh, p, r // sh]
                        for q in range(Wq):
                            value = row[q * sw + p]
                            target[q] = value
                            acc += value * zero
                flag += acc
    return flag


def _unphased(grad_planes: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`_phase_planes` (its inverse, as P is a permutation): (N, C, s·Hq, s'·Wq)."""
    N, C, sh, sw, Hq, Wq = grad_planes.shape
    return grad_planes.transpose(0, 1, 4, 2, 5, 3).reshape(N, C, Hq * sh, Wq * sw)


def _tap_groups(kernel: tuple, stride: tuple, dilation: tuple) -> list:
    """The taps in the flat layout, grouped by the phase plane they read: per group
    ((p, p'), (taps_i, taps_j), (step_i, step_j)), taps_i the kernel rows i reading phase p, whose
    runs start ⌊i·d/s⌋ = k·step_i plane rows down for the k-th of them (the same along j)."""
    axes = []
    for k, s, d in zip(kernel, stride, dilation):
        if s == 1:
            axes.append([(0, range(k), d)])  # one plane, taps d apart
        else:  # d == 1: tap i reads phase i mod s, ⌊i/s⌋ rows down
            axes.append([(p, range(p, k, s), 1) for p in range(min(s, k))])
    return [((p, q), (rows, cols), (step_i, step_j))
            for p, rows, step_i in axes[0] for q, cols, step_j in axes[1]]


def _tap_order(C: int, kernel: tuple, stride: tuple) -> np.ndarray:
    """cols' rows in the flat layout as indices c·kh·kw + i·kw + j into W_mat's columns: the groups of
    :func:`_tap_groups` one after the other, each in (c, i, j) order. Used where there are several
    groups, i.e. with a stride (dilation 1), where tap (i, j) is in group (i mod s)·g′ + (j mod s′) (g′
    the groups along j); one stable sort by group instead of building each group's indices."""
    (kh, kw), (sh, sw) = kernel, stride
    groups_j = min(sw, kw)
    taps = np.arange(C * kh * kw)
    i, j = (taps // kw) % kh, taps % kw
    group = (i % sh) * groups_j + (j % sw)
    return np.argsort(group, kind="stable")


@functools.lru_cache(maxsize=256)  # (one entry per layer geometry: the same at every step)
def _run_offsets(plane_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """Where each row of cols starts in one example's phase planes (C, s, s′, Hq, Wq), flattened: the
    runs of :meth:`_Windows._runs` as offsets, in cols' row order (the groups of :func:`_tap_groups`
    in turn, each in (c, i, j) order). Read-only: it is shared by every call with this geometry."""
    C, sh, sw, Hq, Wq = plane_shape
    offsets = []
    for (p, q), (rows, cols), (step_i, step_j) in _tap_groups(kernel, stride, dilation):
        for c in range(C):
            plane = ((c * sh + p) * sw + q) * Hq * Wq
            offsets.extend(plane + a * step_i * Wq + b * step_j for a in range(len(rows)) for b in range(len(cols)))
    offsets = np.array(offsets, dtype=np.int64)
    offsets.setflags(write=False)
    return offsets


@jit.kernel
def _gather_runs_kernel(planes, offsets, start, length, cols):
    """cols[n, t] = planes[start + n, offsets[t] : offsets[t] + length]: im2col of the flat layout,
    each row of cols one contiguous run of an example's flattened phase planes (NumPy's copy of the
    strided views of :meth:`_Windows.gather`, the same values).

    The indices are unsigned: with signed ones numba checks each for a negative value to wrap
    around, and that check keeps the copy from being vectorised (a batch of 32 ball images, 9.2 MB
    of cols: 750 µs with signed indices, 111 unsigned, 141 for NumPy's copy)."""
    m, T = cols.shape[0], cols.shape[1]
    L = np.uint64(length)
    for n in range(m):
        src = planes[start + n]
        for t in range(T):
            o = np.uint64(offsets[t])
            dst = cols[n, t]
            for k in range(L):
                dst[k] = src[o + k]


# The direct form, for few output channels. A product W_cols · cols[n] with 8 rows is a poor
# GEMM (BLAS's kernels are built for larger blocks: 75-110 GFLOP/s on the ball net's first
# conv, against 140 for the same products as one), and cols is 25 times the input for a 5×5
# kernel, written and read again. Each row of cols is a contiguous run of the example's
# flattened phase planes (the compiled im2col copies exactly these), so the product can read the
# runs where they lie: z_cols[n, o] = Σ_t W_taps[t, o] · run_t(n), and, going back,
# ∂J/∂W_cols[o, t] = Σ_n Σ_k δ_cols[n, o, k] · run_t(n)[k], and ∂J/∂x by adding W_colsᵀ · δ[n] into
# each tap's run. Four taps and four channels at a time: each loaded value of a run feeds four
# multiply-adds, and each output value is loaded and stored once per four taps. The sums run in
# another order than BLAS's (which fixes none either).
_DIRECT_MAX_CHANNELS = 16
"""The most output channels for which the direct form replaces im2col + GEMM. Measured on a Zen 5
VM (one layer, batch 32): with OpenBLAS's AVX2 kernels the direct form was faster up to 32–64
channels; with its AVX-512 kernels the GEMM overtook it from 8–16 channels forward (∂J/∂W: 16–32)."""
# The direct kernels run on the caller's thread, where BLAS would have threaded the product: a
# call's examples are split over the cores (backprop.threads), in parts of at least this many
# multiply-adds (some 40 µs: handing a part to a worker costs 10–60).
_DIRECT_PART_MACS = 1 << 22
# The compiled copies and pooling passes are split too, in parts of at least this many values
# (about 1 MB of float32: some 40 µs of memory traffic; smaller parts were slower at batch 32).
_PART_COPIES = 1 << 18


def _examples_per_part(work_per_example: int, part_work: Optional[int] = None) -> int:
    """The fewest examples of a part: ``part_work`` (default: _DIRECT_PART_MACS) over one example's work."""
    return -(-(_DIRECT_PART_MACS if part_work is None else part_work) // max(1, work_per_example))


@jit.kernel(reassociate=True)
def _direct_conv_kernel(planes, offsets, W_taps, length, start, z_cols):
    """z_cols[n, o, k] = Σ_t W_taps[t, o] · planes[start + n, offsets[t] + k], k < length: the product
    W_cols · cols[n] of :func:`_conv2d_arrays` without cols (W_taps = W_colsᵀ, offsets as in
    :func:`_run_offsets`).

    The slices are bounded (``[o : o + length]``): with runs of one known length LLVM vectorises the
    loops without checks, where open-ended ones leave them scalar."""
    m, (T, O), L = z_cols.shape[0], W_taps.shape, length
    T4, O4 = T - T % 4, O - O % 4
    for n in range(m):
        src, out = planes[start + n], z_cols[n]
        out[:] = 0
        for t in range(0, T4, 4):
            s0, s1 = src[offsets[t]:offsets[t] + L], src[offsets[t + 1]:offsets[t + 1] + L]
            s2, s3 = src[offsets[t + 2]:offsets[t + 2] + L], src[offsets[t + 3]:offsets[t + 3] + L]
            for o in range(0, O4, 4):
                w00, w01, w02, w03 = W_taps[t, o], W_taps[t + 1, o], W_taps[t + 2, o], W_taps[t + 3, o]
                w10, w11, w12, w13 = W_taps[t, o + 1], W_taps[t + 1, o + 1], W_taps[t + 2, o + 1], W_taps[t + 3, o + 1]
                w20, w21, w22, w23 = W_taps[t, o + 2], W_taps[t + 1, o + 2], W_taps[t + 2, o + 2], W_taps[t + 3, o + 2]
                w30, w31, w32, w33 = W_taps[t, o + 3], W_taps[t + 1, o + 3], W_taps[t + 2, o + 3], W_taps[t + 3, o + 3]
                d0, d1, d2, d3 = out[o, :L], out[o + 1, :L], out[o + 2, :L], out[o + 3, :L]
                for k in range(L):
                    v0, v1, v2, v3 = s0[k], s1[k], s2[k], s3[k]
                    d0[k] += w00 * v0 + w01 * v1 + w02 * v2 + w03 * v3
                    d1[k] += w10 * v0 + w11 * v1 + w12 * v2 + w13 * v3
                    d2[k] += w20 * v0 + w21 * v1 + w22 * v2 + w23 * v3
                    d3[k] += w30 * v0 + w31 * v1 + w32 * v2 + w33 * v3
            for o in range(O4, O):
                w0, w1, w2, w3 = W_taps[t, o], W_taps[t + 1, o], W_taps[t + 2, o], W_taps[t + 3, o]
                d0 = out[o, :L]
                for k in range(L):
                    d0[k] += w0 * s0[k] + w1 * s1[k] + w2 * s2[k] + w3 * s3[k]
        for t in range(T4, T):
            s0 = src[offsets[t]:offsets[t] + L]
            for o in range(O):
                w0, d0 = W_taps[t, o], out[o, :L]
                for k in range(L):
                    d0[k] += w0 * s0[k]


@jit.kernel(reassociate=True)
def _direct_weight_grad_kernel(planes, offsets, delta_cols, length, start, grad, zero):
    """grad[o, t] += Σ_n Σ_k delta_cols[n, o, k] · planes[start + n, offsets[t] + k], k < length: the
    products δ[n] · cols[n]ᵀ of :func:`_conv2d_backward` summed over the chunk, without cols. Four taps
    and four channels at a time: sixteen sums in registers (``zero``: 0 in the dtype)."""
    m, (O, T), L = delta_cols.shape[0], grad.shape, length
    T4, O4 = T - T % 4, O - O % 4
    for n in range(m):
        src, delta = planes[start + n], delta_cols[n]
        for t in range(0, T4, 4):
            s0, s1 = src[offsets[t]:offsets[t] + L], src[offsets[t + 1]:offsets[t + 1] + L]
            s2, s3 = src[offsets[t + 2]:offsets[t + 2] + L], src[offsets[t + 3]:offsets[t + 3] + L]
            for o in range(0, O4, 4):
                e0, e1, e2, e3 = delta[o, :L], delta[o + 1, :L], delta[o + 2, :L], delta[o + 3, :L]
                a00 = a10 = a20 = a30 = a01 = a11 = a21 = a31 = zero
                a02 = a12 = a22 = a32 = a03 = a13 = a23 = a33 = zero
                for k in range(L):
                    v0, v1, v2, v3 = s0[k], s1[k], s2[k], s3[k]
                    f0, f1, f2, f3 = e0[k], e1[k], e2[k], e3[k]
                    a00 += f0 * v0
                    a10 += f1 * v0
                    a20 += f2 * v0
                    a30 += f3 * v0
                    a01 += f0 * v1
                    a11 += f1 * v1
                    a21 += f2 * v1
                    a31 += f3 * v1
                    a02 += f0 * v2
                    a12 += f1 * v2
                    a22 += f2 * v2
                    a32 += f3 * v2
                    a03 += f0 * v3
                    a13 += f1 * v3
                    a23 += f2 * v3
                    a33 += f3 * v3
                grad[o, t] += a00
                grad[o + 1, t] += a10
                grad[o + 2, t] += a20
                grad[o + 3, t] += a30
                grad[o, t + 1] += a01
                grad[o + 1, t + 1] += a11
                grad[o + 2, t + 1] += a21
                grad[o + 3, t + 1] += a31
                grad[o, t + 2] += a02
                grad[o + 1, t + 2] += a12
                grad[o + 2, t + 2] += a22
                grad[o + 3, t + 2] += a32
                grad[o, t + 3] += a03
                grad[o + 1, t + 3] += a13
                grad[o + 2, t + 3] += a23
                grad[o + 3, t + 3] += a33
            for o in range(O4, O):
                e0 = delta[o, :L]
                a00 = a01 = a02 = a03 = zero
                for k in range(L):
                    a00 += e0[k] * s0[k]
                    a01 += e0[k] * s1[k]
                    a02 += e0[k] * s2[k]
                    a03 += e0[k] * s3[k]
                grad[o, t] += a00
                grad[o, t + 1] += a01
                grad[o, t + 2] += a02
                grad[o, t + 3] += a03
        for t in range(T4, T):
            s0 = src[offsets[t]:offsets[t] + L]
            for o in range(O):
                e0 = delta[o, :L]
                a00 = zero
                for k in range(L):
                    a00 += e0[k] * s0[k]
                grad[o, t] += a00


@jit.kernel(reassociate=True)
def _direct_input_grad_kernel(delta_cols, offsets, W_taps, length, start, grad_planes):
    """grad_planes[start + n, offsets[t] + k] += Σ_o W_taps[t, o] · delta_cols[n, o, k], k < length: col2im
    of ∂J/∂cols[n] = W_colsᵀ · δ[n] without ∂J/∂cols. The runs of different taps overlap, so one tap at
    a time (into one run), four channels per pass."""
    m, (T, O), L = delta_cols.shape[0], W_taps.shape, length
    O4 = O - O % 4
    for n in range(m):
        target, delta = grad_planes[start + n], delta_cols[n]
        for t in range(T):
            g = target[offsets[t]:offsets[t] + L]
            for o in range(0, O4, 4):
                w0, w1, w2, w3 = W_taps[t, o], W_taps[t, o + 1], W_taps[t, o + 2], W_taps[t, o + 3]
                e0, e1, e2, e3 = delta[o, :L], delta[o + 1, :L], delta[o + 2, :L], delta[o + 3, :L]
                for k in range(L):
                    g[k] += w0 * e0[k] + w1 * e1[k] + w2 * e2[k] + w3 * e3[k]
            for o in range(O4, O):
                w0, e0 = W_taps[t, o], delta[o, :L]
                for k in range(L):
                    g[k] += w0 * e0[k]


class _Windows:
    """Where the columns of cols come from, for one call (see above).

    Attributes:
        views: per group of taps, a read-only view of the source with [n, c, i, j] the
            contiguous run of L values of the group's tap (i, j) (flat layout), or the single
            (N, C, kh, kw, Ho, Wo) view of every window (general layout);
        order: cols' rows as indices into W_mat's columns (c·kh·kw + i·kw + j), None when in
            that order already;
        pitch: the width of the output's rows in a run (None: general layout), L its length;
        planes: the phase planes the views read (flat layout).
    """

    def __init__(self, x: np.ndarray, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, out_hw: tuple,
                 dtype, flat: bool, planes: Optional[np.ndarray] = None):
        Ho, Wo = out_hw
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self._targets = {}  # chunk size -> (the cols buffer, its part for each view), see gather
        if not flat:
            x_pad = _padded(x, pads, 0).astype(dtype, copy=False)
            self.views = [_windows(x_pad, kernel, stride, dilation, out_hw, kernel_first=True)]
            self.order, self.pitch, self.length, self.planes = None, None, Ho * Wo, None
            return
        if planes is None:
            planes = _phase_planes(_padded(x, pads, 0).astype(dtype, copy=False), stride)
        self.planes, self.pitch = planes, planes.shape[5]
        self.length = (Ho - 1) * self.pitch + Wo
        self.groups = _tap_groups(kernel, stride, dilation)
        self.views = [self._runs(planes, group) for group in self.groups]
        if planes.flags.c_contiguous:  # (the compiled im2col reads the planes flattened, per example)
            self.offsets = _run_offsets(planes.shape[1:], kernel, stride, dilation)
            self.flat_planes = planes.reshape(planes.shape[0], -1)
        else:
            self.offsets = self.flat_planes = None
        if len(self.groups) == 1:
            self.order = None
        else:
            self.order = _tap_order(x.shape[1], kernel, stride)

    def _runs(self, planes: np.ndarray, group, writeable: bool = False) -> np.ndarray:
        """The (N, C, ni, nj, L) view of a group's runs in ``planes`` (or a gradient shaped like it)."""
        (p, q), (rows, cols), (step_i, step_j) = group
        plane = planes[:, :, p, q]
        sN, sC, sH, sW = plane.strides
        return as_strided(plane, (plane.shape[0], plane.shape[1], len(rows), len(cols), self.length),
                          (sN, sC, sH * step_i, sW * step_j, sW), writeable=writeable)

    def W_cols(self, W_mat: np.ndarray) -> np.ndarray:
        return W_mat if self.order is None else W_mat[:, self.order]

    def W_grad(self, grad_cols_order: np.ndarray) -> np.ndarray:
        """∂J/∂W_mat from the gradient of W_cols (columns in cols' order)."""
        if self.order is None:
            return grad_cols_order
        grad = np.empty_like(grad_cols_order)
        grad[:, self.order] = grad_cols_order
        return grad

    def compiled_gather(self, dtype):
        """The compiled im2col of the flat layout (:func:`_gather_runs_kernel`), or None where NumPy copies."""
        if self.pitch is None or self.offsets is None or self.planes.dtype != dtype or not jit.supports(dtype):
            return None
        return _gather_runs_kernel.get()

    def direct_kernels(self, dtype, out_channels: int):
        """(:func:`_direct_conv_kernel`, :func:`_direct_weight_grad_kernel`, :func:`_direct_input_grad_kernel`)
        where the direct form replaces im2col + GEMM (the compiled im2col's conditions, and few output
        channels), else None."""
        if out_channels > _DIRECT_MAX_CHANNELS or self.compiled_gather(dtype) is None:
            return None
        kernels = (_direct_conv_kernel.get(), _direct_weight_grad_kernel.get(), _direct_input_grad_kernel.get())
        return None if None in kernels else kernels

    def gather(self, start: int, stop: int, taps: int, dtype) -> np.ndarray:
        """im2col for the chunk of examples [start, stop): the reused buffer (m, C·kh·kw, L)."""
        m = stop - start
        cols = _scratch("cols", (m, taps, self.length), dtype)
        compiled = self.compiled_gather(dtype)
        if compiled is not None:
            compiled(self.flat_planes, self.offsets, start, self.length, cols)
            return cols
        owner = cols if cols.base is None else cols.base
        cached = self._targets.get(m)
        if cached is None or cached[0] is not owner:  # the chunks of one call share them: made once
            targets, row = [], 0
            for view in self.views:
                count = math.prod(view.shape[1:4])
                target = cols[:, row:row + count].view()
                target.shape = (m, *view.shape[1:])  # (raises rather than copying)
                targets.append(target)
                row += count
            cached = self._targets[m] = (owner, targets)
        for view, target in zip(self.views, cached[1]):
            np.copyto(target, view[start:stop])
        return cols

    def col2im(self, grad_cols: np.ndarray, grad: np.ndarray, start: int, stop: int) -> None:
        """Every entry of ∂J/∂cols (m, C·kh·kw, L) of the chunk [start, stop) added where it was copied
        from: into ``grad``, the (N, C, Hp, Wp) padded ∂J/∂x (general layout) or the gradient of the
        phase planes (flat layout), tap by tap (positions in several windows add up)."""
        m, C = stop - start, grad.shape[1]
        if self.pitch is None:
            parts = grad_cols.reshape(m, C, *self.kernel, *self.views[0].shape[4:])
            _scatter_windows(lambda i, j: parts[:, :, i, j], grad[start:stop], self.kernel, self.stride,
                             self.dilation, self.views[0].shape[4:])
            return
        compiled = _add_runs_kernel.get() if jit.supports(grad.dtype) else None
        row = 0
        for group in self.groups:
            (p, q), (rows, cols), (step_i, step_j) = group
            count = C * len(rows) * len(cols)
            part = grad_cols[:, row:row + count].reshape(m, C, len(rows), len(cols), -1)
            row += count
            if compiled is not None:
                plane = grad[start:stop, :, p, q]
                compiled(part, plane.reshape(m, C, -1), step_i * plane.shape[3], step_j)
                continue
            runs = self._runs(grad[start:stop], group, writeable=True)  # runs of different taps overlap,
            for i in range(len(rows)):                                  # not those of one
                for j in range(len(cols)):
                    np.add(runs[:, :, i, j], part[:, :, i, j], out=runs[:, :, i, j])


@jit.kernel
def _crop_kernel(z_cols, b, z, first, pitch, with_bias, a, with_relu, zero, with_z=True):
    """z[first + n, o, r, q] = z_cols[n, o, r·pitch + q] (+ b[o] with_bias): the output's columns of a
    chunk's products, and the bias, in one pass (the same additions as ``z += b`` after the copy);
    with_relu, also a = max(z, 0) as ``np.maximum`` (NaN and −0 kept), the layer's ReLU (``zero``: 0
    in z's dtype); with_relu and not with_z, a only (the same bits; z is not written)."""
    m, O = z_cols.shape[0], z_cols.shape[1]
    Ho, Wo = z.shape[2], z.shape[3]
    for n in range(m):
        for o in range(O):
            source = z_cols[n, o]
            bias = b[o]
            for r in range(Ho):
                if with_relu and not with_z:  # (half the writes: the fused op's ReLU needs only a)
                    activated = a[first + n, o, r]
                    if with_bias:
                        for q in range(Wo):
                            value = source[r * pitch + q] + bias
                            activated[q] = zero if zero > value else value
                    else:
                        for q in range(Wo):
                            value = source[r * pitch + q]
                            activated[q] = zero if zero > value else value
                    continue
                target = z[first + n, o, r]
                if with_bias:
                    for q in range(Wo):
                        target[q] = source[r * pitch + q] + bias
                else:
                    for q in range(Wo):
                        target[q] = source[r * pitch + q]
                if with_relu:  # (NaN and −0 pass: 0 > value is False for them)
                    activated = a[first + n, o, r]
                    for q in range(Wo):
                        value = target[q]
                        activated[q] = zero if zero > value else value


@jit.kernel
def _add_runs_kernel(grad_cols, grad_pad, dh_pitch, dw):
    """grad_pad[n, c] (flat, Hp·Wp) += run (i, j) of grad_cols[n, c, i, j] at i·dh·Wp + j·dw, taps in (i, j) order.

    Each run is added through a slice of grad_pad: indexed as grad_pad[n, c, start + t], numba checks
    every index for a negative value to wrap around, and the check keeps the addition from being
    vectorised (LeNet's second conv, 24 examples: 153 µs against 48 through the slice)."""
    m, C, kh, kw, length = grad_cols.shape
    for n in range(m):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    start = i * dh_pitch + j * dw
                    target = grad_pad[n, c, start:start + length]
                    source = grad_cols[n, c, i, j]
                    for t in range(length):
                        target[t] += source[t]


# ------------------------------------------------------------- convolution
def _conv2d_arrays(x: np.ndarray, W: np.ndarray, b: Optional[np.ndarray], stride, pads, dilation, out_hw,
                   flat: bool, keep: Optional[list] = None, out: Optional[np.ndarray] = None,
                   relu_out: Optional[np.ndarray] = None, relu_only: bool = False,
                   planes: Optional[np.ndarray] = None) -> np.ndarray:
    """z = W ⋆ x + b of shape (N, O, Ho, Wo), a chunk of examples at a time (see above).

    ``keep``: a list to which the phase planes are appended, for the backward pass (flat layout).
    ``out``: a C-contiguous array of z's shape and dtype to write z into (a fused op's buffer).
    ``relu_out``: one more, for a = max(z, 0), written in the same pass where a compiled kernel
    crops the output; returns (z, whether relu_out was written) when given. ``relu_only``: then
    only a is written (half the writes), and the first of the two is None; where no compiled
    kernel crops, z is written (into ``out``) and returned, as without it. ``planes``: x's phase
    planes, when :func:`_flat_windows` made them (flat layout)."""
    N, O = x.shape[0], W.shape[0]
    dtype = np.result_type(x.dtype, W.dtype)
    windows = _Windows(x, W.shape[2:], stride, pads, dilation, out_hw, dtype, flat, planes)
    if keep is not None:
        keep.append(windows.planes)
    W_cols = windows.W_cols(W.reshape(O, -1).astype(dtype, copy=False))
    taps, length, pitch = W_cols.shape[1], windows.length, windows.pitch
    z = np.empty((N, O, *out_hw), dtype=dtype) if out is None else out
    crop = _crop_kernel.get() if pitch is not None and jit.supports(dtype) else None
    bias = None if b is None else b.astype(dtype, copy=False)

    def store(z_cols, start, stop):  # the flat layout: the output's columns of a chunk's products
        if crop is not None:  # and b (and a), in one pass
            crop(z_cols, W_cols[:, 0] if bias is None else bias, z, start, pitch, bias is not None,
                 z if relu_out is None else relu_out, relu_out is not None, dtype.type(0), not relu_only)
        else:
            np.copyto(z[start:stop], _output_grid(z_cols, out_hw, pitch))

    direct = windows.direct_kernels(dtype, O)
    if direct is not None:  # (the flat layout, and compiled kernels: crop is set)
        W_taps = np.ascontiguousarray(W_cols.T)

        conv_kernel = direct[0]

        def run(first, last):  # one thread's examples
            for start, stop in _chunks(last, O * length * dtype.itemsize, first):
                z_cols = _scratch("z", (stop - start, O, length), dtype)
                conv_kernel(windows.flat_planes, windows.offsets, W_taps, length, start, z_cols)
                store(z_cols, start, stop)

        threads.split(run, N, _examples_per_part(O * taps * length))
        return z if relu_out is None else ((None if relu_only else z), True)
    for start, stop in _chunks(N, taps * length * dtype.itemsize):
        cols = windows.gather(start, stop, taps, dtype)
        if pitch is None:
            np.matmul(W_cols, cols, out=z[start:stop].reshape(stop - start, O, length))  # Z[n] = W_cols · cols[n]
        else:
            z_cols = _scratch("z", (stop - start, O, length), dtype)
            np.matmul(W_cols, cols, out=z_cols)
            store(z_cols, start, stop)
    if b is not None and crop is None:
        z += b[:, None, None]
    if relu_out is None:
        return z
    return (None if relu_only and crop is not None else z), crop is not None


def _conv2d_backward(delta: np.ndarray, x: np.ndarray, W: np.ndarray, stride, pads, dilation, flat: bool,
                     want_x: bool, want_W: bool, want_b: bool, planes: Optional[np.ndarray] = None):
    """(∂J/∂x, ∂J/∂W, ∂J/∂b) from δ = ∂J/∂z of shape (N, O, Ho, Wo); None where not wanted.

    ∂J/∂W = Σ_n δ[n] · cols[n]ᵀ (the sum over all positions sharing W), ∂J/∂cols[n] = W_matᵀ · δ[n],
    and ∂J/∂b = Σ_{n,r,q} δ[n, :, r, q]. ``planes``: the forward pass's phase planes (flat layout).
    """
    N, O, Ho, Wo = delta.shape
    dtype = np.result_type(x.dtype, W.dtype)
    delta = np.ascontiguousarray(delta, dtype=dtype)
    grad_b = _bias_gradient(delta) if want_b else None
    if not (want_x or want_W):
        return None, None, grad_b
    windows = _Windows(x, W.shape[2:], stride, pads, dilation, (Ho, Wo), dtype, flat, planes)
    direct = windows.direct_kernels(dtype, O)
    grad_x = None
    # Without the direct form, ∂J/∂x of a stride-1 conv whose δ is no larger than x per position is a
    # convolution of δ (see there); the direct form's col2im is faster still (the ball net's second conv
    # at batch 128: 0.49 against 0.74 ms on two threads).
    if want_x and direct is None and stride == (1, 1) and O <= x.shape[1]:
        grad_x = _input_gradient_as_convolution(delta, W, pads, dilation, x.shape)
        if grad_x is not None:
            want_x = False
            if not want_W:
                return grad_x, None, grad_b
    W_cols = windows.W_cols(W.reshape(O, -1).astype(dtype, copy=False))
    taps, length, pitch = W_cols.shape[1], windows.length, windows.pitch
    def delta_chunk(start, stop, views):
        """δ of the chunk [start, stop) as (m, O, L); in the flat layout a work array, zero on the
        dropped columns (``views``: chunk size -> (the work array, the views of its output positions
        and of its dropped columns), the calling thread's, made once per call and size)."""
        m = stop - start
        if pitch is None:
            return delta[start:stop].reshape(m, O, length)
        delta_cols = _scratch("delta", (m, O, length), dtype)
        owner = delta_cols if delta_cols.base is None else delta_cols.base
        cached = views.get(m)
        if cached is None or cached[0] is not owner:
            cached = views[m] = (owner, delta_cols, _output_grid(delta_cols, (Ho, Wo), pitch),
                                 _output_gaps(delta_cols, (Ho, Wo), pitch))
        _, delta_cols, grid, gaps = cached
        gaps.fill(0)  # (every other value is δ's: one write each)
        np.copyto(grid, delta[start:stop])
        return delta_cols

    grad = None
    if want_x:
        padded = (N, x.shape[1], x.shape[2] + sum(pads[0]), x.shape[3] + sum(pads[1]))
        grad = np.empty(padded if pitch is None else windows.planes.shape, dtype)
    if direct is not None:  # ∂J/∂W_cols summed in the kernel, one partial sum per thread; ∂J/∂x per example
        _, weight_grad_kernel, input_grad_kernel = direct
        partial, W_taps = {}, np.ascontiguousarray(W_cols.T) if want_x else None
        flat_grad = None if grad is None else grad.reshape(N, -1)

        def run(first, last):
            part, views = np.zeros((O, taps), dtype=dtype) if want_W else None, {}
            if want_x:
                flat_grad[first:last].fill(0)
            for start, stop in _chunks(last, O * length * dtype.itemsize, first):
                delta_cols = delta_chunk(start, stop, views)
                if want_W:
                    weight_grad_kernel(windows.flat_planes, windows.offsets, delta_cols, length, start, part,
                                       dtype.type(0))
                if want_x:
                    input_grad_kernel(delta_cols, windows.offsets, W_taps, length, start, flat_grad)
            partial[first] = part

        threads.split(run, N, _examples_per_part(O * taps * length * (want_W + want_x)))
        grad_W = None
        if want_W:
            grad_W_cols = functools.reduce(np.add, [partial[k] for k in sorted(partial)])  # (a fixed order)
            grad_W = windows.W_grad(grad_W_cols).reshape(W.shape)
        if want_x:
            grad_x = _cropped(_unphased(grad), pads, x.shape)
        return grad_x, grad_W, grad_b
    # δ[n] · cols[n]ᵀ of every example, summed once at the end (not per chunk: a call per chunk costs more
    # than the sum itself)
    per_example = np.empty((N, O, taps), dtype=dtype) if want_W else None
    if want_x:
        grad.fill(0)
    views = {}
    for start, stop in _chunks(N, taps * length * dtype.itemsize):
        delta_cols = delta_chunk(start, stop, views)
        if want_W:
            cols = windows.gather(start, stop, taps, dtype)
            np.matmul(delta_cols, cols.transpose(0, 2, 1), out=per_example[start:stop])
        if want_x:
            grad_cols = np.matmul(W_cols.T, delta_cols, out=_scratch("grad_cols", (stop - start, taps, length), dtype))
            windows.col2im(grad_cols, grad, start, stop)
    if grad is not None:
        grad_x = _cropped(grad if pitch is None else _unphased(grad), pads, x.shape)
    grad_W = None if per_example is None else windows.W_grad(per_example.sum(axis=0)).reshape(W.shape)
    return grad_x, grad_W, grad_b


def _input_gradient_as_convolution(delta: np.ndarray, W: np.ndarray, pads, dilation, x_shape) -> Optional[np.ndarray]:
    """∂J/∂x of a stride-1 convolution as a convolution of δ, without col2im; None where it does not apply.

    ∂J/∂x_pad[c, u, v] = Σ_{o,i,j} W[o, c, i, j] δ[o, u − i·dh, v − j·dw] (δ zero outside), which is
    δ, zero padded by P = d·(k − 1) on each side, correlated with W flipped in (i, j) and with its
    channel axes swapped: W̃[c, o, i, j] = W[o, c, kh−1−i, kw−1−j]. The padding of x is cropped by
    padding δ with P − p instead (it needs p ≤ P on each side: padding that never reaches the
    input's elements takes col2im). One im2col + GEMM of δ's windows, instead of a GEMM to ∂J/∂cols
    (as large as cols) and kh·kw scatters of it: the caller uses it where δ has no more channels than
    x (δ's windows are then about as large as x's; with more, LeNet's 6 → 16, col2im is cheaper).
    """
    (kh, kw), (dh, dw) = W.shape[2:], dilation
    P = (dh * (kh - 1), dw * (kw - 1))
    delta_pads = tuple((Pk - before, Pk - after) for Pk, (before, after) in zip(P, pads))
    if any(p < 0 for side in delta_pads for p in side):
        return None
    flipped = np.ascontiguousarray(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), dtype=delta.dtype)
    out_hw = tuple(x_shape[2:])
    flat = _flat_windows(delta, flipped, (1, 1), dilation)
    return _conv2d_arrays(delta, flipped, None, (1, 1), delta_pads, dilation, out_hw, flat)


def _check_channels_and_bias(x, W, b, owner: str) -> None:
    """x's channels are W's in_channels (axis 1), and b has one entry per output channel."""
    if x.shape[1] != W.shape[1]:
        raise ValueError(
            f"{owner}: input of shape {x.shape} has {x.shape[1]} channels but W of shape {W.shape} "
            f"expects {W.shape[1]} (in_channels = W.shape[1])"
        )
    if b is not None and b.shape != (W.shape[0],):
        raise ValueError(f"{owner}: b must have shape ({W.shape[0]},), got {b.shape}")


def _conv_arguments(x: Tensor, W: Tensor, b, stride, padding, dilation, owner: str):
    if W.ndim != 4:
        raise ValueError(f"{owner}: W must be 4-D (out_channels, in_channels, kh, kw), got shape {W.shape}")
    _check_images(x, owner)
    _check_channels_and_bias(x, W, b, owner)
    kernel = W.shape[2:]
    stride = check_int_tuple(stride, "stride", owner)
    dilation = check_int_tuple(dilation, "dilation", owner)
    pads = conv_padding(padding, kernel, dilation, stride, owner)
    return stride, pads, dilation, window_geometry(x.shape, kernel, stride, pads, dilation, owner)


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch): z = Σ W ⋆ a + b at every position.

    z[n, o, r, c] = Σ_{k,i,j} W[o, k, i, j] · a[n, k, r·s + i·d, c·s + j·d] + b[o].

    Args:
        x: the input a, (N, C, H, W).
        W: (out_channels, C, kh, kw), ``torch.nn.Conv2d.weight``'s layout.
        b: (out_channels,) or None.
        stride: s, an int or (sh, sw).
        padding: zeros added on each side: an int, (ph, pw), "valid" (0) or "same"
            (stride 1; output as large as the input).
        dilation: d, the spacing between kernel taps, an int or (dh, dw).

    Returns:
        z of shape (N, out_channels, Ho, Wo), Ho = ⌊(H + 2p − d·(kh − 1) − 1)/s⌋ + 1.

    Raises:
        ValueError: for inputs that are not 4-D, a channel count that does not match W,
            non-positive sizes, or a kernel larger than the padded input.
    """
    x, W = as_tensor(x), as_tensor(W)
    b = None if b is None else as_tensor(b)
    stride, pads, dilation, out_hw = _conv_arguments(x, W, b, stride, padding, dilation, "conv2d")
    flat = _flat_windows(x.data, W.data, stride, dilation)
    planes = []  # the phase planes, for the backward pass
    z = _conv2d_arrays(x.data, W.data, None if b is None else b.data, stride, pads, dilation, out_hw, flat, planes)
    parents = (x, W) if b is None else (x, W, b)

    def backward(delta):
        grads = _conv2d_backward(delta, x.data, W.data, stride, pads, dilation, flat,
                                 x.requires_grad, W.requires_grad, b is not None and b.requires_grad, planes[0])
        return grads if b is not None else grads[:2]

    return make_result(z, parents, backward, "conv2d")


def conv1d(x, W, b=None, stride=1, padding=0, dilation=1) -> Tensor:
    """1-D convolution over (N, C, L) with W of shape (out_channels, C, k): conv2d on a height-1 image.

    z[n, o, t] = Σ_{c,j} W[o, c, j] · a[n, c, t·s + j·d] + b[o].
    """
    x, W = as_tensor(x), as_tensor(W)
    b = None if b is None else as_tensor(b)
    owner = "conv1d"
    if W.ndim != 3:
        raise ValueError(f"{owner}: W must be 3-D (out_channels, in_channels, k), got shape {W.shape}")
    _check_images(x, owner, ndim=3)
    _check_channels_and_bias(x, W, b, owner)
    stride, dilation = check_int_tuple(stride, "stride", owner, length=1), check_int_tuple(dilation, "dilation", owner, length=1)
    pads = conv_padding(padding, W.shape[2:], dilation, stride, owner)
    out_hw = (1, *window_geometry(x.shape, W.shape[2:], stride, pads, dilation, owner))
    stride, dilation, pads = (1, *stride), (1, *dilation), ((0, 0), *pads)
    x4, W4 = x.data[:, :, None, :], W.data[:, :, None, :]
    flat = _flat_windows(x4, W4, stride, dilation)
    planes = []
    z = _conv2d_arrays(x4, W4, None if b is None else b.data, stride, pads, dilation, out_hw, flat, planes)
    parents = (x, W) if b is None else (x, W, b)

    def backward(delta):
        grad_x, grad_W, grad_b = _conv2d_backward(
            delta[:, :, None, :], x4, W4, stride, pads, dilation, flat,
            x.requires_grad, W.requires_grad, b is not None and b.requires_grad, planes[0])
        grad_x = None if grad_x is None else grad_x.reshape(x.shape)
        grad_W = None if grad_W is None else grad_W.reshape(W.shape)
        return (grad_x, grad_W, grad_b) if b is not None else (grad_x, grad_W)

    return make_result(z[:, :, 0, :], parents, backward, "conv1d")


# ------------------------------------------------------------- pooling
def _pool_arguments(x_shape: tuple, kernel_size, stride, padding, dilation, owner: str, n: int = 2):
    kernel = check_int_tuple(kernel_size, "kernel_size", owner, length=n)
    stride = kernel if stride is None else check_int_tuple(stride, "stride", owner, length=n)
    padding = check_int_tuple(padding, "padding", owner, low=0, length=n)
    dilation = check_int_tuple(dilation, "dilation", owner, length=n)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{owner}: padding {padding} must be at most half the kernel size {kernel} (as in PyTorch)")
    return kernel, stride, tuple((p, p) for p in padding), dilation


@jit.kernel
def _max_pool_kernel(x, out, winner, kh, kw, sh, sw, top, left, dh, dw):
    """out[n, c, r, q] = max of x over the window at (r·sh − top, q·sw − left), taps outside x
    counting as −∞; winner[n, c, r, q] = the tap i·kw + j that won: as the NumPy code, a later
    tap wins only if it is larger or NaN."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    padded = top > 0 or left > 0 or (Ho - 1) * sh + (kh - 1) * dh >= H or (Wo - 1) * sw + (kw - 1) * dw >= W
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for q in range(Wo):
                    best = x[n, c, 0, 0]
                    won = 0
                    for i in range(kh):
                        row = r * sh + i * dh - top
                        for j in range(kw):
                            col = q * sw + j * dw - left
                            if not padded or (0 <= row < H and 0 <= col < W):
                                value = x[n, c, row, col]
                            else:
                                value = -np.inf
                            if (i == 0 and j == 0) or value > best or value != value:
                                best = value
                                won = i * kw + j
                    out[n, c, r, q] = best
                    winner[n, c, r, q] = won


@jit.kernel
def _max_pool_2x2_kernel(x, out, winner):
    """:func:`_max_pool_kernel` for 2×2 windows side by side (stride 2, no padding or dilation),
    the usual pool, unrolled: the four taps compared without branches (a running max whose
    branch follows random data is mispredicted about once a window), in the same order and
    with the same rule (a later tap wins only if it is larger or NaN)."""
    N, C = x.shape[0], x.shape[1]
    Ho, Wo = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                upper, lower = x[n, c, 2 * r], x[n, c, 2 * r + 1]
                maxima, winners = out[n, c, r], winner[n, c, r]
                for q in range(Wo):
                    best = upper[2 * q]
                    won = 0
                    value = upper[2 * q + 1]
                    better = (value > best) | (value != value)
                    best = value if better else best
                    won = 1 if better else won
                    value = lower[2 * q]
                    better = (value > best) | (value != value)
                    best = value if better else best
                    won = 2 if better else won
                    value = lower[2 * q + 1]
                    better = (value > best) | (value != value)
                    best = value if better else best
                    won = 3 if better else won
                    maxima[q] = best
                    winners[q] = won


@jit.kernel
def _max_pool_backward_kernel(delta, winner, grad, kh, kw, sh, sw, top, left, dh, dw, tap_rows, tap_cols):
    """grad (zeros on entry) += δ at the element that won each window. Where windows overlap,
    tap by tap in (i, j) order, so that the sums are the NumPy code's; where they do not, each
    element gets at most one δ, in a single pass (tap t's offsets looked up in tap_rows[t] = i·dh
    and tap_cols[t] = j·dw: an integer division per window would cost more than the rest)."""
    N, C, H, W = grad.shape
    Ho, Wo = delta.shape[2], delta.shape[3]
    if sh >= (kh - 1) * dh + 1 and sw >= (kw - 1) * dw + 1:
        for n in range(N):
            for c in range(C):
                for r in range(Ho):
                    for q in range(Wo):
                        tap = winner[n, c, r, q]
                        row = r * sh + tap_rows[tap] - top
                        col = q * sw + tap_cols[tap] - left
                        if 0 <= row < H and 0 <= col < W:
                            grad[n, c, row, col] += delta[n, c, r, q]
        return
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    tap = i * kw + j
                    for r in range(Ho):
                        row = r * sh + i * dh - top
                        if row < 0 or row >= H:
                            continue
                        for q in range(Wo):
                            if winner[n, c, r, q] == tap:
                                col = q * sw + j * dw - left
                                if 0 <= col < W:
                                    grad[n, c, row, col] += delta[n, c, r, q]


def _max_pool_forward(x: np.ndarray, kernel, stride, pads, dilation, out_hw, want_winner: bool, out=None):
    """(out, winner): the maxima and, when wanted, winner[n, c, r, q] = i·kw + j, the tap that won.
    ``out``: a C-contiguous array of the maxima's shape and x's dtype for them (a fused op's buffer).

    Compiled, one pass over the windows; otherwise one NumPy pass per tap over the whole output
    (kh·kw vectorised steps, no copy of the windows). Either way a later tap wins only if it is
    strictly larger, so ties go to the first maximum in row-major window order, and NaN wins
    (propagates), both as in PyTorch.
    """
    unpadded = pads == ((0, 0), (0, 0))
    if unpadded and out_hw == (1, 1) and x.dtype.kind == "f":
        maxima, winner = _single_window_max(x, kernel, dilation)
        if out is None:
            return maxima, winner
        np.copyto(out, maxima)
        return out, winner
    plain_2x2 = unpadded and kernel == stride == (2, 2) and dilation == (1, 1)
    compiled = (_max_pool_2x2_kernel if plain_2x2 else _max_pool_kernel).get() if jit.supports(x.dtype) else None
    if compiled is not None:
        x = np.ascontiguousarray(x)
        if out is None:
            out = np.empty((*x.shape[:2], *out_hw), dtype=x.dtype)
        winner = np.empty(out.shape, dtype=np.int32)

        def run(first, last):
            part = (x[first:last], out[first:last], winner[first:last])
            if plain_2x2:
                compiled(*part)
            else:
                compiled(*part, *kernel, *stride, pads[0][0], pads[1][0], *dilation)

        threads.split(run, x.shape[0], _examples_per_part(math.prod(x.shape[1:]), _PART_COPIES))
        return out, winner
    given = out
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    windows = _windows(_padded(x, pads, fill), kernel, stride, dilation, out_hw, kernel_first=True)
    out = windows[:, :, 0, 0].copy()  # windows: (N, C, kh, kw, Ho, Wo)
    winner = np.zeros(out.shape, dtype=np.int32) if want_winner else None
    better = np.empty(out.shape, dtype=bool)
    for k in range(1, kernel[0] * kernel[1]):
        candidate = windows[:, :, k // kernel[1], k % kernel[1]]
        np.greater(candidate, out, out=better)
        if x.dtype.kind == "f":
            better |= np.isnan(candidate)
        np.copyto(out, candidate, where=better)
        if want_winner:
            np.copyto(winner, k, where=better)
    if given is not None:
        np.copyto(given, out)
        out = given
    return out, winner


def _single_window_max(x: np.ndarray, kernel, dilation):
    """(out, winner) of a pool with one unpadded window per plane (a global max pool): a reduction
    per plane instead of a windowed pass, with the windowed pass's answers: the first maximum
    wins ties, and where a plane holds NaN, the last NaN wins (a later tap wins if it is NaN)."""
    N, C = x.shape[:2]
    (kh, kw), (dh, dw) = kernel, dilation
    window = x[:, :, :(kh - 1) * dh + 1:dh, :(kw - 1) * dw + 1:dw].reshape(N, C, kh * kw)  # (a view if it can)
    winner = np.argmax(window, axis=2).astype(np.int32)[:, :, None]
    out = np.take_along_axis(window, winner, axis=2)
    nan = np.isnan(out[:, :, 0])
    if nan.any():  # argmax stops at the first NaN
        winner[nan, 0] = kh * kw - 1 - np.argmax(np.isnan(window[nan][:, ::-1]), axis=1)
        out = np.take_along_axis(window, winner, axis=2)
    return out.reshape(N, C, 1, 1), winner.reshape(N, C, 1, 1)


def _max_pool_backward(delta: np.ndarray, winner: np.ndarray, shape4: tuple, kernel, stride, pads, dilation,
                       out_hw, grad=None) -> np.ndarray:
    """∂J/∂x of ``shape4``: δ routed to the element that won each window, summed where windows overlap.
    ``grad``: a C-contiguous array of ``shape4`` and δ's dtype to write it into (a fused op's buffer)."""
    if pads == ((0, 0), (0, 0)) and out_hw == (1, 1):  # one window: δ put at its winner
        N, C, H, W = shape4
        if grad is None:
            grad = np.zeros(shape4, dtype=delta.dtype)
        else:
            grad.fill(0)
        tap = winner.reshape(N, C, 1).astype(np.intp)
        position = (tap // kernel[1]) * (dilation[0] * W) + (tap % kernel[1]) * dilation[1]
        np.put_along_axis(grad.reshape(N, C, H * W), position, delta.reshape(N, C, 1), axis=2)
        return grad
    compiled = _max_pool_backward_kernel.get() if jit.supports(delta.dtype) else None
    if compiled is not None:
        grad = np.empty(shape4, dtype=delta.dtype) if grad is None else grad
        delta = np.ascontiguousarray(delta)
        taps = np.arange(kernel[0] * kernel[1])
        tap_rows, tap_cols = (taps // kernel[1]) * dilation[0], (taps % kernel[1]) * dilation[1]

        def run(first, last):
            grad[first:last].fill(0)
            compiled(delta[first:last], winner[first:last], grad[first:last], *kernel, *stride, pads[0][0],
                     pads[1][0], *dilation, tap_rows, tap_cols)

        threads.split(run, shape4[0], _examples_per_part(math.prod(shape4[1:]), _PART_COPIES))
        return grad
    zero = np.zeros((), dtype=delta.dtype)
    shape_pad = (shape4[0], shape4[1], shape4[2] + sum(pads[0]), shape4[3] + sum(pads[1]))
    grad_pad = np.zeros(shape_pad, dtype=delta.dtype)
    _scatter_windows(lambda i, j: np.where(winner == i * kernel[1] + j, delta, zero), grad_pad,
                     kernel, stride, dilation, out_hw)
    if grad is None:
        return _cropped(grad_pad, pads, shape4)
    np.copyto(grad, _cropped(grad_pad, pads, shape4))
    return grad


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max pooling: out[n, c, r, q] = max over the window at (r·s, q·s) (padding counts as −∞).

    ∂J/∂a is δ routed to the element that won each window (the first maximum, as in PyTorch),
    summed where windows overlap.

    Args:
        x: (N, C, H, W).
        kernel_size: an int or (kh, kw).
        stride: an int, a pair, or None for the kernel size (non-overlapping windows).
        padding: an int or pair, at most half the kernel size.
        dilation: the spacing between window taps.
    """
    x = as_tensor(x)
    owner = "max_pool2d"
    _check_images(x, owner)
    kernel, stride, pads, dilation = _pool_arguments(x.shape, kernel_size, stride, padding, dilation, owner)
    out_hw = window_geometry(x.shape, kernel, stride, pads, dilation, owner)
    return _max_pool(x, kernel, stride, pads, dilation, out_hw, x.data, x.shape, "max_pool2d")


def _max_pool(x: Tensor, kernel, stride, pads, dilation, out_hw, data, shape4, op: str) -> Tensor:
    want = x.requires_grad and is_grad_enabled()
    out, winner = _max_pool_forward(data, kernel, stride, pads, dilation, out_hw, want)

    def backward(delta):
        grad = _max_pool_backward(delta.reshape(out.shape), winner, shape4, kernel, stride, pads, dilation, out_hw)
        return (grad.reshape(x.shape),)

    return make_result(out if op == "max_pool2d" else out[:, :, 0, :], (x,), backward, op)


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad: bool = True) -> Tensor:
    """Average pooling: out[n, c, r, q] = (1/m) Σ over the window at (r·s, q·s).

    m = kh·kw with ``count_include_pad=True`` (PyTorch's default: the padding zeros count),
    or the number of real (unpadded) elements in the window with False. ∂J/∂a gets δ/m
    from every window it is in.
    """
    x = as_tensor(x)
    owner = "avg_pool2d"
    _check_images(x, owner)
    count_include_pad = check_bool(count_include_pad, "count_include_pad", owner)
    kernel, stride, pads, _ = _pool_arguments(x.shape, kernel_size, stride, padding, 1, owner)
    out_hw = window_geometry(x.shape, kernel, stride, pads, (1, 1), owner)
    return _avg_pool(x, kernel, stride, pads, out_hw, count_include_pad, x.data, x.shape, "avg_pool2d")


def _window_counts(size: int, kernel: int, stride: int, pads: tuple, out: int) -> np.ndarray:
    """How many real (unpadded) elements each window along one axis covers."""
    start = np.arange(out) * stride - pads[0]
    return np.minimum(start + kernel, size) - np.maximum(start, 0)


def _avg_pool(x: Tensor, kernel, stride, pads, out_hw, count_include_pad, data, shape4, op: str) -> Tensor:
    windows = _windows(_padded(data, pads, 0), kernel, stride, (1, 1), out_hw, kernel_first=False)
    if count_include_pad:
        divisor = float(kernel[0] * kernel[1])
    else:
        divisor = np.multiply.outer(
            _window_counts(shape4[2], kernel[0], stride[0], pads[0], out_hw[0]),
            _window_counts(shape4[3], kernel[1], stride[1], pads[1], out_hw[1]),
        ).astype(data.dtype)
    out = windows.sum(axis=(4, 5)) / divisor
    shape_pad = (shape4[0], shape4[1], shape4[2] + sum(pads[0]), shape4[3] + sum(pads[1]))

    def backward(delta):
        share = delta.reshape(out.shape) / divisor
        grad_pad = np.zeros(shape_pad, dtype=share.dtype)
        _scatter_windows(lambda i, j: share, grad_pad, kernel, stride, (1, 1), out_hw)
        return (_cropped(grad_pad, pads, shape4).reshape(x.shape),)

    return make_result(out if op == "avg_pool2d" else out[:, :, 0, :], (x,), backward, op)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Max pooling over (N, C, L): max_pool2d on a height-1 image."""
    x = as_tensor(x)
    owner = "max_pool1d"
    _check_images(x, owner, ndim=3)
    kernel, stride, pads, dilation = _pool_arguments(x.shape, kernel_size, stride, padding, dilation, owner, n=1)
    out_hw = (1, *window_geometry(x.shape, kernel, stride, pads, dilation, owner))
    kernel, stride, pads, dilation = (1, *kernel), (1, *stride), ((0, 0), *pads), (1, *dilation)
    data = x.data[:, :, None, :]
    return _max_pool(x, kernel, stride, pads, dilation, out_hw, data, data.shape, "max_pool1d")


def avg_pool1d(x, kernel_size, stride=None, padding=0, count_include_pad: bool = True) -> Tensor:
    """Average pooling over (N, C, L): avg_pool2d on a height-1 image."""
    x = as_tensor(x)
    owner = "avg_pool1d"
    _check_images(x, owner, ndim=3)
    count_include_pad = check_bool(count_include_pad, "count_include_pad", owner)
    kernel, stride, pads, _ = _pool_arguments(x.shape, kernel_size, stride, padding, 1, owner, n=1)
    out_hw = (1, *window_geometry(x.shape, kernel, stride, pads, (1,), owner))
    kernel, stride, pads = (1, *kernel), (1, *stride), ((0, 0), *pads)
    data = x.data[:, :, None, :]
    return _avg_pool(x, kernel, stride, pads, out_hw, count_include_pad, data, data.shape, "avg_pool1d")


def global_avg_pool2d(x, keepdims: bool = False) -> Tensor:
    """out[n, c] = (1/(H·W)) Σ_{r,q} a[n, c, r, q]: one number per channel, wherever the feature was.

    With ``keepdims=True`` the output is (N, C, 1, 1), as ``torch.nn.AdaptiveAvgPool2d(1)``.
    """
    x = as_tensor(x)
    _check_images(x, "global_avg_pool2d")
    N, C, H, W = x.shape
    out = x.data.mean(axis=(2, 3), keepdims=keepdims)

    def backward(delta):
        share = delta.reshape(N, C, 1, 1) / (H * W)
        return (np.broadcast_to(share, x.shape).copy(),)

    return make_result(out, (x,), backward, "global_avg_pool2d")
