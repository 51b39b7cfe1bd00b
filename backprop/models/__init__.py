"""``backprop.models``: the front door — a Model trains, evaluates, predicts, saves and summarises.

* :class:`Model`: ``fit``, ``evaluate``, ``predict``, ``predict_proba``, ``predict_classes``,
  ``save``, ``summary`` and ``trace``; ``Model(module)`` wraps any module, or subclass it
  with a ``forward``;
* :class:`Sequential`: a Model of layers applied one after another;
* :func:`save`, :func:`load`, :func:`load_with_metadata`: model files with their fit record.

This package stands above the layers, the training loop, the model files and the
diagnostics (see docs/architecture.md); users reach it as ``bp.Model`` and ``nn.Sequential``.
"""

from backprop.models.model import Model
from backprop.models.sequential import Sequential
from backprop.models.saving import load, load_with_metadata, save

__all__ = ["Model", "Sequential", "save", "load", "load_with_metadata"]
