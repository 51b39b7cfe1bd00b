"""Small classic datasets shipped inside the package: no download, no scikit-learn.

The files in ``backprop/datasets/data/`` are the copies of the UCI datasets (iris,
optical digits, breast cancer Wisconsin diagnostic) and of the Efron et al.
diabetes data that scikit-learn bundles, converted once by
``backprop/datasets/_build_data.py``. scikit-learn is BSD-3-Clause licensed
(Copyright (c) the scikit-learn developers); each dataset's original source is
in its ``description`` and in ``data/<name>.json``. The loaders read them with the
standard library (``gzip``, ``csv``, ``json``) and NumPy only, and return the same
values as scikit-learn's ``load_*`` functions.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np

from backprop.checks import check_bool
from backprop.datasets.dataset import Dataset, resolve_float_dtype

__all__ = ["load_iris", "load_digits", "load_breast_cancer", "load_diabetes", "bundled_metadata", "BUNDLED"]

DATA_DIR = Path(__file__).resolve().parent / "data"

BUNDLED = ("iris", "digits", "breast_cancer", "diabetes")


def bundled_metadata(name: str) -> dict:
    """The metadata stored next to a bundled dataset (``data/<name>.json``).

    Keys: name, task, n_samples, n_features, n_classes, feature_names,
    target_names, summary, description, source, license, built_with.
    """
    if name not in BUNDLED:
        raise ValueError(f"no bundled dataset {name!r}; bundled datasets are {list(BUNDLED)}")
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _read_csv_gz(path: Path) -> tuple[list[str], np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    # Parsing with float() (correctly rounded) recovers exactly the float64 values
    # the build script wrote with repr().
    values = np.array([[float(cell) for cell in row] for row in body], dtype=np.float64)
    return header, values


def _load_bundled(name: str, dtype) -> tuple[Dataset, np.ndarray]:
    """Load a bundled dataset; also return its float64 features, before any cast."""
    dtype = resolve_float_dtype(dtype)
    metadata = bundled_metadata(name)
    header, values = _read_csv_gz(DATA_DIR / f"{name}.csv.gz")
    if header[:-1] != metadata["feature_names"] or values.shape != (
        metadata["n_samples"],
        metadata["n_features"] + 1,
    ):
        raise ValueError(
            f"bundled data file for {name!r} does not match its metadata; "
            "rebuild it with python -m backprop.datasets._build_data"
        )
    X64, target = values[:, :-1], values[:, -1]
    if metadata["task"] == "classification":
        y = target.astype(np.int64)
    else:
        y = target.astype(dtype)
    description = (
        f"{metadata['description'].rstrip()}\n\nSource: {metadata['source']}\n"
        f"Licence: {metadata['license']}"
    )
    dataset = Dataset(
        X=X64.astype(dtype),
        y=y,
        feature_names=list(metadata["feature_names"]),
        target_names=None if metadata["target_names"] is None else list(metadata["target_names"]),
        task=metadata["task"],
        name=name,
        description=description,
    )
    return dataset, X64


def load_iris(dtype="float32") -> Dataset:
    """Fisher's iris flowers: 150 examples, 4 measurements (cm), 3 balanced species.

    Args:
        dtype: Float dtype of ``X`` ("float16", "float32" or "float64").

    Returns:
        A classification :class:`Dataset`; ``y`` holds 0 (setosa), 1 (versicolor),
        2 (virginica) as int64.
    """
    return _load_bundled("iris", dtype)[0]


def load_digits(dtype="float32") -> Dataset:
    """Handwritten digits: 1797 images of 8x8 pixels with values 0-16, 10 classes.

    Pixel ``(r, c)`` of an image is column ``8 * r + c`` of ``X`` (feature name
    ``pixel_r_c``); ``X[i].reshape(8, 8)`` gives image ``i``.

    Args:
        dtype: Float dtype of ``X`` ("float16", "float32" or "float64").

    Returns:
        A classification :class:`Dataset`; ``y`` is the digit 0-9 (int64).
    """
    return _load_bundled("digits", dtype)[0]


def load_breast_cancer(dtype="float32") -> Dataset:
    """Breast cancer Wisconsin (diagnostic): 569 examples, 30 features, 2 classes.

    Args:
        dtype: Float dtype of ``X`` ("float16", "float32" or "float64").

    Returns:
        A classification :class:`Dataset`; ``y`` is 0 (malignant) or 1 (benign), as
        in scikit-learn.
    """
    return _load_bundled("breast_cancer", dtype)[0]


def load_diabetes(dtype="float32", scaled: bool = True) -> Dataset:
    """Diabetes: 442 patients, 10 baseline variables, disease progression a year later.

    Args:
        dtype: Float dtype of ``X`` and ``y`` ("float16", "float32" or "float64").
        scaled: If True (the default, as in scikit-learn), each feature column is
            centred and divided by ``std * sqrt(n_samples)`` (so that its sum of
            squares is 1). If False, the raw values (age in years, sex coded 1/2, ...).

    Returns:
        A regression :class:`Dataset`; ``y`` (25 to 346) is not scaled.
    """
    scaled = check_bool(scaled, "scaled", "load_diabetes")
    dataset, X64 = _load_bundled("diabetes", dtype)
    if scaled:
        # Scaled in float64 before the cast, as scikit-learn does (population std).
        centred = X64 - X64.mean(axis=0)
        X64 = centred / (centred.std(axis=0) * np.sqrt(X64.shape[0]))
        dataset.X = X64.astype(dataset.X.dtype)
    return dataset
