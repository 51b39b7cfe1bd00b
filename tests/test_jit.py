"""backprop.jit: optional numba kernels, switched off cleanly, fed only arrays they can take."""

import os
import subprocess
import sys

import numpy as np
import pytest

from backprop import jit

needs_numba = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")


@jit.kernel
def _axpy(y, x, a):
    """y ← y + a·x"""
    for i in range(y.size):
        y[i] = y[i] + a * x[i]


def test_set_enabled_checks_type_and_returns_previous():
    with pytest.raises(ValueError, match="set_enabled: enabled must be True or False, got 1"):
        jit.set_enabled(1)
    previous = jit.set_enabled(False)
    try:
        assert jit.available() is False
        assert _axpy.get() is None
    finally:
        jit.set_enabled(previous)


def test_disabled_restores_the_setting_after_an_error():
    before = jit.available()
    with pytest.raises(RuntimeError):
        with jit.disabled():
            assert _axpy.get() is None
            raise RuntimeError("inside")
    assert jit.available() == before


@needs_numba
def test_kernel_compiles_and_runs_like_numpy():
    y = np.arange(5, dtype=np.float32)
    x = np.ones(5, np.float32)
    expected = y + np.float32(0.5) * x
    _axpy.get()(y, x, np.float32(0.5))
    assert np.array_equal(y, expected)
    assert "_axpy" in repr(_axpy)


def test_the_python_function_is_the_reference():
    y = np.zeros(3)
    _axpy.py_func(y, np.array([1.0, 2.0, 3.0]), 2.0)
    assert y.tolist() == [2.0, 4.0, 6.0]


def test_environment_variable_switches_kernels_off():
    env = dict(os.environ, BACKPROP_JIT="0")
    out = subprocess.run([sys.executable, "-c", "import backprop.jit as j; print(j.available())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class TestFlatViews:
    def test_views_share_memory(self):
        a, b = np.zeros((3, 4), np.float32), np.ones(12, np.float32)
        views = jit.flat_views(a, b)
        assert [v.shape for v in views] == [(12,), (12,)]
        views[0][0] = 7
        assert a[0, 0] == 7

    @pytest.mark.parametrize("arrays", [
        (np.zeros(4, np.float32), np.zeros(4, np.float64)),       # mixed precision
        (np.zeros(4, np.int64), np.zeros(4, np.int64)),           # not floats
        (np.zeros(4, np.float16), np.zeros(4, np.float16)),       # no kernel variant
        (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32).T),  # not C-contiguous
    ])
    def test_refuses_what_a_kernel_cannot_take(self, arrays):
        assert jit.flat_views(*arrays) is None

    def test_refuses_read_only_arrays(self):
        a = np.zeros(4)
        b = np.zeros(4)
        b.flags.writeable = False
        assert jit.flat_views(a, b) is None


@needs_numba
def test_a_kernel_still_compiles_where_no_cache_can_be_written(monkeypatch):
    import numba

    real_njit = numba.njit

    def njit_without_cache_dir(**options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit_without_cache_dir)
    fresh = jit.Kernel(_axpy.py_func)
    y = np.zeros(2)
    fresh.get()(y, np.ones(2), 3.0)
    assert y.tolist() == [3.0, 3.0]


def test_flat_views_of_column_major_arrays_follow_their_memory_order():
    """A Dense W packed column-major by fit, with its gradient and Adam's state alike: element k
    of every view is the same weight's."""
    W = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    g = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3) * 10)
    views = jit.flat_views(W, g)
    np.testing.assert_array_equal(views[1], views[0] * 10)
    views[0][1] = -1  # memory element 1 of a column-major (2, 3) array is W[1, 0]
    assert W[1, 0] == -1
    assert jit.flat_views(W, np.ascontiguousarray(g)) is None  # one layout for all
