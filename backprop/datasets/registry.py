"""Look datasets up by name: the registry behind ``backprop datasets`` and :func:`load`."""

from __future__ import annotations

import difflib

from backprop.datasets.bundled import (
    BUNDLED, bundled_metadata, load_breast_cancer, load_diabetes, load_digits, load_iris,
)
from backprop.datasets.dataset import Dataset
from backprop.datasets.housing import FEATURE_NAMES as HOUSING_FEATURES
from backprop.datasets.housing import make_housing
from backprop.datasets.shops import NUMERIC_FEATURES as SHOPS_NUMERIC
from backprop.datasets.shops import make_shops

__all__ = ["list_datasets", "load", "resolve_name", "LOADERS"]

# The one table from names to loaders; list_datasets() and load() both read it.
LOADERS = {
    "iris": load_iris,
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
    "housing": make_housing,
    "shops": make_shops,
}


def list_datasets() -> list[dict]:
    """Describe every dataset :func:`load` knows, without loading any data.

    Returns:
        One dict per dataset, in a stable order, with keys ``name``, ``task``
        ("classification" or "regression"), ``n_samples``, ``n_features``,
        ``n_classes`` (``None`` for regression), ``description`` (one line) and
        ``generated`` (True for synthetic data made on request, whose
        ``n_samples`` is the default).
    """
    records = []
    for name in BUNDLED:
        metadata = bundled_metadata(name)
        records.append({
            "name": name,
            "task": metadata["task"],
            "n_samples": metadata["n_samples"],
            "n_features": metadata["n_features"],
            "n_classes": metadata["n_classes"],
            "description": metadata["summary"],
            "generated": False,
        })
    records.append({
        "name": "housing",
        "task": "regression",
        "n_samples": 500,
        "n_features": len(HOUSING_FEATURES),
        "n_classes": None,
        "description": "Synthetic house prices (k$) from size, bedrooms, zip code and wealth, "
                       "the course notes' example.",
        "generated": True,
    })
    records.append({
        "name": "shops",
        "task": "classification",
        "n_samples": 20000,
        "n_features": 1 + len(SHOPS_NUMERIC),
        "n_classes": 2,
        "description": "Synthetic shop visits: a purchase from 2000 shops (a high-cardinality categorical "
                       "column) and four numeric columns.",
        "generated": True,
    })
    return records


def resolve_name(name: str) -> str:
    """The registered name that ``name`` means: case and ``-``/``_`` do not matter.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: No dataset has that name; the message suggests the closest one.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {list(LOADERS)}, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key not in LOADERS:
        close = difflib.get_close_matches(key, list(LOADERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown dataset {name!r}; available: {list(LOADERS)}.{hint}")
    return key


def load(name: str, **kwargs) -> Dataset:
    """Load a dataset by name, e.g. ``load("iris")`` or ``load("housing", seed=0)``.

    Args:
        name: One of ``list(LOADERS)``; case and ``-``/``_`` do not matter.
        **kwargs: Passed to the loader (``dtype=``, or ``n_samples=``, ``noise=``,
            ``seed=`` for "housing").

    Returns:
        The :class:`Dataset`.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: No dataset has that name; the message suggests the closest one.
    """
    return LOADERS[resolve_name(name)](**kwargs)
