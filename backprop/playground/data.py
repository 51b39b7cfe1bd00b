"""The data of one playground run: the table, its train/test split, and the grid of the input plane.

The rows pass through the command line's :class:`~backprop.cli.preprocessing.TabularPreprocessor`
(fitted on the training rows, as ``backprop train`` does), so that the model the page
downloads carries the same preprocessing and ``backprop predict`` reads raw rows with it.
Both features are numeric and standardised: the network sees a^0 = (x − mean) / std.

A CSV upload is read by :func:`~backprop.cli.preprocessing.read_table` (the separator and
the encoding are sniffed as for ``backprop train``); its two feature columns must be
numeric, since the page draws the plane they span.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from backprop.playground.datasets import DATASETS, EXTENT, FEATURE_NAMES, TARGET_NAME
from backprop.playground.settings import CLASSIFICATION_LOSSES, CSV_SOURCE, REGRESSION_LOSSES, Settings, \
    SettingsError

__all__ = ["PlaygroundData", "build_data", "read_csv_columns", "MAX_CSV_BYTES", "MAX_CSV_ROWS", "MAX_CLASSES",
           "GRID", "NEURON_GRID"]

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 20_000
MAX_CLASSES = 10  # colours the page can tell apart
GRID = 64  # the output heatmap: GRID × GRID points of the plane
NEURON_GRID = 24  # each neuron's own heatmap


@dataclass
class PlaygroundData:
    """The prepared data of a run.

    Attributes:
        task: "classification" or "regression".
        features, target: the column names.
        classes: the class labels (classification), in the order of the network's outputs.
        raw_train, raw_test: the rows as they were, (n, 2) float64, and their targets
            (labels, or values in the target's units).
        X_train, X_test, y_train, y_test: what the network trains on (standardised; class
            indices, or the standardised target in a column).
        extent: (x1 min, x1 max, x2 min, x2 max) of the plane drawn.
        grid, neuron_grid: the plane's points, rows of (x1, x2) in network units, x1 fastest,
            the top row (largest x2) first.
        preprocessor: the fitted TabularPreprocessor.
    """

    task: str
    features: list
    target: str
    classes: list
    raw_train: np.ndarray
    raw_test: np.ndarray
    label_train: list
    label_test: list
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    extent: tuple
    grid: np.ndarray
    neuron_grid: np.ndarray
    preprocessor: object
    source: str

    @property
    def n_outputs_needed(self) -> int:
        return len(self.classes) if self.task == "classification" else 1

    def to_json(self) -> dict:
        """The points the page draws (raw units) and what they mean."""
        return {
            "task": self.task, "features": list(self.features), "target": self.target,
            "classes": [_plain(c) for c in self.classes], "extent": list(self.extent), "source": self.source,
            "train": {"x": self.raw_train.tolist(), "y": [_plain(v) for v in self.label_train]},
            "test": {"x": self.raw_test.tolist(), "y": [_plain(v) for v in self.label_test]},
            "target_range": None if self.task == "classification" else _target_range(self),
        }


def _plain(value):
    """A label or value as JSON has it (NumPy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _target_range(data: PlaygroundData) -> list:
    values = np.concatenate([np.asarray(data.label_train, float), np.asarray(data.label_test, float)])
    return [float(values.min()), float(values.max())]


# ------------------------------------------------------------------ reading
def read_csv_frame(text: str):
    """A DataFrame from CSV text, read as ``backprop train`` reads a file."""
    from backprop.cli.preprocessing import read_table

    if not isinstance(text, str) or not text.strip():
        raise SettingsError("the CSV upload is empty")
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise SettingsError(f"the CSV upload is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
    with tempfile.TemporaryDirectory(prefix="backprop-playground-") as folder:
        path = os.path.join(folder, "upload.csv")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        try:
            frame = read_table(path)
        except ValueError as error:
            raise SettingsError(f"the CSV upload cannot be read: {str(error).replace(path, 'upload.csv')}") from None
    if len(frame) > MAX_CSV_ROWS:
        raise SettingsError(f"the CSV upload has {len(frame)} rows; the playground takes at most {MAX_CSV_ROWS}")
    return frame


def read_csv_columns(text: str) -> dict:
    """The columns of an upload, which of them are numeric, and the task ``auto`` would pick for each."""
    import pandas as pd

    from backprop.cli.preprocessing import infer_task

    frame = read_csv_frame(text)
    columns = []
    for name in frame.columns:
        series = frame[name]
        numeric = bool(pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype))
        columns.append({"name": str(name), "numeric": numeric, "task": infer_task(series.dropna(), "auto"),
                        "distinct": int(series.nunique())})
    return {"rows": len(frame), "columns": columns}


def _generated_frame(settings: Settings):
    import pandas as pd

    X, y = DATASETS[settings.dataset].make(settings.n_samples, settings.noise, np.random.default_rng(settings.seed))
    frame = pd.DataFrame({FEATURE_NAMES[0]: X[:, 0], FEATURE_NAMES[1]: X[:, 1], TARGET_NAME: y})
    return frame, list(FEATURE_NAMES), TARGET_NAME, "classification"


def _csv_frame(settings: Settings, text):
    import pandas as pd

    from backprop.cli.preprocessing import infer_task

    if text is None:
        raise SettingsError("dataset 'csv' needs the CSV text in the request ('csv')")
    frame = read_csv_frame(text)
    names = [str(c) for c in frame.columns]
    frame.columns = names
    for name in [*settings.features, settings.target]:
        if name not in names:
            raise SettingsError(f"the CSV upload has no column {name!r}; its columns are {names[:20]}")
    frame = frame[[*settings.features, settings.target]]
    for name in settings.features:
        series = frame[name]
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            raise SettingsError(f"the feature column {name!r} is not numeric; the playground draws the plane of "
                                "two numeric features")
    frame = frame.dropna()
    if len(frame) < 10:
        raise SettingsError(f"the CSV upload has {len(frame)} complete rows in these columns; at least 10 are needed")
    if not np.isfinite(frame[settings.features].to_numpy(dtype=np.float64)).all():
        raise SettingsError("the feature columns hold infinite values")
    task = infer_task(frame[settings.target], settings.task)
    return frame, list(settings.features), settings.target, task


def build_data(settings: Settings, csv_text=None) -> PlaygroundData:
    """Read or draw the rows, split them (stratified for classes), fit the preprocessing, lay out the grids.

    Raises:
        SettingsError: the data do not suit the settings (a missing column, too few rows,
            a loss for the other task, too many classes...).
    """
    from backprop.cli.preprocessing import TabularPreprocessor
    from backprop.datasets import train_test_split

    if settings.dataset == CSV_SOURCE:
        frame, features, target, task = _csv_frame(settings, csv_text)
        source = "uploaded CSV"
    else:
        frame, features, target, task = _generated_frame(settings)
        source = settings.dataset
    loss = settings.loss_for(task)
    allowed = CLASSIFICATION_LOSSES if task == "classification" else REGRESSION_LOSSES
    if loss not in allowed:
        raise SettingsError(f"loss {loss!r} does not fit a {task} target; use one of {list(allowed)}")
    labels = frame[target].to_numpy()
    if task == "classification":
        n_classes = len(np.unique(labels.astype(str)))
        if not 2 <= n_classes <= MAX_CLASSES:
            raise SettingsError(f"the target {target!r} has {n_classes} classes; "
                                f"the playground takes 2 to {MAX_CLASSES}")
        if loss == "binary_cross_entropy_with_logits" and n_classes != 2:
            raise SettingsError(f"binary_cross_entropy_with_logits needs two classes; {target!r} has {n_classes}; "
                                "use cross_entropy")
    rows = np.arange(len(frame))
    try:
        train_rows, test_rows, _, _ = train_test_split(rows, labels, test_size=1.0 - settings.train_ratio,
                                                       seed=settings.seed, stratify=task == "classification")
    except ValueError as error:
        raise SettingsError(f"cannot split the rows into train and test: {error}") from None
    train_frame, test_frame = frame.iloc[np.sort(train_rows)], frame.iloc[np.sort(test_rows)]
    preprocessor = TabularPreprocessor().fit(train_frame, target=target, task=task)
    X_train = preprocessor.transform(train_frame)
    X_test = preprocessor.transform(test_frame)
    y_train = preprocessor.transform_target(train_frame[target])
    y_test = preprocessor.transform_target(test_frame[target])
    if task == "regression":
        y_train, y_test = y_train[:, None], y_test[:, None]
    raw_train = train_frame[features].to_numpy(dtype=np.float64)
    raw_test = test_frame[features].to_numpy(dtype=np.float64)
    extent = _extent(np.concatenate([raw_train, raw_test]), generated=settings.dataset != CSV_SOURCE)

    def plane(size: int) -> np.ndarray:
        import pandas as pd

        x1 = np.linspace(extent[0], extent[1], size)
        x2 = np.linspace(extent[3], extent[2], size)  # the top row first, as a canvas draws
        g1, g2 = np.meshgrid(x1, x2)
        points = pd.DataFrame({features[0]: g1.ravel(), features[1]: g2.ravel()})
        return preprocessor.transform(points)

    classes = list(preprocessor.classes) if task == "classification" else []
    return PlaygroundData(
        task=task, features=features, target=target, classes=classes,
        raw_train=raw_train, raw_test=raw_test,
        label_train=train_frame[target].tolist(), label_test=test_frame[target].tolist(),
        X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test, extent=extent,
        grid=plane(GRID), neuron_grid=plane(NEURON_GRID), preprocessor=preprocessor, source=source,
    )


def _extent(points: np.ndarray, generated: bool) -> tuple:
    """The plane drawn: [−6, 6]² for the generated sets; the data's range plus 5 % otherwise."""
    if generated:
        return (-EXTENT, EXTENT, -EXTENT, EXTENT)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.where(high > low, 0.05 * (high - low), 1.0)
    return (float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1]))
