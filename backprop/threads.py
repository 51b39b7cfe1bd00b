"""Compiled kernels on every core: a call's examples split into parts that run side by side.

NumPy's BLAS threads its own products, but a compiled kernel (:mod:`backprop.jit`) runs on
the thread that calls it. Kernels release the GIL, so Python threads can run them at the
same time: :func:`split` cuts the examples [0, n) of one call into up to
:func:`get_num_threads` parts, hands all but the first to idle worker threads, runs the
first itself, and returns when every part is done (re-raising the first error of any).

The parts must write to disjoint places (each example's output, or a part's own partial
sum that the caller adds up afterwards). Work arrays (:mod:`backprop.scratch`) are per
thread, so each part gets its own. A worker serves one call at a time: calls from several
threads take the idle workers there are and run the rest of their examples themselves
(with none idle, the whole call runs on its caller), so no call waits for another's parts,
and a part never splits again (it runs inline).

A worker is a thread that waits on a lock (lighter than a pool's queue and futures): handing
it a part and collecting it costs 10–60 µs on a 2-core VM, so callers split only work of
some tens of µs or more per part.

NumPy's BLAS keeps its own threads, which spin for a while after a threaded product (about
0.1 s in OpenBLAS) and hold a core: where a network's dense layers wake them, a split finds
one core free and gains little (``OPENBLAS_NUM_THREADS=1`` or a short
``OPENBLAS_THREAD_TIMEOUT`` gives it back).

The number of threads is, in order: :func:`set_num_threads`, the environment variable
``BACKPROP_NUM_THREADS``, the CPUs this process may run on.
"""

from __future__ import annotations

import _thread
import os
import threading
from typing import Callable, Optional

from backprop.checks import check_positive_int

__all__ = ["split", "get_num_threads", "set_num_threads"]

_lock = threading.Lock()
_idle: list = []  # the workers waiting for a part
_started = 0  # workers started in this process (idle or busy)
_num_threads: Optional[int] = None  # set_num_threads' value; None: from the environment
_inside = threading.local()  # .part: this thread is running a part (its own splits run inline)


class _Worker:
    """A daemon thread that runs one part at a time: :meth:`start` hands it one, :meth:`join` waits."""

    def __init__(self):
        self._go, self._done = _thread.allocate_lock(), _thread.allocate_lock()
        self._go.acquire()
        self._done.acquire()
        self._task, self.error = None, None
        threading.Thread(target=self._serve, name="backprop-worker", daemon=True).start()

    def _serve(self) -> None:
        _inside.part = True
        while True:
            self._go.acquire()
            run, start, stop = self._task
            self._task = None
            try:
                run(start, stop)
            except BaseException as error:  # (re-raised on the caller's thread)
                self.error = error
            self._done.release()

    def start(self, run: Callable[[int, int], None], start: int, stop: int) -> None:
        self._task, self.error = (run, start, stop), None
        self._go.release()

    def join(self) -> Optional[BaseException]:
        self._done.acquire()
        return self.error


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


def _take_workers(count: int) -> list:
    """Up to ``count`` idle workers (started as needed, at most get_num_threads() − 1 in all)."""
    global _started
    with _lock:
        taken = [_idle.pop() for _ in range(min(count, len(_idle)))]
        new = min(count - len(taken), get_num_threads() - 1 - _started)
        _started += max(0, new)
    return taken + [_Worker() for _ in range(new)]


def _give_back(workers: list, lost: int) -> None:
    """``workers`` idle again; ``lost`` others never joined (they may be started anew)."""
    global _started
    with _lock:
        _idle.extend(workers)
        _started -= lost


def _forget_workers() -> None:  # in a forked child: the parent's worker threads do not exist there
    global _idle, _started, _lock
    _idle, _started, _lock = [], 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def split(run: Callable[[int, int], None], n: int, min_per_part: int = 1) -> int:
    """Call ``run(start, stop)`` for consecutive parts of [0, n) on up to :func:`get_num_threads`
    threads, each part at least ``min_per_part`` long; returns how many parts ran.

    The first part runs on the calling thread. One part (n < 2·min_per_part, one thread, no idle
    worker, or a call from inside a part) is a plain ``run(0, n)``.
    """
    parts = min(get_num_threads(), n // max(1, min_per_part))
    workers = _take_workers(parts - 1) if parts > 1 and not getattr(_inside, "part", False) else []
    if not workers:
        run(0, n)
        return 1
    parts = len(workers) + 1
    bounds = [n * k // parts for k in range(parts + 1)]
    for k, worker in enumerate(workers, start=1):
        worker.start(run, bounds[k], bounds[k + 1])
    errors, joined = [], []
    try:
        _inside.part = True
        run(bounds[0], bounds[1])
    finally:
        _inside.part = False
        try:
            for worker in workers:  # (every part: they write the caller's arrays)
                errors.append(worker.join())
                joined.append(worker)
        finally:  # (a KeyboardInterrupt in a join: that worker finishes its part unseen, and is replaced)
            _give_back(joined, len(workers) - len(joined))
    for error in errors:
        if error is not None:
            raise error
    return parts
