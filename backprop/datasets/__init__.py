"""Datasets that need no download: classic small benchmarks and the notes' housing example.

    >>> from backprop.datasets import load_iris, make_housing, list_datasets, load
    >>> X, y = load_iris()
    >>> houses = make_housing(n_samples=100, seed=0)

The classic datasets are the UCI copies bundled with scikit-learn (BSD-3-Clause),
stored in ``backprop/datasets/data/``; see :mod:`backprop.datasets.bundled`.
"""

from backprop.datasets.ball_images import make_ball_images
from backprop.datasets.bundled import load_breast_cancer, load_diabetes, load_digits, load_iris
from backprop.datasets.dataset import Dataset
from backprop.datasets.housing import ZIP_CODES, housing_price, make_housing
from backprop.datasets.registry import list_datasets, load
from backprop.datasets.shops import make_shops
from backprop.datasets.split import train_test_split

__all__ = [
    "Dataset",
    "load_iris", "load_digits", "load_breast_cancer", "load_diabetes",
    "make_housing", "housing_price", "ZIP_CODES",
    "make_shops", "make_ball_images", "train_test_split",
    "list_datasets", "load",
]
