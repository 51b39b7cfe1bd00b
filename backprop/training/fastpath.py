"""The fast path: a planner that runs a model through its layers' fused forms.

The general engine spends a noticeable share of a small training step building graph
nodes and allocating temporaries. Most layers can do without: each states its fused
form beside its reference (:meth:`Module.fused_ops <backprop.layers.Module.fused_ops>`,
the protocol of :mod:`backprop.layers.fused`). :func:`compile_model` walks a model's
layers (a container exposes them through ``sequential_layers()``; nested ones are
flattened), asks each for its fused ops and lays them out as a plan:

    forward   a^k = op_k(a^{k−1})          (fused ops write into buffers reused at every step)
    output    δ^L = ∂J/∂a^L, fused with the loss (softmax − y for cross-entropy)
    backward  δ^{k−1} = op_k.backward(δ^k)  (each op fills its parameters' gradients)

A layer without a fused form (a custom layer, a convolution, Dense with a softmax)
runs through the engine inside the plan: forward on a Tensor that requires grad,
backward by ``out.backward(δ)``, then its input's ``.grad`` is the δ passed on. So one
unsupported layer costs only its own graph, not the fast path of the whole model.

The gradients are the engine's (``tests/layers/test_fused_forms.py`` and
``tests/training/test_fastpath.py`` compare them in float64). They are written into
one flat array laid out like the parameters (:mod:`backprop.optim.packing`), which
become each parameter's ``.grad``, so that the optimiser updates all weights at once.
Each penalty is counted once: a fused op's own (Dense's regulariser) by the op, an
engine-run layer's by its ``regularization_loss()``.

The engine runs the whole model instead (:func:`compile_model` returns None) when no
layer has a fused form, when a parameter is shared by two layers (tied weights: their
gradients must add up), or, for training, when the loss has no fused kernel.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from backprop.backend import get_default_dtype, is_column_major
from backprop.engine.tensor import Tensor, enable_grad, eval_mode, no_grad
from backprop.layers.fused import FusedOp
from backprop.layers.module import Module
from backprop.losses import Loss
from backprop.optim.packing import packed_like

__all__ = ["FusedNetwork", "FusedLoss", "compile_model"]


@dataclass(frozen=True)
class FusedLoss:
    """How the fast path runs a loss: a :class:`~backprop.losses.Loss`'s fused form, scaled.

    A registered loss runs as ``FusedLoss(loss)``. A composite loss callable with a
    ``fused_loss()`` method returning one of these (scikit-learn's cost) is run as
    J = scale · loss.fused(outputs, y) + c(n, w) · Σ_m ‖W^m‖², over every layer's weight
    matrix (the ``weight_params`` of the fused ops: every Dense layer's W).

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



# ------------------------------------------------------------------ planning
class EngineStep(FusedOp):
    """A layer without a fused form, run through the engine inside a plan.

    Forward builds the layer's graph on a Tensor over the plan's array (requiring grad
    when something upstream needs δ); backward runs ``out.backward(δ)`` and the
    layer's penalty's ``backward()``, copies its parameters' gradients into the plan's
    gradient arrays and passes on the input Tensor's ``.grad``. Its penalty is its own
    ``regularization_loss()``, counted here and nowhere else.
    """

    def __init__(self, layer):
        self.layer = layer
        self.params = tuple(layer.parameters())
        self.input_grad = True  # set by the plan before each forward
        self._graph = None      # (input Tensor, output Tensor, penalty Tensor or None) of the last forward
        self._penalty = 0.0

    @property
    def in_features(self):
        return self.layer.expected_in_features()

    def out_shape(self, in_shape):
        return None  # the engine allocates its own result

    def forward(self, a, out):
        x = Tensor(a)
        x.requires_grad = self.input_grad  # (set afterwards: Tensor(a, requires_grad=True) would copy a)
        with enable_grad():
            y = self.layer(x)
            penalty = self.layer.regularization_loss()
        self._graph = (x, y, penalty)
        self._penalty = 0.0 if penalty is None else float(penalty.data)
        return np.asarray(y.data)

    def backward(self, delta, a_in, out, delta_in, scratch, grads):
        x, y, penalty = self._graph
        self._graph = None
        for p in self.params:
            p.grad = None  # the engine adds into .grad
        if y.requires_grad:
            y.backward(delta)
        if penalty is not None and penalty.requires_grad:
            penalty.backward()
        for p, g in zip(self.params, grads):
            if p.grad is None:
                g.fill(0)  # (a parameter the output does not depend on)
            else:
                g[...] = p.grad
        if delta_in is None:
            return None
        if x.grad is None:
            delta_in.fill(0)
            return delta_in
        return x.grad

    def penalty(self) -> float:
        return self._penalty

    def predict(self, a, overwrite):
        with eval_mode(), no_grad():  # this thread computes as in evaluation; no flag is changed
            return np.asarray(self.layer(Tensor(a)).data)


def _leaves(module) -> list:
    """The layers a module applies one after another, nested containers flattened."""
    inner = module.sequential_layers()
    if inner is None:
        return [module]
    return [leaf for child in inner for leaf in _leaves(child)]


def _fold(steps, training: bool) -> list:
    """Adjacent steps merged left to right where the first offers (``fuse_next``)."""
    folded = []
    for step in steps:
        merged = folded[-1].fuse_next(step, training) if folded else None
        if merged is None:
            folded.append(step)
        else:
            folded[-1] = merged
    return folded


def _plan(model) -> Optional[list]:
    """The model's training steps (fused ops and engine steps), or None if it gains nothing."""
    leaves = _leaves(model)
    if leaves and leaves[0].input_kind != "features":
        return None  # category codes or one input per branch (Embedding, Concat first): the engine runs them
    steps, fused = [], False
    for layer in leaves:
        ops = layer.fused_ops()
        if ops is None:
            steps.append(EngineStep(layer))
        else:
            steps.extend(ops)
            fused = True
    if not fused:
        return None
    params = [p for step in steps for p in step.params]
    if len({id(p) for p in params}) != len(params):
        return None  # a tied weight: its gradients must add up, which the engine does
    return _fold(steps, training=True)


_version = operator.attrgetter("_version")
_CACHE = "_fused_plan"  # where a model keeps its compiled plan: it lives and dies with the model


def compile_model(model, loss_fn=None) -> Optional["FusedNetwork"]:
    """A :class:`FusedNetwork` for ``model`` (and ``loss_fn``, to train), or None if it needs the engine.

    The plan is kept on the model and reused while none of its modules has changed (their
    ``_version`` counters; predicting one row must not pay for planning).
    """
    spec = None
    if loss_fn is not None:
        if isinstance(loss_fn, Loss) and loss_fn.fused is not None:
            spec = FusedLoss(loss_fn)
        elif callable(getattr(loss_fn, "fused_loss", None)):
            spec = loss_fn.fused_loss()
        if spec is None or spec.loss.fused is None:
            return None
    if not isinstance(model, Module):
        return None
    cached = model.__dict__.get(_CACHE)
    if cached is None or cached[0] != sum(map(_version, cached[1])):
        modules = model.modules()
        version = sum(map(_version, modules))
        steps = _plan(model)
        cached = (version, modules, steps, None if steps is None else FusedNetwork(steps, None), [])
        model.__dict__[_CACHE] = cached  # (not an attribute assignment: the model's version stays)
    steps = cached[2]
    if steps is None:
        return None
    if spec is None:
        return cached[3]
    if spec.l2_coefficient is not None and any(isinstance(s, EngineStep) and s.params for s in steps):
        return None  # the loss's penalty on every weight covers the fused ops' weights only
    # The trainer is kept too, with the loss of this fit: its gradient arrays then live from one
    # fit to the next (new ones cost the optimiser its packed state and the first step its page
    # faults: +2–3 ms per fit at batch 1024). Its batch buffers are released when fit returns.
    kept = cached[4]
    if not kept:
        kept.append(FusedNetwork(steps, spec))
    trainer = kept[0]
    trainer.loss = spec
    trainer.check_gradients()
    return trainer


# ------------------------------------------------------------------ running
class _BatchBuffers:
    """The arrays a plan uses for one input shape and dtype: each step's output buffer, and
    the δ and scratch buffers of backward, with the choice of them made at the first step."""

    def __init__(self, n_steps: int):
        self.outs = [None] * n_steps  # None for a step that allocates its own result
        self.pool = {}                # (shape, dtype) -> δ and scratch buffers
        self.delta = None             # the δ buffer of the outputs
        self.choices = {}             # input_grad -> [(δ_in buffer, scratch) per step]

    def take(self, shape, dtype, *avoid) -> np.ndarray:
        """A buffer of this shape and dtype that is none of ``avoid``."""
        pool = self.pool.setdefault((shape, dtype), [])
        for array in pool:
            if not any(array is other for other in avoid):
                return array
        array = np.empty(shape, dtype)
        pool.append(array)
        return array

    def output_delta(self, outputs: np.ndarray) -> np.ndarray:
        delta = self.delta
        if delta is None or delta.shape != outputs.shape or delta.dtype != outputs.dtype:
            delta = self.delta = self.take(outputs.shape, outputs.dtype)
            self.choices.clear()
        return delta


class FusedNetwork:
    """A compiled model: :meth:`train_step` (forward, fused loss, backward) and :meth:`predict`.

    Attributes:
        steps: the training plan: fused ops and :class:`EngineStep` s, in order.
        predict_steps: the prediction plan: ``steps`` without the ops that are the identity
            in evaluation (dropout), folded further (Dense layers into one stack).
    """

    def __init__(self, steps, loss: Optional[FusedLoss]):
        self.steps = steps
        self.predict_steps = _fold([s for s in steps if not s.identity_in_eval], training=False)
        self.loss = loss
        self.params = [p for step in steps for p in step.params]
        self.column_major_params = [p for step in steps for p in step.column_major_params]
        trainable = [k for k, step in enumerate(steps) if step.params]
        self._first_trainable = trainable[0] if trainable else len(steps)
        self._engine_steps = [(k, s) for k, s in enumerate(steps) if isinstance(s, EngineStep)]
        self._by_input = {}  # (input shape, dtype) -> its _BatchBuffers
        self._current = None  # the _BatchBuffers of the last forward
        self._inputs = [None] * len(steps)   # each step's input and output in the last forward
        self._results = [None] * len(steps)
        self._grads = None   # per step, its parameters' gradient arrays (views of one flat array)
        self._grad_dtype = None

    # Read from the weights at each use: Module.to() or a load may replace them.
    @property
    def dtype(self) -> np.dtype:
        return self.params[0].data.dtype if self.params else get_default_dtype()

    @property
    def n_features(self) -> Optional[int]:
        return self.steps[0].in_features

    # ------------------------------------------------------------ prediction
    def predict(self, X: np.ndarray, check_input: Optional[Callable] = None) -> np.ndarray:
        """The outputs in evaluation mode (dropout is the identity), allocating only the results.

        The computation runs in X's dtype: a float64 X against float32 weights is computed
        in float64 (NumPy's promotion), a float32 X in float32. X is never modified.

        ``check_input``: a function that raises for an X holding NaN or ±inf (else returns),
        called unless the first op's :meth:`~backprop.layers.fused.FusedOp.predict_checked`
        vouches for X while computing (a Dense layer does, in its bias pass): one pass over X
        fewer, which at 4,096 rows of 784 features is ~8% of the prediction.
        """
        a, owned = X, False  # owned: a is an intermediate result, which the next op may overwrite
        for k, step in enumerate(self.predict_steps):
            if k == 0 and check_input is not None:
                out, finite = step.predict_checked(a, owned) if step.vouches_for_input else (None, False)
                if not finite:  # (X holds NaN or ±inf, and the check raises; huge values; or no vouching op)
                    check_input(X)
                    out = step.predict(a, owned)
            else:
                out = step.predict(a, owned)
            owned = not isinstance(step, EngineStep) and (owned or not np.may_share_memory(out, a))
            a = out
        return a

    def predict_row(self, X: np.ndarray) -> Optional[np.ndarray]:
        """The outputs for a single row X (1 × n_features, C-contiguous, the weights' dtype)
        in one compiled call, or None when none applies (numba absent, a plan of several
        ops, another dtype) or X holds NaN or ±inf (see :meth:`FusedOp.predict_row`)."""
        steps = self.predict_steps
        return steps[0].predict_row(X) if len(steps) == 1 else None

    # -------------------------------------------------------------- training
    def release_buffers(self) -> None:
        """Forget the batch buffers and the last batch's arrays (what ``fit`` leaves when it returns).

        The plan stays with its model, and with it the gradient arrays (as ``p.grad`` is kept
        after training in PyTorch): the next fit then finds the optimiser's packed state as it
        left it. The activations and δ of a batch are not kept, as PyTorch frees its graph.
        """
        self._by_input.clear()
        self._current = None
        self._inputs = [None] * len(self.steps)
        self._results = [None] * len(self.steps)

    def check_gradients(self) -> None:
        """Drop the gradient arrays if a parameter's data no longer matches its gradient's shape,
        dtype or memory order (a load or ``pack_parameters`` replaced it): the next step makes new ones."""
        if self._grads is None:
            return
        pairs = [(p.data, g) for step, step_grads in zip(self.steps, self._grads) for p, g in zip(step.params, step_grads)]
        if any(a.shape != g.shape or a.dtype != g.dtype or is_column_major(a) != is_column_major(g) for a, g in pairs):
            self._grad_dtype = None

    def _allocate_gradients(self) -> None:
        """One flat gradient array, sliced per parameter in the plan's order, the order of
        ``model.parameters()``: with the parameters packed the same way
        (:func:`backprop.optim.pack_parameters`), the optimiser updates them all at once."""
        arrays = [p.data for p in self.params]
        if not arrays:
            views = []
        elif len({a.dtype for a in arrays}) > 1:
            views = [np.empty_like(a) for a in arrays]
        else:
            views = packed_like(arrays)
        grads, offset = [], 0
        for step in self.steps:
            grads.append(views[offset:offset + len(step.params)])
            offset += len(step.params)
        self._grads = grads
        self._grad_dtype = self.dtype
        self._weight_grads = [(p, g) for step, step_grads in zip(self.steps, grads)
                              for p, g in zip(step.params, step_grads) if any(p is w for w in step.weight_params)]

    def forward(self, X: np.ndarray, input_grad: bool = False) -> np.ndarray:
        """The training-mode forward pass; returns the outputs (a buffer the next step reuses).

        ``input_grad``: the next :meth:`backward` is to return ∂J/∂X too.
        """
        if self._grad_dtype is None or self._grad_dtype != self.dtype:  # (dtype("float64") == None holds)
            self._allocate_gradients()
        for k, step in self._engine_steps:
            step.input_grad = input_grad or k > self._first_trainable
        key = (X.shape, X.dtype)
        buffers = self._by_input.get(key)
        allocate = buffers is None
        if allocate:
            buffers = _BatchBuffers(len(self.steps))
        outs = buffers.outs
        inputs, results = self._inputs, self._results
        a = X
        for k, step in enumerate(self.steps):
            out = outs[k]
            if allocate:
                shape = step.out_shape(a.shape)  # (checks that the step takes a)
                if shape is not None:
                    out = outs[k] = np.empty(shape, a.dtype)
            inputs[k] = a
            a = results[k] = step.forward(a, out)
        if allocate:  # (kept once a whole pass succeeded with them)
            if len(self._by_input) > 4:  # a few batch sizes (the last partial batch, validation) at most
                self._by_input.clear()
            self._by_input[key] = buffers
        self._current = buffers
        return a

    def output_delta(self, outputs: np.ndarray) -> np.ndarray:
        """The buffer for δ = ∂J/∂outputs of the last forward, which :meth:`backward` is fastest with."""
        return self._current.output_delta(outputs)

    def backward(self, delta: np.ndarray, input_grad: bool = False) -> Optional[np.ndarray]:
        """Backpropagate δ = ∂J/∂outputs (which it overwrites) through the last :meth:`forward`;
        sets every parameter's ``.grad``. Returns ∂J/∂X when ``input_grad`` (else None)."""
        first = 0 if input_grad else self._first_trainable
        inputs, results, grads, buffers = self._inputs, self._results, self._grads, self._current
        # The buffers each step gets are the same at every step of this batch shape: chosen
        # once (from the δ of output_delta, whose identity the choices depend on) and replayed.
        recorded = delta is buffers.delta
        replay = buffers.choices.get(input_grad) if recorded else None
        choices = replay or [None] * len(self.steps)
        for k in range(len(self.steps) - 1, first - 1, -1):
            step, a_in = self.steps[k], inputs[k]
            if replay:
                delta_in, scratch = choices[k]
            else:
                delta_in = buffers.take(a_in.shape, a_in.dtype, delta) if input_grad or k > first else None
                scratch = buffers.take(delta.shape, delta.dtype, delta, delta_in)
                choices[k] = (delta_in, scratch)
            delta = step.backward(delta, a_in, results[k], delta_in, scratch, grads[k])
            for p, g in zip(step.params, grads[k]):
                p.grad = g
        if recorded and not replay:
            buffers.choices[input_grad] = choices
        return delta if input_grad else None

    def penalty(self) -> float:
        """Σ of the steps' own penalties at the last backward's weights."""
        return sum([step.penalty() for step in self.steps])

    def _fused_loss(self, Z, target, weight, delta) -> float:
        """J of the outputs Z, with δ = ∂J/∂Z written into ``delta``: the loss's fused form."""
        spec = self.loss
        loss = spec.loss.fused(Z, target, weight, delta)
        if spec.scale != 1.0:
            loss *= spec.scale
            delta *= Z.dtype.type(spec.scale)
        if spec.gradient_scale != 1.0:
            delta *= Z.dtype.type(spec.gradient_scale)
        return loss

    def train_step(self, X: np.ndarray, target: np.ndarray, weight):
        """Forward, loss and backward on one batch; sets every parameter's ``.grad``.

        Returns:
            (cost J = loss + penalty, the batch's outputs). The outputs array is a buffer
            reused by the next step: copy it to keep it.
        """
        a = self.forward(X)
        delta = self.output_delta(a)
        loss = self._fused_loss(a, target, weight, delta)
        self.backward(delta)
        penalty = self.penalty()
        spec = self.loss
        if spec.l2_coefficient is not None:  # the loss's own penalty on every weight (scikit-learn's α)
            c = float(spec.l2_coefficient(X.shape[0], weight))
            if c:
                weights = self._weight_grads
                if spec.l2_in_gradient:
                    for W, grad in weights:
                        grad += (2 * c) * W.data  # ∂(cΣW²)/∂W = 2cW
                penalty += c * sum(float(np.vdot(W.data, W.data)) for W, _ in weights)
        return loss + penalty, a
