"""The training loop: mini-batch gradient descent on any :class:`~backprop.nn.Module`.

One epoch, in the notes' terms: shuffle the examples; for each mini-batch,
forward propagation gives the outputs, the cost J = data loss + regularisation
penalty is computed, backpropagation gives ∂J/∂W for every parameter, and the
optimiser updates W (plain SGD: W ← W − η ∂J/∂W). ``batch_size=None`` is batch
gradient descent (one step per epoch on the average gradient of all N
examples), ``batch_size=1`` is stochastic gradient descent, anything else
mini-batch gradient descent.

:class:`Trainer` holds the model, the loss, the optimiser (and so its state),
the metrics and the callbacks, and can be driven one ``fit`` call at a time
(the scikit-learn front does so for ``partial_fit``). :func:`fit` and
:func:`evaluate` are the functions behind ``model.fit(...)`` and
``model.evaluate(...)`` (:class:`~backprop.models.Model`); the inference API
(``predict``, ``predict_proba``, ``predict_classes``) is :mod:`backprop.training.inference`.

What a fit learnt besides the weights (the loss, the classes, the number of features)
is one :class:`~backprop.training.fitted.FitRecord`: ``trainer.fit_record``, also set on
the model when the model keeps one (a Model does; a plain layer does not).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Iterable

import numpy as np

from backprop import random as bp_random
from backprop.engine.ops.activation import sigmoid_array
from backprop.engine.tensor import Tensor, no_grad
from backprop.io.safefile import ModelFileError
from backprop.losses import Loss, get_loss
from backprop.metrics import Metric, get_metric, metric_name
from backprop.optim import get_optimizer
from backprop.optim.packing import pack_parameters
from backprop.training import batches as batches_module
from backprop.training import checkpoint as checkpoint_module
from backprop.training import data as data_module
from backprop.training import data_parallel, fastpath
from backprop.training import inputs as inputs_module
from backprop.training.input_set import arrays_of, model_input
from backprop.training.callbacks import Callback, CallbackList, TerminateOnNaN
from backprop.training.class_weight import class_weight_table
from backprop.training.data import EpochBatches
from backprop.training.fitted import FitRecord, fit_record_of, keeps_fit_record, loss_identity
from backprop.training.history import History
from backprop.training import inference
from backprop.training.inference import check_batch_size, expected_features, forward, parameter_dtype
from backprop.training.progress import ProgressLogger

__all__ = ["Trainer", "TrainingDivergedError", "fit", "evaluate", "DIVERGENCE_FACTOR"]

# A batch cost above this many times max(|J of the run's first batch|, 1) counts as divergence.
# Adam at lr=1e6 reaches 1e13 times its first cost while staying finite; a healthy run, even
# one with early spikes (Adam at lr=10: about 1500 times), stays far below.
DIVERGENCE_FACTOR = 1e6


class TrainingDivergedError(ValueError, FloatingPointError):
    """Training diverged: the cost became NaN or infinite, or rose far above its first value.

    A ``ValueError`` (as scikit-learn's "Solver produced non-finite parameter weights")
    and a ``FloatingPointError``. Attributes: ``epoch`` and ``batch`` (from 0) and ``loss``.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float):
        super().__init__(message)
        self.epoch, self.batch, self.loss = epoch, batch, loss


class _Prepared:
    """Validated arrays of one dataset: X, the loss target, the metric target, the weights, the classes."""

    __slots__ = ("X", "target", "truth", "weight", "classes")

    def __init__(self, X, target, truth, weight, classes):
        self.X, self.target, self.truth, self.weight, self.classes = X, target, truth, weight, classes

    def take(self, start: int, stop: int | None = None) -> "_Prepared":
        cut = slice(start, stop)
        return _Prepared(self.X[cut], self.target[cut], self.truth[cut],
                         None if self.weight is None else self.weight[cut], self.classes)


def resolve_loss(loss):
    """``(callable, canonical name or None)``; a loss passed as one of ours keeps its name."""
    if loss is None:
        raise ValueError("loss is required, e.g. loss='cross_entropy' or loss='mse'")
    function = get_loss(loss)
    return function, loss_identity(function)[0]


class Trainer:
    """Runs the training loop for one model; keeps the optimiser (and its state) across calls.

    Args:
        model: any Module; its ``forward`` maps a batch (rows = examples) to outputs.
        loss: a loss name (``"cross_entropy"``, ``"mse"``, ``"half_mse"``,
            ``"binary_cross_entropy"``, ``"binary_cross_entropy_with_logits"``, ...) or a
            callable ``loss(outputs, target[, sample_weight=]) -> Tensor``.
        optimizer: a name (``"sgd"``, ``"adam"``, ``"rmsprop"``, ``"adamw"``; the
            optimiser's default hyper-parameters) or an optimiser over ``model.parameters()``.
            None builds a trainer that can only evaluate.
        metrics: names or functions, see :mod:`backprop.metrics`.
        callbacks: :class:`~backprop.training.callbacks.Callback` instances.
        batch_size: None (full batch), 1 (SGD) or k (mini-batches of k; the last one
            keeps the remainder).
        shuffle: draw a new example order each epoch from :mod:`backprop.random`; None:
            True for arrays; a stream of batches is never shuffled (True is refused).
        verbose: 0 silent, 1 progress bar in a terminal (else a line per epoch), 2 a
            line per epoch.
        fast_path: with one of our losses, run each step through the layers' fused forms
            (:mod:`backprop.training.fastpath`: the same gradients, no graph bookkeeping,
            reused buffers; a layer without one runs in the engine inside the step).
            False always uses the general engine.
        divergence_factor: training stops with :class:`TrainingDivergedError` when a batch's
            cost is NaN or ±inf (unless a ``TerminateOnNaN`` callback is given: it then stops
            training quietly, as in Keras), or exceeds ``divergence_factor`` × max(|J₁|, 1),
            J₁ being the first batch's cost of the ``fit`` call (a finite blow-up; default
            1e6). None turns the second check off. The weights are left as the diverging
            step made them.
        order_rng: where each epoch's example order comes from when shuffling: None for
            :mod:`backprop.random`'s generator, or any object whose ``permutation(n)``
            returns a permutation of 0..n−1 (the scikit-learn front replays scikit-learn's).
        distributed: train data-parallel over the ranks of an MPI job (``mpiexec -n K``):
            each rank runs its share of every batch and the gradients are averaged
            (:mod:`backprop.training.data_parallel`). Needs mpi4py (the ``mpi`` extra);
            with one rank it trains as without it.

    Attributes:
        optimizer, history (a :class:`History`, cumulative over calls), epoch (epochs
        completed), stop_training (set it to stop after the current batch),
        params (epochs, steps, batch_size, samples), last_outputs (the outputs of the
        last training step, as an ndarray), fit_record (what the last fit learnt besides the
        weights, a :class:`~backprop.training.fitted.FitRecord`; it starts as the model's own,
        and each fit sets it on the model too when the model keeps one).
    """

    def __init__(self, model, *, loss, optimizer="adam", metrics: Iterable = (), callbacks: Iterable = (),
                 batch_size: int | None = 32, shuffle: bool | None = None, verbose: int = 1,
                 fast_path: bool = True, divergence_factor: float | None = DIVERGENCE_FACTOR,
                 order_rng=None, distributed: bool = False):
        self.model = model
        self.distributed = data_parallel.check_distributed(distributed)
        #: The data-parallel side of the step while a distributed fit runs on K > 1 ranks, else None.
        self.gradient_reducer: data_parallel.GradientReducer | None = None
        self.loss_fn, self.loss_name = resolve_loss(loss)
        self.kind = getattr(self.loss_fn, "kind", None) if isinstance(self.loss_fn, Loss) else None
        self.optimizer = None if optimizer is None else get_optimizer(optimizer, model.parameters())
        self.metric_specs = list(metrics or ())
        self.metrics = [(metric_name(m), get_metric(m)) for m in self.metric_specs]
        names = [name for name, _ in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"metric names must be distinct and not 'loss', got {names}")
        self.batch_size = check_batch_size(batch_size)
        self.shuffle = True if shuffle is None else bool(shuffle)
        self.shuffle_given = shuffle is not None and bool(shuffle)  # refused on a stream (its own order)
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.callbacks = list(callbacks or ())
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        self.history = History()
        self.epoch = 0
        self.stop_training = False
        self.params: dict = {}
        self.last_outputs: np.ndarray | None = None
        self._running = None
        self.fast_path = bool(fast_path)
        self.order_rng = order_rng
        self._fused = None
        if divergence_factor is not None and (
                isinstance(divergence_factor, bool) or not isinstance(divergence_factor, numbers.Real)
                or not math.isfinite(divergence_factor) or divergence_factor <= 1):
            raise ValueError(f"divergence_factor must be a finite number > 1 or None (no check), got {divergence_factor!r}")
        self.divergence_factor = divergence_factor
        self._loss_limit = -math.inf  # -inf: the next batch's cost is the reference (see _diverged)
        self._first_loss = None
        self._terminate_on_nan = False
        self._run_fingerprint = None  # what the checkpoint of the current fit call records (see checkpoint.py)
        #: What the last fit learnt besides the weights; starts as the model's own (a previous fit's or a file's).
        self.fit_record: FitRecord | None = fit_record_of(model)

    # ================================================================= data
    def prepare(self, X, y, sample_weight=None, *, classes=None, name: str = "", out_of_core: bool = False) -> _Prepared:
        """Validate and convert one dataset (see :mod:`backprop.training.data`); nothing is modified.

        Args:
            classes: the classes to encode labels with (default: the fit record's); labels
                outside them are refused. Without any, they are inferred from the labels.
            name: prefix for messages, e.g. ``"validation "``.
            out_of_core: keep a NumPy memmap X as it is (never converted whole; the
                batches are cast one at a time, see :func:`~backprop.training.data.check_features`).

        Raises:
            ValueError: naming the problem (NaN/inf, shapes, lengths, unknown labels...).
        """
        model = self.model
        dtype = parameter_dtype(model)
        X = inputs_module.check_inputs(model, X, dtype=dtype, n_features=expected_features(model, self.fit_record),
                                       name=f"{name}X", out_of_core=out_of_core)  # an array, or an InputSet
        n = len(X)
        n_outputs = inference.n_outputs(model, X)
        y_name = f"{name}y"
        if y is None:
            raise ValueError(f"{y_name} is None; targets are required")
        if classes is None:
            classes = self._known_classes()
        kind = self.kind
        if kind == "multiclass" or (kind in ("binary_logits", "binary_probabilities") and n_outputs == 1):
            target, truth, classes = self._class_targets(y, n, n_outputs, classes, dtype, y_name)
        elif kind in ("binary_logits", "binary_probabilities"):  # several independent yes/no outputs
            target = data_module.check_regression_targets(y, n, dtype=dtype, n_outputs=n_outputs, name=y_name)
            if ((target != 0) & (target != 1)).any():
                raise ValueError(f"{y_name} must hold 0/1 targets for {n_outputs} binary outputs")
            truth, classes = target, None
        else:
            target = data_module.check_regression_targets(y, n, dtype=dtype, n_outputs=n_outputs, name=y_name)
            truth, classes = target, None
        weight = data_module.check_sample_weight(sample_weight, n, dtype=dtype, name=f"{name}sample_weight")
        return _Prepared(X, target, truth, weight, classes)

    def _class_targets(self, y, n, n_outputs, classes, dtype, name):
        raw = data_module.as_array(y, name)
        if self.kind == "multiclass" and raw.ndim == 2 and raw.shape[1] > 1:
            # one-hot or probability rows: already one column per output
            rows = data_module.check_regression_targets(raw, n, dtype=dtype, n_outputs=n_outputs, name=name)
            if (rows < 0).any():
                raise ValueError(f"{name} rows must be one-hot or probabilities (non-negative)")
            if classes is None:
                classes = np.arange(n_outputs, dtype=np.int64)
            return rows, np.argmax(rows, axis=1), classes
        labels = data_module.normalise_labels(raw, name)
        data_module.check_length(n, labels, name)
        if classes is None:
            # Also when evaluating a model never fit: integer labels then map to outputs as they are.
            classes = data_module.infer_classes(labels, self.kind, n_outputs, name)
        codes = data_module.encode_labels(labels, np.asarray(classes), name)
        if self.kind == "multiclass":
            if n_outputs is not None and len(classes) != n_outputs:
                raise ValueError(
                    f"the model has {n_outputs} outputs but {len(classes)} classes {list(classes)[:10]}"
                )
            return codes, codes, classes
        return codes.astype(dtype), codes, classes

    # ========================================================== fit record
    def _known_classes(self):
        """The classes labels are encoded with when none are given: the last fit's (None: infer them)."""
        return None if self.fit_record is None else self.fit_record.classes

    def record_fit(self, prepared: _Prepared) -> FitRecord:
        """Build the fit record of training on ``prepared`` with this trainer's loss and metrics, and keep it.

        Returns:
            The :class:`FitRecord`, also in ``self.fit_record`` (see :meth:`set_fit_record`).
        """
        X = prepared.X
        record = FitRecord.of_fit(self.loss_fn, classes=prepared.classes, metrics=self.metric_specs,
                                  n_features_in=int(X.shape[1]) if isinstance(X, np.ndarray) and X.ndim == 2 else None)
        self.set_fit_record(record)
        return record

    def set_fit_record(self, record: FitRecord | None) -> None:
        """Keep ``record`` as ``self.fit_record``, and on the model when it keeps one (a Model)."""
        self.fit_record = record
        if keeps_fit_record(self.model):
            self.model.fit_record = record

    # ================================================================= loop
    def fit(self, X, y=None, *, epochs: int = 1, validation_data=None, validation_split: float = 0.0,
            sample_weight=None, checkpoint=None, seed: int | None = None, class_weight=None,
            steps_per_epoch: int | None = None, validation_steps: int | None = None) -> History:
        """Train for ``epochs`` more epochs (or up to ``epochs`` in total when resuming a checkpoint).

        Args:
            X, y: training data; see :func:`fit`. X may be a stream of ``(X, y[, w])``
                batches, y then None (:mod:`backprop.training.batches`).
            epochs: epochs to run in this call. With ``checkpoint``, the total: a run
                resumed at epoch k runs epochs k..epochs−1.
            validation_data: ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``.
            validation_split: fraction of the *last* examples (before shuffling) held out
                for validation, as in Keras; ignored when ``validation_data`` is given.
            sample_weight: one weight per training example.
            checkpoint: path of a training-state file written at each epoch end and
                resumed from when it exists (see :mod:`backprop.training.checkpoint`).
            seed: when not None, ``backprop.random.manual_seed(seed)`` before anything is
                drawn (the data order and dropout masks; the weights were drawn when the
                model was built).
            class_weight: ``{label: weight}`` or ``"balanced"``: each training example's loss
                weighs its class's weight, times its ``sample_weight`` (see
                :mod:`backprop.training.class_weight`); the validation data are not weighted.
            steps_per_epoch, validation_steps: batches per epoch of a training / validation
                stream (see :mod:`backprop.training.batches`).

        Returns:
            ``self.history``.

        Raises:
            ValueError: for bad input, before any training step.
            ModelFileError: ``checkpoint`` is not a valid checkpoint (nothing is changed).
            CheckpointMismatchError: ``checkpoint`` was written by another run (nothing is changed).
            TrainingDivergedError: the cost became NaN/inf or blew up (see ``divergence_factor``).
        """
        if self.optimizer is None:
            raise ValueError("this Trainer was built without an optimizer; it can only evaluate")
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        stored = None
        if checkpoint is not None and os.path.exists(os.fspath(checkpoint)):
            stored = checkpoint_module.read_checkpoint(checkpoint)  # validated; a ModelFileError otherwise
            checkpoint_module.check_compatible(stored, self)
        classes = self._known_classes()
        if stored is not None and stored.classes is not None:
            classes = stored.classes

        stream = batches_module.is_stream(X)
        try:
            if stream:
                start = stored.epoch if stored is not None else self.epoch
                runs = int(epochs) - start if stored is not None else int(epochs)
                train, val, data = self._prepare_stream(X, y, sample_weight, validation_data, validation_split,
                                                        classes, start, runs, steps_per_epoch, validation_steps)
            else:
                self._check_array_options(validation_data, steps_per_epoch, validation_steps)
                train, val, data = self._prepare_fit_data(X, y, sample_weight, validation_data, validation_split,
                                                          classes, signature=checkpoint is not None)
        except ValueError as error:
            if stored is None or stored.classes is None:
                raise
            try:  # bad data in themselves, or labels the checkpoint's run never had?
                self.prepare(X, y, sample_weight, classes=self._known_classes())
            except ValueError:
                raise error from None
            raise checkpoint_module.CheckpointMismatchError(
                f"{stored.path}: this checkpoint belongs to another training run: the data do not fit it "
                f"({error}); {checkpoint_module._FRESH}") from None
        classes = (train.first if stream else train).classes
        class_weights = None
        if class_weight is not None:
            if stream:
                raise ValueError("class_weight is not supported with a stream of batches: yield "
                                 "(X, y, sample_weight) with the class weights in sample_weight")
            train, class_weights = self._weigh_classes(train, class_weight)
        if stream and self.distributed:
            raise ValueError("fit(distributed=True) takes arrays, not a stream of batches (each rank "
                             "would need its share of every batch): pass X and y as arrays or memmaps")
        target_epoch = int(epochs) if stored is not None else self.epoch + int(epochs)
        self._run_fingerprint = None
        if checkpoint is not None:
            self._run_fingerprint = checkpoint_module.run_fingerprint(self, epochs=target_epoch, seed=seed, data=data,
                                                                    class_weights=class_weights)
            if stored is not None:
                self._run_fingerprint = checkpoint_module.check_same_run(stored, self._run_fingerprint)

        # Everything is valid: from here on the model and the random state change
        # (a checkpoint state that still fails to load is rolled back to `before`).
        before = checkpoint_module.snapshot(self) if stored is not None else None
        if seed is not None:
            bp_random.manual_seed(seed)
        if stored is not None:
            checkpoint_module.restore(stored, self, before)
        model = self.model
        self.record_fit(train.first if stream else train)
        if stored is not None and stored.finished and (stored.stop_training or self.epoch >= target_epoch):
            return self.history

        self._fused = fastpath.compile_model(model, self.loss_fn) if self.fast_path else None
        if self._fused is not None:
            # One optimiser update over all weights; Dense W column-major (faster products)
            pack_parameters(model.parameters(), column_major=self._fused.column_major_params)
            self._fused.check_gradients()  # (gradients kept from the last fit must follow the new layout)
        reducer = self.gradient_reducer = data_parallel.start(self)
        main = reducer is None or reducer.is_main
        if stream:
            batches = train
            self.params = {"epochs": target_epoch, "steps": train.steps, "batch_size": None, "samples": None,
                           "do_validation": val is not None, "metrics": self._log_keys(val)}
        else:
            batches = EpochBatches([train.X, train.target, train.truth, train.weight], self.batch_size,
                                   self.shuffle, dtype=inputs_module.feature_dtype(model, train.X, parameter_dtype(model)))
            self.params = {"epochs": target_epoch, "steps": batches.steps, "batch_size": batches.batch_size,
                           "samples": batches.n, "do_validation": val is not None, "metrics": self._log_keys(val)}
        self.history.params = dict(self.params)
        user_callbacks = list(self.callbacks)
        all_callbacks = [self.history] + [c for c in user_callbacks if main or not c.main_rank_only]
        if self.verbose and main:
            all_callbacks.append(ProgressLogger(self.verbose))
        callbacks = CallbackList(all_callbacks)
        callbacks.set_trainer(self)
        self.stop_training = False
        self._loss_limit, self._first_loss = -math.inf, None  # the next batch's cost is the reference
        self._terminate_on_nan = any(isinstance(callback, TerminateOnNaN) for callback in user_callbacks)

        resumed = stored is not None
        callbacks.on_train_begin({"resumed": resumed, "initial_epoch": self.epoch})
        if resumed:
            try:
                checkpoint_module.restore_callbacks(stored, self, user_callbacks)
            except ModelFileError:
                checkpoint_module.roll_back(self, before)
                raise
            self.stop_training = bool(stored.stop_training)

        epoch_outputs = None
        while self.epoch < target_epoch and not self.stop_training:
            epoch = self.epoch
            callbacks.on_epoch_begin(epoch, {})
            if stream:
                logs = batches_module.train_stream_epoch(self, batches, callbacks, self.fit_record.classes)
                if not logs:  # the stream had no batch left for this epoch (it warned)
                    break
            else:
                logs, epoch_outputs = self._train_epoch(batches, callbacks, epoch_outputs)
            if reducer is not None:
                reducer.check_in_sync(epoch)
            if isinstance(val, batches_module.BatchStream):
                logs.update(batches_module.evaluate_stream(self, val, epoch, self.fit_record.classes, "val_"))
            elif val is not None:
                logs.update(self._evaluate_prepared(val, prefix="val_"))
            self.epoch += 1
            callbacks.on_epoch_end(epoch, logs)
            if checkpoint is not None and main:
                checkpoint_module.write_checkpoint(checkpoint, self, user_callbacks, finished=False)
        callbacks.on_train_end({"epoch": self.epoch})
        if checkpoint is not None and main:
            checkpoint_module.write_checkpoint(checkpoint, self, user_callbacks, finished=True)
        if reducer is not None:
            reducer.finish()  # (the next fit of any rank reads what rank 0 has written)
            self.gradient_reducer = None
        if self._fused is not None:
            self._fused.release_buffers()  # (the model keeps its plan and gradients, not a batch's arrays)
        return self.history

    def _prepare_fit_data(self, X, y, sample_weight, validation_data, validation_split, classes, signature=False):
        """(train, validation or None, the data's signature for a checkpoint's fingerprint or None)."""
        from backprop.training.checkpoint import data_signature

        train = self.prepare(X, y, sample_weight, classes=classes, out_of_core=True)
        data = data_signature([*arrays_of(train.X), train.target, train.weight]) if signature else None  # before the split
        classes = train.classes
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be (X_val, y_val) or (X_val, y_val, sample_weight_val)")
            val_weight = validation_data[2] if len(validation_data) == 3 else None
            val = self.prepare(validation_data[0], validation_data[1], val_weight, classes=classes,
                               name="validation ")
        else:
            split_at = data_module.split_validation(len(train.X), validation_split)
            if validation_split > 0:
                val = train.take(split_at)
                train = train.take(0, split_at)
        return train, val, data

    def _weigh_classes(self, train: _Prepared, class_weight) -> tuple:
        """(``train`` with each example's weight times its class's (``fit``'s ``class_weight``),
        each class's weight: what a checkpoint's fingerprint records)."""
        if train.classes is None or self.kind is None or (
                self.kind != "multiclass" and train.truth.ndim != 1):
            raise ValueError("class_weight needs one class label per example and a classification loss "
                             "(cross_entropy or a binary loss with one output); for multi-label or "
                             "regression targets pass sample_weight")
        table = class_weight_table(class_weight, train.truth, np.asarray(train.classes))
        weight = table[train.truth].astype(parameter_dtype(self.model))  # (X may be an InputSet)
        if train.weight is not None:
            weight *= train.weight
        if not (weight > 0).any():
            raise ValueError("class_weight and sample_weight give every training example the weight 0")
        return _Prepared(train.X, train.target, train.truth, weight, train.classes), table

    def _check_array_options(self, validation_data, steps_per_epoch, validation_steps) -> None:
        if steps_per_epoch is not None:
            raise ValueError("steps_per_epoch is for a stream of batches; with arrays an epoch is "
                             "ceil(N / batch_size) steps")
        if validation_steps is not None and not batches_module.is_stream(validation_data):
            raise ValueError("validation_steps is for a validation stream (validation_data as batches)")
        if validation_data is not None and batches_module.is_stream(validation_data):
            raise ValueError("a validation stream needs a training stream; pass validation_data as arrays "
                             "(X_val, y_val[, w_val])")

    def _prepare_stream(self, X, y, sample_weight, validation_data, validation_split, classes, start,
                        runs, steps_per_epoch, validation_steps):
        """(training BatchStream, validation BatchStream / prepared arrays / None, the data's signature).

        The training stream's first batch is read and prepared (``stream.first``): it fixes
        the features and the classes; see :mod:`backprop.training.batches` for the rules.
        """
        for given, name, why in ((y is not None, "y", "the batches hold the targets"),
                                 (sample_weight is not None, "sample_weight", "the batches hold the weights: "
                                  "yield (X, y, sample_weight)"),
                                 (validation_split, "validation_split", "a stream has no last fraction: pass "
                                  "validation_data"),
                                 (self.shuffle_given, "shuffle=True", "shuffling is the stream's job "
                                  "(backprop.data.ParquetBatches shuffles within a buffer)")):
            if given:
                raise ValueError(f"fit on a stream of batches takes no {name} ({why})")
        train = batches_module.BatchStream(X, steps_per_epoch, epochs=runs, name="the training stream",
                                           steps_name="steps_per_epoch")
        first_X, first_y, first_w = train.peek(start)
        train.first = self.prepare(first_X, first_y, first_w, classes=classes)
        batches_module.stream_classes(train.first, classes)
        # A stream cannot be hashed ahead: the fingerprint records its kind and its features' shape.
        data = {"shapes": [["stream", list(train.first.X.shape[1:])]], "hash": f"stream:{type(X).__name__}"}
        val = None
        if batches_module.is_stream(validation_data):
            val = batches_module.BatchStream(validation_data, validation_steps, epochs=runs,
                                             name="the validation stream", steps_name="validation_steps")
        elif validation_steps is not None:
            raise ValueError("validation_steps is for a validation stream (validation_data as batches)")
        elif validation_data is not None:
            _, val, _ = self._prepare_fit_data(first_X, first_y, first_w, validation_data, 0.0, train.first.classes)
        return train, val, data

    def _log_keys(self, val) -> list:
        keys = ["loss"] + [name for name, _ in self.metrics]
        if val is not None:
            keys += ["val_" + key for key in keys]
        return keys

    def _train_epoch(self, batches: EpochBatches, callbacks: CallbackList, outputs):
        """One pass over the data; returns the epoch logs (cost and metrics on the training batches)."""
        model = self.model
        reducer = self.gradient_reducer
        X, target, truth, weight = batches.start_epoch(
            reducer.order_rng if reducer is not None else
            bp_random.get_rng() if self.order_rng is None else self.order_rng)
        model.train()
        keep_outputs = bool(self.metrics)
        batch_hooks = callbacks.has_batch_hooks
        total, seen = 0.0, 0
        self._running = [0.0, 0, outputs, truth]
        for batch, (start, stop) in enumerate(batches.bounds()):
            if batch_hooks:
                callbacks.on_batch_begin(batch, {"batch": batch, "size": stop - start})
            if reducer is None:
                loss = self._train_step(X[start:stop], target[start:stop],
                                        None if weight is None else weight[start:stop])
            else:  # this rank's share of the batch; the step averages the gradients over the ranks
                lo, hi, share_weight = reducer.shard(start, stop, weight)
                with reducer.batch_statistics():  # (BatchNorm: the statistics of the whole batch)
                    loss = self._train_step(X[lo:hi], target[lo:hi], share_weight,
                                            skip=weight is not None and not weight[start:stop].any())
            if not -math.inf < loss <= self._loss_limit:  # one comparison per batch; NaN fails it too
                self._diverged(loss, batch)
            if keep_outputs:
                if outputs is None:
                    outputs = np.empty((batches.n,) + self.last_outputs.shape[1:], dtype=self.last_outputs.dtype)
                    self._running[2] = outputs
                outputs[start:stop] = self.last_outputs
            total += loss * (stop - start)
            seen = stop
            self._running[0], self._running[1] = total, seen
            if batch_hooks:
                callbacks.on_batch_end(batch, {"batch": batch, "size": stop - start, "loss": loss})
            if self.stop_training:
                break
        if not self._terminate_on_nan:
            self._check_finite_weights()
        logs = {"loss": total / seen}
        if keep_outputs:
            logs.update(self._metric_values(truth[:seen], outputs[:seen]))
        return logs, outputs

    def _check_finite_weights(self) -> None:
        """The last step of an epoch can overflow a weight while its own cost was finite."""
        for name, p in self.model.named_parameters():
            if not np.isfinite(p.data).all():
                raise TrainingDivergedError(
                    f"training diverged: the weight {name} is no longer finite after epoch {self.epoch + 1} "
                    "(try a smaller learning rate)", epoch=self.epoch, batch=-1, loss=math.nan,
                )

    def _diverged(self, loss: float, batch: int) -> None:
        """Called when a batch cost fails the divergence test; raises unless it is the first batch."""
        if self._first_loss is None and math.isfinite(loss):  # the first batch: the reference cost
            self._first_loss = loss
            factor = self.divergence_factor
            self._loss_limit = math.inf if factor is None else factor * max(abs(loss), 1.0)
            return
        if not math.isfinite(loss) and self._terminate_on_nan:
            return  # TerminateOnNaN stops the run after this batch, without an error (the CLI relies on it)
        lr = self.optimizer.param_groups[0].get("lr") if self.optimizer.param_groups else None
        advice = f"try a smaller learning rate than lr={lr:g}" if isinstance(lr, numbers.Real) else "try a smaller learning rate"
        where = f"at epoch {self.epoch + 1}, batch {batch + 1}"
        if math.isfinite(loss):
            what = (f"the cost rose to {loss:.3g} {where}, over {self.divergence_factor:g} times "
                    f"max(|first batch cost|, 1) (first: {self._first_loss:.3g})")
            off = "; divergence_factor=None (fit or Trainer) turns this check off"
        else:
            what = f"the cost became {loss} {where}"
            off = "; callbacks=[TerminateOnNaN()] stops training without an error instead"
        raise TrainingDivergedError(
            f"training diverged: {what}; the weights are no longer usable ({advice}){off}",
            epoch=self.epoch, batch=batch, loss=loss,
        )

    def _train_step(self, x_batch, y_batch: np.ndarray, w_batch: np.ndarray | None,
                    skip: bool | None = None) -> float:
        """One optimiser step on one batch; returns the batch's cost J = loss + penalty.

        The forward pass, cost, backpropagation and update live here and nowhere
        else, so that a fused fast path can replace this method. It must set
        ``self.last_outputs`` to the batch's outputs (an ndarray). In a distributed fit
        the batch is this rank's share, ``skip`` says whether the whole batch weighs 0,
        and ``self.gradient_reducer`` averages the gradients between backward and the update.
        """
        self.optimizer.zero_grad()
        if skip is None:
            skip = w_batch is not None and not w_batch.any()
        if skip:
            return self._skip_step(x_batch)
        if self._fused is not None:
            cost, self.last_outputs = self._fused.train_step(x_batch, y_batch, w_batch)
        else:
            outputs = self.model(model_input(x_batch))
            if w_batch is None:
                cost = self.loss_fn(outputs, y_batch)
            else:
                cost = self.loss_fn(outputs, y_batch, sample_weight=w_batch)
            penalty = self.model.regularization_loss()
            if penalty is not None:
                cost = cost + penalty
            cost.backward()
            self.last_outputs = outputs.data
            cost = float(cost.data)
        reducer = self.gradient_reducer
        if reducer is not None:
            cost = reducer.reduce(cost, self.last_outputs)
            if reducer.with_outputs:
                self.last_outputs = reducer.outputs
        self.optimizer.step()
        return cost

    def _skip_step(self, x_batch) -> float:
        """A batch whose examples all weigh 0 has no weighted mean: no update; its cost is the penalty."""
        with no_grad():
            self.last_outputs = self.model(model_input(x_batch)).data
            penalty = self.model.regularization_loss()
        if self.gradient_reducer is not None and self.gradient_reducer.with_outputs:
            self.last_outputs = self.gradient_reducer.gather_outputs(self.last_outputs)
        return 0.0 if penalty is None else float(penalty.data)

    def running_logs(self) -> dict:
        """The current epoch's running cost and metrics, over the batches run so far."""
        if self._running is None:
            return {}
        total, seen, outputs, truth = self._running
        if not seen:
            return {}
        logs = {"loss": total / seen}
        if self.metrics and outputs is not None:
            logs.update(self._metric_values(truth[:seen], outputs[:seen]))
        return logs

    # =========================================================== evaluation
    def _metric_task(self, truth: np.ndarray, outputs: np.ndarray) -> str | None:
        """The classification task the loss and the outputs make (see :mod:`backprop.metrics`), or None."""
        kind = self.kind
        if kind in ("binary_logits", "binary_probabilities"):
            return "multilabel" if truth.ndim == 2 and truth.shape[1] > 1 else "binary"
        if kind == "multiclass":
            return "binary" if outputs.ndim == 2 and outputs.shape[1] == 2 else "multiclass"
        return None

    def _metric_values(self, truth: np.ndarray, outputs: np.ndarray, prefix: str = "") -> dict:
        if self.kind == "binary_logits":
            outputs = sigmoid_array(outputs)  # metrics threshold probabilities at 0.5
        task = self._metric_task(truth, outputs)
        values, probabilities = {}, None
        for name, metric in self.metrics:
            if task is None or not isinstance(metric, Metric) or not metric.takes_task:
                values[prefix + name] = float(metric(truth, outputs))
                continue
            given = outputs
            if metric.kind == "scores":  # roc_auc, log_loss: probabilities, softmax(z) of a logits loss
                if probabilities is None:  # (binary_logits' outputs are σ(z) already; probabilities are clipped)
                    probabilities = np.clip(outputs, 0.0, 1.0) if self.kind == "binary_logits" else \
                        self.loss_fn.probabilities(outputs)
                given = probabilities
            values[prefix + name] = float(metric(truth, given, task=task))
        return values

    def _evaluate_prepared(self, prepared: _Prepared, prefix: str = "", batch_size: int | None = None) -> dict:
        dtype = inputs_module.feature_dtype(self.model, prepared.X, parameter_dtype(self.model))
        if self.gradient_reducer is not None:  # each rank predicts its share of the rows; all get all outputs
            outputs = self.gradient_reducer.predict_rows(lambda X: forward(self.model, X, batch_size), prepared.X)
        elif dtype is None or prepared.X.dtype == dtype:  # (codes and several inputs are never cast)
            outputs = forward(self.model, prepared.X, batch_size)
        else:  # an out-of-core X of another dtype (a memmap): cast a chunk at a time, never whole
            outputs = batches_module.forward_cast(self.model, prepared.X, dtype)
        with no_grad():
            if prepared.weight is None:
                cost = self.loss_fn(Tensor(outputs), prepared.target)
            else:
                cost = self.loss_fn(Tensor(outputs), prepared.target, sample_weight=prepared.weight)
            penalty = self.model.regularization_loss()
            value = float(cost.data) + (0.0 if penalty is None else float(penalty.data))
        logs = {prefix + "loss": value}
        logs.update(self._metric_values(prepared.truth, outputs, prefix))
        return logs

    def evaluate(self, X, y, *, sample_weight=None, batch_size: int | None = None) -> dict:
        """``{"loss": J, metric: value, ...}`` on (X, y) in evaluation mode (J includes the penalty)."""
        prepared = self.prepare(X, y, sample_weight)
        return self._evaluate_prepared(prepared, batch_size=check_batch_size(batch_size))


# ===================================================================== front
def fit(model, X, y=None, *, loss, optimizer="adam", epochs: int = 1, batch_size: int | None = 32,
        shuffle: bool | None = None, validation_data=None, validation_split: float = 0.0, callbacks=(),
        metrics=(), seed: int | None = None, checkpoint=None, verbose: int = 1, sample_weight=None,
        divergence_factor: float | None = DIVERGENCE_FACTOR, class_weight=None,
        distributed: bool = False, steps_per_epoch: int | None = None,
        validation_steps: int | None = None) -> History:
    """Train ``model`` on (X, y) with mini-batch gradient descent; ``Model.fit`` calls this.

    Args:
        model: any Module. A :class:`~backprop.models.Model` keeps what the fit learnt
            besides the weights as ``model.fit_record``; a plain module keeps none (its
            record is lost with the Trainer: wrap it, ``bp.Model(module)``, to keep it).
        X: (N, n_features) array-like (NumPy, lists, pandas); rows are examples. For a model whose
            first layer is an ``nn.Embedding``: integer codes; for an ``nn.Concat``: a tuple or dict of
            such arrays, one per branch (see :mod:`backprop.training.inputs`). A NumPy
            memmap is never copied whole (batches are sliced, and cast one at a time when
            its dtype is not the weights'). Or a stream of ``(X, y)`` / ``(X, y, w)`` batches:
            a re-iterable (a DataLoader, :class:`backprop.data.ParquetBatches`) or a
            generator, y then None; see :mod:`backprop.training.batches`.
        y: targets: class labels (ints or strings) for the cross-entropy losses, values
            for regression. Classification labels are encoded (sorted unique, like
            scikit-learn's LabelEncoder) and the labels kept in the fit record
            (``model.classes_``).
        loss: a loss name or callable (see :class:`Trainer`). The reported ``loss`` is the
            cost: data loss + ``model.regularization_loss()``.
        optimizer: a name (with the optimiser's defaults) or an optimiser instance.
        epochs: number of passes over the data (the total when resuming a checkpoint).
        batch_size: None = full batch (batch gradient descent), 1 = SGD, k = mini-batches.
        shuffle: new example order each epoch (drawn from ``backprop.random``); None: True
            for arrays; a stream is not shuffled (shuffling is its job; True is refused).
        validation_data: ``(X_val, y_val[, w_val])``, or a stream of batches (with a
            training stream), evaluated after each epoch.
        validation_split: use the last fraction of (X, y), before shuffling, as validation
            data (Keras's rule).
        callbacks: Callback instances (``backprop.callbacks``).
        metrics: names (``"accuracy"``, ``"f1"``, ``"mae"``...) or functions.
        seed: ``backprop.random.manual_seed(seed)`` first: same seed, same initial
            weights → bit-identical weights, history and predictions.
        checkpoint: path of a training-state file: written each epoch, resumed from if it
            exists.
        verbose: 0, 1 (bar in a terminal, a line per epoch otherwise) or 2 (lines).
        sample_weight: one non-negative weight per example.
        divergence_factor: see :class:`Trainer`: a NaN/infinite cost, or one above
            ``divergence_factor`` × max(|first batch cost|, 1), raises
            :class:`TrainingDivergedError` (a NaN only stops training when a
            ``TerminateOnNaN`` callback is given). None disables the second test.
        class_weight: ``{label: weight}`` with the original class labels (a class left out
            weighs 1; a label that is not a class is refused) or ``"balanced"``, as Keras's
            ``class_weight``: the training loss weighs each example by its class's weight,
            times its ``sample_weight``.
        distributed: under ``mpiexec -n K``, train data-parallel on the K ranks (every rank
            runs the same script with the same data; ``batch_size`` is the global batch,
            split over the ranks; only rank 0 prints and writes files). Needs the ``mpi``
            extra; see :mod:`backprop.training.data_parallel` and docs/distributed.md.
        steps_per_epoch: batches per epoch of a training stream (required for a generator
            read for more than one epoch; a cap for a re-iterable).
        validation_steps: batches per evaluation of a validation stream (the same rule).

    Returns:
        A :class:`History`: ``history.history["loss"]``, ``["val_loss"]``, ``[metric]``...

    Example (XOR, batch gradient descent):
        >>> import numpy as np
        >>> from backprop import manual_seed, nn, optim
        >>> _ = manual_seed(0)
        >>> model = nn.Sequential(nn.Dense(2, 8, activation="tanh"), nn.Dense(8, 1))
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); y = np.array([0, 1, 1, 0])
        >>> history = fit(model, X, y, loss="binary_cross_entropy_with_logits",
        ...               optimizer=optim.Adam(model.parameters(), lr=0.05), epochs=300,
        ...               batch_size=None, verbose=0)
        >>> model.predict_classes(X)
        array([0, 1, 1, 0])
    """
    trainer = Trainer(model, loss=loss, optimizer=optimizer, metrics=metrics, callbacks=callbacks,
                      batch_size=batch_size, shuffle=shuffle, verbose=verbose, divergence_factor=divergence_factor,
                      distributed=distributed)
    return trainer.fit(X, y, epochs=epochs, validation_data=validation_data, validation_split=validation_split,
                       sample_weight=sample_weight, checkpoint=checkpoint, seed=seed, class_weight=class_weight,
                       steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)


def evaluate(model, X, y, *, loss=None, metrics=None, batch_size: int | None = None, sample_weight=None,
             record: FitRecord | None = None) -> dict:
    """Loss and metrics of ``model`` on (X, y), in evaluation mode, without a graph.

    Args:
        model: any Module.
        X, y: data, as for :func:`fit`; labels are encoded with the classes fit saw.
        loss: default: the loss the model was fit with (its fit record's).
        metrics: default: the metrics given at fit time.
        batch_size: rows per forward pass (None: all at once).
        sample_weight: one non-negative weight per example.
        record: the fit record to take the defaults and classes from (default: ``model.fit_record``).

    Returns:
        ``{"loss": J, metric_name: value, ...}``, J including the regularisation penalty.

    Raises:
        ValueError: bad input, or labels the model never saw.
    """
    recorded = fit_record_of(model) if record is None else record
    if loss is None:
        loss = None if recorded is None else recorded.loss_spec
        if loss is None:
            raise ValueError("evaluate: the model has not been fit; pass loss=")
    if metrics is None:
        metrics = () if recorded is None else recorded.metrics
    trainer = Trainer(model, loss=loss, optimizer=None, metrics=metrics, verbose=0)
    trainer.fit_record = recorded
    return trainer.evaluate(X, y, sample_weight=sample_weight, batch_size=batch_size)
