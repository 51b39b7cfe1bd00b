"""Training and prediction speed of a 784-256-128-10 ReLU MLP with Adam, side by side.

backprop's own ``fit``, PyTorch eager on the CPU (same model, 2 threads, an idiomatic
manual loop) and scikit-learn's MLPClassifier train on the same data in the same
process. The share of the machine's GEMM limit is measured in the same run, in turns
with the training runs: the time of the steps' matrix multiplies alone (nine per step,
back to back with NumPy) divided by the time of the whole ``fit``.

Usage:
    python -m benchmarks [--quick] [--json PATH]

Writes a markdown table to stdout and JSON to benchmarks/results/mlp_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.blas import blas_kernels, describe
from benchmarks.timing import interleaved

SIZES = (784, 256, 128, 10)
BATCH_SIZES = (32, 128, 1024)
EPOCHS = 2  # per timed fit: as in real use, fit's per-call checks are shared by several epochs
THREADS = 2
RESULTS = Path(__file__).parent / "results"


def make_data(n_samples: int, seed: int = 0):
    """A learnable 10-class problem with MNIST's shape: labels from a random teacher network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((SIZES[0], 10)).astype(np.float32) / np.sqrt(SIZES[0])
    y = np.argmax(np.tanh(X @ teacher) + 0.1 * rng.standard_normal((n_samples, 10)), axis=1).astype(np.int64)
    return X, y


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ------------------------------------------------------------------ backprop
def backprop_model(seed=0):
    import backprop as bp
    from backprop import nn

    bp.manual_seed(seed)
    return nn.Sequential(
        nn.Dense(SIZES[0], SIZES[1], activation="relu"),
        nn.Dense(SIZES[1], SIZES[2], activation="relu"),
        nn.Dense(SIZES[2], SIZES[3]),
    )


def backprop_trainer(X, y, batch_size, epochs):
    """A function that trains backprop's model for ``epochs`` more epochs with ``fit``."""
    from backprop import optim

    model = backprop_model()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    return lambda: model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                             batch_size=batch_size, shuffle=True, verbose=0)


def bench_backprop_train(X, y, batch_size, epochs, repeats):
    fit = backprop_trainer(X, y, batch_size, epochs)
    fit()  # warm-up: buffers, BLAS threads
    return len(X) * epochs / best_of(fit, repeats)


def bench_backprop_predict(X, repeats):
    model = backprop_model()
    row = X[:1]
    model.predict(row)
    n = 2000
    latency = best_of(lambda: [model.predict(row) for _ in range(n)], repeats) / n
    big = X[:4096]
    throughput = len(big) / best_of(lambda: model.predict(big), repeats)
    return latency, throughput


# ------------------------------------------------------------------- PyTorch
def torch_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]), torch.nn.ReLU(),
        torch.nn.Linear(SIZES[2], SIZES[3]),
    )


def torch_trainer(X, y, batch_size, epochs):
    """A function that trains the same model with PyTorch's idiomatic eager loop."""
    import torch

    torch.set_num_threads(THREADS)
    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def fit():
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for start in range(0, len(Xt), batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()

    return fit


def bench_torch_train(X, y, batch_size, epochs, repeats):
    fit = torch_trainer(X, y, batch_size, epochs)
    fit()
    return len(X) * epochs / best_of(fit, repeats)


def bench_torch_predict(X, repeats):
    import torch

    torch.set_num_threads(THREADS)
    model = torch_model().eval()
    row = X[:1]

    def one_row():
        with torch.inference_mode():
            return model(torch.from_numpy(row)).numpy()

    one_row()
    n = 2000
    latency = best_of(lambda: [one_row() for _ in range(n)], repeats) / n
    big = torch.from_numpy(X[:4096])

    def batch():
        with torch.inference_mode():
            return model(big).numpy()

    throughput = len(big) / best_of(batch, repeats)
    return latency, throughput


# --------------------------------------------------------------- scikit-learn
def bench_sklearn_train(X, y, batch_size, epochs, repeats):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def fit():
        clf = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], solver="adam", batch_size=batch_size,
                            max_iter=epochs, tol=0.0, n_iter_no_change=10**9, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    return len(X) * epochs / best_of(fit, repeats)


# ------------------------------------------------------------------ GEMM limit
def gemm_steps(batch_size: int, steps: int):
    """A function running the nine matrix multiplies of ``steps`` training steps, alone."""
    rng = np.random.default_rng(0)
    A = [rng.standard_normal((batch_size, n), dtype=np.float32) for n in SIZES]
    W = [rng.standard_normal((n_out, n_in), dtype=np.float32) for n_in, n_out in zip(SIZES, SIZES[1:])]
    Z = [np.empty((batch_size, n), np.float32) for n in SIZES[1:]]
    dW = [np.empty_like(w) for w in W]
    dA = [np.empty((batch_size, n), np.float32) for n in SIZES[:-1]]

    def step():
        for m in range(3):
            np.matmul(A[m], W[m].T, out=Z[m])
        for m in reversed(range(3)):
            np.matmul(Z[m].T, A[m], out=dW[m])
            if m:
                np.matmul(Z[m], W[m], out=dA[m])

    def run():
        for _ in range(steps):
            step()

    return run


def gemm_step_seconds(batch_size: int, repeats: int) -> float:
    """Time of the nine matrix multiplies of one training step, alone (float32, NumPy's BLAS)."""
    n = 20
    run = gemm_steps(batch_size, n)
    run()
    return best_of(run, repeats) / n


def square_gemm_gflops(repeats: int) -> float:
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    a @ a
    return 2 * 1024**3 / best_of(lambda: a @ a, repeats) / 1e9


# --------------------------------------------------------------- peak memory
def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_memory_child(framework: str, batch_size: int, n_samples: int) -> None:
    X, y = make_data(n_samples)
    # A few steps of a tiny network first, in each framework, so that one-time lazy
    # start-ups are not counted (PyTorch's autograd engine and thread pool; numba's
    # compiler runtime, ~115 MiB, when backprop's optional kernels load): they cost the
    # same for any model. The network is tiny so that it frees nothing the run could reuse.
    _warm_up(framework)
    fit = (backprop_trainer if framework == "backprop" else torch_trainer)(X, y, batch_size, 1)
    # The data, the libraries and the model exist; what training adds is what we compare.
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak (VmHWM) to the current RSS
    before = _rss_kib("VmRSS")
    fit()
    peak = _rss_kib("VmHWM")
    print(json.dumps({"peak_mib": (peak - before) / 1024}))


def _warm_up(framework: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 4), dtype=np.float32)
    y = rng.integers(0, 2, 16)
    if framework == "backprop":
        from backprop import nn, optim

        model = nn.Sequential(nn.Dense(4, 4, activation="relu"), nn.Dense(4, 2))
        model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters()), batch_size=4, verbose=0)
        model.predict(X)
    else:
        import torch

        torch.set_num_threads(THREADS)
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        opt = torch.optim.Adam(model.parameters())
        for start in range(0, 16, 4):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(torch.from_numpy(X[start:start + 4])),
                                              torch.from_numpy(y[start:start + 4])).backward()
            opt.step()


def peak_memory_mib(framework: str, batch_size: int, n_samples: int) -> float:
    """Growth of the peak resident memory during one epoch of training, in a fresh process (Linux)."""
    code = f"from benchmarks.mlp_speed import _peak_memory_child; _peak_memory_child({framework!r}, {batch_size}, {n_samples})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


# ------------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--json", default=str(RESULTS / "mlp_speed.json"))
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args(argv)

    n_samples = 4096 if args.quick else 16384
    repeats = 2 if args.quick else 5
    X, y = make_data(n_samples)
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "blas": blas_kernels()},
        "date": time.strftime("%Y-%m-%d"),
        "n_samples": n_samples,
        "square_sgemm_gflops": square_gemm_gflops(repeats),
        "train": {},
    }
    try:
        import torch
        results["machine"]["torch"] = torch.__version__
    except ImportError:
        torch = None

    for batch_size in BATCH_SIZES:
        epochs = EPOCHS
        steps = epochs * -(-len(X) // batch_size)
        fits = {"backprop": backprop_trainer(X, y, batch_size, epochs), "gemm": gemm_steps(batch_size, steps)}
        if torch is not None:
            fits["torch"] = torch_trainer(X, y, batch_size, epochs)
        seconds = interleaved(fits, repeats)
        row = {name: len(X) * epochs / seconds[name] for name in fits if name != "gemm"}
        if not args.skip_sklearn:
            row["sklearn"] = bench_sklearn_train(X, y, batch_size, epochs, repeats)
        row["gemm_seconds_per_step"] = seconds["gemm"] / steps
        row["gemm_share"] = seconds["gemm"] / seconds["backprop"]
        results["train"][batch_size] = row
        print(f"batch {batch_size}: " + ", ".join(f"{k} {v:,.3g}" for k, v in row.items()), file=sys.stderr)

    latency, throughput = bench_backprop_predict(X, repeats)
    results["predict"] = {"backprop": {"one_row_seconds": latency, "batch4096_rows_per_s": throughput}}
    if torch is not None:
        t_latency, t_throughput = bench_torch_predict(X, repeats)
        results["predict"]["torch"] = {"one_row_seconds": t_latency, "batch4096_rows_per_s": t_throughput}
        results["peak_memory_mib"] = {
            "backprop": peak_memory_mib("backprop", 128, n_samples),
            "torch": peak_memory_mib("torch", 128, n_samples),
        }

    print(format_table(results))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def format_table(results: dict) -> str:
    lines = [
        f"{results['date']}, {results['machine']['platform']}, {results['machine']['cpus']} CPUs, "
        f"numpy {results['machine']['numpy']}, torch {results['machine'].get('torch', 'absent')}, "
        f"square SGEMM {results['square_sgemm_gflops']:.0f} GFLOP/s, {describe(results['machine'].get('blas'))}",
        "",
        "| measure | backprop | PyTorch | scikit-learn | backprop / PyTorch | backprop / sklearn | share of GEMM limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for batch_size, row in results["train"].items():
        bp_, th, sk = row["backprop"], row.get("torch"), row.get("sklearn")
        lines.append(
            f"| train, batch {batch_size} (samples/s) | {bp_:,.0f} | {th:,.0f} | "
            f"{'' if sk is None else f'{sk:,.0f}'} | {bp_ / th:.2f}× | "
            f"{'' if sk is None else f'{bp_ / sk:.2f}×'} | {row['gemm_share']:.0%} |"
            if th else f"| train, batch {batch_size} | {bp_:,.0f} | | | | | {row['gemm_share']:.0%} |"
        )
    p = results["predict"]
    if "torch" in p:
        lines.append(
            f"| predict one row (µs) | {p['backprop']['one_row_seconds'] * 1e6:.1f} | "
            f"{p['torch']['one_row_seconds'] * 1e6:.1f} | | "
            f"{p['torch']['one_row_seconds'] / p['backprop']['one_row_seconds']:.2f}× faster | | |"
        )
        lines.append(
            f"| predict batch 4096 (rows/s) | {p['backprop']['batch4096_rows_per_s']:,.0f} | "
            f"{p['torch']['batch4096_rows_per_s']:,.0f} | | "
            f"{p['backprop']['batch4096_rows_per_s'] / p['torch']['batch4096_rows_per_s']:.2f}× | | |"
        )
        m = results["peak_memory_mib"]
        lines.append(f"| peak memory added by training, batch 128 (MiB) | {m['backprop']:.1f} | {m['torch']:.1f} | | "
                     f"{m['torch'] / max(m['backprop'], 1e-9):.2f}× less | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
