"""Training and prediction speed of two conv networks, backprop's ``fit`` beside PyTorch eager.

* **LeNet-5** style on 1×28×28 images (MNIST's shape, labels from a random teacher):
  conv 6@5×5 pad 2 → ReLU → max pool 2 → conv 16@5×5 → ReLU → max pool 2 → Flatten →
  120 → 84 → 10 (ReLU), softmax cross-entropy, Adam;
* **the notes' ball classifier** on 3×64×64 images (:func:`backprop.datasets.make_ball_images`),
  the network of ``tests/datasets/test_ball_images.py``: conv 8@5×5 stride 2 → ReLU →
  max pool 2 → conv 8@3×3 → ReLU → max pool 13 (global) → Flatten → 2.

Both train at batch 32 and 128 (one epoch per timed run, the two frameworks in turns, the
best of several kept) and predict in batches of 256, in one process on the same data, with
PyTorch (optional: the table has only backprop's column without it) on as many threads as
NumPy's BLAS. Then a profile: cProfile over one epoch of backprop's training steps at batch 32
for each network, the top entries and the share of the time in im2col, the GEMMs, col2im and
pooling.

Usage:
    python -m benchmarks.conv [--quick] [--json PATH]

Writes a markdown table to stdout and JSON to benchmarks/results/conv.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.blas import blas_kernels, describe
from benchmarks.timing import interleaved

BATCH_SIZES = (32, 128)
PREDICT_BATCH = 256
RESULTS = Path(__file__).parent / "results"
# PyTorch gets as many threads as OpenBLAS uses: the value it reads from the environment,
# else one per core (OpenBLAS's default).
THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


# ------------------------------------------------------------------ data
def lenet_data(n: int, seed: int = 0):
    """1×28×28 images of noise, each labelled by a random linear teacher: learnable, MNIST's shape."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 28, 28), dtype=np.float32)
    teacher = rng.standard_normal((28 * 28, 10)).astype(np.float32) / 28
    return X, np.argmax(X.reshape(n, -1) @ teacher, axis=1).astype(np.int64)


def ball_data(n: int, seed: int = 0):
    from backprop.datasets import make_ball_images

    return make_ball_images(n, seed=seed)


# ------------------------------------------------------------------ networks
def backprop_lenet():
    from backprop import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, activation="relu"), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, activation="relu"), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dense(16 * 5 * 5, 120, activation="relu"), nn.Dense(120, 84, activation="relu"), nn.Dense(84, 10),
    )


def backprop_balls():
    from backprop import nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2, activation="relu"), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, activation="relu"), nn.MaxPool2d(13),
        nn.Flatten(), nn.Dense(8, 2),
    )


def torch_lenet():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def torch_balls():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(13),
        nn.Flatten(), nn.Linear(8, 2),
    )


TASKS = {
    "LeNet-5, 1×28×28": {"data": lenet_data, "backprop": backprop_lenet, "torch": torch_lenet},
    "balls, 3×64×64": {"data": ball_data, "backprop": backprop_balls, "torch": torch_balls},
}


# ------------------------------------------------------------------ runners
def backprop_trainer(build, X, y, batch_size):
    """A function that trains backprop's network for one more epoch with ``fit``, and the network."""
    import backprop as bp

    bp.manual_seed(0)
    model = build()
    opt = bp.optim.Adam(model.parameters(), lr=1e-3)
    fit = lambda: model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1,  # noqa: E731
                            batch_size=batch_size, shuffle=True, verbose=0)
    return fit, model


def torch_trainer(build, X, y, batch_size):
    """The same network in PyTorch's idiomatic eager loop."""
    import torch

    torch.manual_seed(0)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def fit():
        order = torch.randperm(len(Xt))
        for start in range(0, len(Xt), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()

    return fit


def backprop_predictor(build, X, y):
    fit, model = backprop_trainer(build, X[:PREDICT_BATCH], y[:PREDICT_BATCH], 32)
    fit()  # predict needs a fitted model; its weights do not change the time
    return lambda: model.predict(X, batch_size=PREDICT_BATCH)


def torch_predictor(build, X):
    import torch

    torch.manual_seed(0)
    model = build().eval()
    Xt = torch.from_numpy(X)

    def predict():
        with torch.inference_mode():
            return np.concatenate([model(Xt[i:i + PREDICT_BATCH]).numpy() for i in range(0, len(Xt), PREDICT_BATCH)])

    return predict


# ------------------------------------------------------------------ profile
# Where the time of a step goes, by the function that spends it (its own time, not its
# callees'): the conv ops' helpers are separate functions so that the profile can say it.
# cProfile sees the calling thread only: the parts of the direct conv that worker threads
# run show as the caller's wait for them ("everything else").
CATEGORIES = {
    "direct conv (the caller's parts)": ("_direct_conv_kernel", "_direct_weight_grad_kernel", "delta_chunk"),
    "im2col": ("gather", "__init__", "_phase_planes", "_phase_split_kernel", "_windows", "_runs", "_padded",
               "_tap_groups"),
    "GEMM (+ bias, layout)": ("_conv2d_arrays", "_conv2d_backward", "_crop_kernel", "_input_gradient_as_convolution",
                              "W_cols", "W_grad"),
    "col2im": ("col2im", "_add_runs_kernel", "_scatter_windows", "_cropped", "_unphased"),
    "pooling": ("_max_pool_forward", "_max_pool_backward", "_max_pool_kernel", "_max_pool_backward_kernel",
                "_max_pool_2x2_kernel", "_single_window_max",
                "_max_pool", "_avg_pool"),
}


def profile_steps(build, X, y, batch_size: int, top: int = 15) -> dict:
    """cProfile of one epoch of ``fit``: the top entries per step and the time by category."""
    fit, _ = backprop_trainer(build, X, y, batch_size)
    fit()  # warm-up: compiled kernels, buffers
    profiler = cProfile.Profile()
    profiler.enable()
    fit()
    profiler.disable()
    steps = -(-len(X) // batch_size)
    stats = pstats.Stats(profiler)
    total = sum(entry[2] for entry in stats.stats.values())  # Σ own time = the profiled time
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    conv_file = os.path.join("engine", "ops", "conv.py")
    for (filename, _, name), entry in stats.stats.items():
        for category, names in CATEGORIES.items():
            if filename.endswith(conv_file) and name in names:
                by_category[category] += entry[2]
    by_category["everything else"] = total - sum(by_category.values())
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return {
        "batch_size": batch_size,
        "steps": steps,
        "ms_per_step": 1e3 * total / steps,
        "share": {k: v / total for k, v in by_category.items()},
        "top": _top_lines(text.getvalue(), top),
    }


def _top_lines(report: str, top: int) -> list:
    lines = report.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            return [line.rstrip() for line in lines[i:i + top + 1]]
    return lines[-top:]


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--json", default=str(RESULTS / "conv.json"))
    args = parser.parse_args(argv)

    n_samples = 512 if args.quick else 2048
    repeats = 2 if args.quick else 5
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        torch = None
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__, "threads": THREADS,
                    "torch": None if torch is None else torch.__version__, "blas": blas_kernels()},
        "date": time.strftime("%Y-%m-%d"),
        "n_samples": n_samples,
        "tasks": {},
    }
    for task, parts in TASKS.items():
        X, y = parts["data"](n_samples)
        rows = {}
        for batch_size in BATCH_SIZES:
            runs = {"backprop": backprop_trainer(parts["backprop"], X, y, batch_size)[0]}
            if torch is not None:
                runs["torch"] = torch_trainer(parts["torch"], X, y, batch_size)
            seconds = interleaved(runs, repeats)
            rows[f"train, batch {batch_size}"] = {name: len(X) / s for name, s in seconds.items()}
        runs = {"backprop": backprop_predictor(parts["backprop"], X, y)}
        if torch is not None:
            runs["torch"] = torch_predictor(parts["torch"], X)
        seconds = interleaved(runs, repeats)
        rows[f"predict, batches of {PREDICT_BATCH}"] = {name: len(X) / s for name, s in seconds.items()}
        results["tasks"][task] = rows
        for measure, row in rows.items():
            print(f"{task}, {measure}: " + ", ".join(f"{k} {v:,.0f}/s" for k, v in row.items()), file=sys.stderr)

    results["profile"] = {}
    for task, parts in TASKS.items():
        X, y = parts["data"](n_samples)
        results["profile"][task] = profile_steps(parts["backprop"], X, y, batch_size=32)

    print(format_table(results))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def format_table(results: dict) -> str:
    machine = results["machine"]
    lines = [
        f"{results['date']}, {machine['platform']}, {machine['cpus']} CPUs, {machine['threads']} threads, "
        f"numpy {machine['numpy']} ({describe(machine.get('blas'))}), torch {machine['torch'] or 'absent'}, "
        f"{results['n_samples']} samples",
        "",
        "| network | measure | backprop (samples/s) | PyTorch (samples/s) | backprop / PyTorch |",
        "|---|---|---|---|---|",
    ]
    for task, rows in results["tasks"].items():
        for measure, row in rows.items():
            th = row.get("torch")
            lines.append(f"| {task} | {measure} | {row['backprop']:,.0f} | "
                         + (f"{th:,.0f} | {row['backprop'] / th:.2f}× |" if th else " | |"))
    profiles = results["profile"]
    first = next(iter(profiles.values()))
    lines += [
        "",
        f"Profile (cProfile over one epoch of fit, batch {first['batch_size']}; ms per step under the profiler, "
        "and the share of a step spent in each function's own code):",
        "",
        "| where | " + " | ".join(profiles) + " |",
        "|---|" + "---|" * len(profiles),
        "| ms per step | " + " | ".join(f"{p['ms_per_step']:.2f}" for p in profiles.values()) + " |",
        *(f"| {name} | " + " | ".join(f"{p['share'][name]:.0%}" for p in profiles.values()) + " |"
          for name in first["share"]),
    ]
    for task, p in profiles.items():
        lines += ["", f"{task}, {p['steps']} steps, top entries by own time:", "", "```", *p["top"], "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
