"""Model: a network with the front door — fit, evaluate, predict, save, summary, trace.

The layers (:mod:`backprop.layers`) know their maths, their config and their shapes; a
Model knows how to train, evaluate, save and summarise, as Keras keeps ``fit`` and
``save`` on ``Model`` and not on ``Layer``. It stands above the layers, the training loop
(:mod:`backprop.training`), the model files (:mod:`backprop.io.model_file`) and the
diagnostics, and delegates to them.

Three ways to have one:

* :class:`~backprop.models.Sequential` is a Model: ``nn.Sequential(...).fit(...)``;
* ``Model(module)`` wraps any module, e.g. ``bp.Model(nn.Dense(3, 1))``: its forward is
  the module's, and the module is its submodule ``module`` (state-dict keys
  ``module.W``, ``module.b``, as PyTorch's wrappers name theirs);
* a subclass with its own ``forward``, as in Keras and PyTorch::

      class TwoLayer(Model):
          def __init__(self):
              super().__init__()
              self.hidden = nn.Dense(4, 3, activation="relu")
              self.out = nn.Dense(3, 1)

          def forward(self, x):
              return self.out(self.hidden(x))

  (decorate it with ``@nn.register_module`` to save it).

What fit learnt besides the weights is one record, ``model.fit_record`` (a
:class:`~backprop.training.fitted.FitRecord`: the loss with its config, the classes, the
number of input features, the metrics; None until the model is fit or loaded). ``save``
writes it into the model file with the architecture and weights; :func:`backprop.load`
reads it back.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from backprop.diagnostics.trace import Trace, trace
from backprop.interop import torch as torch_interop
from backprop.io.model_file import write_model_file
from backprop.layers.module import Module
from backprop.layers.registry import declared_state_shapes, module_from_config, module_to_config, register_module
from backprop.models import summary as summary_module
from backprop.training import inference, loop
from backprop.training.fitted import FitRecord
from backprop.training.history import History

__all__ = ["Model"]


@register_module
class Model(Module):
    """A network that can be trained, evaluated, asked for predictions, saved and summarised.

    Args:
        module: the module to wrap (any Module: a layer, a network); its forward becomes this
            model's. None for a subclass that defines ``forward`` itself.

    Attributes:
        fit_record: the :class:`~backprop.training.fitted.FitRecord` of the last ``fit`` (or
            of the file it was loaded from); None before.
        module: the wrapped module (only when one was given).

    Raises:
        TypeError: ``module`` is not a Module.

    Example:
        >>> import numpy as np
        >>> import backprop as bp
        >>> from backprop import nn
        >>> _ = bp.manual_seed(0)
        >>> model = bp.Model(nn.Dense(2, 1))
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]); y = X @ [2.0, -1.0]
        >>> _ = model.fit(X, y, loss="mse", optimizer=bp.optim.SGD(model.parameters(), lr=0.5), epochs=300,
        ...               batch_size=None, verbose=0)
        >>> np.round(model.predict(X).ravel(), 2).tolist()
        [-1.0, 2.0, 1.0, 0.0]
    """

    def __init__(self, module: Optional[Module] = None):
        super().__init__()
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"Model: module must be a Module (a layer or a network), got {type(module).__name__}")
        self._wraps = module is not None
        if self._wraps:
            self.module = module
        self.fit_record: Optional[FitRecord] = None

    # ------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):
        """The wrapped module's output; a subclass without a wrapped module implements its own."""
        if not self._wraps:
            raise NotImplementedError(
                f"{type(self).__name__} does not implement forward(); define it in the subclass, "
                "or wrap a module: Model(module)")
        return self.module(*args, **kwargs)

    def sequential_layers(self):
        return [self.module] if self._wraps else None

    def expected_in_features(self):
        return self.module.expected_in_features() if self._wraps else None

    def output_features(self, in_features):
        return self.module.output_features(in_features) if self._wraps else None

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        if self._wraps:
            return {"module": module_to_config(self.module)}
        if type(self) is Model:
            return {}
        return super().get_config()

    @classmethod
    def from_config(cls, config: dict) -> "Model":
        """Rebuild from :meth:`get_config`'s dict; a wrapped ``module`` is rebuilt through the layer registry."""
        config = dict(cls.check_config_keys(config))
        if config.get("module") is not None:
            config["module"] = module_from_config(config["module"])
        return cls(**config)

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """The wrapped module's :meth:`~backprop.nn.Module.state_shapes`, its keys prefixed ``module.``."""
        if cls is not Model:
            return super().state_shapes(config)
        cls.check_config_keys(config)
        if config.get("module") is None:
            return {}
        return {f"module.{key}": shape for key, shape in declared_state_shapes(config["module"]).items()}

    # --------------------------------------------------- fitted attributes
    @property
    def classes_(self) -> np.ndarray:
        """The labels the outputs stand for (from the fit record); AttributeError before a fit with classes."""
        record = self.fit_record
        if record is None or record.classes is None:
            raise AttributeError(f"{type(self).__name__} has no classes_: it was not fit on class labels")
        return record.classes

    @property
    def n_features_in_(self) -> int:
        """The number of features fit saw (from the fit record); AttributeError before a fit on rows."""
        record = self.fit_record
        if record is None or record.n_features_in is None:
            raise AttributeError(f"{type(self).__name__} has no n_features_in_: it was not fit on rows of features")
        return record.n_features_in

    # ----------------------------------------------------------- the door
    def fit(self, X, y=None, *, loss, optimizer="adam", epochs: int = 1, batch_size: Optional[int] = 32,
            shuffle: Optional[bool] = None, validation_data=None, validation_split: float = 0.0, callbacks=(),
            metrics=(), seed: Optional[int] = None, checkpoint=None, verbose: int = 1, sample_weight=None,
            divergence_factor: Optional[float] = loop.DIVERGENCE_FACTOR, class_weight=None,
            distributed: bool = False, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None) -> History:
        """Train on (X, y) with mini-batch gradient descent and keep what was learnt in ``fit_record``.

        Args:
            X: (N, n_features) array-like (NumPy, lists, pandas); rows are examples. For a model whose
                first layer is an ``nn.Embedding``: integer codes; for an ``nn.Concat``: a tuple or dict of
                such arrays, one per branch (see :mod:`backprop.training.inputs`). A memmap is never
                copied whole. Or a stream of ``(X, y[, w])`` batches (a re-iterable such as
                ``backprop.data.ParquetBatches``, or a generator), y then None: see
                :mod:`backprop.training.batches`.
            y: targets: class labels (ints or strings) for the cross-entropy losses, values
                for regression. Class labels are encoded (sorted unique, like scikit-learn's
                LabelEncoder) and kept as ``classes_``; a second fit keeps them.
            loss: a loss name (``"cross_entropy"``, ``"mse"``, ``"half_mse"``,
                ``"binary_cross_entropy"``, ``"binary_cross_entropy_with_logits"``, ...) or a
                callable ``loss(outputs, target[, sample_weight=]) -> Tensor``. The reported
                ``loss`` is the cost J = data loss + ``regularization_loss()``.
            optimizer: a name (``"sgd"``, ``"adam"``, ...; with its defaults) or an optimiser
                over ``self.parameters()``.
            epochs: passes over the data (the total when resuming a checkpoint).
            batch_size: None = full batch (batch gradient descent), 1 = SGD, k = mini-batches.
            shuffle: a new example order each epoch (drawn from ``backprop.random``); None:
                True for arrays, and a stream is never shuffled (its own job).
            validation_data: ``(X_val, y_val[, w_val])`` or a stream, evaluated after each epoch.
            validation_split: the last fraction of (X, y), before shuffling, as validation data.
            callbacks: Callback instances (``backprop.callbacks``).
            metrics: names (``"accuracy"``, ``"f1"``, ``"mae"``...) or functions.
            seed: ``backprop.random.manual_seed(seed)`` first: same seed, same weights, history
                and predictions, bit for bit.
            checkpoint: path of a training-state file: written each epoch, resumed from if it exists.
            verbose: 0 silent, 1 a progress bar in a terminal (else a line per epoch), 2 lines.
            sample_weight: one non-negative weight per example.
            divergence_factor: a NaN/infinite cost, or one above ``divergence_factor`` ×
                max(|first batch cost|, 1), raises ``TrainingDivergedError``; None disables
                the second test.
            class_weight: ``{label: weight}`` (original labels; a class left out weighs 1) or
                ``"balanced"``, as Keras's: each training example's loss weighs its class's
                weight, times its ``sample_weight``.
            distributed: under ``mpiexec -n K``, train data-parallel on the K ranks
                (``batch_size`` is the global batch; only rank 0 prints and writes files;
                the ``mpi`` extra; docs/distributed.md).
            steps_per_epoch: batches per epoch of a training stream (required for a generator
                read for more than one epoch).
            validation_steps: batches per evaluation of a validation stream.

        Returns:
            A :class:`~backprop.training.History`: ``history.history["loss"]``, ``["val_loss"]``, ...

        Raises:
            ValueError: bad input, before any training step (see :func:`backprop.training.fit`).
        """
        return loop.fit(self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                        shuffle=shuffle, validation_data=validation_data, validation_split=validation_split,
                        callbacks=callbacks, metrics=metrics, seed=seed, checkpoint=checkpoint, verbose=verbose,
                        sample_weight=sample_weight, divergence_factor=divergence_factor,
                        class_weight=class_weight, distributed=distributed,
                        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)

    def evaluate(self, X, y, *, loss=None, metrics=None, batch_size: Optional[int] = None,
                 sample_weight=None) -> dict:
        """Loss and metrics on (X, y), in evaluation mode, without a graph.

        Args:
            X, y: data, as for :meth:`fit`; labels are encoded with ``classes_``.
            loss: default: the loss of the fit record.
            metrics: default: the metrics given to fit.
            batch_size: rows per forward pass (None: all at once).
            sample_weight: one non-negative weight per example.

        Returns:
            ``{"loss": J, metric_name: value, ...}``, J including the regularisation penalty.

        Raises:
            ValueError: bad input, labels the model never saw, or no loss (never fit, none given).
        """
        return loop.evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size,
                             sample_weight=sample_weight)

    def predict(self, X, batch_size: Optional[int] = None) -> np.ndarray:
        """The outputs on X as an ndarray (a classifier's raw scores z), in evaluation mode, without a graph.

        Args:
            X: (N, n_features) array-like, or (N, C, ...) for image and sequence layers.
            batch_size: rows per forward pass (None: all at once).

        Safe from several threads at once: no flag is changed.
        """
        return inference.predict(self, X, batch_size)

    def predict_proba(self, X, batch_size: Optional[int] = None) -> np.ndarray:
        """Class probabilities: softmax(z) for cross_entropy (N, K), [1 − σ(z), σ(z)] for one binary output.

        Columns are in the order of ``classes_``; several binary outputs give σ(z) each.

        Raises:
            ValueError: for a model fit with a regression or custom loss, or never fit.
        """
        return inference.predict_proba(self, X, batch_size)

    def predict_classes(self, X, batch_size: Optional[int] = None) -> np.ndarray:
        """Predicted labels: ``classes_[argmax z]`` (cross_entropy) or ``classes_[σ(z) > 0.5]`` (binary).

        Several binary outputs (multi-label) give a 0/1 matrix.

        Raises:
            ValueError: for a model fit with a regression or custom loss, or never fit.
        """
        return inference.predict_classes(self, X, batch_size)

    def save(self, path, metadata: Optional[dict] = None) -> None:
        """Write the architecture, the weights and the fit record to ``path`` (atomically); :func:`backprop.load`
        reads it back.

        Args:
            path: destination file (``.safetensors`` is customary).
            metadata: a JSON-serialisable dict stored alongside (``bp.load_with_metadata`` returns it).

        Raises:
            ValueError: for an unregistered layer class, NaN or infinite weights, metadata that
                is not JSON-serialisable, or classes of a type a file cannot hold.
        """
        record = self.fit_record
        write_model_file(self, path, fit_record=None if record is None else record.to_json(), metadata=metadata)

    def summary(self, input_shape=None, *, print_fn=print) -> str:
        """A table of the layers: name, type, output shape, trainable and non-trainable parameters, totals.

        Args:
            input_shape: one example's shape without the batch axis, e.g. ``(1, 28, 28)``: the
                output shapes are then those of a forward pass of one example of zeros. Default:
                rows of ``n_features_in_`` (or the first layer's inputs) features; the shapes of
                image and sequence layers are then unknown ("?"). A model that starts with a
                Concat takes one shape per branch: ``{"city": (), "numeric": (5,)}`` (``()``: one
                category code per example) or a tuple in branch order.
            print_fn: called with the table (None: only return it).

        Returns:
            The table, as a string. Non-trainable parameters are the saved arrays that are not
            learned by gradient descent (BatchNorm's running mean and variance).
        """
        text = summary_module.format_summary(self, summary_module.summary_rows(self, input_shape))
        if print_fn is not None:
            print_fn(text)
        return text

    def to_torch(self):
        """An equivalent ``torch.nn.Sequential``, weights and running statistics copied, in the weights' dtype.

        ``Dense(activation="relu")`` becomes ``Linear`` then ``ReLU``; see
        :mod:`backprop.interop.torch`. torch is imported by this call.

        Raises:
            TypeError: a layer without a PyTorch form, or a model that is not a chain of layers.
        """
        return torch_interop.to_torch(self)

    def load_torch_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy a PyTorch ``state_dict`` of this model's torch counterpart (see :meth:`to_torch`) into it.

        Torch's keys number its modules, an activation counting as one, so for
        ``Sequential(Dense(4, 8, activation="relu"), Dense(8, 3))`` torch's ``0.weight``,
        ``0.bias``, ``2.weight`` and ``2.bias`` are ``0.W``, ``0.b``, ``1.W`` and ``1.b``.

        Args:
            state_dict: torch tensors or NumPy arrays by torch's keys.
            strict: refuse missing or unexpected keys (naming them).

        Raises:
            ValueError: keys or shapes that do not match.
        """
        torch_interop.load_torch_state_dict(self, state_dict, strict=strict)

    def trace(self, x, y, *, loss=None, dtype=None) -> Trace:
        """Record z, a, f′(z), δ and the gradients layer by layer for one example or a batch, and check
        the notes' four equations against the engine; see :func:`backprop.diagnostics.trace`.

        Args:
            x, y: one example (1-D) and its target, or a batch (rows).
            loss: default: the loss of the fit record.
            dtype: compute in this float dtype (default: the weights').
        """
        if loss is None:
            loss = None if self.fit_record is None else self.fit_record.loss_spec
            if loss is None:
                raise ValueError("trace: the model has not been fit; pass loss=")
        return trace(self, x, y, loss=loss, dtype=dtype)
