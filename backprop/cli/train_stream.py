"""``backprop train big.parquet --target y --stream``: train on a table larger than memory.

The table is read by row groups, never whole. Its rows are split by position, not at
random (a random split needs every row's label first): the **last** ``--test-split``
fraction of the rows is the test set, and the last ``--val-split`` fraction of the rest
is the validation set (Keras's ``validation_split`` rule), so the training rows are the
first ones. Shuffle the file once beforehand if its order means something (a date).

1. One pass over the target column of every row: the task (``--task auto``) and the
   missing targets (refused: fill or drop them first).
2. One pass over the training rows fits the preprocessing (:mod:`backprop.cli.preprocessing_stream`:
   the same result as the in-memory fit, to rounding).
3. Training streams the training rows through the preprocessing and a shuffle buffer of
   ``--shuffle-buffer`` rows (:func:`backprop.data.parquet.shuffled`; the row groups are
   visited in a new order each epoch); the validation rows stream after each epoch.
4. The test rows stream once: accuracy and macro F1 (from the confusion matrix), or R²,
   RMSE and MAE (from sums), as ``backprop train`` reports in memory.

Memory: a row group, the shuffle buffer, a batch, the network and the preprocessing's
category sets. No training metrics are kept (they would keep the epoch's outputs).
Parquet only: a CSV file must be converted first (e.g. ``pyarrow.csv``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from backprop.cli.errors import CLIError

__all__ = ["TableBatches", "run_stream_training", "DEFAULT_SHUFFLE_BUFFER"]

DEFAULT_SHUFFLE_BUFFER = 10_000


class TableBatches:
    """Preprocessed ``(X, y)`` batches of the rows [start, stop) of a Parquet file or folder.

    Re-iterable; each ``iter()`` is an epoch, shuffled (``buffer`` > 0) from ``(seed, epoch)``;
    ``set_epoch`` as :class:`backprop.data.ParquetBatches`.
    """

    def __init__(self, path, preprocessor, rows: tuple, *, batch_size: int, buffer: int = 0, seed: int = 0,
                 columns=None, regression: bool = False):
        from backprop.data import parquet

        self.files = parquet.parquet_files(Path(path))
        self.groups = parquet.row_groups(self.files)
        self.preprocessor, self.rows = preprocessor, rows
        self.batch_size, self.buffer, self.seed = batch_size, buffer, seed
        self.columns = columns
        self.regression = regression
        self._epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)

    def __iter__(self):
        from backprop.data import parquet

        epoch = self._epoch
        self._epoch += 1
        rng = np.random.default_rng([self.seed, epoch]) if self.buffer > 0 else None
        return parquet.in_batches(parquet.shuffled(self._pieces(rng), self.buffer, rng), self.batch_size)

    def frames(self, rng=None):
        """The raw rows in range, a row group (cut to the range) at a time, as DataFrames."""
        import pyarrow.parquet as pq

        start, stop = self.rows
        spans, offset = [], 0
        for k, group, n in self.groups:
            low, high = max(start - offset, 0), min(stop - offset, n)
            if low < high:
                spans.append((k, group, low, high))
            offset += n
        order = range(len(spans)) if rng is None else rng.permutation(len(spans))
        for index in order:
            k, group, low, high = spans[index]
            table = pq.ParquetFile(self.files[k]).read_row_group(group, columns=self.columns, use_threads=False)
            yield table.slice(low, high - low).to_pandas()

    def _pieces(self, rng):
        prep = self.preprocessor
        for frame in self.frames(rng):
            X = prep.transform(frame)
            y = prep.transform_target(frame[prep.target])
            yield X, (y[:, None] if self.regression else y)


def _schema_frame(path: Path):
    """An empty DataFrame with the table's columns and types (its schema), and the row count."""
    from backprop.data import parquet
    import pyarrow.parquet as pq

    files = parquet.parquet_files(path)
    n = sum(rows for _, _, rows in parquet.row_groups(files))
    return pq.ParquetFile(files[0]).schema_arrow.empty_table().to_pandas(), n


def _check_stream_settings(settings) -> None:
    data = settings.data
    if data is None:
        raise CLIError("--stream reads a Parquet file or folder: give DATA (the bundled datasets fit in memory)")
    if not (Path(data).is_dir() or Path(data).name.lower().endswith((".parquet", ".pq"))):
        raise CLIError(f"--stream reads Parquet files (.parquet, .pq, or a folder of them), not {data}: convert "
                       "it first (pyarrow.csv.read_csv + pyarrow.parquet.write_table, in row groups)")
    if settings.drop_missing_target:
        raise CLIError("--drop-missing-target does not work with --stream: fill or drop those rows first")
    if settings.extra_callbacks:
        raise CLIError("--diagnostics does not work with --stream (it measures on a probe batch of the table)")


def _score_stream(preprocessor, batches: TableBatches, model) -> dict:
    """The metrics of ``pipeline.score`` over the test rows, accumulated a row group at a time."""
    from backprop.cli.preprocessing_stream import Moments

    target = preprocessor.target
    if preprocessor.task == "classification":
        k = len(preprocessor.classes)
        confusion = np.zeros((k, k), dtype=np.int64)
        for frame in batches.frames():
            truth = preprocessor.transform_target(frame[target])
            predicted = np.argmax(model.predict(preprocessor.transform(frame)), axis=1)
            np.add.at(confusion, (truth, predicted), 1)
        tp = np.diag(confusion).astype(np.float64)
        fp, fn = confusion.sum(axis=0) - tp, confusion.sum(axis=1) - tp
        present = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0  # labels in y_true or y_pred
        denominator = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
        return {"accuracy": float(tp.sum() / confusion.sum()), "f1_macro": float(f1[present].mean())}
    values, squared, absolute, n = Moments(), 0.0, 0.0, 0
    for frame in batches.frames():
        truth = frame[target].to_numpy(dtype=np.float64)
        predicted = preprocessor.inverse_transform_target(model.predict(preprocessor.transform(frame)))
        values.add(truth)
        squared += float(np.square(truth - predicted).sum())
        absolute += float(np.abs(truth - predicted).sum())
        n += truth.size
    r2 = 1.0 - squared / values.m2 if values.m2 > 0 else (1.0 if squared == 0 else 0.0)
    return {"r2": r2, "rmse": math.sqrt(squared / n), "mae": absolute / n}


def run_stream_training(settings, train):
    """``backprop train DATA --stream``: the steps of the module docstring; a ``TrainResult``.

    ``train`` is the :mod:`backprop.cli.train` module, whose steps (the schedule, the model,
    the callbacks, saving) this run shares; it is passed in because it imports this module.
    """
    import backprop
    from backprop.cli.preprocessing import TabularPreprocessor
    from backprop.cli.preprocessing_stream import StreamingPreprocessorFit
    from backprop.optim import get_optimizer
    from backprop.training.callbacks import TerminateOnNaN

    _check_stream_settings(settings)
    path = Path(settings.data)
    try:
        schema, n_rows = _schema_frame(path)
    except ValueError as error:
        raise CLIError(str(error)) from None
    source = str(settings.data)
    target = train._target_column(settings, schema, source)
    columns = list(train._select_columns(schema, target, settings).columns)
    n_test = int(round(settings.test_split * n_rows))
    if n_test < 1 or n_rows - n_test < train_min_rows():
        raise CLIError(f"--test-split {settings.test_split:g} of {n_rows} rows leaves no test row or too few "
                       "training rows")
    everything = TableBatches(path, None, (0, n_rows), batch_size=1, columns=[target])
    fit = StreamingPreprocessorFit(TabularPreprocessor(categorical=list(settings.categorical),
                                                       keep_id_columns=settings.keep_id_columns),
                                   [c for c in columns if c != target], target)
    for frame in everything.frames():
        fit.add_target(frame[target])
    if fit.target.n_missing:
        raise CLIError(f"the target column {target!r} is missing in {fit.target.n_missing} of {n_rows} row(s); "
                       "fill them in or drop those rows (--stream cannot drop them)")
    task = fit.task(settings.task)
    n_fit = n_rows - n_test
    schedule = train.training_schedule(settings, n_fit, task)
    from backprop.training.data import split_validation

    n_train = split_validation(n_fit, schedule.val_split)
    if settings.epochs is None:  # auto epochs count the training rows
        schedule.epochs = train.auto_epochs(n_train, settings.batch_size)
    for frame in TableBatches(path, None, (0, n_train), batch_size=1, columns=columns).frames():
        fit.add(frame)
    try:
        preprocessor = fit.finish(task)
    except ValueError as error:
        raise CLIError(str(error)) from None
    regression = task == "regression"
    n_out = 1 if regression else len(preprocessor.classes)
    make = lambda rows, buffer: TableBatches(path, preprocessor, rows, batch_size=settings.batch_size,  # noqa: E731
                                            buffer=buffer, seed=settings.seed, columns=columns,
                                            regression=regression)
    train_batches = make((0, n_train), settings.shuffle_buffer)
    val_batches = make((n_train, n_fit), 0) if n_fit > n_train else None

    loss = train._training_loss(settings.loss, task)
    backprop.manual_seed(settings.seed)
    model = train.build_model(preprocessor.n_features_out, n_out, settings)
    nan_guard = TerminateOnNaN()
    callbacks = train._callbacks(settings, schedule) + [nan_guard]
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"), train._diverged_is_an_error(settings):
        history = model.fit(train_batches, loss=loss,
                            optimizer=get_optimizer(settings.optimizer, model.parameters(), lr=settings.lr),
                            epochs=schedule.epochs, validation_data=val_batches, callbacks=callbacks,
                            metrics=[], seed=settings.seed, verbose=0)
    seconds = time.perf_counter() - started
    train._check_converged(nan_guard, settings)
    metrics = _score_stream(preprocessor, make((n_fit, n_rows), 0), model)
    summary = {
        "source": source, "target": str(target), "task": task,
        "n_rows": n_rows, "n_dropped_missing_target": 0,
        "n_train": n_train, "n_val": n_fit - n_train, "n_test": n_test, "streamed": True,
        "n_features": int(preprocessor.n_features_out), "n_outputs": n_out,
        "date_columns": preprocessor.date_columns,
        "dropped_columns": [column["name"] for column in preprocessor.dropped_columns],
        "epochs": schedule.epochs, "epochs_auto": schedule.auto, "early_stopping_patience": schedule.patience,
        "epochs_run": len(history.history.get("loss", [])), "train_seconds": seconds,
        "final_loss": history.history["loss"][-1] if history.history.get("loss") else None,
    }
    if settings.out is not None:
        train._save(model, preprocessor, settings, summary, metrics, schedule)
    if settings.plot is not None:
        from backprop.plot import learning_curves

        learning_curves(history, settings.plot)
    return train.TrainResult(model=model, preprocessor=preprocessor, history=history, metrics=metrics,
                             summary=summary)


def train_min_rows() -> int:
    from backprop.cli.pipeline import MIN_TRAIN_ROWS

    return MIN_TRAIN_ROWS
