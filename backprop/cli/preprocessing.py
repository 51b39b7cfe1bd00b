"""Turn a table (pandas DataFrame) into the float matrix a network trains on, and back.

``backprop train data.csv --target COL`` reads the file with :func:`read_table`,
fits a :class:`TabularPreprocessor` on it and stores the preprocessor's
:meth:`~TabularPreprocessor.get_config` (plain JSON, no pickle) inside the model
file, so ``backprop predict`` can apply exactly the same transform later.

pandas is an optional dependency (``pip install backprop[cli]``); it is imported
only when a function here needs it.
"""

from __future__ import annotations

import codecs
import copy
import csv
import gzip
import io
import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["TabularPreprocessor", "read_table", "infer_task", "IdentifierColumnWarning", "MISSING_CATEGORY",
           "MAX_AUTO_CLASSES", "TASKS", "ID_LIKE_MIN_VALUES", "ID_LIKE_RATIO"]

MISSING_CATEGORY = "<missing>"
"""The category a missing cell of a categorical column is counted as."""

MAX_AUTO_CLASSES = 20
"""``task="auto"`` treats an integer target with at most this many distinct values as classes."""

TASKS = ("auto", "classification", "regression")

ID_LIKE_MIN_VALUES = 20
ID_LIKE_RATIO = 0.5
"""A text column with more than ``ID_LIKE_MIN_VALUES`` distinct values that are also more than
``ID_LIKE_RATIO`` of its non-missing rows looks like an identifier (a name, an order number):
one-hot encoding it gives one input per row that nothing can generalise from, so ``fit``
drops it with an :class:`IdentifierColumnWarning` unless ``keep_id_columns=True``."""

# Limits on what a table may produce and a config may hold: a config read from a model
# file is untrusted, and these keep what it can make us build proportional to its size.
MAX_COLUMNS = 100_000
MAX_CATEGORIES = 100_000  # per column
MAX_CLASSES = 10_000
MAX_FEATURES = 1_000_000  # the network's input width
MAX_NAME_LENGTH = 1_000  # column names, categories and string labels, in characters

_CONFIG_TYPE = "TabularPreprocessor"
_CONFIG_VERSION = 3  # 2 added date/time columns and dropped identifier columns; 3 embedded columns
_READABLE_VERSIONS = (1, 2, 3)
_DESCRIBE_MAX_VALUES = 8  # categories/classes listed by describe() before "..."

# The keys a fitted config holds, per column kind and per target task (exactly these).
_COLUMN_KEYS = {"numeric": ("name", "kind", "mean", "std", "n_missing"),
                "categorical": ("name", "kind", "categories", "n_missing"),
                "embedded": ("name", "kind", "categories", "n_missing"),
                "datetime": ("name", "kind", "parts", "year_mean", "year_std", "n_missing"),
                "time": ("name", "kind", "n_missing")}
_TARGET_KEYS = {"classification": ("name", "task", "classes"),
                "regression": ("name", "task", "standardized", "mean", "std")}
_DROPPED_KEYS = ("name", "reason", "n_values")


FEATURES_BRANCH = "features"
"""The name of the input that holds the matrix of ``transform`` when some columns are embedded."""

UNKNOWN_CODE = 0
"""The code of a category an embedded column never saw in training (its categories are 1, 2, ...)."""


def embedded_branch(index: int) -> str:
    """The input name of the ``index``-th embedded column: ``"e0"``, ``"e1"``, ... (column names may
    hold any character; input names must be identifiers)."""
    return f"e{index}"


class IdentifierColumnWarning(UserWarning):
    """``fit`` dropped a text column whose values are (nearly) unique per row."""


def _import_pandas(purpose: str):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"{purpose} needs pandas, an optional dependency: pip install pandas") from None
    return pd

# Year-first dates, optionally with a time and a UTC offset: 2012-01-31, 2012/01/31 08:15,
# 2012-01-31T08:15:00.5Z, 2012-01-31 08:15+02:00. Day-first and month-first forms are
# ambiguous (01/02/2012) and stay text.
_DATE_PATTERN = r"\d{4}[-/]\d{1,2}[-/]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?" \
                r"(?: ?(?:Z|UTC|[+-]\d{2}:?\d{2}))?"
_TIME_PATTERN = r"(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d{1,9})?))?"
_SECONDS_PER_DAY = 86_400.0
# The features a date column becomes, in this order: the year as a number (standardised,
# so a trend can be learnt) and the periodic parts as (sin, cos) of their phase, so that
# December sits next to January and Sunday next to Monday. "timeofday" only when the
# training values had times.
DATETIME_PARTS = ("year", "month", "weekday", "dayofyear", "timeofday")
_PART_LABELS = {"year": "year", "month": "month", "weekday": "day of week", "dayofyear": "day of year",
                "timeofday": "time of day"}


def _text_values(series):
    """The non-missing cells as a Series of str, or None when some cell is not text."""
    present = series[series.notna()]
    if present.empty or not all(isinstance(v, str) for v in present.tolist()):
        return None
    return present.astype(str).str.strip()


def _looks_like_dates(series) -> str | None:
    """"datetime", "time" or None: whether every non-missing cell of a text column is a date or a time."""
    pd = _import_pandas("TabularPreprocessor.fit")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime" if series.notna().any() else None
    if _is_numeric_column(series) or pd.api.types.is_bool_dtype(series.dtype):
        return None
    text = _text_values(series)
    if text is None:
        return None
    if text.str.fullmatch(_DATE_PATTERN).all():
        parsed = _parse_dates(text)
        return "datetime" if parsed.notna().all() else None  # 2012-13-45 matches but is no date
    if text.str.fullmatch(_TIME_PATTERN).all():
        return "time" if np.isfinite(_parse_times(text)).all() else None
    return None


def _parse_dates(text):
    """Timestamps (UTC, naive) of date strings; NaT where a string is not a valid date."""
    pd = _import_pandas("TabularPreprocessor")
    if pd.api.types.is_datetime64_any_dtype(text.dtype):
        values = text
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC")
    else:
        normalised = text.astype(str).str.strip().str.replace("/", "-", regex=False).str.replace(
            r" ?UTC$", "Z", regex=True)
        values = pd.to_datetime(normalised, errors="coerce", format="ISO8601", utc=True)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values


def _parse_times(text) -> np.ndarray:
    """Seconds since midnight of "HH:MM[:SS[.f]]" strings; NaN where a string is not a valid time."""
    parts = text.astype(str).str.strip().str.fullmatch(_TIME_PATTERN)
    groups = text.astype(str).str.strip().str.extract("^" + _TIME_PATTERN + "$")
    hours = groups[0].astype(float).to_numpy()
    minutes = groups[1].astype(float).to_numpy()
    seconds = groups[2].astype(float).fillna(0.0).to_numpy()
    valid = parts.to_numpy(dtype=bool) & (hours < 24) & (minutes < 60) & (seconds < 61)
    return np.where(valid, hours * 3600 + minutes * 60 + seconds, np.nan)


def _cyclic(phase: np.ndarray) -> list[np.ndarray]:
    """(sin, cos) of a phase in [0, 1): one full turn per period."""
    angle = 2 * np.pi * phase
    return [np.sin(angle), np.cos(angle)]


def _datetime_features(stamps, parts, year_mean: float, year_std: float) -> list[np.ndarray]:
    """The columns of ``parts`` for parsed timestamps (NaT rows become NaN, imputed by the caller)."""
    year = stamps.dt.year.to_numpy(dtype=np.float64, na_value=np.nan)
    day_of_year = stamps.dt.day_of_year.to_numpy(dtype=np.float64, na_value=np.nan) - 1
    days_in_year = np.where(stamps.dt.is_leap_year.to_numpy(dtype=bool, na_value=False), 366.0, 365.0)
    features = []
    for part in parts:
        if part == "year":
            features.append((year + day_of_year / days_in_year - year_mean) / year_std)  # fractional year
        elif part == "month":
            features += _cyclic((stamps.dt.month.to_numpy(dtype=np.float64, na_value=np.nan) - 1) / 12)
        elif part == "weekday":
            features += _cyclic(stamps.dt.day_of_week.to_numpy(dtype=np.float64, na_value=np.nan) / 7)
        elif part == "dayofyear":
            features += _cyclic(day_of_year / days_in_year)
        elif part == "timeofday":
            seconds = (stamps - stamps.dt.normalize()).dt.total_seconds().to_numpy(dtype=np.float64,
                                                                                  na_value=np.nan)
            features += _cyclic(seconds / _SECONDS_PER_DAY)
    return features


def _datetime_feature_names(name, parts) -> list[str]:
    names = []
    for part in parts:
        names += [f"{name}.year"] if part == "year" else [f"{name}.{part}_sin", f"{name}.{part}_cos"]
    return names


def infer_task(series, task: str = "auto") -> str:
    """The task ``fit`` uses for a target column: ``task`` itself unless it is "auto".

    "auto" gives classification for string, object, category and bool targets and for
    integer targets with at most ``MAX_AUTO_CLASSES`` distinct values; regression otherwise.
    """
    pd = _import_pandas("infer_task")
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
    if task != "auto":
        return task
    is_integer = pd.api.types.is_integer_dtype(series.dtype)
    if not _is_numeric_column(series) or (is_integer and series.nunique() <= MAX_AUTO_CLASSES):
        return "classification"
    return "regression"


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
    * **Embedded** columns: with ``embed_above=K``, a categorical column with more than K
      categories is not one-hot encoded but mapped to integer codes, category j of the
      sorted categories to code j + 1 and an unseen one to :data:`UNKNOWN_CODE` (0), for an
      ``nn.Embedding(n_categories + 1, D, padding_idx=0)``: an unseen category gets the zero
      vector, as one-hot gives it the zero row. :meth:`transform` leaves these columns out;
      :meth:`transform_inputs` returns ``{"features": transform(frame), "e0": codes, ...}``.
    * **Date and time** columns (datetime dtypes, or text whose every value is a
      year-first date such as ``2012-01-31`` or ``2012-01-31 08:15:00+02:00``, or a
      time of day such as ``08:15``) become numbers: the fractional year,
      standardised, then (sin, cos) pairs of the month, the day of the week, the day
      of the year and, when the training values had times, the time of day (UTC).
      A date column gives ``"date.year"``, ``"date.month_sin"``, ... (7 features, 9
      with times); a time column ``"t.timeofday_sin"``/``"_cos"``. A missing cell
      becomes 0 in each (the mean year, the centre of each cycle).
    * **Identifier-like** text columns (more than ``ID_LIKE_MIN_VALUES`` distinct
      values, also more than ``ID_LIKE_RATIO`` of the rows) are dropped with an
      :class:`IdentifierColumnWarning`, unless ``keep_id_columns`` or named in
      ``categorical``; :attr:`dropped_columns` lists them.

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
        keep_id_columns: One-hot encode identifier-like text columns instead of
            dropping them.
        embed_above: Encode categorical columns with more than this many categories as
            integer codes for an embedding instead of one-hot; None (the default): one-hot
            for all.
    """

    def __init__(self, categorical=None, standardize_target: bool = True, keep_id_columns: bool = False,
                 embed_above: int | None = None):
        # Like scikit-learn estimators: store the arguments, validate them in fit.
        self.categorical = categorical
        self.standardize_target = standardize_target
        self.keep_id_columns = keep_id_columns
        self.embed_above = embed_above
        self._columns = None  # list of dicts, one per input column, once fitted
        self._target = None  # dict describing the target, or None
        self._dropped = []  # identifier-like columns fit left out

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
                column, an unsupported column dtype (durations, complex numbers),
                or more than ``MAX_CATEGORIES`` values in a column.
        """
        pd = _import_pandas("TabularPreprocessor.fit")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}")
        for option in ("standardize_target", "keep_id_columns"):
            if not isinstance(getattr(self, option), (bool, np.bool_)):
                raise TypeError(f"{option} must be True or False, got {getattr(self, option)!r}")
        _check_embed_above(self.embed_above, TypeError)
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

        columns, dropped = [], []
        for name in feature_columns:
            column = self._fit_column(frame[name], name, name in categorical)
            n_values = len(column.get("categories", ())) - (column["n_missing"] > 0)  # not "<missing>"
            if column["kind"] == "categorical" and name not in categorical and not self.keep_id_columns \
                    and _is_id_like(n_values, len(frame) - column["n_missing"]):
                dropped.append({"name": name, "reason": "identifier", "n_values": n_values})
                warnings.warn(IdentifierColumnWarning(
                    f"column {name!r} has {n_values} distinct values in {len(frame)} rows "
                    "and looks like an identifier, so it was dropped (keep it with --keep-id-columns, "
                    "or keep_id_columns=True)"), stacklevel=2)
            else:
                if column["kind"] == "categorical" and self.embed_above is not None \
                        and len(column["categories"]) > self.embed_above:
                    column["kind"] = "embedded"
                columns.append(column)
        if not columns:
            raise ValueError(f"frame has no feature columns left after dropping the identifier-like "
                             f"column(s) {[d['name'] for d in dropped]}; keep them with keep_id_columns=True")
        n_features = sum(_n_features(column) for column in columns)
        if n_features > MAX_FEATURES:
            raise ValueError(f"the columns would become {n_features} features, more than the "
                             f"{MAX_FEATURES} supported")
        target_info = None if target is None else self._fit_target(frame[target], target, task)
        self._columns, self._target, self._dropped = columns, target_info, dropped
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
        if pd.api.types.is_timedelta64_dtype(series.dtype) or pd.api.types.is_complex_dtype(series.dtype):
            raise ValueError(
                f"column {name!r} has dtype {series.dtype}, which is not supported; "
                "convert it to numbers or strings first"
            )
        n_missing = int(series.isna().sum())
        date_kind = None if force_categorical else _looks_like_dates(series)
        if date_kind == "time":
            return {"name": name, "kind": "time", "n_missing": n_missing}
        if date_kind == "datetime":
            stamps = _parse_dates(series[series.notna()])
            parts = list(DATETIME_PARTS[:4])
            if (stamps != stamps.dt.normalize()).any():
                parts.append("timeofday")
            (years,) = _datetime_features(stamps, ["year"], 0.0, 1.0)
            std = float(years.std())
            return {"name": name, "kind": "datetime", "parts": parts, "year_mean": float(years.mean()),
                    "year_std": std if std > 0 and math.isfinite(std) else 1.0, "n_missing": n_missing}
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
        categories = sorted(set(_category_keys(series)))
        if len(categories) > MAX_CATEGORIES:
            raise ValueError(f"column {name!r} has {len(categories)} distinct values, more than the "
                             f"{MAX_CATEGORIES} a categorical column may have; drop it")
        return {"name": name, "kind": "categorical", "categories": categories, "n_missing": n_missing}

    def _fit_target(self, series, name, task: str) -> dict:
        n_missing = int(series.isna().sum())
        if n_missing:
            raise ValueError(
                f"target column {name!r} has {n_missing} row(s) with a missing value; "
                "drop or fill them before training"
            )
        task = infer_task(series, task)

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
            if len(classes) > MAX_CLASSES:
                raise ValueError(f"target column {name!r} has {len(classes)} classes, more than the "
                                 f"{MAX_CLASSES} supported; is it a number (task='regression')?")
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
            elif column["kind"] == "categorical":
                blocks.append(self._transform_categorical(series, column))
            elif column["kind"] != "embedded":  # (codes: transform_inputs)
                blocks.append(self._transform_dates(series, column))
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

    def transform_inputs(self, frame):
        """What the network takes: :meth:`transform`'s matrix, or, when some columns are embedded,
        ``{"features": matrix, "e0": codes, "e1": ...}`` (``"features"`` left out when every column
        is embedded), the codes int64 of shape (n_rows,) (see :data:`UNKNOWN_CODE`).

        Raises:
            ValueError: as :meth:`transform`.
        """
        matrix = self.transform(frame)
        embedded = [c for c in self._columns if c["kind"] == "embedded"]
        if not embedded:
            return matrix
        inputs = {FEATURES_BRANCH: matrix} if matrix.shape[1] else {}
        for index, column in enumerate(embedded):
            inputs[embedded_branch(index)] = self._category_codes(frame[column["name"]], column)
        return inputs

    @staticmethod
    def _category_codes(series, column) -> np.ndarray:
        index = {category: j + 1 for j, category in enumerate(column["categories"])}
        return np.fromiter((index.get(key, UNKNOWN_CODE) for key in _category_keys(series)),
                           dtype=np.int64, count=len(series))

    @staticmethod
    def _transform_categorical(series, column) -> np.ndarray:
        index = {category: j for j, category in enumerate(column["categories"])}
        codes = np.fromiter((index.get(key, -1) for key in _category_keys(series)),
                            dtype=np.int64, count=len(series))
        one_hot = np.zeros((len(series), len(index)), dtype=np.float32)
        seen = codes >= 0  # unseen categories keep their all-zero row
        one_hot[np.flatnonzero(seen), codes[seen]] = 1.0
        return one_hot

    @staticmethod
    def _transform_dates(series, column) -> np.ndarray:
        """The date/time features of a column; a missing cell is 0 in each, a non-date is refused."""
        pd = _import_pandas("TabularPreprocessor.transform")
        present = series.notna().to_numpy()
        values = series[present]
        if not pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = values.astype(str)
        if column["kind"] == "time":
            seconds = _parse_times(values)
            bad = ~np.isfinite(seconds)
            features = _cyclic(seconds / _SECONDS_PER_DAY)
        else:
            stamps = _parse_dates(values)
            bad = stamps.isna().to_numpy()
            features = _datetime_features(stamps, column["parts"], column["year_mean"], column["year_std"])
        if bad.any():
            example = values[bad].iloc[0]
            raise ValueError(f"column {column['name']!r} holds {int(bad.sum())} value(s) that are not "
                             f"{'times' if column['kind'] == 'time' else 'dates'}, such as {_short(example)}")
        out = np.zeros((len(series), len(features)), dtype=np.float64)
        out[present] = np.column_stack(features)
        return out

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
            elif column["kind"] == "categorical":
                names.extend(f"{column['name']}={category}" for category in column["categories"])
            elif column["kind"] == "datetime":
                names.extend(_datetime_feature_names(column["name"], column["parts"]))
            elif column["kind"] == "time":
                names.extend(_datetime_feature_names(column["name"], ["timeofday"]))
        return names

    @property
    def embedded_columns(self) -> list[dict]:
        """The embedded columns, in input order: ``{"name", "input", "n_codes"}`` each, ``n_codes`` =
        the number of categories + 1 (code 0: unseen)."""
        self._require_fitted()
        embedded = [c for c in self._columns if c["kind"] == "embedded"]
        return [{"name": c["name"], "input": embedded_branch(index), "n_codes": len(c["categories"]) + 1}
                for index, c in enumerate(embedded)]

    @property
    def n_features_out(self) -> int:
        """Width of the matrix ``transform`` returns (the network's input size)."""
        self._require_fitted()
        return sum(_n_features(column) for column in self._columns)

    @property
    def dropped_columns(self) -> list[dict]:
        """The identifier-like columns ``fit`` dropped: ``{"name", "reason", "n_values"}`` each."""
        self._require_fitted()
        return copy.deepcopy(self._dropped)

    @property
    def date_columns(self) -> list[dict]:
        """The date and time columns: ``{"name", "kind", "features"}`` each, features as in describe."""
        self._require_fitted()
        return [{"name": c["name"], "kind": c["kind"],
                 "features": [_PART_LABELS[p] for p in c.get("parts", ["timeofday"])]}
                for c in self._columns if c["kind"] in ("datetime", "time")]

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
            "keep_id_columns": bool(self.keep_id_columns),
            "embed_above": self.embed_above,
            # Deep copies: editing the returned dict must not change this preprocessor.
            "columns": copy.deepcopy(self._columns),
            "dropped": copy.deepcopy(self._dropped),
            "target": copy.deepcopy(self._target),
        }

    @classmethod
    def from_config(cls, config: dict) -> "TabularPreprocessor":
        """Rebuild a preprocessor from :meth:`get_config` (e.g. after ``json.loads``).

        The config may come from an untrusted model file, so every value is checked
        (type, range, length, count) before anything is built from it: the memory
        this takes is bounded by the config's own size, and ``transform`` on the
        result cannot fail on a malformed value.

        Raises:
            TypeError: ``config`` is not a dict.
            ValueError: it is not a TabularPreprocessor config of a known version,
                or a field is missing, unknown or malformed (a one-line message).
        """
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if config.get("type") != _CONFIG_TYPE:
            raise ValueError(f"config type must be {_CONFIG_TYPE!r}, got {_short(config.get('type'))}")
        version = config.get("version")
        if isinstance(version, bool) or version not in _READABLE_VERSIONS:
            raise ValueError(f"config version must be one of {list(_READABLE_VERSIONS)}, got {_short(version)}")
        _require_keys(config, ("categorical", "standardize_target", "columns", "target"), "config")
        categorical = config["categorical"]
        if categorical is not None:
            _check_list(categorical, MAX_COLUMNS, "'categorical'")
            for name in categorical:
                _check_config_name(name, "a 'categorical' entry")
        for option in ("standardize_target", "keep_id_columns"):
            if not isinstance(config.get(option, False), bool):
                raise _malformed(f"{option!r} must be true or false, got {_short(config[option])}")
        embed_above = config.get("embed_above")
        _check_embed_above(embed_above, ValueError)
        columns, target = config["columns"], config["target"]
        dropped = config.get("dropped", [])
        if columns is None:
            if target is not None or dropped:
                raise _malformed("a target or dropped columns without columns")
        else:
            _check_columns(columns)
            _check_dropped(dropped)
            if target is not None:
                _check_target(target, {column["name"] for column in columns})
        preprocessor = cls(categorical=None if categorical is None else list(categorical),
                           standardize_target=config["standardize_target"],
                           keep_id_columns=config.get("keep_id_columns", False), embed_above=embed_above)
        preprocessor._columns = copy.deepcopy(columns)
        preprocessor._target = copy.deepcopy(target)
        preprocessor._dropped = copy.deepcopy(dropped)
        return preprocessor

    # ----------------------------------------------------------------------------- describe

    def describe(self) -> list[str]:
        """Human-readable lines, one per column and one for the target (for ``backprop info``)."""
        if not self.is_fitted:
            return ["TabularPreprocessor: not fitted"]
        lines = [f"{len(self._columns)} input column(s) -> {self.n_features_out} feature(s)"]
        for column in self._columns:
            name = _short(column["name"], quote=False)
            if column["kind"] == "numeric":
                line = (f"{name}: numeric, standardised "
                        f"(mean {column['mean']:.6g}, std {column['std']:.6g})")
                if column["n_missing"]:
                    line += f"; {column['n_missing']} missing at fit, missing cells imputed with the mean"
            elif column["kind"] == "categorical":
                categories = column["categories"]
                line = (f"{name}: categorical, one-hot over {len(categories)} value(s) "
                        f"({_format_values(categories)}); unseen values -> all zeros")
                if column["n_missing"]:
                    line += f"; {column['n_missing']} missing at fit, counted as {MISSING_CATEGORY!r}"
            elif column["kind"] == "embedded":
                categories = column["categories"]
                line = (f"{name}: categorical, embedded: codes 1..{len(categories)} for {len(categories)} value(s) "
                        f"({_format_values(categories)}); unseen values -> code 0")
            else:
                parts = column.get("parts", ["timeofday"])
                what = "date" if column["kind"] == "datetime" else "time"
                line = (f"{name}: {what}, {_n_features(column)} features "
                        f"({', '.join(_PART_LABELS[p] for p in parts)}; periodic parts as sin/cos)")
                if column["n_missing"]:
                    line += f"; {column['n_missing']} missing at fit, missing cells -> 0"
            lines.append(line)
        for column in self._dropped:
            lines.append(f"{_short(column['name'], quote=False)}: dropped, identifier-like "
                         f"({column['n_values']} distinct values)")
        if self._target is not None:
            target = self._target
            name = _short(target["name"], quote=False)
            if target["task"] == "classification":
                lines.append(f"target {name}: classification, {len(target['classes'])} classes "
                             f"({_format_values(target['classes'])})")
            elif target["standardized"]:
                lines.append(f"target {name}: regression, standardised "
                             f"(mean {target['mean']:.6g}, std {target['std']:.6g})")
            else:
                lines.append(f"target {name}: regression, not scaled")
        return lines


# ------------------------------------------------------------------- column facts and config checks


def _is_id_like(n_values: int, n_rows: int) -> bool:
    """Whether a text column with ``n_values`` distinct values in ``n_rows`` rows looks like an identifier."""
    return n_values > ID_LIKE_MIN_VALUES and n_values > ID_LIKE_RATIO * n_rows


def _n_features(column: dict) -> int:
    """How many features a fitted column becomes."""
    if column["kind"] == "numeric":
        return 1
    if column["kind"] == "categorical":
        return len(column["categories"])
    if column["kind"] == "embedded":
        return 0  # a code, in its own input (transform_inputs)
    if column["kind"] == "datetime":
        return sum(1 if part == "year" else 2 for part in column["parts"])
    return 2  # a time of day: sin and cos


def _short(value, limit: int = 60, quote: bool = True) -> str:
    """``repr(value)`` (or ``str`` with quote=False) cut to ``limit`` characters, for messages."""
    if isinstance(value, (list, dict, tuple)):
        text = f"a {type(value).__name__} of {len(value)} item(s)"
    else:
        text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _malformed(problem: str) -> ValueError:
    return ValueError(f"malformed TabularPreprocessor config: {problem}")


def _check_list(value, max_length: int, where: str) -> None:
    if not isinstance(value, list):
        raise _malformed(f"{where} must be a list, got {type(value).__name__}")
    if len(value) > max_length:
        raise _malformed(f"{where} holds {len(value)} items, more than the {max_length} allowed")


def _check_exact_keys(mapping, keys, where: str) -> None:
    if not isinstance(mapping, dict):
        raise _malformed(f"{where} must be an object, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    unknown = [_short(k) for k in mapping if k not in keys]
    if missing or unknown:
        raise _malformed(f"{where} " + ("lacks " + str(missing) if missing else "")
                         + (" and " if missing and unknown else "")
                         + ("has unknown key(s) " + ", ".join(unknown[:5]) if unknown else ""))


def _check_config_name(name, where: str) -> None:
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise _malformed(f"{where} must be a string or an integer, got {type(name).__name__}")
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        raise _malformed(f"{where} is a string of {len(name)} characters, more than {MAX_NAME_LENGTH}")
    if isinstance(name, int) and abs(name) > 2**63:
        raise _malformed(f"{where} is an integer out of range")


def _check_number(value, where: str, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > 1e300:
        raise _malformed(f"{where} must be a finite number, got {_short(value)}")
    if positive and not value > 0:
        raise _malformed(f"{where} must be > 0, got {_short(value)}")


def _check_count(value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63:
        raise _malformed(f"{where} must be a non-negative integer, got {_short(value)}")


def _check_columns(columns) -> None:
    _check_list(columns, MAX_COLUMNS, "'columns'")
    names, n_features = set(), 0
    for column in columns:
        kind = column.get("kind") if isinstance(column, dict) else None
        if not isinstance(kind, str) or kind not in _COLUMN_KEYS:
            raise _malformed(f"column kind must be one of {list(_COLUMN_KEYS)}, got {_short(kind)}")
        _check_exact_keys(column, _COLUMN_KEYS[kind], f"a {kind} column")
        _check_config_name(column["name"], "a column name")
        where = f"column {_short(column['name'])}"
        if column["name"] in names:
            raise _malformed(f"{where} appears twice")
        names.add(column["name"])
        _check_count(column["n_missing"], f"the n_missing of {where}")
        if kind == "numeric":
            _check_number(column["mean"], f"the mean of {where}")
            _check_number(column["std"], f"the std of {where}", positive=True)
        elif kind in ("categorical", "embedded"):
            categories = column["categories"]
            _check_list(categories, MAX_CATEGORIES, f"the categories of {where}")
            for category in categories:
                if not isinstance(category, str) or len(category) > MAX_NAME_LENGTH:
                    raise _malformed(f"the categories of {where} must be strings of at most {MAX_NAME_LENGTH} "
                                     f"characters, got {_short(category)}")
            if len(set(categories)) != len(categories):
                raise _malformed(f"the categories of {where} are not distinct")
        elif kind == "datetime":
            parts = column["parts"]
            _check_list(parts, len(DATETIME_PARTS), f"the parts of {where}")
            known = all(isinstance(p, str) for p in parts) and set(parts) <= set(DATETIME_PARTS)
            if not parts or not known or len(set(parts)) != len(parts) \
                    or sorted(parts, key=DATETIME_PARTS.index) != parts:
                raise _malformed(f"the parts of {where} must be distinct names from {list(DATETIME_PARTS)} "
                                 "in that order")
            _check_number(column["year_mean"], f"the year_mean of {where}")
            _check_number(column["year_std"], f"the year_std of {where}", positive=True)
        n_features += _n_features(column)
    if n_features > MAX_FEATURES:
        raise _malformed(f"the columns make {n_features} features, more than the {MAX_FEATURES} allowed")


def _check_embed_above(value, error) -> None:
    """None or a positive int (``error``: TypeError for an argument, ValueError for a config)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= 2**31:
        if error is ValueError:
            raise _malformed(f"'embed_above' must be null or a positive integer, got {_short(value)}")
        raise TypeError(f"embed_above must be None or a positive integer, got {value!r}")


def _check_dropped(dropped) -> None:
    _check_list(dropped, MAX_COLUMNS, "'dropped'")
    for column in dropped:
        _check_exact_keys(column, _DROPPED_KEYS, "a dropped column")
        _check_config_name(column["name"], "a dropped column's name")
        if column["reason"] != "identifier":
            raise _malformed(f"a dropped column's reason must be 'identifier', got {_short(column['reason'])}")
        _check_count(column["n_values"], "a dropped column's n_values")


def _check_target(target, feature_names: set) -> None:
    task = target.get("task") if isinstance(target, dict) else None
    if not isinstance(task, str) or task not in _TARGET_KEYS:
        raise _malformed(f"target task must be one of {list(_TARGET_KEYS)}, got {_short(task)}")
    _check_exact_keys(target, _TARGET_KEYS[task], f"a {task} target")
    _check_config_name(target["name"], "the target's name")
    if target["name"] in feature_names:
        raise _malformed(f"the target {_short(target['name'])} is also a feature column")
    if task == "regression":
        if not isinstance(target["standardized"], bool):
            raise _malformed(f"the target's 'standardized' must be true or false, got {_short(target['standardized'])}")
        _check_number(target["mean"], "the target's mean")
        _check_number(target["std"], "the target's std", positive=True)
        return
    classes = target["classes"]
    _check_list(classes, MAX_CLASSES, "the target's classes")
    if len(classes) < 2:
        raise _malformed(f"the target has {len(classes)} class(es); classification needs at least 2")
    for label in classes:
        if not isinstance(label, (str, int, float, bool)) or (isinstance(label, str) and len(label) > MAX_NAME_LENGTH) \
                or (isinstance(label, float) and not math.isfinite(label)):
            raise _malformed(f"class labels must be strings (at most {MAX_NAME_LENGTH} characters), numbers "
                             f"or booleans, got {_short(label)}")
    try:
        in_order = sorted(classes) == classes
    except TypeError:
        raise _malformed("class labels mix strings and numbers") from None
    if not in_order or len(set(classes)) != len(classes):
        raise _malformed("class labels must be distinct and sorted")


_CSV_SUFFIXES = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SEPARATORS = (",", ";", "\t", "|")  # what read_table tries when no separator is given
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_SNIFF_BYTES = 64 * 1024
_SNIFF_ROWS = 50
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")  # latin-1 decodes any bytes, so it is the last resort
_DECIMAL_COMMA = r"[-+]?\d*(?:,\d+)?"


def _looks_like_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _checked_separator(sep) -> str:
    if not isinstance(sep, str):
        raise TypeError(f"sep must be a string, got {type(sep).__name__}")
    sep = {"\\t": "\t", "tab": "\t"}.get(sep.lower(), sep)
    if len(sep) != 1 or sep in "\"'\r\n" or sep.isalnum():
        raise ValueError(f"the separator must be one character such as ',', ';', '|' or '\\t' (tab), got {sep!r}")
    return sep


def _checked_encoding(encoding) -> str:
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be a string, got {type(encoding).__name__}")
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}; use a name such as utf-8, latin-1 or cp1252") from None


def _head_bytes(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise ValueError(f"could not read {path}: {error}") from None


def _sniff_separator(head: bytes, default: str) -> str:
    """The separator that splits the first rows into the same number (> 1) of fields.

    The extension's separator wins when it qualifies; otherwise the candidate giving
    the most fields; the extension's when none qualifies (a one-column file).
    """
    text = head.decode("utf-8", errors="replace")
    consistent = {}
    for sep in dict.fromkeys((default, *_SEPARATORS)):
        try:
            rows = [row for row in csv.reader(io.StringIO(text), delimiter=sep) if row]
        except csv.Error:
            continue
        if len(head) == _SNIFF_BYTES:
            rows = rows[:-1]  # the last row may be cut off
        rows = rows[:_SNIFF_ROWS]
        widths = {len(row) for row in rows}
        if len(widths) == 1 and widths.pop() > 1:
            consistent[sep] = len(rows[0])
    if default in consistent or not consistent:
        return default
    return max(consistent, key=consistent.get)


def _read_csv(pd, path: Path, sep: str, encoding: str | None):
    """``(frame, encoding)``: pd.read_csv with the encoding given, or UTF-8 falling back to
    cp1252/latin-1 with a warning."""
    if encoding is not None:
        try:
            return pd.read_csv(path, sep=sep, encoding=encoding), encoding
        except UnicodeDecodeError as error:
            raise ValueError(f"could not decode {path} as {encoding}: byte 0x{error.object[error.start]:02x} "
                             f"at position {error.start} is invalid; pass the file's encoding with "
                             "--encoding (encoding=), e.g. latin-1 or cp1252") from None
    try:
        # -sig: a byte-order mark is not part of the first column's name
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    for fallback in _FALLBACK_ENCODINGS:
        try:
            frame = pd.read_csv(path, sep=sep, encoding=fallback)
        except UnicodeDecodeError:
            continue
        warnings.warn(f"{path} is not UTF-8; read it as {fallback} (pass --encoding, or encoding=, "
                      "to choose another)", stacklevel=3)
        return frame, fallback
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _uses_decimal_commas(frame) -> bool:
    """Whether some text column holds only numbers written with a decimal comma (1,5)."""
    for name in frame.columns:
        text = _text_values(frame[name])
        if text is not None and text.str.fullmatch(_DECIMAL_COMMA).all() and text.str.contains(",").any():
            return True
    return False


def read_table(path, sep: str | None = None, encoding: str | None = None):
    """Read a CSV/TSV (header row required; optionally gzipped) or Parquet file into a DataFrame.

    Without ``sep``, the separator is sniffed from the first rows among ``,`` ``;``
    tab and ``|`` (the extension's own wins when it fits them); a ``;``-separated file
    whose numbers use decimal commas (``1,5``) is read with ``decimal=","``. Without
    ``encoding``, the file is read as UTF-8 and, if it is not valid UTF-8, as cp1252
    (Windows Western) or else Latin-1, with a warning saying so.

    Args:
        path: ``str`` or ``os.PathLike`` ending in .csv, .tsv, .csv.gz, .tsv.gz,
            .parquet or .pq.
        sep: The field separator of a CSV/TSV file, one character ("\\t" and "tab"
            mean a tab). Ignored for Parquet.
        encoding: The text encoding of a CSV/TSV file (e.g. "latin-1"). Ignored for Parquet.

    Returns:
        pandas.DataFrame with one column per header field.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it is a directory, has an unsupported extension, is empty, has
            a header but no rows, has no header (the first line is all numbers or
            has an unnamed column), cannot be parsed or decoded, or ``sep`` /
            ``encoding`` is not valid. Each message names the path and, where it
            helps, the option to pass.
        ImportError: pandas is missing, or pyarrow is missing for Parquet.
        TypeError: ``path`` is not a string or path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a string or os.PathLike, got {type(path).__name__}")
    sep = None if sep is None else _checked_separator(sep)
    encoding = None if encoding is None else _checked_encoding(encoding)
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
        if sep is None:
            sep = _sniff_separator(_head_bytes(path), _CSV_SUFFIXES[suffix])
        try:
            frame, encoding = _read_csv(pd, path, sep, encoding)
            if sep == ";" and _uses_decimal_commas(frame):
                frame = pd.read_csv(path, sep=sep, decimal=",", encoding=encoding)
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty") from None
        except (pd.errors.ParserError, OSError, EOFError) as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"could not parse {path} as CSV separated by {_SEPARATOR_NAMES.get(sep, repr(sep))}: "
                             f"{message}; pass the separator with --sep (sep=)") from None
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
