"""The glue between a table and a network, shared by the commands.

``train`` fits a :class:`~backprop.preprocessing.TabularPreprocessor` on the
training rows and stores its config in the model file (metadata keys
``"preprocessing"``, ``"task"``, ``"target"``); ``predict``, ``evaluate`` and
``info`` rebuild it from there, so that raw rows go through exactly the
transform the network was trained on.

What the network outputs:

* classification: one logit per class (no softmax layer); the loss is
  ``cross_entropy`` (softmax cross-entropy) — also for two classes, so binary
  and multi-class models are the same shape of thing and ``predict`` always
  reports one probability per class;
* regression: one value, the *standardised* target; the loss is ``mse`` and
  predictions are mapped back to the original units with
  ``inverse_transform_target``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backprop.cli.errors import CLIError

__all__ = ["LoadedModel", "load_model_file", "check_feature_columns", "score", "split_rows"]


@dataclass
class LoadedModel:
    """A model file read back: the network, its preprocessor and the file's metadata."""

    model: object
    preprocessor: object
    metadata: dict

    @property
    def task(self) -> str:
        return self.preprocessor.task

    @property
    def target(self) -> str:
        return self.preprocessor.target


def load_model_file(path) -> LoadedModel:
    """Load a model saved by ``backprop train``, with its preprocessing.

    Raises:
        CLIError: not a backprop model file, or a backprop model that
            ``backprop train`` did not write (no preprocessing config), so it
            cannot read raw table rows.
    """
    from backprop.io import ModelFileError
    from backprop.io.model_file import load_with_metadata
    from backprop.preprocessing import TabularPreprocessor

    try:
        model, metadata = load_with_metadata(path)
    except ModelFileError as error:
        raise CLIError(f"{path} is not a backprop model file: {error.problem}") from None
    config = metadata.get("preprocessing")
    if not isinstance(config, dict):
        raise CLIError(
            f"{path}: this backprop model has no preprocessing config, so it cannot read table rows; "
            "models for the command line are made with 'backprop train'"
        )
    try:
        preprocessor = TabularPreprocessor.from_config(config)
    except (TypeError, ValueError) as error:
        raise CLIError(f"{path}: the model's preprocessing config is invalid ({error})") from None
    if preprocessor.task is None:
        raise CLIError(f"{path}: the model's preprocessing config has no target")
    return LoadedModel(model=model, preprocessor=preprocessor, metadata=metadata)


def check_feature_columns(preprocessor, frame, path) -> None:
    """Fail with one line naming the feature columns ``frame`` lacks."""
    missing = [name for name in preprocessor.feature_names_in if name not in frame.columns]
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise CLIError(f"{path} lacks the feature column(s) {listed} that the model was trained on")


def score(preprocessor, frame, outputs: np.ndarray) -> dict:
    """The metrics the commands report for ``frame``'s true targets against the network's outputs.

    Classification: ``accuracy`` and ``f1_macro`` (the mean F1 over classes).
    Regression: ``r2``, ``rmse`` and ``mae``, in the target's original units.

    Raises:
        ValueError: the target column is missing, has missing cells, or holds a
            class the model was not trained on.
    """
    from backprop.training import metrics

    y_true = preprocessor.transform_target(frame)  # validates the column (and names what is wrong)
    if preprocessor.task == "classification":
        return {"accuracy": metrics.accuracy(y_true, outputs), "f1_macro": metrics.f1(y_true, outputs)}
    values = frame[preprocessor.target].to_numpy(dtype=np.float64)  # original units, full precision
    predicted = preprocessor.inverse_transform_target(outputs)
    return {"r2": metrics.r2(values, predicted), "rmse": math.sqrt(metrics.mse(values, predicted)),
            "mae": metrics.mae(values, predicted)}


def split_rows(labels, test_fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test row indices; for classification, each class is split in proportion.

    A class with a single row stays in the training part, so the preprocessor
    (fitted on the training part) knows every class.

    Returns:
        ``(train_rows, test_rows)``, each shuffled.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    if stratify:
        _, group_of_row = np.unique(np.array([str(label) for label in labels]), return_inverse=True)
        groups = [np.flatnonzero(group_of_row == g) for g in range(group_of_row.max() + 1)]
    else:
        groups = [np.arange(n)]
    train, test = [], []
    for rows in groups:
        rows = rng.permutation(rows)
        n_test = int(round(test_fraction * len(rows)))
        n_test = min(n_test, len(rows) - 1)  # keep at least one row of each group for training
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    train_rows, test_rows = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    if len(test_rows) == 0 or len(train_rows) == 0:
        raise CLIError(f"{n} rows are too few to hold out a test set of {test_fraction:.0%}; "
                       "use more data or a larger --test-split")
    return train_rows, test_rows

