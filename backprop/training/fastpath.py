"""The fused fast path: training steps and predictions without graph bookkeeping.

For the networks people mostly train — a ``Sequential`` of ``Dense`` layers with
elementwise activations and dropout, and a registered loss — the general engine
spends a noticeable share of a small step building graph nodes and allocating
temporaries. This module compiles such a model once into a list of array ops that
run on buffers allocated per batch size and reused at every step:

    forward   Z^m = A^{m−1} (W^m)ᵀ + b^m,   A^m = f(Z^m)         (matmul into a buffer)
    output    δ^L = ∂J/∂Z^L, fused with the loss (softmax − y for cross-entropy)
    backward  ∂J/∂W^m = (δ^m)ᵀ A^{m−1},  ∂J/∂b^m = Σ_rows δ^m,
              δ^{m−1} = (δ^m W^m) ∘ f′(Z^{m−1})                  (the notes' four equations)

The gradients are the general engine's (``tests/training/test_fastpath.py``
compares them in float64); they are written into buffers that become each
parameter's ``.grad``, and the optimiser then updates the weights in place.
Anything this module does not recognise (BatchNorm, custom layers, custom losses or
regularisers) makes :func:`compile_model` return None, and the engine runs instead.
"""

from __future__ import annotations

import math
import operator
import weakref
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from backprop import jit
from backprop.engine.ops.activation import Activation, Identity, ReLU
from backprop.engine.tensor import in_eval_mode
from backprop.layers.activations import ActivationLayer, SoftmaxActivation
from backprop.layers.dense import Dense
from backprop.layers.dropout import Dropout
from backprop.layers.module import structure_changes
from backprop.losses import Loss
from backprop.regularizers import L1, L1L2, L2
from backprop.random import get_rng
from backprop.training import kernels

__all__ = ["FusedNetwork", "FusedLoss", "compile_model"]


@dataclass(frozen=True)
class FusedLoss:
    """How the fast path runs a loss: a :class:`~backprop.losses.Loss`'s fused form, scaled.

    A registered loss runs as ``FusedLoss(loss)``. A composite loss callable with a
    ``fused_loss()`` method returning one of these (scikit-learn's cost) is run as
    J = scale · loss.fused(outputs, y) + c(n, w) · Σ_m ‖W^m‖², over every Dense layer's W.

    Attributes:
        loss: the Loss whose ``fused(Z, target, weight, delta)`` gives J and δᴸ.
        scale: the factor on the kernel's loss (and δ).
        l2_coefficient: ``c(n_examples, sample_weight) -> float``, or None for no penalty.
        l2_in_gradient: False when the penalty is only reported (an optimiser applies
            the decay itself, as AdamW does).
        gradient_scale: a further factor on δ alone, the reported loss unchanged
            (scikit-learn's multi-output squared error steps along n_outputs × the
            gradient of the mean it reports).
    """

    loss: Loss
    scale: float = 1.0
    l2_coefficient: Optional[Callable] = None
    l2_in_gradient: bool = True
    gradient_scale: float = 1.0



class _DenseOp:
    """Z = A Wᵀ + b; backward ∂J/∂W = δᵀA, ∂J/∂b = Σ_rows δ, δ_in = δ W."""

    def __init__(self, layer: Dense):
        # (No reference to the layer itself: the compiled-network cache is keyed weakly on
        # the model, which may be this very layer.)
        self.W, self.b = layer.W, layer.b
        self.n_out = layer.out_features
        self.grad_W = self.grad_b = None  # views of FusedNetwork's flat gradient (predict needs none)
        self.regularizer = layer.weight_regularizer
        self.shared_l2 = 0.0  # a penalty the loss puts on every W (scikit-learn's α), set per step

    # Read at each step, as the engine reads the regulariser: its λ may be changed in place.
    @property
    def l1(self) -> float:
        return float(getattr(self.regularizer, "l1", 0.0) or 0.0)

    @property
    def l2(self) -> float:
        return float(getattr(self.regularizer, "l2", 0.0) or 0.0)

    def out_width(self, width):
        return self.n_out

    def forward(self, a, out):
        np.matmul(a, self.W.data.T, out=out)
        if self.b is not None:
            out += self.b.data

    def backward(self, delta, a_in, delta_in, bias_done=False):
        """Fill the parameter gradients; write δ W into ``delta_in`` unless it is None.

        ``bias_done``: ∂J/∂b is already in ``grad_b`` (a kernel summed it with f′).
        """
        np.matmul(delta.T, a_in, out=self.grad_W)
        l1 = l2 = 0.0
        if self.regularizer is not None:
            l1, l2 = self.l1, self.l2
        l2 += self.shared_l2
        if l2:
            self.grad_W += (2 * l2) * self.W.data  # ∂(λΣW²)/∂W = 2λW
        if l1:
            self.grad_W += l1 * np.sign(self.W.data)  # ∂(λΣ|W|)/∂W = λ sign(W)
        self.W.grad = self.grad_W
        if self.b is not None:
            if not bias_done:
                np.add.reduce(delta, axis=0, out=self.grad_b)
            self.b.grad = self.grad_b
        if delta_in is not None:
            np.matmul(delta, self.W.data, out=delta_in)
        return delta_in

    def penalty(self) -> float:
        W = self.W.data
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(W).sum())
        if self.l2:
            total += self.l2 * float(np.vdot(W, W))
        return total

    def predict(self, a):
        if a.shape[0] == 1:
            z = (self.W.data @ a[0])[None, :]  # one example: the notes' z = W a + b, a matrix–vector product
        else:
            z = a @ self.W.data.T
        if self.b is not None:
            z += self.b.data
        return z


class _ActivationOp:
    """A = f(Z); backward δ_in = δ ∘ f′(Z), in place."""

    def __init__(self, activation: Activation):
        self.activation = activation

    def out_width(self, width):
        return width

    def forward(self, z, out):
        self.activation.f_into(z, out)

    def backward(self, delta, z, a, scratch):
        self.activation.backprop_into(delta, z, a, scratch)

    def predict(self, z):
        self.activation.f_into(z, z)  # z is the previous op's own result, never the caller's X
        return z


class _DropoutOp:
    """A = Z ∘ m/(1 − rate) in training, with m ~ Bernoulli(1 − rate) drawn exactly as ``Dropout`` draws it."""

    def __init__(self, layer: Dropout):
        self.layer = layer
        self._draws = self._mask = None  # reused while the batch shape and dtype stay the same

    def out_width(self, width):
        return width

    def mask(self, shape, dtype):
        layer = self.layer
        if not layer.training or layer.rate == 0 or in_eval_mode():
            return None
        if self._mask is None or self._mask.shape != shape or self._mask.dtype != dtype:
            self._draws, self._mask = np.empty(shape), np.empty(shape, dtype)
        get_rng().random(out=self._draws)  # the same float64 stream as Dropout's rng.random(shape)
        np.greater_equal(self._draws, layer.rate, out=self._mask)
        self._mask *= dtype.type(1.0 / (1.0 - layer.rate))
        return self._mask


def _ops_of(model):
    layers = model.sequential_layers()
    layers = [model] if layers is None else layers
    ops = []
    for layer in layers:
        kind = type(layer)
        if kind is Dense:
            reg = layer.weight_regularizer
            if reg is not None and type(reg) not in (L1, L2, L1L2):
                return None
            if isinstance(layer.activation, SoftmaxActivation):
                return None
            ops.append(_DenseOp(layer))
            if layer.activation is not None:
                ops.append(_ActivationOp(layer.activation))
        elif isinstance(layer, ActivationLayer) and not isinstance(layer.activation, SoftmaxActivation):
            ops.append(_ActivationOp(layer.activation))
        elif kind is Dropout:
            ops.append(_DropoutOp(layer))
        elif layer.sequential_layers() is not None:
            inner = _ops_of(layer)
            if inner is None:
                return None
            ops.extend(inner)
        else:
            return None
    if not ops or not isinstance(ops[0], _DenseOp):
        return None
    tensors = [t for op in ops if isinstance(op, _DenseOp) for t in (op.W, op.b) if t is not None]
    if len({id(t) for t in tensors}) != len(tensors):
        return None  # a tied weight: its gradients must add up, which the engine does
    return ops


def _structure_key(model) -> tuple:
    """What a compiled network depends on: the layers, their parameters and settings, by identity."""
    layers = model.sequential_layers()
    layers = [model] if layers is None else layers
    key = []
    for layer in layers:
        if layer.sequential_layers() is not None:
            key.append(_structure_key(layer))
            continue
        d, params = layer.__dict__, layer.__dict__.get("_parameters", {})  # Parameters live in _parameters
        key.append((id(layer), type(layer), id(params.get("W")), id(params.get("b")), id(d.get("activation")),
                    id(d.get("weight_regularizer")), d.get("rate")))
    return tuple(key)


def _chain_fits(weights, biases, dtype) -> bool:
    """Whether the layers' arrays suit :func:`kernels.dense_stack_row`: one dtype and C order
    (numba indexes a tuple only when its items have one type), each W taking the previous
    layer's width and each b matching its W."""
    width = None
    for W, b in zip(weights, biases):
        if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[0] or (width is not None and W.shape[1] != width):
            return False
        for array in (W, b):
            if array.dtype != dtype or not array.flags.c_contiguous:
                return False
        width = W.shape[0]
    return True


# Compiled networks, reused while the model's structure is unchanged (predicting one row
# must not pay for recompiling). Weak keys: a cache entry dies with its model.
_compiled = weakref.WeakKeyDictionary()


def compile_model(model, loss_fn=None):
    """A :class:`FusedNetwork` for ``model`` (and ``loss_fn``), or None if it needs the engine."""
    spec = None
    if loss_fn is not None:
        if isinstance(loss_fn, Loss) and loss_fn.fused is not None:
            spec = FusedLoss(loss_fn)
        elif callable(getattr(loss_fn, "fused_loss", None)):
            spec = loss_fn.fused_loss()
        if spec is None or spec.loss.fused is None:
            return None
    changes = structure_changes()
    cached = _compiled.get(model)
    if cached is None or cached[0] != changes:  # some Module changed since: is this one the same?
        key = _structure_key(model)
        if cached is None or cached[1] != key:
            ops = _ops_of(model)
            cached = (changes, key, ops, None if ops is None else FusedNetwork(ops, None))
        else:
            cached = (changes,) + cached[1:]
        _compiled[model] = cached
    ops = cached[2]
    if ops is None:
        return None
    return cached[3] if spec is None else FusedNetwork(ops, spec)  # a predictor is kept, a trainer made


class FusedNetwork:
    """A compiled model: :meth:`train_step` (forward, fused loss, backward) and :meth:`predict`."""

    def __init__(self, ops, loss: Optional[FusedLoss]):
        self.ops = ops
        self.loss = loss
        self.dense = [op for op in ops if isinstance(op, _DenseOp)]
        self._buffers = {}
        self._grad_dtype = None
        self._penalised = [op for op in self.dense if op.regularizer is not None]
        # Dense layers with a bias followed by ReLU: their forward (bias + ReLU) and, going
        # back, ReLU's f′ with the layer's bias gradient, run as one kernel each when compiled.
        self._relu_after = {k for k, op in enumerate(ops[:-1])
                            if isinstance(op, _DenseOp) and op.b is not None
                            and isinstance(ops[k + 1], _ActivationOp) and type(ops[k + 1].activation) is ReLU}
        self._row_relu = self._row_plan(ops)
        self._row_checked = None  # the weight arrays last found fit for the one-row kernel

    # Read from the weights at each use: Module.to() or a load may replace them.
    @property
    def dtype(self) -> np.dtype:
        return self.dense[0].W.data.dtype

    @property
    def n_features(self) -> int:
        return self.dense[0].W.data.shape[1]

    def _kernels_take(self, dtype) -> bool:
        """Whether compiled kernels can run in ``dtype``: float32/float64, and every W and b in it."""
        if not jit.supports(dtype):
            return False
        for op in self.dense:
            if op.W.data.dtype != dtype or (op.b is not None and op.b.data.dtype != dtype):
                return False
        return True

    @staticmethod
    def _row_plan(ops):
        """For :func:`kernels.dense_stack_row`: whether each Dense layer ends in ReLU, or None
        when the network has anything else (no bias, another activation) in evaluation mode."""
        relu = []
        for op in ops:
            if isinstance(op, _DenseOp):
                if op.b is None:
                    return None
                relu.append(False)
            elif isinstance(op, _ActivationOp):
                kind = type(op.activation)
                if kind is ReLU:
                    relu[-1] = True  # (dropout between is the identity here; ReLU twice is ReLU)
                elif kind is not Identity:
                    return None
        return tuple(relu)

    def _allocate_gradients(self) -> None:
        """One flat gradient array, sliced per parameter in the order W¹, b¹, W², b², ...

        That is the order of ``model.parameters()``; with the parameters packed the same
        way (:func:`backprop.optim.pack_parameters`), the optimiser updates them all at once.
        """
        tensors = [t for op in self.dense for t in (op.W, op.b) if t is not None]
        mixed = len({t.data.dtype for t in tensors}) > 1
        flat = None if mixed else np.empty(sum(t.data.size for t in tensors), dtype=self.dtype)
        offset = 0
        for op in self.dense:
            for name, t in (("grad_W", op.W), ("grad_b", op.b)):
                if t is None:
                    continue
                if mixed:
                    setattr(op, name, np.empty_like(t.data))
                    continue
                setattr(op, name, flat[offset:offset + t.data.size].reshape(t.data.shape))
                offset += t.data.size
        self._grad_dtype = self.dtype

    # ------------------------------------------------------------ prediction
    def predict(self, X: np.ndarray) -> np.ndarray:
        """The outputs in evaluation mode (dropout is the identity), allocating only the results.

        The computation runs in X's dtype: a float64 X against float32 weights is computed
        in float64 (NumPy's promotion), a float32 X in float32.
        """
        if X.shape[0] == 1:
            out = self.predict_row(X)
            if out is not None:
                return out
        fused_relu = None
        if self._relu_after and self._kernels_take(X.dtype):
            fused_relu = kernels.add_bias_relu.get()
        zero = X.dtype.type(0)
        a = X
        skip = -1
        for k, op in enumerate(self.ops):
            if k == skip or isinstance(op, _DropoutOp):
                continue
            if fused_relu is not None and k in self._relu_after:
                z = a @ op.W.data.T
                fused_relu(z, op.b.data, z, zero)  # A = max(Z + b, 0), in place
                a, skip = z, k + 1
                continue
            a = op.predict(a)  # (an activation works in place: every op before it made a new array)
        return a

    def predict_row(self, X: np.ndarray) -> Optional[np.ndarray]:
        """The outputs for a single row X (1 × n_features, C-contiguous, the weights' dtype)
        in one compiled call (:func:`kernels.dense_stack_row`), or None when that kernel does
        not apply (numba absent, another layer kind, another dtype) or X holds NaN or ±inf."""
        relu = self._row_relu
        if relu is None or X.ndim != 2 or not jit.supports(X.dtype):
            return None
        compiled = kernels.dense_stack_row.get()
        if compiled is None:
            return None
        weights = tuple([op.W.data for op in self.dense])
        biases = tuple([op.b.data for op in self.dense])
        arrays, checked = weights + biases, self._row_checked
        if checked is None or not all(map(operator.is_, arrays, checked)):
            if not _chain_fits(weights, biases, X.dtype):
                return None
            self._row_checked = arrays
        if X.shape[1] != weights[0].shape[1] or X.dtype != weights[0].dtype:
            return None
        out, total = compiled(weights, biases, relu, X[0], X.dtype.type(0))
        if not math.isfinite(total):
            return None  # NaN or ±inf in X (or a sum that overflowed): the caller's check decides
        return out.reshape(1, -1)

    # -------------------------------------------------------------- training
    def _buffers_for(self, n: int, n_in: int, dtype):
        key = (n, n_in, dtype)
        buffers = self._buffers.get(key)
        if buffers is None:
            widths, width = [], n_in
            for op in self.ops:
                width = op.out_width(width)
                widths.append(width)
            outs = [np.empty((n, w), dtype) for w in widths]
            # δ buffers: one per distinct width among op inputs (δ_in of op k has op k's input width).
            deltas = {w: np.empty((n, w), dtype) for w in set(widths)}
            scratch = {w: np.empty((n, w), dtype) for w in set(widths)}
            buffers = (outs, deltas, scratch)
            if len(self._buffers) > 4:  # a few batch sizes (the last partial batch, validation) at most
                self._buffers.clear()
            self._buffers[key] = buffers
        return buffers

    def train_step(self, X: np.ndarray, target: np.ndarray, weight):
        """Forward, loss and backward on one batch; sets every parameter's ``.grad``.

        Returns:
            (cost J = loss + penalty, the batch's outputs). The outputs array is a buffer
            reused by the next step: copy it to keep it.
        """
        n = X.shape[0]
        dtype = X.dtype
        if self._grad_dtype is None or self._grad_dtype != self.dtype:  # (dtype("float64") == None holds)
            self._allocate_gradients()
        outs, deltas, scratch = self._buffers_for(n, X.shape[1], dtype)
        masks = [None] * len(self.ops)

        fused_relu = None
        if self._relu_after and self._kernels_take(dtype):
            fused_relu = kernels.add_bias_relu.get()
        zero = dtype.type(0)
        a = X
        skip = -1
        for k, op in enumerate(self.ops):
            if k == skip:
                continue
            out = outs[k]
            if fused_relu is not None and k in self._relu_after:
                np.matmul(a, op.W.data.T, out=out)
                fused_relu(out, op.b.data, outs[k + 1], zero)
                a, skip = outs[k + 1], k + 1
                continue
            if isinstance(op, _DropoutOp):
                mask = op.mask(a.shape, dtype)
                masks[k] = mask
                if mask is None:
                    out[...] = a
                else:
                    np.multiply(a, mask, out=out)
            else:
                op.forward(a, out)
            a = out

        delta = deltas[a.shape[1]]
        spec = self.loss
        loss = spec.loss.fused(a, target, weight, delta)
        if spec.scale != 1.0:
            loss *= spec.scale
            delta *= dtype.type(spec.scale)
        if spec.gradient_scale != 1.0:
            delta *= dtype.type(spec.gradient_scale)
        shared_l2 = 0.0 if spec.l2_coefficient is None else float(spec.l2_coefficient(n, weight))

        relu_back = kernels.relu_delta_and_bias_grad.get() if fused_relu is not None else None
        bias_done = False
        for k in range(len(self.ops) - 1, -1, -1):
            op = self.ops[k]
            a_in = X if k == 0 else outs[k - 1]
            if isinstance(op, _DenseOp):
                op.shared_l2 = shared_l2 if spec.l2_in_gradient else 0.0
                delta_in = None if k == 0 else deltas[a_in.shape[1]]
                if delta_in is delta:  # same width in and out: δ_in needs its own buffer
                    delta_in = scratch[a_in.shape[1]]
                    op.backward(delta, a_in, delta_in, bias_done)
                    deltas[a_in.shape[1]], scratch[a_in.shape[1]] = delta_in, delta
                else:
                    op.backward(delta, a_in, delta_in, bias_done)
                delta = delta_in
                bias_done = False
            elif relu_back is not None and k - 1 in self._relu_after:
                relu_back(delta, a_in, self.ops[k - 1].grad_b, zero)  # a_in is the layer's Z
                bias_done = True
            elif isinstance(op, _ActivationOp):
                op.backward(delta, a_in, outs[k], scratch[a_in.shape[1]])
            elif masks[k] is not None:
                np.multiply(delta, masks[k], out=delta)
            if delta is None:
                break
        penalty = sum(op.penalty() for op in self._penalised) if self._penalised else 0.0
        if shared_l2:
            penalty += shared_l2 * sum(float(np.vdot(op.W.data, op.W.data)) for op in self.dense)
        return loss + penalty, a
