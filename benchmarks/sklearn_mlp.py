"""backprop.sklearn's MLPs against scikit-learn's: test accuracy and fit time, same data and parameters.

Cases:

* digits (1797 × 64, 10 classes) and ``make_classification`` (20000 × 50, 4 classes),
  hidden layers (256, 128), adam and sgd at batch_size=128, a fixed number of epochs
  (``n_iter_no_change=inf``, so both run exactly ``max_iter`` epochs);
* L-BFGS on small data (breast cancer, digits), hidden (64,), ``max_iter`` iterations.

Both estimators get the same scaled split, the same parameters and random_state, and
run in the same process with the same BLAS thread count (``--threads``, default 2),
alternating, best of ``--repeats`` fits each. Each case runs twice: on float64 data (both
estimators then train in float64, backprop step for step as scikit-learn) and on the same
data cast to float32 (both train in float32, as each does for float32 input).

``--clock cpu`` times each fit by the process's CPU time instead of the wall clock: on a
machine shared with other work (time spent waiting for a core is then not counted) with
``--threads 1``, it measures the work each estimator does.

Usage:
    python benchmarks/sklearn_mlp.py [--quick] [--repeats N] [--threads N] [--clock wall|cpu] [--json PATH]

Prints a markdown table and writes JSON to benchmarks/results/sklearn_mlp.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout


def load_data(name: str):
    """Scaled train/test split of a dataset."""
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "synthetic":
        X, y = make_classification(n_samples=20000, n_features=50, n_informative=30, n_classes=4,
                                   random_state=0)
    else:
        raise ValueError(name)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def cases(quick: bool) -> list:
    epochs = 3 if quick else 20
    stochastic = dict(hidden_layer_sizes=(256, 128), batch_size=128, max_iter=epochs, n_iter_no_change=np.inf)
    lbfgs = dict(solver="lbfgs", hidden_layer_sizes=(64,), max_iter=50 if quick else 200)
    return [
        ("digits", dict(solver="adam", **stochastic)),
        ("digits", dict(solver="sgd", learning_rate_init=0.01, **stochastic)),
        ("synthetic", dict(solver="adam", **stochastic)),
        ("synthetic", dict(solver="sgd", learning_rate_init=0.01, **stochastic)),
        ("breast_cancer", lbfgs),
        ("digits", lbfgs),
    ]


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def time_fit(Estimator, params, X, y):
    from sklearn.exceptions import ConvergenceWarning

    estimator = Estimator(random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = clock()
        estimator.fit(X, y)
        seconds = clock() - start
    return estimator, seconds


DTYPES = ("float64", "float32")


def run_case(data, params, repeats: int) -> dict:
    from sklearn.neural_network import MLPClassifier as SkMLP

    from backprop.sklearn import MLPClassifier as BpMLP

    for dtype in DTYPES:  # compile the kernels outside the timing
        time_fit(BpMLP, {**params, "max_iter": 1}, data[0][:256].astype(dtype), data[2][:256])
    X_train, X_test, y_train, y_test = data
    result = {"params": {k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v) for k, v in params.items()},
              "n_train": int(X_train.shape[0]), "n_features": int(X_train.shape[1])}
    for dtype in DTYPES:
        X_fit, X_score = X_train.astype(dtype), X_test.astype(dtype)
        times = {"sklearn": [], "backprop": []}
        fitted = {}
        for _ in range(repeats):  # alternate, so that a busy moment hurts both
            for name, Estimator in (("sklearn", SkMLP), ("backprop", BpMLP)):
                fitted[name], seconds = time_fit(Estimator, params, X_fit, y_train)
                times[name].append(seconds)
        entry = {}
        for name, estimator in fitted.items():
            if name == "backprop":  # (scikit-learn's L-BFGS returns float64 weights for float32 data)
                assert estimator.coefs_[0].dtype == np.dtype(dtype)
            entry[name] = {
                "accuracy": float(estimator.score(X_score, y_test)),
                "fit_seconds": min(times[name]),
                "fit_seconds_all": times[name],
                "n_iter": int(estimator.n_iter_),
                "final_loss": float(estimator.loss_),
            }
        entry["speedup"] = entry["sklearn"]["fit_seconds"] / entry["backprop"]["fit_seconds"]
        result[dtype] = entry
    return result


def markdown(rows) -> str:
    """One row per case and dtype; the float32 row also gives backprop's float32 time against
    scikit-learn's float64 fit (what ``dtype="float32"`` gains a user whose data are float64)."""
    lines = [
        "| data | solver | batch | dtype | iters (sk / bp) | accuracy sklearn | accuracy backprop "
        "| fit s sklearn | fit s backprop | speed-up | vs sklearn float64 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        params = row["params"]
        batch = params.get("batch_size", "full")
        for dtype in DTYPES:
            entry = row[dtype]
            sk, bp = entry["sklearn"], entry["backprop"]
            against_float64 = row["float64"]["sklearn"]["fit_seconds"] / bp["fit_seconds"]
            lines.append(
                f"| {row['data']} ({row['n_train']}×{row['n_features']}) | {params['solver']} | {batch} | {dtype} "
                f"| {sk['n_iter']} / {bp['n_iter']} | {sk['accuracy']:.4f} | {bp['accuracy']:.4f} "
                f"| {sk['fit_seconds']:.2f} | {bp['fit_seconds']:.2f} | {entry['speedup']:.2f}× "
                f"| {against_float64:.2f}× |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs/iterations: a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="fits per estimator and case (best is kept)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads for both")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="time fits by the wall clock or by the process's CPU time")
    parser.add_argument("--json", default=str(RESULTS / "sklearn_mlp.json"))
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]

    import sklearn
    from threadpoolctl import threadpool_limits

    load_at_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows, datasets = [], {}
    with threadpool_limits(limits=args.threads):
        for name, params in cases(args.quick):
            if name not in datasets:
                datasets[name] = load_data(name)
            row = {"data": name, **run_case(datasets[name], params, args.repeats)}
            rows.append(row)
            print(f"done: {name} {params['solver']} speed-up float64 {row['float64']['speedup']:.2f}×, "
                  f"float32 {row['float32']['speedup']:.2f}×", file=sys.stderr)

    table = markdown(rows)
    print(table)
    info = {
        "python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "blas_threads": args.threads, "repeats": args.repeats, "quick": args.quick, "clock": args.clock,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"info": info, "cases": rows, "markdown": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
