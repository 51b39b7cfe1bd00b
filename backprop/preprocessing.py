"""Turn a table (pandas DataFrame) into the float matrix a network trains on, and back.

``backprop train data.csv --target COL`` reads the file with :func:`read_table`,
fits a :class:`TabularPreprocessor` on it and stores the preprocessor's
:meth:`~TabularPreprocessor.get_config` (plain JSON, no pickle) inside the model
file, so ``backprop predict`` can apply exactly the same transform later.

pandas is an optional dependency (``pip install backprop[cli]``); it is imported
only when a function here needs it.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from pathlib import Path

import numpy as np

__all__ = ["TabularPreprocessor", "read_table", "MISSING_CATEGORY", "MAX_AUTO_CLASSES", "TASKS"]

MISSING_CATEGORY = "<missing>"
"""The category a missing cell of a categorical column is counted as."""

MAX_AUTO_CLASSES = 20
"""``task="auto"`` treats an integer target with at most this many distinct values as classes."""

TASKS = ("auto", "classification", "regression")

_CONFIG_TYPE = "TabularPreprocessor"
_CONFIG_VERSION = 1
_DESCRIBE_MAX_VALUES = 8  # categories/classes listed by describe() before "..."

# The keys a fitted config must hold, per column kind and per target task.
_COLUMN_KEYS = {"numeric": ("name", "mean", "std", "n_missing"),
                "categorical": ("name", "categories", "n_missing")}
_TARGET_KEYS = {"classification": ("name", "classes"),
                "regression": ("name", "standardized", "mean", "std")}


def _import_pandas(purpose: str):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"{purpose} needs pandas, an optional dependency: pip install pandas") from None
    return pd


def _is_numeric_column(series) -> bool:
    """Numbers, but not booleans: booleans are one-hot encoded like strings."""
    pd = _import_pandas("TabularPreprocessor")
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)


def _category_key(value) -> str:
    """The string a categorical cell is matched by.

    Categories are stored as strings so that the config is plain JSON and a column
    read as integers one day and as strings the next (94110 vs "94110") still
    matches. Whole floats lose their ".0" because pandas turns an integer column
    with a missing cell into floats.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _category_keys(series) -> list[str]:
    missing = series.isna().to_numpy()
    return [MISSING_CATEGORY if is_missing else _category_key(value)
            for value, is_missing in zip(series.tolist(), missing)]


def _label_value(value):
    """A target label as a plain JSON-serialisable Python value (str, int, float or bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool, int, float)):
        return value
    raise ValueError(
        f"class labels must be strings, integers, floats or booleans, got {value!r} "
        f"of type {type(value).__name__}"
    )


def _check_column_name(name) -> None:
    if isinstance(name, bool) or not isinstance(name, (str, numbers.Integral)):
        raise TypeError(f"column names must be strings or integers, got {name!r} of type {type(name).__name__}")


def _require_keys(mapping: dict, keys, where: str) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"malformed TabularPreprocessor config: {where} lacks {missing}")


def _format_values(values) -> str:
    shown = ", ".join(str(v) for v in values[:_DESCRIBE_MAX_VALUES])
    return shown + (", ..." if len(values) > _DESCRIBE_MAX_VALUES else "")


class TabularPreprocessor:
    """Encode the columns of a table as standardised numbers, and the target as labels.

    What ``fit`` learns and ``transform`` applies, per column (all columns except
    the target, in the frame's order):

    * **Numeric** columns (int or float dtype, not bool) are standardised:
      ``x' = (x - mean) / std`` with the training mean and population std
      (``std == 0`` is replaced by 1, so a constant column becomes 0). A **missing**
      cell is imputed with the training mean, so it becomes 0 after scaling.
    * **Categorical** columns (strings, pandas ``category``, booleans, mixed
      ``object`` columns, and any column named in ``categorical``) are one-hot
      encoded over the training categories, sorted; output features are named
      ``"column=value"``. Values are matched as strings (94110 and "94110" are the
      same category). A **missing** cell is its own category, ``"<missing>"``, if
      the training data had any; a category never seen in training (including
      ``"<missing>"`` when training had no missing cells) encodes as an all-zero row.

    The target column, if given:

    * ``task="classification"``: labels are encoded as int64 indices into
      ``classes`` (the distinct labels, sorted). Labels keep their Python type
      (an int stays an int, a string a string) through the JSON config.
    * ``task="regression"``: the target must be numeric; if ``standardize_target``
      (the default) it is standardised like a numeric feature, and
      :meth:`inverse_transform_target` maps predictions back to the original units.
    * ``task="auto"``: classification if the target's dtype is string, object,
      category or bool, or an integer dtype with at most ``MAX_AUTO_CLASSES`` (20)
      distinct values; regression otherwise (any float column, or integers with
      more than 20 distinct values). Pass the task explicitly to override.

    A target with missing values is refused (ValueError naming the column and the
    number of rows), as is any infinite value.

    The fitted state is :meth:`get_config`, a JSON-serialisable dict;
    :meth:`from_config` rebuilds an identical preprocessor. The caller's frames are
    never modified.

    Example::

        >>> from backprop.datasets import make_housing
        >>> houses = make_housing(100, seed=0, as_frame=True)
        >>> prep = TabularPreprocessor().fit(houses, target="price")
        >>> X = prep.transform(houses)            # (100, 3 numeric + 5 zip codes)
        >>> y = prep.transform_target(houses["price"])
        >>> prep.feature_names_out[2]
        'zip_code=10001'

    Args:
        categorical: Names of columns to one-hot encode even though they hold
            numbers (zip codes, ids read from CSV as integers). Default: none.
        standardize_target: For regression, standardise the target (and undo it
            in :meth:`inverse_transform_target`). Ignored for classification.
    """

    def __init__(self, categorical=None, standardize_target: bool = True):
        # Like scikit-learn estimators: store the arguments, validate them in fit.
        self.categorical = categorical
        self.standardize_target = standardize_target
        self._columns = None  # list of dicts, one per input column, once fitted
        self._target = None  # dict describing the target, or None

    def __repr__(self) -> str:
        state = (
            f"{len(self._columns)} columns -> {self.n_features_out} features, task={self.task!r}"
            if self.is_fitted else "not fitted"
        )
        return f"TabularPreprocessor({state})"

    # ----------------------------------------------------------------------------------- fit

    def fit(self, frame, target=None, task: str = "auto") -> "TabularPreprocessor":
        """Learn each column's encoding (and the target's) from a training frame.

        Args:
            frame: pandas DataFrame with one row per example. Not modified.
            target: Name of the target column, or None for features only.
            task: "auto", "classification" or "regression" (see the class docstring
                for the "auto" rule). Must be "auto" when ``target`` is None.

        Returns:
            self.

        Raises:
            TypeError: ``frame`` is not a DataFrame, or an argument has the wrong type.
            ValueError: unknown column names, no rows, no feature columns, a missing
                or infinite target value, an all-missing or infinite numeric
                column, or an unsupported column dtype (dates, ...).
        """
        pd = _import_pandas("TabularPreprocessor.fit")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        if not isinstance(self.standardize_target, (bool, np.bool_)):
            raise TypeError(f"standardize_target must be True or False, got {self.standardize_target!r}")
        for name in frame.columns:
            _check_column_name(name)
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        if duplicated:
            raise ValueError(f"frame has duplicated column names {duplicated}")
        if target is not None and target not in frame.columns:
            raise ValueError(f"target column {target!r} is not in the frame; columns are {list(frame.columns)}")
        if target is None and task != "auto":
            raise ValueError(f"task={task!r} needs a target column; pass target=COLUMN")
        categorical = self._checked_categorical(frame, target)
        if len(frame) == 0:
            raise ValueError("frame has no rows to fit on")
        feature_columns = [c for c in frame.columns if c != target]
        if not feature_columns:
            raise ValueError(f"frame has no feature columns besides the target {target!r}")

        columns = [self._fit_column(frame[name], name, name in categorical) for name in feature_columns]
        target_info = None if target is None else self._fit_target(frame[target], target, task)
        self._columns, self._target = columns, target_info
        return self

    def _checked_categorical(self, frame, target) -> set:
        if self.categorical is None:
            return set()
        if isinstance(self.categorical, (str, bytes)) or not hasattr(self.categorical, "__iter__"):
            raise TypeError(f"categorical must be a list of column names, got {self.categorical!r}")
        names = list(self.categorical)
        unknown = [n for n in names if n not in frame.columns]
        if unknown:
            raise ValueError(f"categorical names columns {unknown} that are not in the frame; "
                             f"columns are {list(frame.columns)}")
        if target is not None and target in names:
            raise ValueError(f"the target {target!r} cannot also be a categorical feature")
        return set(names)

    @staticmethod
    def _fit_column(series, name, force_categorical: bool) -> dict:
        pd = _import_pandas("TabularPreprocessor.fit")
        if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype) \
                or pd.api.types.is_complex_dtype(series.dtype):
            raise ValueError(
                f"column {name!r} has dtype {series.dtype}, which is not supported; "
                "convert it to numbers or strings first"
            )
        n_missing = int(series.isna().sum())
        if _is_numeric_column(series) and not force_categorical:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            present = values[~np.isnan(values)]
            if present.size == 0:
                raise ValueError(f"numeric column {name!r} has no values, only missing cells")
            if not np.all(np.isfinite(present)):
                raise ValueError(f"numeric column {name!r} contains infinite values")
            std = float(present.std())
            return {
                "name": name,
                "kind": "numeric",
                "mean": float(present.mean()),
                "std": std if std > 0 and math.isfinite(std) else 1.0,
                "n_missing": n_missing,
            }
        return {
            "name": name,
            "kind": "categorical",
            "categories": sorted(set(_category_keys(series))),
            "n_missing": n_missing,
        }

    def _fit_target(self, series, name, task: str) -> dict:
        pd = _import_pandas("TabularPreprocessor.fit")
        n_missing = int(series.isna().sum())
        if n_missing:
            raise ValueError(
                f"target column {name!r} has {n_missing} row(s) with a missing value; "
                "drop or fill them before training"
            )
        if task == "auto":
            is_integer = pd.api.types.is_integer_dtype(series.dtype)
            if not _is_numeric_column(series) or (is_integer and series.nunique() <= MAX_AUTO_CLASSES):
                task = "classification"
            else:
                task = "regression"

        if task == "classification":
            labels = {_label_value(v) for v in series.tolist()}
            if any(isinstance(v, float) and not math.isfinite(v) for v in labels):
                raise ValueError(f"target column {name!r} contains infinite values")
            try:
                classes = sorted(labels)
            except TypeError:
                kinds = sorted({type(v).__name__ for v in labels})
                raise ValueError(
                    f"target column {name!r} mixes label types {kinds}; "
                    "make all labels strings or all numbers"
                ) from None
            if len(classes) < 2:
                raise ValueError(f"target column {name!r} has a single class {classes}; "
                                 "classification needs at least 2")
            return {"name": name, "task": "classification", "classes": classes}

        if not _is_numeric_column(series):
            raise ValueError(
                f"task='regression' needs a numeric target, but column {name!r} has dtype "
                f"{series.dtype}; use task='classification' for labels"
            )
        values = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"target column {name!r} contains infinite values")
        mean, std = 0.0, 1.0
        if self.standardize_target:
            mean, std = float(values.mean()), float(values.std())
            std = std if std > 0 and math.isfinite(std) else 1.0
        return {"name": name, "task": "regression", "standardized": bool(self.standardize_target),
                "mean": mean, "std": std}

    # ----------------------------------------------------------------------------- transform

    def _require_fitted(self) -> None:
        if self._columns is None:
            raise RuntimeError("this TabularPreprocessor is not fitted yet; call fit(frame, target=...) first")

    def transform(self, frame) -> np.ndarray:
        """Encode the feature columns of ``frame`` as a float32 matrix.

        Args:
            frame: pandas DataFrame holding every column seen in ``fit`` (extra
                columns, including the target, are ignored). Not modified.

        Returns:
            float32 ndarray of shape (n_rows, n_features_out), columns in the order
            of ``feature_names_out``.

        Raises:
            ValueError: a fitted column is missing from ``frame`` (all missing ones
                are named), or a numeric column holds text or infinite values.
        """
        self._require_fitted()
        pd = _import_pandas("TabularPreprocessor.transform")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [c["name"] for c in self._columns if c["name"] not in frame.columns]
        if missing:
            raise ValueError(f"frame is missing column(s) {missing} that the preprocessor was fitted on")

        blocks = []
        for column in self._columns:
            series = frame[column["name"]]
            if isinstance(series, pd.DataFrame):
                raise ValueError(f"frame has duplicated column {column['name']!r}")
            if column["kind"] == "numeric":
                blocks.append(self._transform_numeric(series, column)[:, None])
            else:
                blocks.append(self._transform_categorical(series, column))
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32, copy=False)

    @staticmethod
    def _transform_numeric(series, column) -> np.ndarray:
        pd = _import_pandas("TabularPreprocessor.transform")
        if not pd.api.types.is_numeric_dtype(series.dtype):
            try:
                series = pd.to_numeric(series)
            except (ValueError, TypeError):
                raise ValueError(
                    f"column {column['name']!r} was numeric when fitted but now holds "
                    f"non-numeric values (dtype {series.dtype})"
                ) from None
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            raise ValueError(f"column {column['name']!r} contains infinite values")
        values = np.where(np.isnan(values), column["mean"], values)
        return (values - column["mean"]) / column["std"]

    @staticmethod
    def _transform_categorical(series, column) -> np.ndarray:
        index = {category: j for j, category in enumerate(column["categories"])}
        codes = np.fromiter((index.get(key, -1) for key in _category_keys(series)),
                            dtype=np.int64, count=len(series))
        one_hot = np.zeros((len(series), len(index)), dtype=np.float32)
        seen = codes >= 0  # unseen categories keep their all-zero row
        one_hot[np.flatnonzero(seen), codes[seen]] = 1.0
        return one_hot

    def fit_transform(self, frame, target=None, task: str = "auto") -> np.ndarray:
        """``fit(frame, target, task)`` then ``transform(frame)``; returns X only.

        Use ``transform_target(frame[target])`` for the encoded target.
        """
        return self.fit(frame, target=target, task=task).transform(frame)

    def transform_target(self, target) -> np.ndarray:
        """Encode target values: class indices for classification, scaled floats for regression.

        Args:
            target: pandas Series, array-like of labels/values, or a DataFrame that
                holds the fitted target column.

        Returns:
            int64 ndarray of class indices, shape (n,), for classification; float32
            ndarray, shape (n,), for regression (standardised if ``standardize_target``).

        Raises:
            RuntimeError: not fitted, or fitted without a target.
            ValueError: missing values, labels not seen in ``fit`` (named), or
                non-numeric values for regression.
        """
        info = self._require_target()
        pd = _import_pandas("TabularPreprocessor.transform_target")
        if isinstance(target, pd.DataFrame):
            if info["name"] not in target.columns:
                raise ValueError(f"frame has no target column {info['name']!r}; columns are {list(target.columns)}")
            target = target[info["name"]]
        series = target if isinstance(target, pd.Series) else pd.Series(np.asarray(target).ravel())
        n_missing = int(series.isna().sum())
        if n_missing:
            raise ValueError(f"target {info['name']!r} has {n_missing} row(s) with a missing value")

        if info["task"] == "classification":
            index = {label: k for k, label in enumerate(info["classes"])}
            labels = [_label_value(v) for v in series.tolist()]
            unseen = sorted({repr(v) for v in labels if v not in index})
            if unseen:
                shown = ", ".join(unseen[:_DESCRIBE_MAX_VALUES]) + (", ..." if len(unseen) > _DESCRIBE_MAX_VALUES else "")
                raise ValueError(
                    f"target {info['name']!r} has label(s) not seen in fit: {shown}; "
                    f"known classes are {info['classes']}"
                )
            return np.array([index[v] for v in labels], dtype=np.int64)

        if not _is_numeric_column(series):
            try:
                series = pd.to_numeric(series)
            except (ValueError, TypeError):
                raise ValueError(f"regression target {info['name']!r} must be numeric, got dtype {series.dtype}") from None
        values = series.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"target {info['name']!r} contains infinite values")
        return ((values - info["mean"]) / info["std"]).astype(np.float32)

    def inverse_transform_target(self, pred) -> np.ndarray:
        """Map network outputs back to target values in the original labels or units.

        Args:
            pred: For classification, either class indices of shape (n,), scores or
                probabilities of shape (n, n_classes) (the argmax is taken), or, with
                two classes, the probability of ``classes[1]`` of shape (n, 1)
                (thresholded at 0.5). For regression, values of shape (n,) or (n, 1)
                in the transformed scale.

        Returns:
            ndarray of shape (n,): the labels (ints stay int64, strings str, bools
            bool) for classification; float64 values for regression.
        """
        info = self._require_target()
        pred = np.asarray(pred)
        if info["task"] == "regression":
            if pred.ndim == 2 and pred.shape[1] == 1:
                pred = pred[:, 0]
            if pred.ndim != 1:
                raise ValueError(f"regression predictions must have shape (n,) or (n, 1), got {pred.shape}")
            return pred.astype(np.float64) * info["std"] + info["mean"]

        n_classes = len(info["classes"])
        if pred.ndim == 2 and pred.shape[1] == n_classes:
            indices = pred.argmax(axis=1)
        elif pred.ndim == 2 and pred.shape[1] == 1 and n_classes == 2:
            indices = (pred[:, 0] >= 0.5).astype(np.int64)
        elif pred.ndim == 1:
            if not np.all(np.equal(np.mod(pred, 1), 0)):
                raise ValueError("1-D classification predictions must be whole class indices")
            indices = pred.astype(np.int64)
            out_of_range = indices[(indices < 0) | (indices >= n_classes)]
            if out_of_range.size:
                raise ValueError(f"class indices must be in [0, {n_classes}), got {out_of_range[:5].tolist()}")
        else:
            raise ValueError(
                f"classification predictions must have shape (n,), (n, {n_classes})"
                + (" or (n, 1)" if n_classes == 2 else "") + f", got {pred.shape}"
            )
        return np.asarray(info["classes"])[indices]

    def _require_target(self) -> dict:
        self._require_fitted()
        if self._target is None:
            raise RuntimeError("this TabularPreprocessor was fitted without a target column")
        return self._target

    # ---------------------------------------------------------------------------- properties

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``from_config`` of a fitted config) has run."""
        return self._columns is not None

    @property
    def feature_names_in(self) -> list:
        """The raw input columns, in order (the target excluded)."""
        self._require_fitted()
        return [c["name"] for c in self._columns]

    @property
    def feature_names_out(self) -> list[str]:
        """One name per output column: the column name, or ``"column=category"`` after one-hot."""
        self._require_fitted()
        names = []
        for column in self._columns:
            if column["kind"] == "numeric":
                names.append(str(column["name"]))
            else:
                names.extend(f"{column['name']}={category}" for category in column["categories"])
        return names

    @property
    def n_features_out(self) -> int:
        """Width of the matrix ``transform`` returns (the network's input size)."""
        return len(self.feature_names_out)

    @property
    def target(self):
        """Name of the target column, or None."""
        self._require_fitted()
        return None if self._target is None else self._target["name"]

    @property
    def task(self) -> str | None:
        """"classification", "regression", or None when fitted without a target."""
        self._require_fitted()
        return None if self._target is None else self._target["task"]

    @property
    def classes(self) -> list | None:
        """The class labels, sorted, with their original Python types; None for regression."""
        self._require_fitted()
        if self._target is None or self._target["task"] != "classification":
            return None
        return list(self._target["classes"])

    # ------------------------------------------------------------------------------- config

    def get_config(self) -> dict:
        """The arguments and the fitted state as a JSON-serialisable dict (no pickle)."""
        categorical = None if self.categorical is None else list(self.categorical)
        return {
            "type": _CONFIG_TYPE,
            "version": _CONFIG_VERSION,
            "categorical": categorical,
            "standardize_target": bool(self.standardize_target),
            # Deep copies: editing the returned dict must not change this preprocessor.
            "columns": copy.deepcopy(self._columns),
            "target": copy.deepcopy(self._target),
        }

    @classmethod
    def from_config(cls, config: dict) -> "TabularPreprocessor":
        """Rebuild a preprocessor from :meth:`get_config` (e.g. after ``json.loads``).

        Raises:
            TypeError: ``config`` is not a dict.
            ValueError: it is not a TabularPreprocessor config of a known version,
                or a field is missing or malformed.
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if config.get("type") != _CONFIG_TYPE:
            raise ValueError(f"config type must be {_CONFIG_TYPE!r}, got {config.get('type')!r}")
        if config.get("version") != _CONFIG_VERSION:
            raise ValueError(f"config version must be {_CONFIG_VERSION}, got {config.get('version')!r}")
        _require_keys(config, ("categorical", "standardize_target", "columns", "target"), "config")
        columns, target = copy.deepcopy(config["columns"]), copy.deepcopy(config["target"])
        if columns is not None:
            if not isinstance(columns, list):
                raise ValueError("malformed TabularPreprocessor config: 'columns' must be a list or null")
            for column in columns:
                kind = column.get("kind") if isinstance(column, dict) else None
                if kind not in _COLUMN_KEYS:
                    raise ValueError(f"malformed TabularPreprocessor config: column kind must be one of "
                                     f"{list(_COLUMN_KEYS)}, got {kind!r}")
                _require_keys(column, _COLUMN_KEYS[kind], f"{kind} column")
        if target is not None:
            task = target.get("task") if isinstance(target, dict) else None
            if task not in _TARGET_KEYS:
                raise ValueError(f"malformed TabularPreprocessor config: target task must be one of "
                                 f"{list(_TARGET_KEYS)}, got {task!r}")
            _require_keys(target, _TARGET_KEYS[task], f"{task} target")
        if columns is None and target is not None:
            raise ValueError("malformed TabularPreprocessor config: a target without columns")
        preprocessor = cls(categorical=config["categorical"], standardize_target=config["standardize_target"])
        preprocessor._columns, preprocessor._target = columns, target
        return preprocessor

    # ----------------------------------------------------------------------------- describe

    def describe(self) -> list[str]:
        """Human-readable lines, one per column and one for the target (for ``backprop info``)."""
        if not self.is_fitted:
            return ["TabularPreprocessor: not fitted"]
        lines = [f"{len(self._columns)} input column(s) -> {self.n_features_out} feature(s)"]
        for column in self._columns:
            if column["kind"] == "numeric":
                line = (f"{column['name']}: numeric, standardised "
                        f"(mean {column['mean']:.6g}, std {column['std']:.6g})")
                if column["n_missing"]:
                    line += f"; {column['n_missing']} missing at fit, missing cells imputed with the mean"
            else:
                categories = column["categories"]
                line = (f"{column['name']}: categorical, one-hot over {len(categories)} value(s) "
                        f"({_format_values(categories)}); unseen values -> all zeros")
                if column["n_missing"]:
                    line += f"; {column['n_missing']} missing at fit, counted as {MISSING_CATEGORY!r}"
            lines.append(line)
        if self._target is not None:
            target = self._target
            if target["task"] == "classification":
                lines.append(f"target {target['name']}: classification, {len(target['classes'])} classes "
                             f"({_format_values(target['classes'])})")
            elif target["standardized"]:
                lines.append(f"target {target['name']}: regression, standardised "
                             f"(mean {target['mean']:.6g}, std {target['std']:.6g})")
            else:
                lines.append(f"target {target['name']}: regression, not scaled")
        return lines


_CSV_SUFFIXES = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _looks_like_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path):
    """Read a CSV/TSV (header row required; optionally gzipped) or Parquet file into a DataFrame.

    Args:
        path: ``str`` or ``os.PathLike`` ending in .csv, .tsv, .csv.gz, .tsv.gz,
            .parquet or .pq.

    Returns:
        pandas.DataFrame with one column per header field.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it is a directory, has an unsupported extension, is empty, has
            a header but no rows, has no header (the first line is all numbers or
            has an unnamed column), or cannot be parsed. Each message names the path.
        ImportError: pandas is missing, or pyarrow is missing for Parquet.
        TypeError: ``path`` is not a string or path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a string or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a data file")
    name = path.name.lower()
    suffix = next((s for s in (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES) if name.endswith(s)), None)
    if suffix is None:
        allowed = ", ".join([*_CSV_SUFFIXES, *_PARQUET_SUFFIXES])
        raise ValueError(f"unsupported file type for {path}; use one of {allowed}")
    pd = _import_pandas("read_table")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")

    if suffix in _PARQUET_SUFFIXES:
        try:
            import pyarrow  # noqa: F401 - pandas' Parquet engine
        except ImportError:
            raise ImportError(f"reading the Parquet file {path} needs pyarrow: pip install pyarrow") from None
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many types for a corrupt file
            raise ValueError(f"could not read {path} as Parquet: {str(error).splitlines()[0]}") from None
    else:
        try:
            frame = pd.read_csv(path, sep=_CSV_SUFFIXES[suffix])
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"could not parse {path} as CSV: {message}") from None
        if not frame.index.equals(pd.RangeIndex(len(frame))):
            # pandas silently turns the first column into the index when rows have one
            # field more than the header: every column would then hold its neighbour's values.
            raise ValueError(f"could not parse {path} as CSV: its rows have more fields than its header")
        header = [str(c) for c in frame.columns]
        unnamed = [i for i, c in enumerate(header) if c.startswith("Unnamed: ")]
        if unnamed:
            raise ValueError(
                f"{path} has header field(s) with no name (column(s) {unnamed}); every column needs a "
                "name (pandas writes an unnamed index column unless to_csv(..., index=False))"
            )
        if all(_looks_like_a_number(c) for c in header):
            raise ValueError(f"{path} has no header row: its first line {header[:5]} is numbers; "
                             "add a first line naming the columns")
    if len(frame) == 0:
        raise ValueError(f"{path} has a header but no data rows")
    return frame
