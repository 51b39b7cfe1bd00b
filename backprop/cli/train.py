"""``backprop train``: fit a network on a table (or a bundled dataset) and report test metrics."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import numpy as np

from backprop.cli import embedding_inputs, images, pipeline
from backprop.cli.errors import CLIError
from backprop.cli.output import echo_json, format_number
from backprop.datasets.registry import LOADERS
from backprop.cli.diagnostics import attach_monitor, diagnostics_option, echo_diagnostics
from backprop.engine.ops.activation import ACTIVATIONS
from backprop.losses import LOSSES
from backprop.optim import OPTIMIZERS, get_optimizer
from backprop.cli.preprocessing import ID_LIKE_MIN_VALUES, ID_LIKE_RATIO

__all__ = ["train_command", "TrainSettings", "run_training", "fit_network", "DEFAULT_DATASET"]

DEFAULT_DATASET = "digits"
TEST_FRACTION = 0.2
AUTO_VAL_SPLIT = 0.1  # what --early-stopping uses when --val-split is 0
# --epochs auto: enough epochs for about AUTO_STEPS optimiser steps, so that a table of
# 150 rows trains as far as one of 1500 (20 epochs of iris are 80 steps; of digits 900).
AUTO_STEPS = 2000
AUTO_EPOCHS_RANGE = (20, 500)
# A regression target (noisy, and scored by the very loss that validation watches)
# also stops early under --epochs auto: trained for all of its steps, the diabetes
# table overfits (test R² 0.39 -> 0.13 on seed 0).
AUTO_REGRESSION_PATIENCE = 10


class HiddenLayers(click.ParamType):
    """``128,64`` -> ``(128, 64)``; ``""`` or ``none`` -> no hidden layer (a linear/logistic model)."""

    name = "SIZES"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if text.lower() in ("", "none"):
            return ()
        sizes = []
        for part in text.split(","):
            part = part.strip()
            if not part.isdecimal() or int(part) < 1:
                self.fail(f"{value!r} must be comma-separated positive layer sizes, e.g. 128,64 "
                          f"({part!r} is not a positive integer)", param, ctx)
            sizes.append(int(part))
        return tuple(sizes)


class ColumnNames(click.ParamType):
    """``zip_code,store`` -> ``("zip_code", "store")``."""

    name = "COLS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        return tuple(name.strip() for name in str(value).split(",") if name.strip())


class Epochs(click.ParamType):
    """A positive number of epochs, or ``auto`` (None): see :func:`training_schedule`."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text == "auto":
            return None
        if not text.isdecimal() or int(text) < 1:
            self.fail(f"{value!r} is not a positive integer or 'auto'", param, ctx)
        return int(text)


@dataclass
class TrainSettings:
    """Everything ``backprop train`` was asked to do, after validation."""

    data: Path | None = None
    dataset: str | None = None
    target: str | None = None
    features: tuple[str, ...] = ()  # empty: every column but the target (and --drop)
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    keep_id_columns: bool = False
    embed_above: int | None = None  # None: one-hot encode every categorical column
    embedding_dim: int | None = None  # None: auto (fastai's rule per column)
    drop_missing_target: bool = False
    sep: str | None = None  # None: sniffed
    encoding: str | None = None  # None: UTF-8, else cp1252/latin-1 with a warning
    task: str = "auto"
    hidden: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    loss: str = "auto"  # auto: cross_entropy for classification, mse for regression
    epochs: int | None = None  # None: auto (see auto_epochs)
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    l2: float = 0.0
    dropout: float = 0.0
    val_split: float = 0.0
    test_split: float = TEST_FRACTION
    early_stopping: int | None = None
    seed: int = 0
    out: Path | None = None
    plot: Path | None = None
    verbose: bool = False
    distributed: bool = False  # data-parallel over the ranks of `mpiexec -n K backprop train --distributed`
    stream: bool = False  # read the table by row groups, never whole (backprop.cli.train_stream)
    shuffle_buffer: int = 10_000  # with stream: rows in the shuffle buffer
    extra_callbacks: list = field(default_factory=list)  # hook for --diagnostics and friends


@dataclass
class TrainResult:
    """What a training run produced: the model, its preprocessing, history and test metrics."""

    model: object
    preprocessor: object
    history: object
    metrics: dict
    summary: dict


# --------------------------------------------------------------------------- data


def _load_frame(settings: TrainSettings):
    """The table to train on and a short description of where it came from."""
    if settings.data is not None:
        from backprop.cli.preprocessing import read_table

        return read_table(settings.data, sep=settings.sep, encoding=settings.encoding), str(settings.data)
    from backprop.datasets import load

    dataset = load(settings.dataset or DEFAULT_DATASET)
    frame = dataset.as_frame()
    if dataset.target_names is not None:  # class names instead of their integer codes
        frame[dataset.target_column] = np.asarray(dataset.target_names, dtype=object)[dataset.y]
    return frame, f"{dataset.name} (bundled)"


def _target_column(settings: TrainSettings, frame, source: str) -> str:
    if settings.target is None:
        return frame.columns[-1]  # bundled datasets and most CSV files put the target last
    if settings.target not in frame.columns:
        columns = ", ".join(str(c) for c in frame.columns)
        hint = ""
        if len(frame.columns) == 1:
            found = [sep for sep in ",;\t|" if sep in str(frame.columns[0])]
            hint = (f" (one column only: if the fields are separated by {found[0]!r}, pass --sep {found[0]!r})"
                    if found else " (one column only: pass the separator with --sep)")
        raise CLIError(f"target column {settings.target!r} is not in {source}; its columns are: {columns}{hint}")
    return settings.target


def _select_columns(frame, target, settings: TrainSettings):
    """The target and the feature columns: those of --features (default: all), less those of --drop."""
    def unknown(names, option):
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise CLIError(f"{option} names column(s) {', '.join(map(repr, missing))} that are not in the "
                           f"data; its columns are: {', '.join(str(c) for c in frame.columns)}")

    unknown(settings.features, "--features")
    unknown(settings.drop, "--drop")
    for option, names in (("--features", settings.features), ("--drop", settings.drop)):
        if target in names:
            raise CLIError(f"{option} names the target column {target!r}; choose the target with --target")
    features = [c for c in (settings.features or frame.columns) if c != target and c not in settings.drop]
    if not features:
        raise CLIError("no feature columns are left: --features and --drop leave only the target")
    outside = [name for name in settings.categorical if name not in features]
    if outside:
        raise CLIError(f"--categorical names column(s) {', '.join(map(repr, outside))} that are not features "
                       "(not in the data, dropped, or the target)")
    return frame[[*features, target]]


def _drop_missing_target(frame, target, settings: TrainSettings):
    """``(frame, n_dropped)``: rows with a missing target refused, or dropped with --drop-missing-target."""
    missing = frame[target].isna().to_numpy()
    n_missing = int(missing.sum())
    if n_missing and not settings.drop_missing_target:
        raise CLIError(f"the target column {target!r} is missing in {n_missing} of {len(frame)} row(s); "
                       "pass --drop-missing-target to train on the other rows, or fill them in")
    if n_missing == len(frame):
        raise CLIError(f"the target column {target!r} is missing in every row")
    return frame[~missing], n_missing


# -------------------------------------------------------------------------- model


def build_model(n_in: int, n_out: int, settings: TrainSettings, front=None):
    """Dense layers of ``settings.hidden`` sizes with the activation (+ Dropout), then a linear output.

    The output layer has no activation: logits for classification (the softmax
    lives in the loss), the standardised value for regression. ``front``: a first
    layer and the width it outputs (the Concat of embedded columns), or None.
    """
    from backprop.nn import Dense, Dropout, L2, Sequential

    regularizer = L2(settings.l2) if settings.l2 > 0 else None
    layers, width = [], n_in
    if front is not None:
        layers, width = [front[0]], front[1]
    for size in settings.hidden:
        layers.append(Dense(width, size, activation=settings.activation, weight_regularizer=regularizer))
        if settings.dropout > 0:
            layers.append(Dropout(settings.dropout))
        width = size
    layers.append(Dense(width, n_out, weight_regularizer=regularizer))
    return Sequential(*layers)


def auto_epochs(n_train: int, batch_size: int) -> int:
    """``--epochs auto``: about ``AUTO_STEPS`` optimiser steps, within ``AUTO_EPOCHS_RANGE``."""
    steps_per_epoch = -(-n_train // batch_size)
    low, high = AUTO_EPOCHS_RANGE
    return int(min(high, max(low, -(-AUTO_STEPS // steps_per_epoch))))


@dataclass
class Schedule:
    """How long to train: the epochs, the patience of early stopping (None: off) and the validation split."""

    epochs: int
    patience: int | None
    val_split: float
    auto: bool


def training_schedule(settings: TrainSettings, n_train: int, task: str) -> Schedule:
    """The epochs and early stopping of a run, from the options and the size of the training part."""
    auto = settings.epochs is None
    epochs = auto_epochs(n_train, settings.batch_size) if auto else settings.epochs
    patience = settings.early_stopping
    if patience is None and auto and task == "regression":
        patience = AUTO_REGRESSION_PATIENCE
    val_split = settings.val_split
    if patience is not None and val_split == 0:
        val_split = AUTO_VAL_SPLIT  # early stopping watches val_loss, so it needs validation rows
    return Schedule(epochs=epochs, patience=patience, val_split=val_split, auto=auto)


def _callbacks(settings: TrainSettings, schedule: Schedule) -> list:
    from backprop.training.callbacks import EarlyStopping

    callbacks = list(settings.extra_callbacks)
    if schedule.patience is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=schedule.patience,
                                       restore_best_weights=True))
    if settings.verbose:
        from backprop.training.progress import ProgressLogger

        callbacks.append(ProgressLogger(verbose=2, stream=sys.stderr))  # stdout stays for results
    return callbacks


def _training_loss(name: str, task: str) -> str:
    """The loss for ``task``: the default, or the one asked for if its kind suits the task (the loss registry's)."""
    if name == "auto":
        return "cross_entropy" if task == "classification" else "mse"
    kind = LOSSES.get(name).kind
    wanted = ("multiclass",) if task == "classification" else ("regression",)
    if kind not in wanted:
        suitable = [n for n, cls in LOSSES.items() if cls.kind in wanted]
        raise ValueError(f"--loss {name} does not suit a {task} task (it is a {kind} loss); use one of {suitable}")
    return name


def writes_results(settings: TrainSettings) -> bool:
    """Whether this process prints and writes the results: always, but in a distributed run only rank 0."""
    if not settings.distributed:
        return True
    from backprop import distributed

    return distributed.is_main()


def fit_network(model, X_train, y_train, settings: TrainSettings, task: str):
    """Fit ``model`` as ``backprop train`` does; ``(history, schedule, seconds)``.

    The loss and the schedule (epochs, early stopping, validation split) follow from the
    options and the task; a loss that stops being finite, or a blow-up, is a CLIError.
    """
    from backprop.training.callbacks import TerminateOnNaN

    loss = _training_loss(settings.loss, task)
    schedule = training_schedule(settings, embedding_inputs.n_rows(X_train), task)
    nan_guard = TerminateOnNaN()
    callbacks = _callbacks(settings, schedule) + [nan_guard]
    started = time.perf_counter()
    # Overflow while diverging is reported once, by TerminateOnNaN and _check_converged,
    # not as a warning per NumPy call.
    with np.errstate(over="ignore", invalid="ignore"), _diverged_is_an_error(settings):
        history = model.fit(
            X_train, y_train,
            loss=loss,
            optimizer=get_optimizer(settings.optimizer, model.parameters(), lr=settings.lr),
            epochs=schedule.epochs, batch_size=settings.batch_size,
            validation_split=schedule.val_split, callbacks=callbacks,
            metrics=["accuracy"] if task == "classification" else ["r2"],
            seed=settings.seed, verbose=0, distributed=settings.distributed,
        )
    seconds = time.perf_counter() - started
    _check_converged(nan_guard, settings)
    return history, schedule, seconds


def run_training(settings: TrainSettings) -> TrainResult:
    """Read, split, preprocess, build, fit, score and (optionally) save and plot."""
    import backprop
    from backprop.cli.preprocessing import TabularPreprocessor, infer_task

    for output in (settings.out, settings.plot):
        # Fail before training, not after it, when a result cannot be written.
        if output is not None and not Path(output).resolve().parent.is_dir():
            raise ValueError(f"cannot write {output}: the folder {Path(output).resolve().parent} does not exist")
    frame, source = _load_frame(settings)
    n_rows = len(frame)
    target = _target_column(settings, frame, source)
    frame = _select_columns(frame, target, settings)
    frame, n_missing_target = _drop_missing_target(frame, target, settings)
    # The task ("auto" resolved) is read from the whole table so the split can be
    # stratified; the preprocessor used for training is fitted on the training rows only.
    task = infer_task(frame[target], settings.task)
    train_rows, test_rows = pipeline.split_rows(frame[target].tolist(), settings.test_split, settings.seed,
                                                stratify=task == "classification")
    train_frame, test_frame = frame.iloc[train_rows], frame.iloc[test_rows]
    preprocessor = TabularPreprocessor(categorical=list(settings.categorical),
                                       keep_id_columns=settings.keep_id_columns, embed_above=settings.embed_above)
    preprocessor.fit(train_frame, target=target, task=task)
    X_train = preprocessor.transform_inputs(train_frame)  # a matrix, or a dict with the embedded columns' codes
    y_train = preprocessor.transform_target(train_frame[target])
    X_test = preprocessor.transform_inputs(test_frame)
    n_out = len(preprocessor.classes) if task == "classification" else 1
    if task == "regression":
        y_train = y_train[:, None]  # (n, 1), the shape of the network's output

    _training_loss(settings.loss, task)  # a --loss that does not suit the task fails before the model is built
    _give_probe(settings, X_train, y_train)
    backprop.manual_seed(settings.seed)
    model = build_model(preprocessor.n_features_out, n_out, settings,
                        front=embedding_inputs.input_layer(preprocessor, settings.embedding_dim))
    history, schedule, seconds = fit_network(model, X_train, y_train, settings, task)

    metrics = pipeline.score(preprocessor, test_frame, model.predict(X_test))

    summary = {
        "source": source, "target": str(target), "task": task,
        "n_rows": n_rows, "n_dropped_missing_target": n_missing_target,
        "n_train": len(train_rows), "n_test": len(test_rows),
        "n_features": embedding_inputs.width_text(X_train), "n_outputs": n_out,
        "embedded_columns": [{"name": str(column["name"]), "categories": column["n_codes"] - 1, "dim": dim}
                             for column, dim in zip(preprocessor.embedded_columns,
                                                    embedding_inputs.embedding_dims(preprocessor,
                                                                                    settings.embedding_dim))],
        "date_columns": preprocessor.date_columns,
        "dropped_columns": [column["name"] for column in preprocessor.dropped_columns],
        "epochs": schedule.epochs, "epochs_auto": schedule.auto, "early_stopping_patience": schedule.patience,
        "epochs_run": len(history.history.get("loss", [])), "train_seconds": seconds,
        "final_loss": history.history["loss"][-1] if history.history.get("loss") else None,
    }
    if settings.out is not None and writes_results(settings):
        _save(model, preprocessor, settings, summary, metrics, schedule)
    if settings.plot is not None and writes_results(settings):
        from backprop.plot import learning_curves

        learning_curves(history, settings.plot)
    return TrainResult(model=model, preprocessor=preprocessor, history=history, metrics=metrics,
                       summary=summary)


def _give_probe(settings: TrainSettings, X_train, y_train) -> None:
    """A GradientMonitor without a probe batch (``--diagnostics``) measures on the first training rows.

    Its dead-ReLU and saturation columns need one; the first rows are training rows also when
    ``--val-split`` holds out the last ones.
    """
    from backprop.diagnostics.monitor import GradientMonitor

    for callback in settings.extra_callbacks:
        if isinstance(callback, GradientMonitor) and callback.probe is None:
            callback.probe = (embedding_inputs.first_rows(X_train, callback.probe_size), y_train[:callback.probe_size])


@contextlib.contextmanager
def _diverged_is_an_error(settings: TrainSettings):
    """A finite blow-up (fit's TrainingDivergedError, e.g. Adam at --lr 1e6) fails like a NaN."""
    from backprop.training import TrainingDivergedError

    try:
        yield
    except TrainingDivergedError as error:
        other = "" if settings.optimizer == "adam" else ", or --optimizer adam"
        detail = str(error).split(";")[0].removeprefix("training diverged: ")
        raise CLIError(f"training diverged: {detail}; nothing was saved "
                       f"(try a smaller --lr than {settings.lr:g}{other})") from None


def _check_converged(nan_guard, settings: TrainSettings) -> None:
    """Refuse to report (or save over a good file) a network whose loss became NaN or infinite."""
    if nan_guard.stopped_batch is not None:
        epoch, batch = nan_guard.stopped_batch
        other = "" if settings.optimizer == "adam" else ", or --optimizer adam"
        raise CLIError(
            f"training diverged: the loss stopped being finite at epoch {epoch + 1}, batch {batch + 1}; "
            f"nothing was saved (try a smaller --lr than {settings.lr:g}{other})"
        )


def _save(model, preprocessor, settings: TrainSettings, summary: dict, metrics: dict, schedule: Schedule) -> None:
    from backprop.models import save

    options = {key: value for key, value in asdict(settings).items()
               if key not in ("out", "plot", "verbose", "extra_callbacks", "data", "stream", "shuffle_buffer")}
    for key in ("hidden", "categorical", "features", "drop"):
        options[key] = list(getattr(settings, key))
    # What ran, with "auto" resolved, so that the file says how to train it again.
    options.update(epochs=schedule.epochs, early_stopping=schedule.patience, val_split=schedule.val_split)
    metadata = {
        "preprocessing": preprocessor.get_config(),
        "task": summary["task"],
        "target": summary["target"],
        "training": {"data": summary["source"], "options": options, "test_metrics": metrics,
                     "n_train": summary["n_train"], "n_test": summary["n_test"]},
    }
    save(model, settings.out, metadata=metadata)


# ------------------------------------------------------------------------ command


# Other features plug in like --diagnostics: an option here, callbacks appended to
# TrainSettings.extra_callbacks (handed to fit) before run_training, and a report
# printed after report() — on stderr with --json, so that the last stdout line
# stays the JSON object.
@click.command("train")
@click.argument("data", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--dataset", type=click.Choice(list(LOADERS)),
              help=f"Train on a bundled dataset instead of DATA (default without DATA: {DEFAULT_DATASET}).")
@click.option("--target", metavar="COL", help="The column to predict (default: the last column).")
@click.option("--features", type=ColumnNames(), default="", metavar="COLS",
              help="Comma-separated columns to train on (default: every column but the target).")
@click.option("--drop", type=ColumnNames(), default="", metavar="COLS", help="Comma-separated columns to leave out.")
@click.option("--categorical", type=ColumnNames(), default="", metavar="COLS",
              help="Comma-separated numeric columns to one-hot encode like text (zip codes, ids).")
@click.option("--keep-id-columns", is_flag=True,
              help=f"One-hot encode text columns with more than {ID_LIKE_MIN_VALUES} distinct values in over "
                   f"{ID_LIKE_RATIO:.0%} of the rows (names, ids), which are dropped by default.")
@click.option("--embed-above", type=click.IntRange(min=1), default=None, metavar="K",
              help="Embed categorical columns with more than K categories (an nn.Embedding each, unseen "
                   "categories -> a zero vector) instead of one-hot encoding them.")
@click.option("--embedding-dim", type=embedding_inputs.EmbeddingDim(), default="auto", show_default=True,
              help="With --embed-above: the length of each embedding; auto: min(50, round(1.6·n^0.56)) for "
                   "n categories (fastai's rule).")
@click.option("--drop-missing-target", is_flag=True,
              help="Drop the rows whose target is missing (refused by default) and report how many.")
@pipeline.table_format_options
@click.option("--task", type=click.Choice(["auto", "classification", "regression"]), default="auto",
              show_default=True,
              help="auto: classification for text/bool targets and integers with <= 20 values, else regression.")
@click.option("--hidden", type=HiddenLayers(), default=",".join(map(str, TrainSettings.hidden)), show_default=True,
              help="Hidden layer sizes, comma-separated ('none' for no hidden layer).")
@click.option("--activation", type=click.Choice(sorted(a.name for a in ACTIVATIONS if a.elementwise)),
              default=TrainSettings.activation, show_default=True,
              help="Activation of the hidden layers.")
@click.option("--loss", type=click.Choice(["auto"] + LOSSES.names()), default=TrainSettings.loss, show_default=True,
              help="The loss: auto is cross_entropy for classification and mse for regression; a classification "
                   "task takes a loss on class logits (cross_entropy), a regression task a regression loss.")
@click.option("--epochs", type=Epochs(), default="auto", show_default=True,
              help=f"Passes over the training rows; auto: about {AUTO_STEPS} batches "
                   f"({AUTO_EPOCHS_RANGE[0]}-{AUTO_EPOCHS_RANGE[1]} epochs), and for regression early stopping "
                   f"(patience {AUTO_REGRESSION_PATIENCE}) on a {AUTO_VAL_SPLIT:g} validation split.")
@click.option("--batch-size", type=click.IntRange(min=1), default=TrainSettings.batch_size, show_default=True)
@click.option("--optimizer", type=click.Choice(OPTIMIZERS.names()), default=TrainSettings.optimizer,
              show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=TrainSettings.lr, show_default=True,
              help="Learning rate (> 0).")
@click.option("--l2", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="L2 penalty λ·ΣW² on the weights of every Dense layer (not the biases).")
@click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0, show_default=True,
              help="Dropout rate after each hidden layer, in [0, 1).")
@click.option("--val-split", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0, show_default=True,
              help="Fraction of the training rows held out for validation, in [0, 1) "
                   f"(--early-stopping raises 0 to {AUTO_VAL_SPLIT}).")
@click.option("--test-split", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
              default=TEST_FRACTION, show_default=True, help="Fraction of the rows held out as the test set.")
@click.option("--early-stopping", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after N epochs without a lower val_loss and restore the best weights.")
@click.option("--seed", type=click.IntRange(min=0), default=TrainSettings.seed, show_default=True,
              help="Seed for the split, the initial weights, dropout and shuffling.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Save the trained model (with its preprocessing) to this .safetensors file.")
@click.option("--plot", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Save the learning curves to this image (.png, .svg, .pdf); needs matplotlib.")
@click.option("--stream", is_flag=True,
              help="Train on a Parquet file or folder larger than memory: read by row groups, the preprocessing "
                   "fitted in one pass, the last --test-split (and --val-split) rows held out in file order.")
@click.option("--shuffle-buffer", type=click.IntRange(min=0), default=TrainSettings.shuffle_buffer,
              show_default=True, metavar="ROWS", help="With --stream: rows in the shuffle buffer (0: file order).")
@click.option("--verbose", "-v", is_flag=True, help="Print one line per epoch on stderr.")
@click.option("--distributed", is_flag=True,
              help="Train data-parallel over the ranks of an MPI job: mpiexec -n K backprop train --distributed "
                   "(the mpi extra; only rank 0 prints and saves).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object on stdout.")
@diagnostics_option
@images.image_options
def train_command(data, dataset, as_json, diagnostics, resize, conv, **options) -> None:
    """Train a network on DATA (a CSV or Parquet file with a header row) and report test metrics.

    DATA may also be pictures: a folder of class subfolders of PNG/JPEG files, or an
    .npz file with X (N, C, H, W) and y; a small conv net is trained on them (see
    'backprop.cli.images': 3×3 conv blocks of --conv channels, a global max pool).

    Without DATA it trains on the bundled handwritten digits. 20% of the rows
    (--test-split) are held out, stratified by class, as a test set. Numeric
    columns are standardised and text columns one-hot encoded, with statistics
    from the training rows only; a missing numeric cell becomes the training
    mean, a missing text cell its own category. Date and time columns
    (2012-01-31, 2012-01-31 08:15, 08:15) become the year and sin/cos of the
    month, weekday, day of year and time of day; identifier-like text columns
    are dropped (--keep-id-columns). The separator and the encoding (UTF-8, else
    cp1252/Latin-1) are detected unless given. Classification trains one
    logit per class with softmax cross-entropy (also for two classes) and
    reports accuracy and macro F1; regression trains on the standardised
    target with MSE and reports R², RMSE and MAE in the target's units.
    """
    if data is not None and dataset is not None:
        raise click.UsageError("give either DATA or --dataset, not both")
    if options["plot"] is not None:
        _require_matplotlib()
    images.check_options(click.get_current_context(), data, resize, conv)
    settings = TrainSettings(data=data, dataset=dataset, **options)
    if settings.distributed:
        from backprop import distributed

        try:
            distributed.require_mpi("--distributed")
        except ModuleNotFoundError as error:
            raise CLIError(str(error)) from None
    monitor = attach_monitor(settings) if diagnostics else None
    if settings.stream:
        from backprop.cli.train_stream import run_stream_training

        if images.is_image_data(data):
            raise click.UsageError("--stream reads Parquet tables, not pictures")
        if settings.embed_above is not None:
            raise click.UsageError("--stream does not embed categorical columns yet: drop --embed-above "
                                   "(the streamed columns are one-hot encoded)")
        if settings.distributed:
            raise click.UsageError("--stream and --distributed do not go together: a distributed run "
                                   "reads the whole table on every rank")
        result = run_stream_training(settings, sys.modules[__name__])
        report(result, settings, as_json)
    elif images.is_image_data(data):
        result = images.train_on_images(settings, resize, conv, fit_network)
        if writes_results(settings):
            images.report(result, settings, as_json)
    else:
        result = run_training(settings)
        if writes_results(settings):
            report(result, settings, as_json)
    if monitor is not None and writes_results(settings):
        echo_diagnostics(monitor, as_json)


def _require_matplotlib() -> None:
    """Fail before training, not after, when --plot cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install backprop[plot]") from None


def report(result: TrainResult, settings: TrainSettings, as_json: bool) -> None:
    """Print the run's summary and test metrics (or one JSON object with ``--json``)."""
    summary, metrics = result.summary, result.metrics
    if as_json:
        echo_json({**{f"test_{k}": v for k, v in metrics.items()}, **summary,
                   "model_file": None if settings.out is None else os.fspath(settings.out),
                   "plot_file": None if settings.plot is None else os.fspath(settings.plot)})
        return
    classes = f" with {summary['n_outputs']} classes" if summary["task"] == "classification" else ""
    click.echo(f"data: {summary['source']}: {summary['n_rows']} rows, target {summary['target']!r}, "
               f"{summary['task']}{classes}")
    if summary["n_dropped_missing_target"]:
        click.echo(f"dropped: {summary['n_dropped_missing_target']} rows with a missing target")
    for line in _column_notes(summary):
        click.echo(line)
    if summary.get("streamed"):
        click.echo(f"split: {summary['n_train']} train, {summary['n_val']} validation, {summary['n_test']} test "
                   "(by position: the last rows held out)")
    else:
        click.echo(f"split: {summary['n_train']} train, {summary['n_test']} test (seed {settings.seed})")
    click.echo(f"model: {_architecture(summary, settings)}")
    click.echo(f"trained: {_epochs_text(summary)} in {summary['train_seconds']:.1f} s, "
               f"final loss {format_number(summary['final_loss'])}")
    for name, value in metrics.items():
        click.echo(f"test {name}: {format_number(value)}")
    if settings.out is not None:
        click.echo(f"saved: {settings.out}")
    if settings.plot is not None:
        click.echo(f"plot: {settings.plot}")


def _column_notes(summary: dict) -> list[str]:
    """``dates:`` and ``dropped:`` lines: the columns that were not used as they were."""
    lines = []
    for column in summary["date_columns"]:
        n_features = sum(1 if f == "year" else 2 for f in column["features"])
        lines.append(f"dates: {column['name']!r} -> {n_features} features ({', '.join(column['features'])})")
    if summary["dropped_columns"]:
        names = ", ".join(repr(name) for name in summary["dropped_columns"])
        lines.append(f"dropped: {names}: identifier-like text (--keep-id-columns keeps it)")
    for column in summary.get("embedded_columns", ()):
        lines.append(f"embedded: {column['name']!r}: {column['categories']} categories -> {column['dim']} numbers each")
    return lines


def _epochs_text(summary: dict) -> str:
    """``45 epochs (auto)``; ``31 of up to 167 epochs (auto, early stopping on val_loss)``."""
    epochs = f"{summary['epochs_run']} epochs"
    if summary["early_stopping_patience"] is not None:
        epochs = f"{summary['epochs_run']} of up to {summary['epochs']} epochs"
    notes = (["auto"] if summary["epochs_auto"] else []) + (
        ["early stopping on val_loss"] if summary["early_stopping_patience"] is not None else [])
    return epochs + (f" ({', '.join(notes)})" if notes else "")


def _architecture(summary: dict, settings: TrainSettings) -> str:
    embedded = summary.get("embedded_columns") or []
    first = summary["n_features"]
    if embedded:  # one code per embedded column in, its D numbers out
        first = f"{first - len(embedded)} + {sum(c['dim'] for c in embedded)} embedded"
    sizes = [first, *settings.hidden, summary["n_outputs"]]
    extras = [settings.activation] if settings.hidden else []
    if settings.dropout:
        extras.append(f"dropout {settings.dropout}")
    if settings.l2:
        extras.append(f"l2 {settings.l2}")
    return " -> ".join(str(s) for s in sizes) + (f" ({', '.join(extras)})" if extras else "")
