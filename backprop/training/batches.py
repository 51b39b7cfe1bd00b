"""Streams of mini-batches: ``fit`` on data that does not fit in memory.

``fit(model, batches, loss=..., steps_per_epoch=...)`` accepts, instead of arrays, a
source of ``(X, y)`` or ``(X, y, sample_weight)`` batches (rows are examples, as
everywhere). Two kinds, as in Keras and PyTorch:

* a **re-iterable** (any iterable that is not an iterator and not array-like: a ``torch`` DataLoader, a
  :class:`backprop.data.ParquetBatches`): ``iter()`` is called at the start of every
  epoch (a list is array-like, so a list of batches is not a stream: wrap it).
  ``steps_per_epoch`` (optional) caps the batches of an epoch. An object with a
  ``set_epoch(epoch)`` method is told the epoch first (as PyTorch's
  ``DistributedSampler``), so that its order depends on the epoch alone: a resumed
  run then reads the same batches as an uninterrupted one;
* a **one-shot iterator** (a generator): consumed across epochs, ``steps_per_epoch``
  batches per epoch (required for more than one epoch, as in Keras). If it runs out
  early, training stops with a warning.

What a stream changes, and why:

* the stream is the order: ``shuffle=True`` is refused (shuffling is the stream's
  job; :class:`~backprop.data.ParquetBatches` does it within a buffer), and
  ``validation_split`` too (there is no "last fraction" of a stream): pass
  ``validation_data`` (arrays, or a stream with ``validation_steps``);
* ``batch_size`` is not used: the stream's batches are the mini-batches;
* class labels must be codes 0..K−1 (or one-hot rows) unless the model already has
  classes (a previous fit): a stream cannot be scanned for its labels first;
* the epoch's cost and metrics are the same weighted means as with arrays: the cost
  Σ_b n_b J_b / Σ_b n_b over batches b of n_b examples, and the metrics on the
  epoch's outputs. With metrics the outputs of the epoch are kept (n_outputs numbers
  per example, not the features), so give none to train in constant memory;
* validation on a stream: J = Σ_b W_b J_b / Σ_b W_b + penalty, W_b being the batch's
  example count (or its total sample weight), which is the loss over all the
  validation examples to rounding.

A stream of the same batches as an array fit with ``shuffle=False`` gives the same
trajectory, bit for bit (``tests/training/test_batches.py``).

Checkpoints (``fit(..., checkpoint=path)``) restore the model, the optimiser, the
callbacks, the history and the random state, as with arrays; the stream's position is
not stored. A re-iterable with ``set_epoch`` is told the resumed epoch, so
:class:`~backprop.data.ParquetBatches` reads what an uninterrupted run would (the same
weights, bit for bit); another re-iterable restarts as it does every epoch; a generator
is not rewound: the resumed run trains on what it yields next. The run's fingerprint
records a stream's kind and feature shape instead of a hash of the data.
"""

from __future__ import annotations

import collections.abc
import itertools
import numbers
import warnings

import numpy as np

from backprop.engine.tensor import Tensor, no_grad
from backprop.training.inference import forward

__all__ = ["is_stream", "BatchStream", "train_stream_epoch", "evaluate_stream", "forward_cast"]


def is_stream(data) -> bool:
    """Whether ``data`` is a source of batches rather than an array-like of examples.

    Arrays, lists, tuples, dicts (named inputs), pandas objects and Tensors are
    examples; any other iterable (a generator, a DataLoader, ParquetBatches) is a stream.
    """
    if isinstance(data, (np.ndarray, list, tuple, str, bytes, collections.abc.Mapping)):
        return False
    if hasattr(data, "__array__") or hasattr(data, "to_numpy") or hasattr(data, "shape"):
        return False
    return isinstance(data, collections.abc.Iterable)


def _check_steps(steps, name: str):
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {steps!r}")
    return int(steps)


def _unpack(batch, name: str):
    """``(X, y, sample_weight or None)`` of one batch, or a ValueError saying what a batch is."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        what = f"a {type(batch).__name__}" if not isinstance(batch, (tuple, list)) else f"{len(batch)} items"
        raise ValueError(f"each batch of {name} must be (X, y) or (X, y, sample_weight), got {what}")
    return batch[0], batch[1], (batch[2] if len(batch) == 3 else None)


class BatchStream:
    """One fit call's view of a stream: its batches per epoch, validated.

    Args:
        data: a re-iterable or a one-shot iterator of batches (see the module docstring).
        steps: batches per epoch (``steps_per_epoch`` / ``validation_steps``), or None:
            all the batches a fresh iterator gives (a one-shot iterator: until it ends).
        epochs: how many times this call will read it (epochs, or validations).
        name: for messages (``"the training stream"``).

    Raises:
        ValueError: bad ``steps``, or a one-shot iterator to be read several times without ``steps``.
    """

    def __init__(self, data, steps, *, epochs: int, name: str, steps_name: str):
        self.data = data
        self.name = name
        self.steps = _check_steps(steps, steps_name)
        self.one_shot = isinstance(data, collections.abc.Iterator)
        if self.one_shot and self.steps is None and epochs > 1:
            raise ValueError(
                f"{name} is a one-shot iterator (a generator) read for {epochs} epochs: pass {steps_name}= "
                "(batches per epoch, consumed one after another as in Keras), or a re-iterable that "
                "iter() restarts each epoch (a DataLoader, backprop.data.ParquetBatches)")
        self._peeked = None  # (epoch, iterator, first batch) kept by peek() for that epoch
        self.exhausted = False
        self.first = None  # the first batch, prepared (the fit sets it: it fixes features and classes)

    def _iterator(self, epoch: int):
        if self.one_shot:
            return self.data
        set_epoch = getattr(self.data, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
        return iter(self.data)

    def peek(self, epoch: int):
        """The first batch of ``epoch``, unpacked; it is still the first that :meth:`epoch` gives.

        Raises:
            ValueError: the stream gives no batch.
        """
        iterator = self._iterator(epoch)
        first = next(iterator, None)
        if first is None:
            raise ValueError(f"{self.name} gave no batch")
        self._peeked = (epoch, iterator, first)
        return _unpack(first, self.name)

    def epoch(self, epoch: int):
        """The unpacked batches of ``epoch`` (at most ``steps``); sets ``exhausted`` when a
        one-shot iterator ended before ``steps`` batches."""
        if self._peeked is not None and self._peeked[0] == epoch:
            _, iterator, first = self._peeked
            batches = itertools.chain((first,), iterator)
        else:
            batches = self._iterator(epoch)
        self._peeked = None
        count = 0
        for batch in batches if self.steps is None else itertools.islice(batches, self.steps):
            count += 1
            yield _unpack(batch, self.name)
        if self.one_shot and (count == 0 or (self.steps is not None and count < self.steps)):
            self.exhausted = True


def _prepared_batches(trainer, stream: BatchStream, epoch: int, classes, name: str = ""):
    for X, y, weight in stream.epoch(epoch):
        yield trainer.prepare(X, y, weight, classes=classes, name=name)


def train_stream_epoch(trainer, stream: BatchStream, callbacks, classes) -> dict:
    """One epoch on a stream: the same steps, checks and logs as ``Trainer._train_epoch``.

    Returns the epoch logs: the cost Σ_b n_b J_b / Σ_b n_b, and the metrics on the
    epoch's outputs (kept only when there are metrics).
    """
    trainer.model.train()
    keep_outputs = bool(trainer.metrics)
    batch_hooks = callbacks.has_batch_hooks
    total, seen = 0.0, 0
    outputs, truths = [], []
    trainer._running = [0.0, 0, None, None]  # the running bar shows the cost (the outputs are in pieces)
    for batch, prepared in enumerate(_prepared_batches(trainer, stream, trainer.epoch, classes)):
        size = prepared.X.shape[0]
        if batch_hooks:
            callbacks.on_batch_begin(batch, {"batch": batch, "size": size})
        loss = trainer._train_step(prepared.X, prepared.target, prepared.weight)
        if not -np.inf < loss <= trainer._loss_limit:  # as in _train_epoch: NaN fails it too
            trainer._diverged(loss, batch)
        if keep_outputs:
            outputs.append(np.array(trainer.last_outputs))  # (a buffer the next step reuses)
            truths.append(prepared.truth)
        total += loss * size
        seen += size
        trainer._running[0], trainer._running[1] = total, seen
        if batch_hooks:
            callbacks.on_batch_end(batch, {"batch": batch, "size": size, "loss": loss})
        if trainer.stop_training:
            break
    if stream.exhausted:
        warnings.warn(f"{stream.name} ran out of batches at epoch {trainer.epoch + 1}; training stops "
                      "(give steps_per_epoch × epochs batches, or a re-iterable)", RuntimeWarning, stacklevel=4)
        trainer.stop_training = True
    if not seen:
        return {}
    if not trainer._terminate_on_nan:
        trainer._check_finite_weights()
    logs = {"loss": total / seen}
    if keep_outputs:
        logs.update(trainer._metric_values(np.concatenate(truths), np.concatenate(outputs)))
    return logs


def evaluate_stream(trainer, stream: BatchStream, epoch: int, classes, prefix: str = "") -> dict:
    """Cost and metrics over a stream in evaluation mode: J = Σ_b W_b J_b / Σ_b W_b + penalty.

    W_b is the batch's example count, or its total sample weight: J is then the loss
    over all examples at once (the losses are weighted means), to rounding.
    """
    model, loss_fn = trainer.model, trainer.loss_fn
    total, weight_total = 0.0, 0.0
    outputs, truths = [], []
    for prepared in _prepared_batches(trainer, stream, epoch, classes, name="validation "):
        out = forward(model, prepared.X, None)
        w = prepared.weight
        batch_weight = float(prepared.X.shape[0]) if w is None else float(w.sum())
        if batch_weight > 0:  # a batch of zero weights has no mean, and adds nothing
            with no_grad():
                cost = loss_fn(Tensor(out), prepared.target) if w is None else \
                    loss_fn(Tensor(out), prepared.target, sample_weight=w)
            total += float(cost.data) * batch_weight
            weight_total += batch_weight
        if trainer.metrics:
            outputs.append(np.array(out))
            truths.append(prepared.truth)
    if stream.exhausted:
        warnings.warn(f"{stream.name} ran out of batches at epoch {epoch + 1}", RuntimeWarning, stacklevel=3)
        trainer.stop_training = True
    if weight_total == 0:
        return {}
    with no_grad():
        penalty = model.regularization_loss()
    logs = {prefix + "loss": total / weight_total + (0.0 if penalty is None else float(penalty.data))}
    if trainer.metrics:
        logs.update(trainer._metric_values(np.concatenate(truths), np.concatenate(outputs), prefix))
    return logs


def stream_classes(prepared, known) -> None:
    """Refuse classes inferred from one batch unless they are the codes 0..K−1 (stable for any batch)."""
    classes = prepared.classes
    if known is None and classes is not None and not np.array_equal(np.asarray(classes), np.arange(len(classes))):
        raise ValueError(
            f"a stream's class labels must be the codes 0..K-1 of the K outputs (or one-hot rows), "
            f"since a stream cannot be scanned for its labels first; the first batch has {list(classes)[:10]}: "
            "encode the labels first (backprop.data.ParquetBatches and 'backprop train --stream' do)")


def forward_cast(model, X: np.ndarray, dtype, rows: int = 4096) -> np.ndarray:
    """Outputs on X (an out-of-core array of another dtype), cast to ``dtype`` ``rows`` rows at a time."""
    return np.concatenate([forward(model, np.ascontiguousarray(X[start:start + rows], dtype=dtype), None)
                           for start in range(0, X.shape[0], rows)], axis=0)
