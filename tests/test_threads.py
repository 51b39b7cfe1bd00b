"""backprop.threads: a call's examples split into parts on worker threads, each example once."""

import multiprocessing
import threading

import numpy as np
import pytest

import backprop as bp
from backprop import threads


@pytest.fixture
def four_threads():
    previous = bp.set_num_threads(4)
    yield
    bp.set_num_threads(previous)


def recorded_parts(n, min_per_part=1):
    parts, lock = [], threading.Lock()

    def run(start, stop):
        with lock:
            parts.append((start, stop, threading.get_ident()))

    count = threads.split(run, n, min_per_part)
    return count, sorted(parts)


def test_the_parts_cover_every_example_once_on_several_threads(four_threads):
    count, parts = recorded_parts(10)
    assert count == 4 == len(parts)
    assert [p[:2] for p in parts] == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert parts[0][2] == threading.get_ident()  # the first part on the caller
    assert len({p[2] for p in parts}) > 1


@pytest.mark.parametrize("n,min_per_part,expected", [(10, 4, 2), (10, 5, 2), (10, 6, 1), (1, 1, 1), (0, 1, 1)])
def test_a_part_is_never_shorter_than_asked(four_threads, n, min_per_part, expected):
    count, parts = recorded_parts(n, min_per_part)
    assert count == expected
    assert [p[:2] for p in parts][0][0] == 0 and parts[-1][1] == n
    if count > 1:
        assert min(stop - start for start, stop, _ in parts) >= min_per_part


def test_one_thread_runs_everything_on_the_caller():
    previous = bp.set_num_threads(1)
    try:
        count, parts = recorded_parts(100)
    finally:
        bp.set_num_threads(previous)
    assert count == 1 and parts == [(0, 100, threading.get_ident())]


def test_a_split_inside_a_part_runs_inline(four_threads):
    inner = []

    def run(start, stop):
        inner.append(threads.split(lambda a, b: None, 8))

    threads.split(run, 8)
    assert inner == [1, 1, 1, 1]


def test_an_error_in_any_part_is_raised_after_every_part_ran(four_threads):
    done = []

    def run(start, stop):
        done.append(start)
        if start == 5:
            raise RuntimeError("part 5 failed")

    with pytest.raises(RuntimeError, match="part 5 failed"):
        threads.split(run, 10)
    assert sorted(done) == [0, 2, 5, 7]


def test_callers_on_several_threads_each_get_their_own_parts(four_threads):
    results = {}

    def caller(k):
        out = np.zeros(1000)

        def run(start, stop):
            out[start:stop] = np.arange(start, stop) * k

        for _ in range(20):
            threads.split(run, len(out))
        results[k] = out

    workers = [threading.Thread(target=caller, args=(k,)) for k in range(1, 6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for k, out in results.items():
        np.testing.assert_array_equal(out, np.arange(1000) * k)


def _split_in_child(queue):
    out = np.zeros(6)

    def run(start, stop):
        out[start:stop] = 1

    queue.put((threads.split(run, 6), out.sum()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
def test_a_forked_child_makes_its_own_pool(four_threads):
    threads.split(lambda a, b: None, 8)  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_split_in_child, args=(queue,))
    child.start()
    result = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and result == (4, 6.0)


def test_set_num_threads_returns_the_previous_value_and_checks_its_argument():
    previous = bp.set_num_threads(3)
    try:
        assert bp.get_num_threads() == 3
        assert bp.set_num_threads(2) == 3
        with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
            bp.set_num_threads(0)
        with pytest.raises(ValueError, match="n must be a positive int, got '2'"):
            bp.set_num_threads("2")
        assert bp.get_num_threads() == 2
    finally:
        bp.set_num_threads(previous)


def test_the_environment_sets_the_default(monkeypatch):
    monkeypatch.setattr(threads, "_num_threads", None)
    monkeypatch.setenv("BACKPROP_NUM_THREADS", "3")
    assert bp.get_num_threads() == 3
    monkeypatch.setenv("BACKPROP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="BACKPROP_NUM_THREADS must be a positive int, got 'many'"):
        bp.get_num_threads()
    monkeypatch.delenv("BACKPROP_NUM_THREADS")
    assert bp.get_num_threads() >= 1


def test_a_worker_lost_to_an_interrupted_join_is_replaced(four_threads, monkeypatch):
    """A KeyboardInterrupt while the caller waits for a part: the call raises it, and later calls still
    get every worker (a new one stands in for the one never joined)."""
    calls = []
    original = threads._Worker.join

    def interrupted(worker):
        if not calls:
            calls.append(worker)
            original(worker)  # (let its part finish, then act as if the wait was interrupted)
            raise KeyboardInterrupt
        return original(worker)

    monkeypatch.setattr(threads._Worker, "join", interrupted)
    with pytest.raises(KeyboardInterrupt):
        threads.split(lambda a, b: None, 8)
    monkeypatch.setattr(threads._Worker, "join", original)
    count, parts = recorded_parts(8)
    assert count == 4 and len({p[2] for p in parts}) == 4
