"""The fused protocol: a layer's forward and backward as array operations, without a graph.

The engine's forward records a graph node per op and allocates each result; for the
layers people mostly train, that bookkeeping costs a large share of a small training
step. A layer that can do without it states its *fused form* beside its reference
``forward``, in its own file: :meth:`Module.fused_ops() <backprop.layers.Module.fused_ops>`
returns a tuple of :class:`FusedOp` (None when the layer's present configuration has
none, e.g. a Dense layer with a softmax activation). The fast path
(:mod:`backprop.training.fastpath`) asks every layer of a model for it, runs each
maximal run of fused ops as one fused segment and any other layer through the engine,
and then only moves arrays between the ops:

    training   a^k = op_k.forward(a^{k−1}, out_k)          (out_k: a buffer the plan reuses)
               δ^L = ∂J/∂a^L, fused with the loss
               δ^{k−1} = op_k.backward(δ^k, a^{k−1}, a^k, δ-buffer, scratch, grads_k)
    predicting a^k = op_k.predict(a^{k−1}, overwrite)        (evaluation mode; the first op's
               predict_checked may also vouch that the input held no NaN or ±inf)

Rows are examples (axis 0 is the batch), as everywhere in the library: a Dense layer's
``Z = A Wᵀ + b`` is the notes' z = W a + b for each row.

Contract of an op (what the fast path relies on, and what
``tests/layers/test_fused_forms.py`` checks against the engine for every registered
layer, in float64 to 1e-12):

* ``forward`` and ``predict`` compute the layer's ``forward`` in training and evaluation
  mode; ``backward`` computes ∂J/∂a_in and ∂J/∂θ for every θ in ``params``, as the
  engine's backward would, plus the gradient of the op's own weight penalty.
* Inputs are never modified, except by ``predict`` when ``overwrite`` is True.
* What ``backward`` needs from ``forward`` (a mask, a normalised x̂) may be kept on the
  op: a plan runs one training step at a time. ``predict`` keeps nothing and changes
  nothing (several threads may predict at once).
* An op reads its layer's Parameters (``W.data``) and settings at each call, never a copy
  taken when it was made: an optimiser updates the arrays in place, ``Module.to`` and
  ``load_state_dict`` replace them. The layer itself builds new ops when an attribute is
  assigned (its ``_version`` moves and the fast path asks again).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["FusedOp"]


class FusedOp:
    """One step of a layer's fused form; subclasses implement what their layer needs.

    Attributes:
        params: the Parameters whose gradients :meth:`backward` fills, in the layer's
            ``parameters()`` order (the fast path lays their gradients out in one flat
            array in that order, so that the optimiser updates all of them at once).
        weight_params: those of ``params`` that a loss's penalty "on every weight" covers
            (scikit-learn's α ΣW²): a Dense layer's W, never a bias or a BatchNorm γ.
        identity_in_eval: :meth:`predict` returns its input unchanged (Dropout): a
            prediction plan leaves the op out.
        column_major_params: see ``fit``'s packing (:func:`backprop.optim.pack_parameters`).
        vouches_for_input: see :meth:`predict_checked`.
    """

    params: tuple = ()
    weight_params: tuple = ()
    identity_in_eval: bool = False
    #: those of ``params`` that ``fit`` stores column-major when it packs the weights (a Dense
    #: layer's W: z = A Wᵀ then multiplies by a row-major Wᵀ, faster on small batches); the op
    #: must take them, and their gradient arrays, in either memory order.
    column_major_params: tuple = ()
    #: :meth:`predict_checked` may show its input finite: a prediction then checks X only when
    #: it does not (else X is checked before the op runs on it).
    vouches_for_input: bool = False

    @property
    def in_features(self) -> Optional[int]:
        """The number of input features the op requires (axis 1), or None for any."""
        return None

    def out_shape(self, in_shape: tuple) -> Optional[tuple]:
        """The output's shape for an input of ``in_shape``, checked (ValueError when the op
        cannot take that input); None when :meth:`forward` returns an array of its own and
        needs no output buffer. The default: elementwise, the input's shape."""
        return in_shape

    def forward(self, a: np.ndarray, out: Optional[np.ndarray]) -> np.ndarray:
        """The training-mode output for ``a``, written into ``out`` (a buffer of
        :meth:`out_shape` in a's dtype, reused at every step) and returned; an op that
        passes its input through may return ``a`` itself instead."""
        raise NotImplementedError(f"{type(self).__name__} has no training form (it only predicts)")

    def backward(self, delta: np.ndarray, a_in: np.ndarray, out: np.ndarray, delta_in: Optional[np.ndarray],
                 scratch: np.ndarray, grads: list) -> Optional[np.ndarray]:
        """Backpropagate through the op after :meth:`forward` made ``out`` from ``a_in``.

        Args:
            delta: δ = ∂J/∂out; the op may overwrite it.
            a_in, out: the input and output of the last :meth:`forward`.
            delta_in: a buffer shaped like ``a_in`` for ∂J/∂a_in, distinct from ``delta``; None
                when nothing upstream needs ∂J/∂a_in (the first layer with parameters).
            scratch: a work buffer shaped like ``out``, distinct from both.
            grads: one array per entry of ``params``, shaped like it: write ∂J/∂θ into it
                (overwrite, do not add), including the op's own penalty's gradient.

        Returns:
            ∂J/∂a_in, in ``delta_in`` or, for an elementwise op, in ``delta`` itself; None when
            ``delta_in`` is None.
        """
        raise NotImplementedError(f"{type(self).__name__} has no training form (it only predicts)")

    def predict(self, a: np.ndarray, overwrite: bool) -> np.ndarray:
        """The evaluation-mode output for ``a``, as a new array, or in ``a`` itself when
        ``overwrite`` (``a`` is an intermediate result of the plan, not the caller's input)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement predict")

    def predict_checked(self, a: np.ndarray, overwrite: bool) -> tuple:
        """(:meth:`predict`, True when computing it showed every value of ``a`` to be finite),
        for an op that ``vouches_for_input``.

        False means "not shown": the caller then checks ``a`` itself and, if it passes (huge
        but finite values), calls :meth:`predict`; the output may then be None. A Dense layer
        shows it for free in its bias pass (one NaN or ±inf in a row makes every z of that
        row non-finite), which saves a prediction its own pass over X. Computing on a bad
        ``a`` must raise no warning: the caller's check reports it.
        """
        return self.predict(a, overwrite), False

    def predict_row(self, x: np.ndarray) -> Optional[np.ndarray]:
        """The outputs for a single row x (1 × n_features) in one compiled call, or None when
        none applies or x holds NaN or ±inf (the caller's input checks then decide). Only a
        plan of one op uses it, for ``predict`` on one row."""
        return None

    def penalty(self) -> float:
        """The op's own weight penalty (e.g. λ ΣW² of a Dense layer's regulariser) at the
        weights of the last :meth:`backward`, whose gradient that backward included; 0.0 without."""
        return 0.0

    def fuse_next(self, following: "FusedOp", training: bool) -> Optional["FusedOp"]:
        """One op doing this op and then ``following``, or None. The plan folds its ops left to
        right through this (``training`` False: a prediction plan, whose ops need only ``predict``),
        e.g. a Dense layer and the activation after it become one op whose bias and f run in
        one compiled pass."""
        return None

    def buffer(self, name: str, shape: tuple, dtype) -> np.ndarray:
        """A work array of this op kept between steps, made anew when the shape or dtype changes."""
        buffers = self.__dict__.setdefault("_work_buffers", {})
        array = buffers.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = buffers[name] = np.empty(shape, dtype)
        return array
