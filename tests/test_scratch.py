"""backprop.scratch: work arrays reused call after call, one set per thread, bounded in size."""

import threading

import numpy as np

import backprop as bp
from backprop import nn
from backprop.scratch import work_array


def test_a_work_array_is_reused_by_name_and_shape_and_dtype():
    a = work_array(("test", "a"), (3, 4), np.float32, 1 << 20)
    assert a.shape == (3, 4) and a.dtype == np.float32
    again = work_array(("test", "a"), (2, 5), np.float32, 1 << 20)
    assert np.shares_memory(a, again)  # the same memory, reshaped
    assert not np.shares_memory(a, work_array(("test", "b"), (3, 4), np.float32, 1 << 20))
    assert not np.shares_memory(a, work_array(("test", "a"), (3, 4), np.float64, 1 << 20))


def test_a_work_array_over_the_limit_is_not_kept():
    big = work_array(("test", "big"), (1000,), np.float64, 4000)
    assert big.shape == (1000,) and not np.shares_memory(big, work_array(("test", "big"), (1000,), np.float64, 4000))


def test_each_thread_has_its_own_work_arrays():
    mine = work_array(("test", "t"), (8,), np.float32, 1 << 20)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(work_array(("test", "t"), (8,), np.float32, 1 << 20)))
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])


def test_batch_predictions_through_work_arrays_are_the_caller_s_own():
    """A Dense stack's hidden layers write into work arrays: the array returned is new, and a
    second prediction (here or in another thread) leaves the first one as it was."""
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(5, 16, activation="relu"), nn.Dense(16, 8, activation="relu"), nn.Dense(8, 3))
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((64, 5)).astype(np.float32), rng.standard_normal((64, 5)).astype(np.float32)
    first = model.predict(X1)
    kept = first.copy()
    second = model.predict(X2)
    other = []
    thread = threading.Thread(target=lambda: other.append(model.predict(X2)))
    thread.start()
    thread.join()
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_array_equal(second, other[0])
    assert not np.shares_memory(first, second)
    with bp.no_grad():
        np.testing.assert_allclose(first, model(bp.Tensor(X1)).data, rtol=1e-5, atol=1e-6)
