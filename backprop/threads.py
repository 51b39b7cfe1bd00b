"""Compiled kernels on every core: a call's examples split into parts that run side by side.

NumPy's BLAS threads its own products, but a compiled kernel (:mod:`backprop.jit`) runs on
the thread that calls it. Kernels release the GIL, so Python threads can run them at the
same time: :func:`split` cuts the examples [0, n) of one call into up to
:func:`get_num_threads` parts, gives all but the first to a pool of worker threads, runs
the first itself, and returns when every part is done (re-raising the first error of any).

The parts must write to disjoint places (each example's output, or a part's own partial
sum that the caller adds up afterwards). Work arrays (:mod:`backprop.scratch`) are per
thread, so each part gets its own. Calls from several threads share the pool and wait
for their own parts only; a part never splits again (it runs inline), so the pool cannot
deadlock on itself.

The number of threads is, in order: :func:`set_num_threads`, the environment variable
``BACKPROP_NUM_THREADS``, the CPUs this process may run on.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from backprop.checks import check_positive_int

__all__ = ["split", "get_num_threads", "set_num_threads"]

_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_pool_workers = 0
_num_threads: Optional[int] = None  # set_num_threads' value; None: from the environment
_inside = threading.local()  # .part: this thread is running a part (its own splits run inline)


def _default_threads() -> int:
    value = os.environ.get("BACKPROP_NUM_THREADS", "").strip()
    if value:
        try:
            return check_positive_int(int(value), "BACKPROP_NUM_THREADS", "backprop.threads")
        except ValueError:
            raise ValueError(f"BACKPROP_NUM_THREADS must be a positive int, got {value!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # (not on every platform)
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """How many threads :func:`split` uses at most (the caller's included)."""
    return _num_threads if _num_threads is not None else _default_threads()


def set_num_threads(n: int) -> int:
    """Use at most ``n`` threads (1: every kernel on its caller's thread); returns the previous value.

    As ``torch.set_num_threads``: a setting of the process. NumPy's BLAS keeps its own
    (``OPENBLAS_NUM_THREADS``, or threadpoolctl).
    """
    global _num_threads
    n = check_positive_int(n, "n", "set_num_threads")
    with _lock:
        previous = get_num_threads()
        _num_threads = n
    return previous


def _workers(count: int) -> ThreadPoolExecutor:
    """The pool, with at least ``count`` workers (made again, larger, when it has fewer)."""
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers < count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="backprop")
            _pool_workers = count
        return _pool


def _forget_pool() -> None:  # in a forked child: the parent's worker threads do not exist there
    global _pool, _pool_workers, _lock
    _pool, _pool_workers, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _run_part(run: Callable[[int, int], None], start: int, stop: int) -> None:
    _inside.part = True
    try:
        run(start, stop)
    finally:
        _inside.part = False


def split(run: Callable[[int, int], None], n: int, min_per_part: int = 1) -> int:
    """Call ``run(start, stop)`` for consecutive parts of [0, n) on up to :func:`get_num_threads`
    threads, each part at least ``min_per_part`` long; returns how many parts ran.

    The first part runs on the calling thread. One part (n < 2·min_per_part, one thread, or a
    call from inside a part) is a plain ``run(0, n)``.
    """
    parts = min(get_num_threads(), n // max(1, min_per_part))
    if parts <= 1 or getattr(_inside, "part", False):
        run(0, n)
        return 1
    bounds = [n * k // parts for k in range(parts + 1)]
    pool = _workers(parts - 1)
    futures = [pool.submit(_run_part, run, bounds[k], bounds[k + 1]) for k in range(1, parts)]
    try:
        _run_part(run, bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]  # (waits for every part: they write the caller's arrays)
    for error in errors:
        if error is not None:
            raise error
    return parts
