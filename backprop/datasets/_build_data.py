"""Regenerate the bundled data files in ``backprop/datasets/data/`` from scikit-learn.

This script is run by hand, once, by a maintainer; the library never imports it,
so ``backprop`` has no run-time dependency on scikit-learn. Run it from the
repository root with::

    python -m backprop.datasets._build_data

For each dataset it writes two files:

* ``<name>.csv.gz``: a header row (the feature names, then ``target``) followed by
  one row per example. Every number is written with ``repr(float)`` (or as an
  integer when it is whole), which reads back to the identical float64, so the
  loaded arrays equal scikit-learn's bit for bit. The gzip header carries no
  timestamp, so rebuilding from the same scikit-learn version gives identical bytes.
* ``<name>.json``: task, feature and class names, sizes, a one-line summary, the
  full description text (scikit-learn's ``DESCR``), the original source and licence.

The data are the copies of the UCI datasets (and, for diabetes, the Efron et al.
data) that scikit-learn ships in ``sklearn/datasets/data``; scikit-learn is
BSD-3-Clause licensed (Copyright (c) the scikit-learn developers). Diabetes is
stored unscaled; ``load_diabetes(scaled=True)`` applies scikit-learn's scaling at
load time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"

SCIKIT_LEARN_LICENSE = "BSD-3-Clause (scikit-learn, Copyright (c) the scikit-learn developers)"

# name -> (sklearn loader kwargs, task, one-line summary, original source)
DATASETS = {
    "iris": (
        {},
        "classification",
        "Iris plants: 4 flower measurements (cm), 3 species.",
        "R. A. Fisher (1936); UCI Machine Learning Repository, via scikit-learn.",
    ),
    "digits": (
        {},
        "classification",
        "Handwritten digits: 8x8 images (pixel values 0-16), 10 classes.",
        "E. Alpaydin, C. Kaynak (1998), Optical Recognition of Handwritten Digits, "
        "UCI Machine Learning Repository, via scikit-learn.",
    ),
    "breast_cancer": (
        {},
        "classification",
        "Breast cancer Wisconsin (diagnostic): 30 cell-nucleus features, malignant/benign.",
        "W. H. Wolberg, W. N. Street, O. L. Mangasarian (1995), "
        "UCI Machine Learning Repository, via scikit-learn.",
    ),
    "diabetes": (
        {"scaled": False},
        "regression",
        "Diabetes: 10 baseline variables, disease progression one year later.",
        "B. Efron, T. Hastie, I. Johnstone, R. Tibshirani (2004), Least Angle Regression, "
        "Annals of Statistics; via scikit-learn.",
    ),
}


def _format_number(value: float) -> str:
    # Whole numbers are written without ".0" to keep the files small; repr() of a
    # float is the shortest string that parses back to the same float64.
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _write_csv_gz(path: Path, header: list[str], X: np.ndarray, y: np.ndarray) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for features, target in zip(X, y):
        writer.writerow([_format_number(v) for v in features] + [_format_number(target)])
    # mtime=0 and no file name in the gzip header: rebuilds are byte-identical.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))


def build(data_dir: Path = DATA_DIR) -> None:
    """Write ``<name>.csv.gz`` and ``<name>.json`` for every bundled dataset."""
    import sklearn
    import sklearn.datasets

    data_dir.mkdir(parents=True, exist_ok=True)
    for name, (kwargs, task, summary, source) in DATASETS.items():
        bunch = getattr(sklearn.datasets, f"load_{name}")(**kwargs)
        X = np.asarray(bunch.data, dtype=np.float64)
        y = np.asarray(bunch.target)
        feature_names = [str(f) for f in bunch.feature_names]
        if task == "classification":
            target_names = [str(t) for t in getattr(bunch, "target_names", np.unique(y))]
            n_classes = len(target_names)
        else:
            target_names, n_classes = None, None
        _write_csv_gz(data_dir / f"{name}.csv.gz", feature_names + ["target"], X, y)
        metadata = {
            "name": name,
            "task": task,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_classes": n_classes,
            "feature_names": feature_names,
            "target_names": target_names,
            "summary": summary,
            "description": bunch.DESCR,
            "source": source,
            "license": SCIKIT_LEARN_LICENSE,
            "built_with": f"scikit-learn {sklearn.__version__}",
        }
        (data_dir / f"{name}.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {name}: X {X.shape}, y {y.shape}")


if __name__ == "__main__":
    build()
