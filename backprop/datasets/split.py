"""The notes' train/test split: hold some examples out to measure how well a model generalises."""

from __future__ import annotations

import math
import numbers

import numpy as np

from backprop.checks import check_bool, check_int
from backprop.random import get_rng

__all__ = ["train_test_split"]


def train_test_split(X, y, test_size=0.2, seed=0, stratify: bool = False):
    """Split (X, y) at random into a training and a test set, as scikit-learn's function does.

    Args:
        X: the examples, rows first: an array of any number of dimensions (e.g. images
            (N, C, H, W)), a list, or a pandas DataFrame (rows are taken with ``iloc``).
        y: one target per example (array, list or pandas Series).
        test_size: the share of examples held out, a float in (0, 1) (rounded up, as in
            scikit-learn), or their number, an int in [1, N − 1].
        seed: a non-negative int for a reproducible split, or None to draw from the
            library's generator (:func:`backprop.manual_seed`).
        stratify: keep each class's share of y in both parts (every class needs at
            least two examples); for classification targets.

    Returns:
        ``(X_train, X_test, y_train, y_test)``, copies in a random order; the caller's
        arrays are not modified.

    Raises:
        ValueError: for X and y of different lengths, fewer than two examples, a test
            size that leaves either part empty, a bad seed, or a class with one example
            when stratifying.

    Example:
        >>> import numpy as np
        >>> X_train, X_test, y_train, y_test = train_test_split(np.arange(20).reshape(10, 2), np.arange(10))
        >>> X_train.shape, X_test.shape
        ((8, 2), (2, 2))
    """
    n = _length(X, "X")
    if _length(y, "y") != n:
        raise ValueError(f"train_test_split: X and y have different lengths: {n} and {_length(y, 'y')}")
    if n < 2:
        raise ValueError(f"train_test_split: need at least 2 examples to split, got {n}")
    n_test = _test_count(test_size, n)
    stratify = check_bool(stratify, "stratify", "train_test_split")
    seed = check_int(seed, "seed", "train_test_split", low=0, allow_none=True)
    rng = get_rng() if seed is None else np.random.default_rng(seed)

    if stratify:
        test_index = _stratified_test_index(np.asarray(y), n_test, rng)
    else:
        test_index = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_index] = True
    train_index = rng.permutation(np.flatnonzero(~is_test))
    test_index = rng.permutation(np.flatnonzero(is_test))
    return _take(X, train_index), _take(X, test_index), _take(y, train_index), _take(y, test_index)


def _length(data, name: str) -> int:
    try:
        return len(data)
    except TypeError:
        raise ValueError(f"train_test_split: {name} must be a sequence of examples, got {type(data).__name__}") from None


def _test_count(test_size, n: int) -> int:
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        count = int(test_size)
    elif isinstance(test_size, numbers.Real) and not isinstance(test_size, bool) and 0 < test_size < 1:
        count = math.ceil(test_size * n)
    else:
        raise ValueError(
            f"train_test_split: test_size must be a float in (0, 1) or an int number of examples, got {test_size!r}"
        )
    if not 1 <= count <= n - 1:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} of {n} examples leaves {count} for the test set and "
            f"{n - count} for training; both need at least one"
        )
    return count


def _stratified_test_index(y: np.ndarray, n_test: int, rng) -> np.ndarray:
    """n_test indices, each class getting its share n_test · n_c / N (largest remainders round)."""
    if y.ndim != 1:
        raise ValueError(f"train_test_split: stratify needs one class label per example, got y of shape {y.shape}")
    classes, labels, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        lonely = classes[counts < 2].tolist()
        raise ValueError(
            f"train_test_split: stratify needs at least 2 examples of every class; {lonely} have 1"
        )
    share = n_test * counts / counts.sum()
    per_class = np.floor(share).astype(int)
    remainder = n_test - per_class.sum()
    if remainder:
        # Largest remainders first; ties broken at random so that no class is favoured.
        order = np.lexsort((rng.random(len(classes)), -(share - per_class)))
        per_class[order[:remainder]] += 1
    per_class = np.minimum(per_class, counts - 1)  # keep one of every class for training
    chosen = [rng.permutation(np.flatnonzero(labels == k))[:m] for k, m in enumerate(per_class)]
    return np.concatenate(chosen)


def _take(data, index: np.ndarray):
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if isinstance(data, np.ndarray):
        return data[index]
    return np.asarray(data)[index]
