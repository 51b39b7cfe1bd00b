"""bp.train_test_split: seeded, optionally stratified, never modifying the caller's arrays."""

import doctest

import numpy as np
import pytest

import backprop as bp
from backprop.datasets import split as split_module


def test_sizes_order_and_coverage():
    X, y = np.arange(50).reshape(25, 2), np.arange(25)
    X_train, X_test, y_train, y_test = bp.train_test_split(X, y, test_size=0.2, seed=0)
    assert X_train.shape == (20, 2) and X_test.shape == (5, 2) and y_train.shape == (20,) and y_test.shape == (5,)
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)  # rows stay with their targets
    np.testing.assert_array_equal(X_test[:, 0] // 2, y_test)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(25))
    assert len(bp.train_test_split(X, y, test_size=0.21)[1]) == 6  # rounded up, as in scikit-learn
    assert len(bp.train_test_split(X, y, test_size=7)[1]) == 7


def test_the_seed_fixes_the_split_and_none_uses_the_library_generator():
    X, y = np.arange(40).reshape(20, 2), np.arange(20)
    a, b, c = (bp.train_test_split(X, y, seed=s)[3] for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    bp.manual_seed(5)
    first = bp.train_test_split(X, y, seed=None)[3]
    bp.manual_seed(5)
    np.testing.assert_array_equal(bp.train_test_split(X, y, seed=None)[3], first)


def test_stratify_keeps_the_class_shares():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    X = np.arange(100 * 3).reshape(100, 3)
    _, _, y_train, y_test = bp.train_test_split(X, y, test_size=0.2, seed=1, stratify=True)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    labels = np.array(["cat", "dog"] * 5 + ["cat"])
    _, _, _, test = bp.train_test_split(np.zeros((11, 1)), labels, test_size=4, stratify=True)
    assert sorted(test.tolist()).count("dog") == 2


def test_images_lists_and_frames_are_split_too():
    images = np.zeros((10, 1, 8, 8), dtype=np.float32)
    assert bp.train_test_split(images, np.arange(10), test_size=0.3)[1].shape == (3, 1, 8, 8)
    assert bp.train_test_split([[1], [2], [3], [4]], [0, 1, 0, 1], test_size=1)[1].shape == (1, 1)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(10)}, index=range(100, 110))
    _, X_test, _, _ = bp.train_test_split(frame, pd.Series(range(10)), test_size=0.2)
    assert len(X_test) == 2 and set(X_test.index) <= set(range(100, 110))


def test_the_callers_arrays_are_not_modified():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    before = X.copy(), y.copy()
    X_train, *_ = bp.train_test_split(X, y)
    X_train[:] = -1
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


@pytest.mark.parametrize("args,kwargs,message", [
    ((np.zeros((5, 2)), np.zeros(4)), {}, "different lengths: 5 and 4"),
    ((np.zeros((1, 2)), np.zeros(1)), {}, "at least 2 examples"),
    ((np.zeros((5, 2)), np.zeros(5)), {"test_size": 1.0}, r"test_size must be a float in \(0, 1\)"),
    ((np.zeros((5, 2)), np.zeros(5)), {"test_size": 5}, "leaves 5 for the test set and 0 for training"),
    ((np.zeros((5, 2)), np.zeros(5)), {"test_size": 0}, "leaves 0 for the test set"),
    ((np.zeros((5, 2)), np.zeros(5)), {"seed": -1}, "seed must be None or a non-negative int"),
    ((np.zeros((5, 2)), np.zeros(5)), {"stratify": "yes"}, "stratify must be True or False"),
    ((np.zeros((5, 2)), np.array([0, 0, 1, 1, 2])), {"stratify": True}, r"\[2\] have 1"),
])
def test_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bp.train_test_split(*args, **kwargs)


def test_docstring_example():
    assert doctest.testmod(split_module).failed == 0
