"""The ``Dataset`` record every loader in :mod:`backprop.datasets` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "TASKS", "resolve_float_dtype"]

TASKS = ("classification", "regression")

_FLOAT_DTYPE_NAMES = ("float16", "float32", "float64")


def resolve_float_dtype(dtype) -> np.dtype:
    """Turn ``"float32"``, ``np.float64`` etc. into a float ``np.dtype``.

    Raises:
        TypeError: ``dtype`` is not something NumPy understands as a dtype.
        ValueError: it is a dtype, but not float16, float32 or float64.
    """
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be one of {list(_FLOAT_DTYPE_NAMES)}, got {dtype!r}") from None
    if resolved.name not in _FLOAT_DTYPE_NAMES:
        raise ValueError(f"dtype must be one of {list(_FLOAT_DTYPE_NAMES)}, got {resolved.name!r}")
    return resolved


@dataclass(eq=False, repr=False)
class Dataset:
    """A small in-memory dataset: a design matrix, its targets and their names.

    Rows of ``X`` are examples (the batched convention: example ``i`` is ``X[i]``,
    the notes' column ``x^(i)``).

    Unpacks like a tuple, so both styles work::

        >>> from backprop.datasets import load_iris
        >>> iris = load_iris()
        >>> X, y = load_iris()
        >>> X.shape, y.shape, iris.target_names
        ((150, 4), (150,), ['setosa', 'versicolor', 'virginica'])

    Attributes:
        X: Features, shape (n_samples, n_features), a float ndarray.
        y: Targets, shape (n_samples,): int64 class indices for classification,
            floats for regression.
        feature_names: One name per column of ``X``.
        target_names: For classification, the name of each class (``target_names[k]``
            names label ``k``); ``None`` for regression.
        task: ``"classification"`` or ``"regression"``.
        name: Short name, as accepted by :func:`backprop.datasets.load`.
        description: Free text: what the data are, where they come from, licence.
        categories: For columns of ``X`` that hold integer codes of a categorical
            feature, ``{feature_name: [category for code 0, code 1, ...]}``;
            :meth:`as_frame` decodes them back to their labels.
        target_column: Name of the target column in :meth:`as_frame`.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str] | None
    task: str
    name: str
    description: str = ""
    categories: dict[str, list[str]] = field(default_factory=dict)
    target_column: str = "target"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)}, got {self.task!r}")
        if self.X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        if self.y.shape != (self.X.shape[0],):
            raise ValueError(f"y must have shape ({self.X.shape[0]},) to match X, got {self.y.shape}")
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"got {len(self.feature_names)} feature names for {self.X.shape[1]} columns of X"
            )
        unknown = sorted(set(self.categories) - set(self.feature_names))
        if unknown:
            raise ValueError(f"categories name unknown features {unknown}; features are {self.feature_names}")

    def __iter__(self):
        """Yield ``X`` then ``y``, so that ``X, y = dataset`` works."""
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return self.X.shape[0]

    def __repr__(self) -> str:
        classes = f", n_classes={self.n_classes}" if self.task == "classification" else ""
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}{classes})"
        )

    @property
    def n_samples(self) -> int:
        """Number of examples (rows of ``X``)."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features (columns of ``X``)."""
        return self.X.shape[1]

    @property
    def n_classes(self) -> int | None:
        """Number of classes for classification, ``None`` for regression."""
        if self.task != "classification":
            return None
        if self.target_names is not None:
            return len(self.target_names)
        return int(self.y.max()) + 1 if self.y.size else 0

    def as_frame(self):
        """The data as a pandas DataFrame: one column per feature, then the target.

        Categorical features listed in ``categories`` come back as their string
        labels; the target column (named ``target_column``) holds the labels'
        integer codes for classification (``target_names`` maps them to names).

        Returns:
            pandas.DataFrame with ``n_features + 1`` columns. The arrays are copied,
            so editing the frame never changes this dataset.

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Dataset.as_frame() needs pandas, an optional dependency: pip install pandas"
            ) from None
        columns = {}
        for j, name in enumerate(self.feature_names):
            column = self.X[:, j].copy()
            if name in self.categories:
                labels = np.asarray(self.categories[name], dtype=object)
                column = pd.Series(labels[column.astype(np.int64)], dtype="str")
            columns[name] = column
        columns[self.target_column] = self.y.copy()
        return pd.DataFrame(columns)
