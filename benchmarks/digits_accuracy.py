"""Test accuracy on the bundled 8×8 digits: backprop, PyTorch and scikit-learn, same network and settings.

A 64-128-64-10 ReLU MLP, softmax cross-entropy, Adam (lr 1e-3), batch 32, 20 epochs, no
weight penalty, on the same standardised 75/25 split, for several seeds. The issue's test
(``tests/training``) asserts backprop's ≥ 97%; this shows the other two libraries reach the
same with the same recipe.

Usage:
    python -m benchmarks.digits_accuracy [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

EPOCHS, BATCH, LR, HIDDEN = 20, 32, 1e-3, (128, 64)
RESULTS = Path(__file__).parent / "results"


def split(seed: int):
    from backprop.datasets import load_digits

    data = load_digits()
    X, y = data.X.astype(np.float32), data.y
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(0.75 * len(X))
    train, test = order[:cut], order[cut:]
    mean, std = X[train].mean(0), X[train].std(0) + 1e-8
    return (X[train] - mean) / std, y[train], (X[test] - mean) / std, y[test]


def backprop_accuracy(seed, X, y, X_test, y_test) -> float:
    import backprop as bp
    from backprop import nn

    bp.manual_seed(seed)
    sizes = (X.shape[1],) + HIDDEN
    layers = [nn.Dense(a, b, activation="relu") for a, b in zip(sizes, sizes[1:])] + [nn.Dense(sizes[-1], 10)]
    model = nn.Sequential(*layers)
    model.fit(X, y, loss="cross_entropy", optimizer=bp.optim.Adam(model.parameters(), lr=LR),
              epochs=EPOCHS, batch_size=BATCH, seed=seed, verbose=0)
    return float((model.predict_classes(X_test) == y_test).mean())


def torch_accuracy(seed, X, y, X_test, y_test) -> float:
    import torch

    torch.manual_seed(seed)
    sizes = (X.shape[1],) + HIDDEN
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(EPOCHS):
        order = torch.randperm(len(Xt))
        for start in range(0, len(Xt), BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()
    with torch.no_grad():
        return float((model(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())


def sklearn_accuracy(seed, X, y, X_test, y_test) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="adam", learning_rate_init=LR, batch_size=BATCH,
                        max_iter=EPOCHS, alpha=0.0, tol=0.0, n_iter_no_change=10**9, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return float(clf.score(X_test, y_test))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    runners = {"backprop": backprop_accuracy, "PyTorch": torch_accuracy, "scikit-learn": sklearn_accuracy}
    scores = {name: [] for name in runners}
    for seed in range(args.seeds):
        data = split(seed)
        for name, run in runners.items():
            scores[name].append(run(seed, *data))
    print(f"digits, 64-128-64-10 ReLU, Adam lr {LR}, batch {BATCH}, {EPOCHS} epochs, {args.seeds} seeds")
    print("| library | mean test accuracy | min | max |")
    print("|---|---|---|---|")
    for name, values in scores.items():
        print(f"| {name} | {np.mean(values):.4f} | {np.min(values):.4f} | {np.max(values):.4f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "digits_accuracy.json").write_text(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
