"""Fit a :class:`~backprop.cli.preprocessing.TabularPreprocessor` in one pass over chunks of a table.

``backprop train big.parquet --stream`` cannot hold the table, so the preprocessing is
learnt chunk by chunk: per column, what ``TabularPreprocessor.fit`` would learn from the
whole training part, accumulated so that the result is the same:

* numeric columns: the count, mean and sum of squared deviations M₂ of the present
  values, merged across chunks by Chan et al.'s rule (δ = mean_b − mean_a;
  M₂ = M₂a + M₂b + δ² n_a n_b / n): mean and population std = √(M₂ / n), equal to
  NumPy's over the whole column to rounding;
* categorical (and boolean) columns: the set of category keys and the missing count;
* date and time columns: a text column is a date (time) column when every chunk's present
  values are dates (times), as the whole column's would be; the fractional year's mean
  and std merge as for numbers, and "time of day" is a part when some date has a time;
* identifier-like columns are dropped by the same rule (distinct values against rows);
* the target: its missing count, class labels or mean/std, and the task ("auto": integer
  dtype with at most MAX_AUTO_CLASSES values, or text, is classification).

A column whose chunks disagree on its type (numbers in one, text in another: possible
in a CSV, never in Parquet's typed columns) is refused; name it in ``--categorical``.
Memory: the category sets (at most ``MAX_CATEGORIES`` per column) and a few numbers
per column.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from backprop.cli import preprocessing as prep

__all__ = ["StreamingPreprocessorFit", "Moments"]


class Moments:
    """Count, mean and M₂ = Σ(x − mean)² of a stream of values, merged chunk by chunk."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        if not values.size:
            return
        n_b = values.size
        mean_b = float(values.mean())
        m2_b = float(np.square(values - mean_b).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n

    @property
    def std(self) -> float:
        """The population std, 1 where it is 0 or not finite (as TabularPreprocessor)."""
        std = math.sqrt(self.m2 / self.n) if self.n else 0.0
        return std if std > 0 and math.isfinite(std) else 1.0


class _Column:
    """What one feature column's chunks showed so far."""

    def __init__(self, name, forced: bool):
        self.name, self.forced = name, forced
        self.kinds = set()  # per chunk: "numeric", "datetime-dtype", "dates", "times", "text" (not "empty")
        self.n_missing = 0
        self.numbers = Moments()
        self.years = Moments()
        self.has_time = False
        self.categories = set()
        self.too_many = False

    def add(self, series) -> None:
        pd = prep._import_pandas("the streaming preprocessing")
        if pd.api.types.is_timedelta64_dtype(series.dtype) or pd.api.types.is_complex_dtype(series.dtype):
            raise ValueError(f"column {self.name!r} has dtype {series.dtype}, which is not supported; "
                             "convert it to numbers or strings first")
        self.n_missing += int(series.isna().sum())
        if self.forced:
            self._add_categories(series)
            return
        if prep._is_numeric_column(series):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            present = values[~np.isnan(values)]
            if not np.all(np.isfinite(present)):
                raise ValueError(f"numeric column {self.name!r} contains infinite values")
            self.kinds.add("numeric")
            self.numbers.add(present)
            return
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            if series.notna().any():
                self.kinds.add("datetime-dtype")
                self._add_dates(series[series.notna()])
            return
        self._add_categories(series)
        if pd.api.types.is_bool_dtype(series.dtype):
            self.kinds.add("text")
            return
        text = prep._text_values(series)
        if series.notna().sum() == 0:
            return  # an empty chunk says nothing about the column's kind
        kind = "text"
        if text is not None and text.str.fullmatch(prep._DATE_PATTERN).all():
            parsed = prep._parse_dates(text)
            if parsed.notna().all():
                kind = "dates"
                if "text" not in self.kinds and "times" not in self.kinds:
                    self._add_dates(text)
        elif text is not None and text.str.fullmatch(prep._TIME_PATTERN).all():
            if np.isfinite(prep._parse_times(text)).all():
                kind = "times"
        self.kinds.add(kind)

    def _add_dates(self, present) -> None:
        stamps = prep._parse_dates(present)
        if (stamps != stamps.dt.normalize()).any():
            self.has_time = True
        (years,) = prep._datetime_features(stamps, ["year"], 0.0, 1.0)
        self.years.add(np.asarray(years, dtype=np.float64))

    def _add_categories(self, series) -> None:
        if self.too_many:
            return
        self.categories.update(prep._category_keys(series))
        if len(self.categories) > prep.MAX_CATEGORIES:
            self.too_many = True  # (refused below if the column ends up categorical)

    def fitted(self) -> dict:
        """The column's entry of ``TabularPreprocessor.get_config()["columns"]``."""
        kinds = self.kinds
        if "numeric" in kinds and len(kinds) > 1:
            raise ValueError(f"column {self.name!r} holds numbers in some chunks and text in others; "
                             "name it with --categorical to treat it as text, or fix the file")
        if kinds == {"numeric"}:
            if not self.numbers.n:
                raise ValueError(f"numeric column {self.name!r} has no values, only missing cells")
            return {"name": self.name, "kind": "numeric", "mean": self.numbers.mean, "std": self.numbers.std,
                    "n_missing": self.n_missing}
        if kinds in ({"dates"}, {"datetime-dtype"}):
            parts = list(prep.DATETIME_PARTS[:4]) + (["timeofday"] if self.has_time else [])
            return {"name": self.name, "kind": "datetime", "parts": parts, "year_mean": self.years.mean,
                    "year_std": self.years.std, "n_missing": self.n_missing}
        if kinds == {"times"}:
            return {"name": self.name, "kind": "time", "n_missing": self.n_missing}
        if self.too_many:
            raise ValueError(f"column {self.name!r} has more than {prep.MAX_CATEGORIES} distinct values, more than "
                             "a categorical column may have; drop it")
        return {"name": self.name, "kind": "categorical", "categories": sorted(self.categories),
                "n_missing": self.n_missing}


class _Target:
    """What the target column's chunks showed: for the task, and its classes or moments."""

    def __init__(self, name):
        self.name = name
        self.n_missing = 0
        self.all_integer = True
        self.all_numeric = True
        self.distinct = set()  # up to MAX_AUTO_CLASSES + 1, for task="auto" on integers
        self.labels = set()
        self.values = Moments()
        self.rows = 0

    def add_evidence(self, series) -> None:
        """Rows that count for the task and the missing cells (every row of the table)."""
        pd = prep._import_pandas("the streaming preprocessing")
        self.rows += len(series)
        self.n_missing += int(series.isna().sum())
        self.all_integer &= bool(pd.api.types.is_integer_dtype(series.dtype))
        self.all_numeric &= prep._is_numeric_column(series)
        if self.all_integer and len(self.distinct) <= prep.MAX_AUTO_CLASSES:
            self.distinct.update(series.dropna().unique().tolist())

    def add(self, series) -> None:
        """Training rows: their labels, or their values' moments."""
        present = series.dropna()
        if len(self.labels) <= prep.MAX_CLASSES:
            self.labels.update(prep._label_value(v) for v in present.unique().tolist())
        if prep._is_numeric_column(series):
            self.values.add(present.to_numpy(dtype=np.float64))

    def task(self, task: str) -> str:
        if task != "auto":
            return task
        if not self.all_numeric or (self.all_integer and len(self.distinct) <= prep.MAX_AUTO_CLASSES):
            return "classification"
        return "regression"

    def fitted(self, task: str, standardize: bool) -> dict:
        name = self.name
        if task == "classification":
            if any(isinstance(v, float) and not math.isfinite(v) for v in self.labels):
                raise ValueError(f"target column {name!r} contains infinite values")
            try:
                classes = sorted(self.labels)
            except TypeError:
                kinds = sorted({type(v).__name__ for v in self.labels})
                raise ValueError(f"target column {name!r} mixes label types {kinds}; "
                                 "make all labels strings or all numbers") from None
            if len(classes) < 2:
                raise ValueError(f"target column {name!r} has a single class {classes}; "
                                 "classification needs at least 2")
            if len(classes) > prep.MAX_CLASSES:
                raise ValueError(f"target column {name!r} has more than {prep.MAX_CLASSES} classes; "
                                 "is it a number (task='regression')?")
            return {"name": name, "task": "classification", "classes": classes}
        if not self.all_numeric:
            raise ValueError(f"task='regression' needs a numeric target, but column {name!r} is not numeric; "
                             "use task='classification' for labels")
        if not math.isfinite(self.values.mean) or not math.isfinite(self.values.m2):
            raise ValueError(f"target column {name!r} contains infinite values")
        mean, std = (self.values.mean, self.values.std) if standardize else (0.0, 1.0)
        return {"name": name, "task": "regression", "standardized": bool(standardize), "mean": mean, "std": std}


class StreamingPreprocessorFit:
    """Accumulate chunks (pandas DataFrames) of a table, then build the fitted preprocessor.

    Args:
        preprocessor: an unfitted TabularPreprocessor: its options (categorical,
            standardize_target, keep_id_columns) are used and its fitted state set.
        columns: the feature columns, in order.
        target: the target column.

    Feed :meth:`add` the chunks of the training rows (which fit the preprocessing), and
    :meth:`add_target` the target of every row (for the task of ``task="auto"`` and the
    missing targets, as the whole table counts in memory; by default the training rows'
    count), then :meth:`finish`.
    """

    def __init__(self, preprocessor, columns, target):
        categorical = set(preprocessor.categorical or ())
        self.preprocessor = preprocessor
        self.columns = [_Column(name, name in categorical) for name in columns]
        self.target = _Target(target)
        self.train_rows = 0
        self._evidence_given = False  # add_target was called: add() then leaves the task evidence to it

    def add_target(self, series) -> None:
        """The target of rows that count for the task (all rows of the table)."""
        self._evidence_given = True
        self.target.add_evidence(series)

    def add(self, frame) -> None:
        """A chunk of training rows."""
        if not self._evidence_given:
            self.target.add_evidence(frame[self.target.name])
        self.target.add(frame[self.target.name])
        self.train_rows += len(frame)
        for column in self.columns:
            column.add(frame[column.name])

    def task(self, task: str = "auto") -> str:
        """The task, "auto" resolved from every row given (training or not)."""
        return self.target.task(task)

    def finish(self, task: str = "auto"):
        """The preprocessor, fitted as ``TabularPreprocessor.fit`` on the training rows would be."""
        if not self.train_rows:
            raise ValueError("the table has no training rows to fit on")
        if self.target.n_missing:
            raise ValueError(f"target column {self.target.name!r} has {self.target.n_missing} row(s) with a missing "
                             "value; drop or fill them before training")
        keep_ids = self.preprocessor.keep_id_columns
        columns, dropped = [], []
        for column in self.columns:
            fitted = column.fitted()
            n_values = len(fitted.get("categories", ())) - (fitted["n_missing"] > 0)
            if fitted["kind"] == "categorical" and not column.forced and not keep_ids \
                    and prep._is_id_like(n_values, self.train_rows - fitted["n_missing"]):
                dropped.append({"name": column.name, "reason": "identifier", "n_values": n_values})
                warnings.warn(prep.IdentifierColumnWarning(
                    f"column {column.name!r} has {n_values} distinct values in {self.train_rows} rows "
                    "and looks like an identifier, so it was dropped (keep it with --keep-id-columns, "
                    "or keep_id_columns=True)"), stacklevel=2)
            else:
                columns.append(fitted)
        if not columns:
            raise ValueError(f"no feature columns are left after dropping the identifier-like "
                             f"column(s) {[d['name'] for d in dropped]}; keep them with --keep-id-columns")
        target = self.target.fitted(self.task(task), self.preprocessor.standardize_target)
        result = self.preprocessor
        result._columns, result._target, result._dropped = columns, target, dropped
        return result
