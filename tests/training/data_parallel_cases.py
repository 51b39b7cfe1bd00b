"""The training runs the data-parallel tests compare, run by ``mpiexec -n K python data_parallel_cases.py OUT``.

Each case builds its model and data from fixed seeds, so that the test (one process,
``distributed=False``) and every rank (``distributed=True``) train the same thing; each
rank writes ``OUT/<case>-rank<r>.npz`` with its final weights and its history.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

import backprop as bp
from backprop import nn
from backprop.training import Trainer


def _data(n, n_features=6, n_classes=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, y % n_classes


def _mlp(dtype, batch_norm=False, dropout=False):
    bp.manual_seed(0)
    layers = [nn.Dense(6, 16, activation="tanh", dtype=dtype)]
    if batch_norm:
        layers.append(nn.BatchNorm(16, dtype=dtype))
    if dropout:
        layers.append(nn.Dropout(0.3))
    layers.append(nn.Dense(16, 3, dtype=dtype))
    return nn.Sequential(*layers)


def case_adam_uneven(distributed, workdir):
    """float64, Adam, 203 rows in batches of 32 (the last of 11: shares of 5 and 6), metrics, validation."""
    X, y = _data(203)
    model = _mlp("float64")
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=3, batch_size=32, seed=0,
                        metrics=["accuracy"], validation_split=0.2, verbose=0, distributed=distributed)
    return model, history


def case_batch_norm(distributed, workdir):
    """float64, BatchNorm between Dense layers: statistics over the whole batch (33 rows: 16 + 17)."""
    X, y = _data(99)
    model = _mlp("float64", batch_norm=True)
    history = model.fit(X, y, loss="cross_entropy", optimizer="sgd", epochs=2, batch_size=33, seed=0,
                        verbose=0, distributed=distributed)
    return model, history


def case_empty_share(distributed, workdir):
    """97 rows in batches of 32: the last batch has 1 row, so one rank's share is empty."""
    X, y = _data(97)
    model = _mlp("float64")
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=32, seed=0,
                        metrics=["accuracy"], verbose=0, distributed=distributed)
    return model, history


def case_weights(distributed, workdir):
    """Sample weights: one rank's share of batch 0 weighs 0, batch 1 weighs 0 on every rank (no step)."""
    X, y = _data(96)
    w = np.linspace(0.5, 2.0, 96)
    w[16:32] = 0.0
    w[32:64] = 0.0
    model = _mlp("float64")
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=32, shuffle=False,
                        sample_weight=w, metrics=["accuracy"], verbose=0, distributed=distributed)
    return model, history


def case_class_weight(distributed, workdir):
    """class_weight="balanced" times sample weights: the weights of the whole training set (after
    validation_split), then each rank's share of a batch, so 2 ranks weigh rows as one process."""
    X, y = _data(150)
    w = np.linspace(0.5, 2.0, 150)
    model = _mlp("float64")
    history = model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=25, seed=0,
                        sample_weight=w, class_weight="balanced", validation_split=0.2, metrics=["accuracy"],
                        verbose=0, distributed=distributed)
    return model, history


def case_dropout(distributed, workdir):
    """Dropout: each rank draws its own masks (not one process's), the ranks still agree bit for bit."""
    X, y = _data(128)
    model = _mlp("float64", dropout=True)
    history = model.fit(X, y, loss="cross_entropy", epochs=4, batch_size=32, seed=0, verbose=0,
                        distributed=distributed)
    return model, history


def case_different_optimiser(distributed, workdir):
    """Each rank given another learning rate (a mistake): the weights drift apart, which the epoch's check reports."""
    from backprop import distributed as job

    X, y = _data(64)
    model = _mlp("float64")
    optimizer = bp.optim.SGD(model.parameters(), lr=0.1 * (1 + (job.rank() if distributed else 0)))
    history = model.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=1, batch_size=32, seed=0,
                        verbose=0, distributed=distributed)
    return model, history


#: Cases whose ranks draw random numbers one process would draw otherwise: compared between ranks only.
RANDOM_PER_RANK = {"dropout"}
#: Cases that must fail on every rank with an error: the error's type name.
FAILING = {"different_optimiser": "OutOfSyncError"}


def case_engine(distributed, workdir):
    """The general engine instead of the fast path, with a weight penalty (counted once)."""
    X, y = _data(90)
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(6, 8, activation="relu", weight_regularizer=bp.regularizers.L2(0.01),
                                   dtype="float64"), nn.Dense(8, 3, dtype="float64"))
    trainer = Trainer(model, loss="cross_entropy", optimizer="adam", batch_size=20, verbose=0, fast_path=False,
                      distributed=distributed)
    history = trainer.fit(X, y, epochs=2, seed=0)
    return model, history


def case_float32(distributed, workdir):
    """The default float32, five epochs: the same trajectory to float32 rounding."""
    X, y = _data(256)
    model = _mlp(None)
    history = model.fit(X.astype(np.float32), y, loss="cross_entropy", epochs=5, batch_size=64, seed=0,
                        verbose=0, distributed=distributed)
    return model, history


def case_resume(distributed, workdir):
    """Two epochs with a checkpoint, then a new run resumed to four; CSVLogger written by rank 0 only."""
    X, y = _data(128)
    tag = "dp" if distributed else "single"
    checkpoint = os.path.join(workdir, f"resume-{tag}.ckpt")
    log = os.path.join(workdir, f"resume-{tag}.csv")
    for epochs in (2, 4):
        model = _mlp("float64")
        history = model.fit(X, y, loss="cross_entropy", epochs=epochs, batch_size=32, seed=0, verbose=0,
                            checkpoint=checkpoint, callbacks=[bp.callbacks.CSVLogger(log, append=True)],
                            distributed=distributed)
    return model, history


CASES = {name[len("case_"):]: function for name, function in sorted(globals().items()) if name.startswith("case_")}


def weights_of(model) -> np.ndarray:
    return np.concatenate([p.data.reshape(-1).astype(np.float64) for p in model.parameters()])


def main(out: str, names) -> None:
    from backprop import distributed

    rank = distributed.rank()
    for name in names:
        if name in FAILING:
            try:
                CASES[name](True, out)
            except Exception as error:  # noqa: BLE001 (recorded for the test to check)
                Path(out, f"{name}-rank{rank}.error").write_text(f"{type(error).__name__}: {error}")
            continue
        model, history = CASES[name](True, out)
        np.savez(os.path.join(out, f"{name}-rank{rank}.npz"), weights=weights_of(model),
                 history=json.dumps(history.history), world=distributed.world_size(),
                 raw=np.concatenate([np.ascontiguousarray(p.data).view(np.uint8).reshape(-1)
                                     for p in model.parameters()]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or sorted(CASES))
