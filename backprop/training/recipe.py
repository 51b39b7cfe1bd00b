"""The training recipe's first step: overfit a single batch.

The notes (after Karpathy's "A recipe for training neural networks") say: before
regularising or tuning, make sure the model *can* fit the data — train on one
small batch until the loss is about 0. If it cannot, something is wrong (the
loss, the labels, the learning rate, a bug in a layer) and more data will not
help. Turn off regularisation (penalties, dropout) for this check: they keep the
loss above 0 on purpose.

Example::

    losses = overfit_batch(model, X, y, loss="cross_entropy", steps=300)
    assert losses[-1] < 1e-2, "the model cannot fit 8 examples: look for a bug first"
"""

from __future__ import annotations

import numpy as np

from backprop import random as bp_random
from backprop.checks import check_positive_int
from backprop.optim import get_optimizer
from backprop.training.loop import Trainer

__all__ = ["overfit_batch"]


def overfit_batch(model, X, y, *, loss, optimizer="adam", lr: float | None = None, steps: int = 200,
                  batch_size: int = 8, seed: int | None = None) -> np.ndarray:
    """Train ``model`` repeatedly on the first ``batch_size`` examples of (X, y).

    Every step is the same full-batch gradient step of ``fit`` (same validation,
    label encoding and cost = loss + penalty), on the same batch.

    Args:
        model: the model to train (it is modified).
        X, y: data; only the first ``batch_size`` rows are used.
        loss, optimizer: as for ``fit`` (an optimiser name gets its defaults).
        lr: the learning rate for an optimiser given by name (default: its default).
        steps: number of optimiser steps.
        batch_size: examples in the batch.
        seed: ``backprop.random.manual_seed(seed)`` first (dropout masks).

    Returns:
        The batch's cost at each step, an array of length ``steps`` (step t's cost is
        computed by its forward pass, before its update).
    """

    steps = check_positive_int(steps, "steps", "overfit_batch")
    batch_size = check_positive_int(batch_size, "batch_size", "overfit_batch")
    if lr is not None:
        optimizer = get_optimizer(optimizer, model.parameters(), lr=lr)
    trainer = Trainer(model, loss=loss, optimizer=optimizer, verbose=0, batch_size=None)
    data = trainer.prepare(X, y)
    batch = data.take(0, int(batch_size))
    if seed is not None:
        bp_random.manual_seed(seed)
    trainer.record_fit(batch)
    model.train()
    losses = np.empty(int(steps))
    for step in range(int(steps)):
        losses[step] = trainer._train_step(batch.X, batch.target, batch.weight)
    return losses
