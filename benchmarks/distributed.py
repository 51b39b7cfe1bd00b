"""Data-parallel throughput (``fit(distributed=True)``) on 1 and 2 ranks, and a model of larger jobs.

    python -m benchmarks.distributed            # measure, then print the model's table
    python -m benchmarks.distributed --quick    # fewer, shorter runs
    python -m benchmarks.distributed --table-only benchmarks/results/distributed.json

**Measured.** The 784-256-128-10 ReLU MLP of ``mlp_speed``, Adam, float32, global batch
1,024, trained under ``mpiexec -n 1`` and ``mpiexec -n 2`` with one BLAS thread per rank
(OMP/OPENBLAS/MKL_NUM_THREADS=1, set before NumPy is imported), in turns, best of R.
Throughput is samples per second of the epochs after a warm-up epoch. Rank 0 also
times ``MPI_Allreduce`` alone on this machine: a one-float message (the latency α) and
one of the gradient's size (the bandwidth β).

**Modelled.** A step on K ranks costs

    t(K) = c · B/K + u + o' + 2(K−1) α + 2(K−1)/K · n / β   (t(1) = c · B + u)

(the ring all-reduce: K−1 reduce-scatter and K−1 all-gather rounds, each moving n/K
bytes). c (seconds per sample of forward and backward) comes from the 1-rank run, u (the
optimiser step, which every rank repeats on all weights) is timed, and o' (the rest of the
distributed step's own work: scaling the gradient, the small all-reduce, the loop) is what
a rank of the 2-rank run spends beyond c·B/2 + u; all three as the ranks' CPU time outside
the all-reduce (where MPI spins while it waits), which the other load of a shared machine
does not inflate. α, β are this machine's best all-reduce times. Compute (6P flops per
sample) and u scale with the parameter count P; o' is kept fixed. Efficiency is t(1)/(K t(K)): the share of K× throughput
reached. The network's α and β replace this machine's for the table: 10 Gbit/s
Ethernet (α = 25 µs, TCP) and 100 Gbit/s (α = 5 µs, RDMA). The step does not overlap
communication with backward, so this is what this library's step reaches.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # before NumPy is imported: one BLAS thread per rank

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 1024
SIZES = (784, 256, 128, 10)
NETWORKS = {"10 Gbit/s": (25e-6, 10e9 / 8), "100 Gbit/s": (5e-6, 100e9 / 8)}  # (α seconds, β bytes/s)
RANKS = (8, 64, 512)
PARAMETERS = (235_146, 10_000_000, 100_000_000)
BATCHES = (1024, 16384)


# ------------------------------------------------------------------ one rank's side
def worker(n_samples: int, epochs: int, out: str) -> None:
    import backprop as bp
    from backprop import distributed, nn

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], size=n_samples)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(784, 256, activation="relu"), nn.Dense(256, 128, activation="relu"),
                          nn.Dense(128, 10))
    optimizer = bp.optim.Adam(model.parameters(), lr=1e-3)
    fit = dict(loss="cross_entropy", optimizer=optimizer, batch_size=BATCH, verbose=0, distributed=True)
    model.fit(X, y, epochs=1, **fit)  # warm-up: buffers, plans, MPI connections
    in_allreduce, in_optimizer = _count_allreduce_cpu(), _count_optimizer_cpu()
    distributed.barrier()
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y, epochs=epochs, **fit)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # A rank's own work: its CPU time outside the all-reduce (where MPI spins while it waits for
    # the others), the slowest rank's. On a machine others load too, this is what the ranks'
    # work costs without the waits the load adds.
    own = distributed.allgather_rows(np.array([cpu - in_allreduce[0]])).max()
    result = {"ranks": distributed.world_size(), "seconds": seconds, "samples": n_samples * epochs,
              "parameters": model.num_parameters(), "own_cpu_seconds": float(own),
              "optimizer_cpu_seconds": in_optimizer[0]}
    result.update(_allreduce_times(model.num_parameters() + 1))
    if distributed.is_main():
        Path(out).write_text(json.dumps(result))


def _count_allreduce_cpu() -> list:
    """Wrap the calls that wait for other ranks (in this worker process) to add up their CPU time:
    the all-reduces, and the fit's start, epoch-end check, orders and final barrier."""
    from backprop import distributed
    from backprop.training import data_parallel

    spent = [0.0]

    def counted(inner):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - started
        return wrapper

    distributed.allreduce_sum = counted(distributed.allreduce_sum)
    data_parallel.start = counted(data_parallel.start)
    for owner, name in ((data_parallel.GradientReducer, "check_in_sync"), (data_parallel.GradientReducer, "finish"),
                        (data_parallel.BroadcastOrder, "permutation")):
        setattr(owner, name, counted(getattr(owner, name)))
    return spent


def _count_optimizer_cpu() -> list:
    """Wrap ``Optimizer.step`` (in this worker process) to add up its CPU time: the update every rank repeats."""
    from backprop.optim.optimizer import Optimizer

    inner, spent = Optimizer.step, [0.0]

    def counted(self, *args, **kwargs):
        started = time.process_time()
        try:
            return inner(self, *args, **kwargs)
        finally:
            spent[0] += time.process_time() - started

    Optimizer.step = counted
    return spent


def _allreduce_times(n_floats: int, rounds: int = 10, repeats: int = 20) -> dict:
    """Seconds per MPI_Allreduce of one float (α) and of n_floats float32 (the gradient's message):
    the best of ``rounds`` averages of ``repeats`` calls (the machine's speed, not its load's)."""
    from backprop import distributed

    times = {}
    for name, size in (("allreduce_one", 1), ("allreduce_gradient", n_floats)):
        send, out = np.ones(size, np.float32), np.empty(size, np.float32)
        distributed.allreduce_sum(send, out)
        best = np.inf
        for _ in range(rounds):
            distributed.barrier()
            started = time.perf_counter()
            for _ in range(repeats):
                distributed.allreduce_sum(send, out)
            best = min(best, (time.perf_counter() - started) / repeats)
        times[name] = best
    return times


# ------------------------------------------------------------------ the driver
def _mpiexec() -> str:
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else "mpiexec"


def measure(repeats: int, n_samples: int, epochs: int) -> dict:
    runs = {1: [], 2: []}
    for _ in range(repeats):
        for ranks in (1, 2):  # in turns, so that the machine's load hits both alike
            out = RESULTS / f"distributed-run-{ranks}.json"
            subprocess.run([_mpiexec(), "-n", str(ranks), sys.executable, "-m", "benchmarks.distributed",
                            "--worker", str(n_samples), str(epochs), str(out)], check=True, timeout=600)
            runs[ranks].append(json.loads(out.read_text()))
            out.unlink()
    best = {ranks: min(results, key=lambda r: r["seconds"]) for ranks, results in runs.items()}
    one, two = best[1], best[2]
    steps = one["samples"] / BATCH
    t1, t2 = one["seconds"] / steps, two["seconds"] / steps
    alpha = two["allreduce_one"]
    n_bytes = 4 * (one["parameters"] + 1)
    # the measured gradient all-reduce on 2 ranks is 2α + n/β (ring, K = 2): β from it
    beta = n_bytes / max(two["allreduce_gradient"] - 2 * alpha, 1e-9)
    own_1, own_2 = one["own_cpu_seconds"] / steps, two["own_cpu_seconds"] / steps
    free_cores = own_1 / (own_2 + two["allreduce_gradient"])
    # The model is calibrated on the ranks' own work (CPU time, outside the all-reduce), which
    # the machine's other load does not inflate, and on the all-reduce's best time: c from the
    # 1-rank run, o = what a rank of the 2-rank run spends beyond its half of the compute.
    optimizer = two["optimizer_cpu_seconds"] / steps
    c = (own_1 - one["optimizer_cpu_seconds"] / steps) / BATCH  # the compute, which the ranks split
    overhead = max(own_2 - c * BATCH / 2, optimizer)
    overhead_wall = t2 - (t1 / 2 + ring_seconds(2, n_bytes, alpha, beta))
    with open("/proc/loadavg") as file:
        load = file.read().split()[:3]
    return {"throughput_1": one["samples"] / one["seconds"], "throughput_2": two["samples"] / two["seconds"],
            "speedup": one["seconds"] / two["seconds"], "step_1": t1, "step_2": t2,
            "own_step_1": own_1, "own_step_2": own_2, "speedup_free_cores": free_cores,
            "seconds_per_sample": c, "overhead": overhead, "overhead_wall": overhead_wall,
            "optimizer_step": optimizer,
            "alpha": alpha, "beta": beta,
            "allreduce_gradient_2": two["allreduce_gradient"], "parameters": one["parameters"],
            "load_average": load, "runs": {str(k): v for k, v in runs.items()}}


def ring_seconds(K: int, n_bytes: float, alpha: float, beta: float) -> float:
    """The ring all-reduce of n bytes on K ranks: 2(K−1) α + 2(K−1)/K · n/β."""
    return 0.0 if K == 1 else 2 * (K - 1) * alpha + 2 * (K - 1) / K * n_bytes / beta


def efficiency(calibration: dict, P: int, B: int, K: int, alpha: float, beta: float):
    """t(1) / (K t(K)) for P float32 parameters, global batch B, K ranks; None when B < K."""
    if B < K:
        return None
    scale = P / calibration["parameters"]  # compute (6P flops a sample) and the update grow with P
    c = calibration["seconds_per_sample"] * scale
    update = calibration["optimizer_step"] * scale
    fixed = calibration["overhead"] - calibration["optimizer_step"]
    one = c * B + update
    many = c * B / K + update + fixed + ring_seconds(K, 4 * (P + 1), alpha, beta)
    return one / (K * many)


def table(calibration: dict) -> str:
    head = "| parameters | global batch | " + " | ".join(
        f"K={K}, {network}" for network in NETWORKS for K in RANKS) + " |"
    lines = [head, "|" + "---|" * (2 + len(NETWORKS) * len(RANKS))]
    for P in PARAMETERS:
        for B in BATCHES:
            cells = []
            for alpha, beta in NETWORKS.values():
                for K in RANKS:
                    e = efficiency(calibration, P, B, K, alpha, beta)
                    cells.append("—" if e is None else f"{100 * e:.0f}%")
            lines.append(f"| {P:,} | {B:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(calibration: dict) -> str:
    c = calibration
    return "\n".join([
        f"1 rank × 1 thread: {c['throughput_1']:,.0f} samples/s; 2 ranks × 1 thread: {c['throughput_2']:,.0f} "
        f"samples/s; speed-up {c['speedup']:.2f}× (batch {BATCH}, load average {' '.join(c['load_average'])})",
        f"step: {1e3 * c['step_1']:.2f} ms on 1 rank, {1e3 * c['step_2']:.2f} ms on 2; "
        f"all-reduce of the gradient ({4 * (c['parameters'] + 1) / 1e6:.2f} MB) {1e3 * c['allreduce_gradient_2']:.3f} ms; "
        f"α = {1e6 * c['alpha']:.1f} µs, β = {c['beta'] / 1e9:.2f} GB/s (this machine, shared memory); "
        f"per-step overhead o = {1e3 * c['overhead']:.3f} ms of CPU time, of which the optimiser step "
        f"{1e3 * c['optimizer_step']:.3f} ms "
        f"(by wall-clock time {1e3 * c['overhead_wall']:.3f} ms: the waits the machine's load adds)",
        f"each rank's own work per step (CPU time outside the all-reduce, slowest rank): "
        f"{1e3 * c['own_step_1']:.2f} ms on 1 rank, {1e3 * c['own_step_2']:.2f} ms on 2; with the all-reduce "
        f"alone that is {c['speedup_free_cores']:.2f}× on two free cores (an estimate from CPU times)",
        "",
        "Predicted efficiency t(1)/(K·t(K)) (ring all-reduce, no overlap):",
        "",
        table(c),
    ])


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--table-only", metavar="JSON", help="print the model's table from a saved calibration")
    parser.add_argument("--worker", nargs=3, metavar=("SAMPLES", "EPOCHS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(int(args.worker[0]), int(args.worker[1]), args.worker[2])
        return 0
    if args.table_only:
        print(report(json.loads(Path(args.table_only).read_text())))
        return 0
    RESULTS.mkdir(exist_ok=True)
    calibration = measure(repeats=2 if args.quick else 3, n_samples=8 * BATCH if args.quick else 16 * BATCH,
                          epochs=2 if args.quick else 3)
    (RESULTS / "distributed.json").write_text(json.dumps(calibration, indent=1))
    print(report(calibration))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
