"""The glue between a table and a network, shared by the commands.

``train`` fits a :class:`~backprop.cli.preprocessing.TabularPreprocessor` on the
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

import click
import numpy as np

from backprop.cli.errors import CLIError

__all__ = ["LoadedModel", "load_model_file", "check_feature_columns", "score", "split_rows",
           "table_format_options", "read_data"]


def table_format_options(command):
    """``--sep`` and ``--encoding``, for the commands that read a CSV file."""
    command = click.option("--encoding", metavar="NAME",
                           help="Text encoding of a CSV file (default: UTF-8, else cp1252/Latin-1 with a warning).")(command)
    return click.option("--sep", metavar="CHAR",
                        help="Field separator of a CSV file, e.g. ';' or '\\t' (default: detected).")(command)


def read_data(path, sep=None, encoding=None):
    """:func:`backprop.cli.preprocessing.read_table`, for the commands."""
    from backprop.cli.preprocessing import read_table

    return read_table(path, sep=sep, encoding=encoding)


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
    from backprop.models import load_with_metadata

    try:
        model, metadata = load_with_metadata(path)
    except ModelFileError as error:
        raise CLIError(f"{path} is not a backprop model file: {error.problem}") from None
    return tabular_model(model, metadata, path)


def tabular_model(model, metadata: dict, path) -> LoadedModel:
    """The model and its preprocessing, from a loaded file's model and metadata (see :func:`load_model_file`)."""
    from backprop.cli.preprocessing import TabularPreprocessor

    config = metadata.get("preprocessing")
    if not isinstance(config, dict) and isinstance(metadata, dict) and "images" in metadata:
        raise CLIError(f"{path} is a model of pictures: 'backprop predict {path} FOLDER' runs it on a folder of "
                       "PNG/JPEG files or an .npz file; this command reads tables")
    if not isinstance(config, dict):
        raise CLIError(
            f"{path}: this backprop model has no preprocessing config, so it cannot read table rows; "
            "models for the command line are made with 'backprop train'"
        )
    try:
        preprocessor = TabularPreprocessor.from_config(config)
    except (TypeError, ValueError) as error:
        raise CLIError(f"{path}: the model's preprocessing config is invalid ({error})") from None
    if preprocessor.task is None or not preprocessor.is_fitted:
        raise CLIError(f"{path}: the model's preprocessing config has no target")
    _check_widths(model, preprocessor, path)
    return LoadedModel(model=model, preprocessor=preprocessor, metadata=metadata)


def _model_widths(model) -> tuple[int | None, int | None]:
    """The network's input and output widths, read from its layers (None where no layer fixes one)."""
    width_in, width = None, None
    for _, module in model.named_modules():
        if module.children():
            continue
        expected = module.expected_in_features()
        if width_in is None and width is None:
            width_in = expected
        width = module.output_features(expected or width) or expected or width
    return width_in, width


def _check_widths(model, preprocessor, path) -> None:
    """Refuse a file whose preprocessing makes a different number of inputs or outputs than the network's.

    Checked before any row is transformed, so a crafted config cannot make
    ``transform`` allocate more than the network itself (which the file holds).
    """
    from backprop.cli.embedding_inputs import check_model_inputs

    width_in, width_out = _model_widths(model)
    n_features = preprocessor.n_features_out  # a sum over the columns' counts: nothing is built
    if check_model_inputs(model, preprocessor, path):  # embedded columns: a Concat of inputs, checked there
        width_in = None
    if width_in is not None and width_in != n_features:
        raise CLIError(f"{path}: the preprocessing makes {n_features} inputs but the network takes {width_in}")
    n_outputs = len(preprocessor.classes) if preprocessor.task == "classification" else 1
    if width_out is not None and width_out != n_outputs:
        raise CLIError(f"{path}: the network has {width_out} outputs but its {preprocessor.task} target "
                       f"needs {n_outputs}")


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
    from backprop import metrics

    y_true = preprocessor.transform_target(frame)  # validates the column (and names what is wrong)
    if preprocessor.task == "classification":
        return {"accuracy": metrics.accuracy(y_true, outputs), "f1_macro": metrics.f1(y_true, outputs, average="macro")}
    values = frame[preprocessor.target].to_numpy(dtype=np.float64)  # original units, full precision
    predicted = preprocessor.inverse_transform_target(outputs)
    return {"r2": metrics.r2(values, predicted), "rmse": math.sqrt(metrics.mse(values, predicted)),
            "mae": metrics.mae(values, predicted)}


MIN_TRAIN_ROWS_PER_CLASS = 5
"""The split refuses to leave a class fewer training rows than this (or than all its rows but one)."""
MIN_TRAIN_ROWS = 10
"""The same for a regression target, over all rows."""


def _test_counts(group_sizes: np.ndarray, test_fraction: float) -> np.ndarray:
    """Rows of each group held out: the fraction, rounded, keeping at least one row for training."""
    return np.minimum(np.round(test_fraction * group_sizes).astype(np.int64), group_sizes - 1)


def _split_problem(group_sizes: np.ndarray, test_fraction: float, minimum: int) -> bool:
    """Whether the split leaves no test row, or a group fewer training rows than it needs."""
    n_test = _test_counts(group_sizes, test_fraction)
    needed = np.minimum(minimum, np.maximum(group_sizes - 1, 1))
    return n_test.sum() == 0 or bool(np.any(group_sizes - n_test < needed))


def _workable_fractions(group_sizes: np.ndarray, minimum: int) -> list[float]:
    """The --test-split values on a 0.01 grid that give a test set and enough training rows."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
    return [float(f) for f in grid if not _split_problem(group_sizes, f, minimum)]


def split_rows(labels, test_fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test row indices; for classification, each class is split in proportion.

    A class with a single row stays in the training part, so the preprocessor
    (fitted on the training part) knows every class.

    Raises:
        CLIError: the split would leave no test row, or fewer than
            ``MIN_TRAIN_ROWS_PER_CLASS`` training rows of a class that has more
            (``MIN_TRAIN_ROWS`` in all for regression). The message says what
            would help: a --test-split value that works, or, when every class has
            a single row, that no split can.

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
    sizes = np.array([len(rows) for rows in groups])
    minimum = MIN_TRAIN_ROWS_PER_CLASS if stratify else MIN_TRAIN_ROWS
    if _split_problem(sizes, test_fraction, minimum):
        raise CLIError(_split_advice(sizes, test_fraction, minimum, stratify))
    n_test = _test_counts(sizes, test_fraction)
    train, test = [], []
    for rows, k in zip(groups, n_test):
        rows = rng.permutation(rows)
        test.append(rows[:k])
        train.append(rows[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _split_advice(sizes: np.ndarray, test_fraction: float, minimum: int, stratify: bool) -> str:
    """Why ``--test-split test_fraction`` cannot split these groups, and what would help."""
    n, n_test = int(sizes.sum()), _test_counts(sizes, test_fraction)
    workable = _workable_fractions(sizes, minimum)
    singles = int(np.sum(sizes == 1))
    if stratify and singles == len(sizes):
        return (f"every one of the {len(sizes)} classes has a single row, so no row can be held out to test "
                "on (a row of a class stays in training); the target looks like an identifier or a "
                "measurement: choose another --target, or use --task regression if it is a number")
    if n_test.sum() == 0:
        problem = f"--test-split {test_fraction:g} holds out no row of the {n} rows"
    else:
        kept = sizes - n_test
        what = "class" if stratify else "table"
        problem = (f"--test-split {test_fraction:g} leaves {int(kept.min())} training row(s) of a {what} "
                   f"with {int(sizes[np.argmin(kept - np.minimum(minimum, np.maximum(sizes - 1, 1)))])} rows "
                   f"({int(kept.sum())} training rows in all; at least {minimum} per {what} are needed)")
    if stratify and singles:
        problem += f"; {singles} of the {len(sizes)} classes have a single row, which always stays in training"
    if workable:
        low, high = workable[0], workable[-1]
        fix = (f"use a --test-split between {low:g} and {high:g}" if low < high
               else f"use --test-split {low:g}")
        return f"{problem}: {fix}, or add rows"
    return f"{problem}: no --test-split can help; add rows" + (
        ", or merge rare classes" if stratify else "")
