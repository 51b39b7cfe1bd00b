"""The training recipe of the notes (after Karpathy's "A recipe for training neural networks").

1. **Overfit one batch.** A fresh model must drive the loss on a handful of
   examples to about 0. If it cannot, something is broken (loss, labels,
   learning rate, a layer) and no amount of data will help.
2. **Train with validation.** A second fresh model trains on the training part
   and is evaluated on held-out data after every epoch.
3. **Read the gap.** Training and validation loss (and accuracy) at the end:
   a validation loss well above the training loss means the model overfits
   (regularise: an L2 weight penalty, dropout, early stopping); a training loss
   that stays high means it underfits (more capacity, longer training, a better
   learning rate).

Example:
    >>> from backprop import nn                                       # doctest: +SKIP
    >>> from backprop.diagnostics.recipe import recipe
    >>> def make():
    ...     return nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    >>> result = recipe(make, X, y, loss="cross_entropy", epochs=30, seed=0)
    >>> print(result.report())
    >>> result.diagnosis          # "overfitting", "underfitting", "good fit" or "cannot fit a batch"
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from backprop.training.recipe import overfit_batch

__all__ = ["recipe", "run", "RecipeResult", "overfit_batch"]


@dataclass
class RecipeResult:
    """What :func:`recipe` found; ``print(result.report())`` explains it.

    Attributes:
        overfit_losses: the batch's loss at each step of step 1.
        overfit_passed: whether step 1 drove the loss to about 0.
        history: the ``History.history`` dict of step 2 (empty when step 1 failed).
        train_loss, val_loss: loss on the training and validation data at the end of
            step 2, both in evaluation mode (no dropout).
        train_accuracy, val_accuracy: the same for accuracy (classification), else None.
        best_epoch: the epoch (from 1) with the lowest validation loss: where early
            stopping would have stopped.
        diagnosis: ``"cannot fit a batch"``, ``"overfitting"``, ``"underfitting"``,
            ``"good fit"`` or ``"diverged"``.
        suggestions: what to try next, one sentence each.
        model: the model trained in step 2 (None when step 1 failed).
        monitor: the :class:`GradientMonitor` of step 2 (its warnings are part of the report).
    """

    loss_name: str
    overfit_losses: np.ndarray
    overfit_passed: bool
    overfit_batch_size: int
    history: dict = field(default_factory=dict)
    train_loss: Optional[float] = None
    val_loss: Optional[float] = None
    train_accuracy: Optional[float] = None
    val_accuracy: Optional[float] = None
    best_epoch: Optional[int] = None
    diagnosis: str = ""
    suggestions: list = field(default_factory=list)
    model: object = None
    monitor: object = None
    n_train: int = 0
    n_val: int = 0

    @property
    def overfit_start(self) -> float:
        return float(self.overfit_losses[0])

    @property
    def overfit_end(self) -> float:
        return float(self.overfit_losses[-1])

    @property
    def gap(self) -> Optional[float]:
        """Validation loss − training loss at the end of step 2."""
        if self.train_loss is None or self.val_loss is None:
            return None
        return self.val_loss - self.train_loss

    def report(self) -> str:
        """The three steps and the diagnosis as text, lines of at most 80 characters."""
        from backprop.diagnostics.report import format_number, wrap

        lines = ["Training recipe", ""]
        verdict = "passed" if self.overfit_passed else "FAILED"
        lines.append(f"Step 1, overfit one batch of {self.overfit_batch_size} examples: {verdict}")
        lines.append(f"  {self.loss_name} went from {format_number(self.overfit_start)} to "
                     f"{format_number(self.overfit_end)} in {len(self.overfit_losses)} steps.")
        if self.history:
            epochs = len(self.history.get("loss", []))
            lines.append("")
            lines.append(f"Step 2, train with validation: {epochs} epochs")
            lines.append(f"  on {self.n_train} training examples, {self.n_val} held out for validation.")
            lines.append(f"  {'':<12}{'training':>12}{'validation':>12}{'gap':>12}")
            lines.append(f"  {'loss':<12}{format_number(self.train_loss):>12}{format_number(self.val_loss):>12}"
                         f"{format_number(self.gap):>12}")
            if self.train_accuracy is not None:
                acc_gap = self.train_accuracy - self.val_accuracy
                lines.append(f"  {'accuracy':<12}{self.train_accuracy:>12.3f}{self.val_accuracy:>12.3f}"
                             f"{acc_gap:>12.3f}")
            if self.best_epoch is not None:
                lines.append(f"  Lowest validation loss at epoch {self.best_epoch} of {epochs}.")
            lines.append("")
            lines.append(f"Step 3, diagnosis: {self.diagnosis}")
        else:
            lines.append("")
            lines.append("Steps 2 and 3 skipped: fix step 1 first.")
        for suggestion in self.suggestions:
            wrapped = wrap(suggestion, 78)
            lines += ["- " + wrapped[0]] + ["  " + line for line in wrapped[1:]]
        if self.monitor is not None and self.monitor.warnings:
            lines.append("")
            lines.append("Gradient monitor:")
            for message in self.monitor.warnings:
                text = message.replace("GradientMonitor: ", "")
                wrapped = wrap(text[:1].upper() + text[1:], 78)
                lines += ["- " + wrapped[0]] + ["  " + line for line in wrapped[1:]]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.report()


def recipe(model_factory: Callable, X, y, *, loss, optimizer="adam", lr: Optional[float] = None, epochs: int = 30,
           batch_size: Optional[int] = 32, validation_data=None, validation_split: float = 0.2,
           overfit_steps: int = 300, overfit_batch_size: int = 8, overfit_tolerance: float = 0.05,
           require_overfit: bool = True, overfit_ratio: float = 2.0, accuracy_gap: float = 0.05,
           underfit_accuracy: float = 0.9, seed: Optional[int] = None, verbose: int = 0) -> RecipeResult:
    """Run the three steps of the training recipe; each step builds a fresh model.

    Args:
        model_factory: a function with no arguments returning a new, untrained model.
        X, y: the data; see ``fit``.
        loss, optimizer: as for ``fit`` (a name gets the optimiser's defaults; an
            optimiser *instance* cannot be used, as each step needs a fresh model).
        lr: the learning rate of both steps (default: the optimiser's default).
        epochs, batch_size: for step 2.
        validation_data: ``(X_val, y_val)``; default: a random ``validation_split``
            fraction of (X, y), drawn from :mod:`backprop.random` (seeded by ``seed``).
        overfit_steps, overfit_batch_size: step 1 trains this many steps on the first
            ``overfit_batch_size`` examples.
        overfit_tolerance: step 1 passes when the final loss is at most this fraction of
            the initial loss (default 0.05: 95 % of the loss gone).
        require_overfit: skip steps 2 and 3 when step 1 fails (the notes' advice).
        overfit_ratio: overfitting when val_loss > overfit_ratio × train_loss (and the gap
            exceeds 1 % of the first epoch's loss) ...
        accuracy_gap: ... or train_accuracy − val_accuracy > accuracy_gap, or the validation
            loss turned up: its minimum is 3 or more epochs before the end and the final
            value is 10 % above it.
        underfit_accuracy: underfitting when the training accuracy stays below this
            (classification), or the training loss fell by less than half over step 2.
        seed: ``manual_seed(seed)`` before each step, for a reproducible result.
        verbose: passed to ``fit``.

    Returns:
        A :class:`RecipeResult`.
    """
    from backprop import random as bp_random
    from backprop.diagnostics.monitor import GradientMonitor
    from backprop.optim import Optimizer, get_optimizer
    from backprop.training.loop import Trainer, evaluate, resolve_loss

    if isinstance(optimizer, Optimizer):
        raise ValueError("recipe: pass the optimiser by name (e.g. 'adam'): each step builds a fresh model")
    loss_fn, loss_name = resolve_loss(loss)
    loss_name = loss_name or getattr(loss, "__name__", "loss")
    classification = getattr(loss_fn, "kind", "regression") != "regression"

    # Step 1: can the model fit one small batch?
    if seed is not None:
        bp_random.manual_seed(seed)
    model = model_factory()
    losses = overfit_batch(model, X, y, loss=loss, optimizer=optimizer, lr=lr, steps=overfit_steps,
                           batch_size=overfit_batch_size)
    start, end = float(losses[0]), float(losses[-1])
    passed = math.isfinite(end) and end <= overfit_tolerance * start
    result = RecipeResult(loss_name=loss_name, overfit_losses=losses, overfit_passed=passed,
                          overfit_batch_size=min(int(overfit_batch_size), len(y)))
    if not passed:
        result.diagnosis = "cannot fit a batch"
        result.suggestions = [
            f"The model could not drive the loss on {result.overfit_batch_size} examples to about 0 "
            f"(it ended at {end:.4g}, {end / start:.0%} of where it started): check that the loss matches "
            "the output layer and the labels, raise the learning rate or overfit_steps, remove dropout and "
            "weight penalties for this check, or give the model more capacity.",
        ]
        if require_overfit:
            return result

    # Step 2: a fresh model, trained with validation.
    if seed is not None:
        bp_random.manual_seed(seed)
    X_train, y_train, X_val, y_val = _split(X, y, validation_data, validation_split)
    model = model_factory()
    monitor = GradientMonitor(probe=(X_train[:256], y_train[:256]), warn=False)
    metrics = ["accuracy"] if classification else []
    step_optimizer = optimizer if lr is None else get_optimizer(optimizer, model.parameters(), lr=lr)
    trainer = Trainer(model, loss=loss, optimizer=step_optimizer, batch_size=batch_size, metrics=metrics,
                      callbacks=[monitor], verbose=verbose)
    history = trainer.fit(X_train, y_train, epochs=epochs, validation_data=(X_val, y_val))
    # The trainer's record: a plain module keeps none, and validation labels need the training classes.
    train = evaluate(model, X_train, y_train, loss=loss, metrics=metrics, record=trainer.fit_record)
    val = evaluate(model, X_val, y_val, loss=loss, metrics=metrics, record=trainer.fit_record)
    result.history = {key: list(values) for key, values in history.history.items()}
    result.model, result.monitor = model, monitor
    result.n_train, result.n_val = len(X_train), len(X_val)
    result.train_loss, result.val_loss = float(train["loss"]), float(val["loss"])
    if classification:
        result.train_accuracy, result.val_accuracy = float(train["accuracy"]), float(val["accuracy"])
    val_losses = result.history.get("val_loss", [])
    if val_losses and any(math.isfinite(v) for v in val_losses):
        result.best_epoch = int(np.nanargmin(np.asarray(val_losses, dtype=float))) + 1

    # Step 3: read the gap.
    result.diagnosis, suggestions = _diagnose(result, overfit_ratio, accuracy_gap, underfit_accuracy)
    result.suggestions = result.suggestions + suggestions
    return result


def _split(X, y, validation_data, validation_split):
    from backprop import random as bp_random
    from backprop.training.data import as_array

    X, y = as_array(X, "X"), as_array(y, "y")
    if len(X) != len(y):
        raise ValueError(f"recipe: X has {len(X)} rows but y has {len(y)}")
    if validation_data is not None:
        X_val, y_val = validation_data[0], validation_data[1]
        return X, y, as_array(X_val, "X_val"), as_array(y_val, "y_val")
    if not 0 < validation_split < 1:
        raise ValueError(f"recipe: validation_split must lie in (0, 1), got {validation_split!r}")
    n_val = max(1, int(round(len(X) * validation_split)))
    if n_val >= len(X):
        raise ValueError("recipe: too few examples to hold out validation data")
    order = bp_random.get_rng().permutation(len(X))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


def _diagnose(result: RecipeResult, overfit_ratio: float, accuracy_gap: float, underfit_accuracy: float):
    train, val = result.train_loss, result.val_loss
    losses = result.history.get("loss", [])
    val_losses = [v for v in result.history.get("val_loss", []) if math.isfinite(v)]
    epochs = len(losses)
    best = result.best_epoch
    acc_gap = None if result.train_accuracy is None else result.train_accuracy - result.val_accuracy
    if not (math.isfinite(train) and math.isfinite(val)):
        return "diverged", ["The loss is not finite: lower the learning rate, e.g. by 10×."]
    scale = abs(losses[0]) if losses and math.isfinite(losses[0]) else abs(train)
    wide_gap = val > overfit_ratio * train and val - train > 0.01 * scale
    turned_up = (best is not None and best <= epochs - 3 and val_losses
                 and val_losses[-1] > 1.1 * min(val_losses))
    if wide_gap or turned_up or (acc_gap is not None and acc_gap > accuracy_gap):
        stop = (f" The validation loss was lowest at epoch {best} of {epochs}: "
                "EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True) keeps that model."
                if best is not None and best < epochs else "")
        return "overfitting", [
            "The model fits the training data much better than the validation data. Regularise: an L2 weight "
            "penalty (Dense(..., weight_regularizer='l2')), Dropout layers, or early stopping." + stop,
            "More training data (or data augmentation) helps too.",
        ]
    underfits = (result.train_accuracy is not None and result.train_accuracy < underfit_accuracy) or (
        epochs >= 2 and losses[-1] > 0.5 * losses[0])
    if underfits:
        falling = epochs >= 2 and losses[-1] < 0.99 * losses[-2]
        longer = " The training loss was still falling at the end: train longer." if falling else ""
        return "underfitting", [
            "The model does not fit even the training data well. Give it more capacity (more or wider "
            "layers), train longer, or tune the learning rate." + longer,
        ]
    return "good fit", ["Training and validation agree: the model neither over- nor underfits by these measures."]


#: ``bp.recipe.run(make_model, X, y, loss=...)`` reads better than ``bp.recipe.recipe(...)``.
run = recipe
