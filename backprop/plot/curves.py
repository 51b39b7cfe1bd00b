"""Learning curves: the loss and one metric per epoch, training against validation.

The training recipe of the notes reads these curves: a training loss that does
not fall means the model underfits (or the learning rate is wrong); a validation
loss that turns up while the training loss keeps falling means it overfits, which
is where early stopping or more regularisation helps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from backprop.plot._canvas import new_figure, save_figure

__all__ = ["learning_curves"]

# History entries that are bookkeeping, not metrics one would plot by default.
_NOT_METRICS = frozenset({"lr", "learning_rate", "epoch", "epochs", "time", "seconds"})


def _history_dict(history) -> dict:
    """Accept a ``History`` (anything with a ``.history`` mapping) or the mapping itself."""
    records = getattr(history, "history", history)
    if not isinstance(records, Mapping):
        raise TypeError(
            f"history must be a History or a dict of per-epoch lists, got {type(history).__name__}"
        )
    if "loss" not in records:
        raise ValueError(f"history has no 'loss' entry; it has {sorted(records)}")
    return {str(key): [float(v) for v in values] for key, values in records.items()}


def _default_metric(records: dict) -> str | None:
    """The first training metric in the history, preferring one that also has a validation series."""
    candidates = [key for key in records
                  if key != "loss" and not key.startswith("val_") and key not in _NOT_METRICS]
    with_validation = [key for key in candidates if f"val_{key}" in records]
    return (with_validation or candidates or [None])[0]


def _plot_series(axes, records: dict, key: str) -> None:
    for name, label, style in ((key, "training", "-"), (f"val_{key}", "validation", "--")):
        values = records.get(name)
        if values:
            epochs = range(1, len(values) + 1)
            axes.plot(epochs, values, style, marker="o" if len(values) <= 30 else None,
                      markersize=3, label=label)
    axes.xaxis.get_major_locator().set_params(integer=True)  # whole epochs only
    axes.set_xlabel("epoch")
    axes.set_ylabel(key)
    axes.set_title(key.replace("_", " "))
    axes.grid(True, alpha=0.3)
    axes.legend()


def _mark_divergence(axes, losses: list) -> None:
    """Say in the plot where the loss stopped being finite (a diverged run draws no line past it)."""
    bad = next((epoch for epoch, v in enumerate(losses, start=1) if not math.isfinite(v)), None)
    if bad is None:
        return
    finite = any(math.isfinite(v) for v in losses)
    if finite:
        axes.axvline(bad, color="C3", linestyle=":", linewidth=1.5)
    if bad == 1 and not finite:
        axes.set_xlim(0.5, max(len(losses), 1) + 0.5)
    text = f"training diverged: the loss is not finite from epoch {bad} on"
    if not finite:
        text += "\n(no finite value to draw: lower the learning rate)"
    axes.text(0.5, 0.97, text, transform=axes.transAxes, ha="center", va="top", color="C3", fontsize="small")


def learning_curves(history, path: str | os.PathLike | None = None, metric: str | None = None):
    """Plot the loss and one metric against the epoch, training and validation side by side.

    Example::

        >>> history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
        ...            "accuracy": [0.6, 0.8, 0.9], "val_accuracy": [0.55, 0.7, 0.75]}
        >>> figure = learning_curves(history)
        >>> len(figure.axes)
        2

    Args:
        history: The ``History`` that ``model.fit`` returns, or its ``.history``
            dict: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``,
            one value per epoch. ``val_*`` series are drawn dashed beside their
            training series when present.
        path: If given, the figure is also written there (format from the
            extension, e.g. ``curves.png``), atomically.
        metric: The metric for the second panel, e.g. ``"accuracy"``. Default: the
            first metric in the history (one with a validation series first); with
            none, only the loss is drawn.

    Returns:
        The :class:`matplotlib.figure.Figure` (no pyplot involved; call
        ``figure.savefig(...)`` to write it elsewhere).

    Raises:
        ImportError: matplotlib is not installed (``pip install "backprop-nn[plot]"``).
        ValueError: the history has no ``"loss"``, or ``metric`` is not in it.

    A loss that stops being finite (a diverged run) is marked: a dotted line at the first
    such epoch and a sentence saying so, also when there is no finite value to draw.
        TypeError: ``history`` is neither a History nor a mapping.
    """
    records = _history_dict(history)
    if metric is None:
        metric = _default_metric(records)
    elif metric not in records:
        raise ValueError(f"metric {metric!r} is not in the history; it has {sorted(records)}")

    figure, axes = new_figure(1 if metric is None else 2)
    _plot_series(axes[0], records, "loss")
    _mark_divergence(axes[0], records["loss"])
    losses = records["loss"]
    if losses and all(v > 0 and math.isfinite(v) for v in losses) and max(losses) > 10 * min(losses):
        # A loss that falls over orders of magnitude: a log scale shows the late epochs too.
        axes[0].set_yscale("log")
    if metric is not None:
        _plot_series(axes[1], records, metric)
    if path is not None:
        save_figure(figure, path)
    return figure
