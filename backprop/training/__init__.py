"""Training: ``fit`` / ``evaluate`` / ``predict``, ``History``, callbacks, metrics, progress, checkpoints.

Typical use::

    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=20,
                        validation_split=0.2, metrics=["accuracy"],
                        callbacks=[bp.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
    history.history["val_accuracy"][-1]
    model.predict_classes(X_test)        # labels; model.predict_proba(X_test) for probabilities

``model.fit`` etc. (:class:`~backprop.models.Model`) are thin delegates to the functions
here, which take any Module: the training loop (:mod:`~backprop.training.loop`:
:class:`Trainer`, :func:`fit`, :func:`evaluate`) and the inference API
(:mod:`~backprop.training.inference`: :func:`predict`, :func:`predict_proba`,
:func:`predict_classes`). What a fit learnt besides the weights is one
:class:`FitRecord` (:mod:`~backprop.training.fitted`).
"""

from backprop import metrics
from backprop.training import callbacks
from backprop.training.callbacks import (
    Callback, CallbackList, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint,
    ReduceLROnPlateau, TerminateOnNaN,
)
from backprop.training.history import History
from backprop.metrics import get_metric
from backprop.training.progress import ProgressLogger
from backprop.training.recipe import overfit_batch
from backprop.training.checkpoint import CheckpointMismatchError
from backprop.training.fitted import FitRecord
from backprop.training.inference import predict, predict_classes, predict_proba
from backprop.training.loop import Trainer, TrainingDivergedError, evaluate, fit

__all__ = [
    "Trainer", "TrainingDivergedError", "CheckpointMismatchError", "fit", "evaluate", "predict", "predict_proba",
    "predict_classes", "FitRecord", "History",
    "Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
    "ReduceLROnPlateau", "TerminateOnNaN", "CSVLogger", "ProgressLogger", "get_metric",
    "overfit_batch", "callbacks", "metrics",
]
