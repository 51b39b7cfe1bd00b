"""Model files with their fit record: ``bp.save``, ``bp.load``, ``bp.load_with_metadata``.

:mod:`backprop.io.model_file` writes and reads one module plus JSON metadata; here the
fit record goes in (``Model.save``) and comes back checked against the module it came
with, and what is loaded is a :class:`~backprop.models.Model`: the saved one when the
file's network is a Model (a Sequential, a wrapper, a registered subclass), else the
file's module wrapped, ``Model(module)``.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from backprop import nn
    >>> model = nn.Sequential(nn.Dense(2, 3, activation="relu"), nn.Dense(3, 2))
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> _ = model.fit(X, ["left", "right"], loss="cross_entropy", epochs=1, verbose=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> model.save(path, metadata={"dataset": "toy"})
    >>> same, metadata = load_with_metadata(path)
    >>> same.classes_.tolist(), same.fit_record.loss, metadata
    (['left', 'right'], 'cross_entropy', {'dataset': 'toy'})
"""

from __future__ import annotations

import os
from typing import Optional

from backprop.io.model_file import read_model_file, write_model_file
from backprop.models.model import Model
from backprop.training.fitted import FitRecord

__all__ = ["save", "load", "load_with_metadata"]


def save(model, path, metadata: Optional[dict] = None) -> None:
    """Write ``model`` to ``path``: :meth:`Model.save` for a Model (with its fit record), the bare
    architecture and weights for any other module.

    Raises:
        ValueError, TypeError: as :meth:`Model.save`.
    """
    if isinstance(model, Model):
        model.save(path, metadata=metadata)
    else:
        write_model_file(model, path, metadata=metadata)


def load_with_metadata(path) -> tuple:
    """``(model, metadata)`` from the file at ``path``: a :class:`Model` with its fit record, and the
    caller's metadata dict (``{}`` if none was saved).

    The file is untrusted (see :func:`backprop.io.model_file.read_model_file`); its fit record
    is checked value by value and against the module (its number of features, classes that
    match the outputs).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is not a valid backprop model file; the message names the path.
    """
    path = os.fspath(path)
    stored = read_model_file(path)
    record = None
    if stored.fit_record is not None:
        record = FitRecord.from_json(stored.fit_record, path)
        record.check_against(stored.module, path)
    model = stored.module if isinstance(stored.module, Model) else Model(stored.module)
    model.fit_record = record
    return model, stored.metadata


def load(path) -> Model:
    """The :class:`Model` saved at ``path``, with its fit record (see :func:`load_with_metadata`)."""
    model, _ = load_with_metadata(path)
    return model
