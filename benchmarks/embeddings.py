"""One-hot encoding against embeddings, on a table with a 2000-category column (``bp.datasets.make_shops``).

The same network after the encoding (a hidden ReLU layer of 32 units, one logit), the same
recipe (Adam lr 3e-3, batch 128, early stopping on the last 15% of the training rows with
patience 2, best weights restored), an 80/20 split, for several seeds:

* ``one-hot``: the shop as 2000 0/1 columns beside the 4 numeric ones, into Dense(2004, 32);
* ``embedding D``: ``nn.Concat({"shop": nn.Embedding(2000, D), "numeric": nn.Identity()})``
  into Dense(D + 4, 32), for D = 8 and D = fastai's rule (50 for 2000 categories);
* ``numeric only``: the shop left out (what knowing the shop is worth).

Reported: test accuracy (mean and range over seeds), parameters and their bytes, the bytes
of the input fit receives, the peak memory traced (tracemalloc) while encoding the inputs
and fitting, and the fit time.

Usage:
    python -m benchmarks.embeddings [--seeds 3] [--rows 20000] [--shops 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
HIDDEN, LR, BATCH, EPOCHS = 32, 3e-3, 128, 40


def _encoders(n_shops: int) -> dict:
    """``{name: (encode(codes, numeric) -> X, build() -> model)}``."""
    from backprop import nn
    from backprop.layers.embedding import embedding_dim_rule

    def one_hot(codes, numeric):
        X = np.zeros((len(codes), n_shops + numeric.shape[1]), np.float32)
        X[np.arange(len(codes)), codes] = 1.0
        X[:, n_shops:] = numeric
        return X

    def branches(codes, numeric):
        return {"shop": codes, "numeric": numeric}

    def embedded(dim):
        # Small initial vectors (Keras's default embedding initialiser is U(−0.05, 0.05)): N(0, 1), PyTorch's,
        # gives every rarely seen shop a large random offset that ten visits do not wash out.
        return lambda: nn.Sequential(
            nn.Concat({"shop": nn.Embedding(n_shops, dim, weight_init={"name": "normal", "std": 0.05}),
                       "numeric": nn.Identity()}),
            nn.Dense(dim + 4, HIDDEN, activation="relu"), nn.Dense(HIDDEN, 1))

    auto = embedding_dim_rule(n_shops)
    return {
        "one-hot": (one_hot, lambda: nn.Sequential(nn.Dense(n_shops + 4, HIDDEN, activation="relu"), nn.Dense(HIDDEN, 1))),
        "embedding D=8": (branches, embedded(8)),
        f"embedding D={auto} (fastai rule)": (branches, embedded(auto)),
        "numeric only": (lambda codes, numeric: numeric,
                         lambda: nn.Sequential(nn.Dense(4, HIDDEN, activation="relu"), nn.Dense(HIDDEN, 1))),
    }


def _nbytes(X) -> int:
    return sum(a.nbytes for a in X.values()) if isinstance(X, dict) else X.nbytes


def run_one(name, encode, build, data, seed: int) -> dict:
    """Encode, fit and score one encoding on one seed's data."""
    import backprop as bp

    codes, numeric, y = data
    cut = int(0.8 * len(y))
    bp.manual_seed(seed)
    model = build()
    tracemalloc.start()
    try:
        X_train = encode(codes[:cut], numeric[:cut])
        start = time.perf_counter()
        model.fit(X_train, y[:cut], loss="binary_cross_entropy_with_logits",
                  optimizer=bp.optim.Adam(model.parameters(), lr=LR), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                  seed=seed, validation_split=0.15,
                  callbacks=[bp.callbacks.EarlyStopping(patience=2, restore_best_weights=True)])
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    accuracy = float((model.predict_classes(encode(codes[cut:], numeric[cut:])) == y[cut:]).mean())
    return {"encoding": name, "seed": seed, "accuracy": accuracy, "parameters": model.num_parameters(),
            "parameter_bytes": sum(p.data.nbytes for p in model.parameters()), "input_bytes": _nbytes(X_train),
            "peak_bytes": peak, "fit_seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--shops", type=int, default=2000)
    args = parser.parse_args(argv)
    from backprop.datasets import make_shops

    runs = []
    for seed in range(args.seeds):
        table = make_shops(n_samples=args.rows, n_shops=args.shops, seed=seed)
        data = (table.X[:, 0].astype(np.int64), np.ascontiguousarray(table.X[:, 1:]), table.y)
        for name, (encode, build) in _encoders(args.shops).items():
            runs.append(run_one(name, encode, build, data, seed))
    print(f"\n{args.rows} rows, {args.shops} shops, {args.seeds} seeds (accuracy: mean [min, max] on the 20% test rows)\n")
    print("| encoding | test accuracy | parameters | parameter bytes | input bytes | peak traced memory | fit time |")
    print("|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r["encoding"] for r in runs):
        rows = [r for r in runs if r["encoding"] == name]
        acc = [r["accuracy"] for r in rows]
        print(f"| {name} | {np.mean(acc):.4f} [{min(acc):.4f}, {max(acc):.4f}] | {rows[0]['parameters']:,} | "
              f"{rows[0]['parameter_bytes'] / 2**10:,.0f} KiB | {rows[0]['input_bytes'] / 2**20:,.2f} MiB | "
              f"{np.mean([r['peak_bytes'] for r in rows]) / 2**20:,.1f} MiB | "
              f"{np.mean([r['fit_seconds'] for r in rows]):.2f} s |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "embeddings.json").write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
