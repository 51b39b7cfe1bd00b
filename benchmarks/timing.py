"""How every benchmark times its contenders: in turns, each timed run after an untimed one."""

from __future__ import annotations

import time


def interleaved(runs: dict, repeats: int, warm_up: bool = True) -> dict:
    """Best time of each function, run in turns so that a slow spell of the machine hits all alike.

    At each turn a function runs once untimed before the timed run: the threads of the library
    that ran before it (OpenBLAS's spin for about 0.1 s after a product, OpenMP's and XLA's pools
    likewise) would otherwise still hold a core at the start of the timed run (PyTorch's conv
    after NumPy products on OpenBLAS's threads: 10.2 ms, against 6.1 once they sleep).
    ``warm_up``: run each once first (buffers, thread pools, compiled kernels); False where the
    caller already has."""
    if warm_up:
        for run in runs.values():
            run()
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            run()  # (untimed: see above)
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
