"""Gradient norms per layer over the epochs: where vanishing or exploding gradients show.

Each line is one Dense layer's ‖∂J/∂W^m‖ (mean over the epoch's steps), on a
log scale; a norm of exactly 0 (no gradient reaches the layer) is drawn on a dotted line a
decade below the smallest positive norm, with a ▼ marker, and the legend says so. The
legend stands beside the axes, so that a deep network's lines stay visible. Healthy
training keeps the lines within a factor of ten or so of each other; lines for the first layers far below the last ones mean vanishing
gradients (the notes' deep sigmoid networks), far above mean exploding ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from backprop.plot._canvas import new_figure, save_figure

__all__ = ["gradient_norms"]


def _norms(monitor_or_history) -> dict:
    """``{layer: [norm per epoch]}`` from a GradientMonitor, its ``history``, or that dict's ``grad_norm``."""
    records = getattr(monitor_or_history, "history", monitor_or_history)
    if isinstance(records, Mapping) and "grad_norm" in records:
        records = records["grad_norm"]
    if not isinstance(records, Mapping):
        raise TypeError(
            "gradient_norms needs a GradientMonitor, its history, or a dict {layer: [norm per epoch]}, "
            f"got {type(monitor_or_history).__name__}"
        )
    norms = {str(name): [float(v) for v in values] for name, values in records.items()}
    if not any(norms.values()):
        raise ValueError("no gradient norms recorded yet: train with the GradientMonitor as a callback first")
    return norms


def gradient_norms(monitor_or_history, path: str | os.PathLike | None = None):
    """Plot each layer's gradient norm ‖∂J/∂W^m‖ against the epoch, on a log scale.

    Example::

        >>> figure = gradient_norms({"layer 1": [1e-4, 2e-4], "layer 2": [0.1, 0.08]})
        >>> figure.axes[0].get_yscale()
        'log'

    Args:
        monitor_or_history: a :class:`backprop.diagnostics.GradientMonitor` after
            training, its ``history`` (``{"grad_norm": {layer: [...]}, ...}``), or the
            dict ``{layer: [norm per epoch]}`` itself.
        path: if given, the figure is also written there (format from the
            extension, e.g. ``gradients.png``), atomically.

    Returns:
        A :class:`matplotlib.figure.Figure` on an Agg canvas (no pyplot).

    Raises:
        TypeError, ValueError: for something that holds no gradient norms.
        ImportError: matplotlib is not installed.
    """
    norms = _norms(monitor_or_history)
    positive = [v for values in norms.values() for v in values if math.isfinite(v) and v > 0]
    # A gradient of exactly 0 (a dead or step layer) has no place on a log scale: draw it one
    # decade below the smallest positive norm, on a dotted "0" line, with its own marker.
    floor = 10.0 ** (math.floor(math.log10(min(positive))) - 1) if positive else 1e-12
    columns = 1 if len(norms) <= 8 else 2
    figure, (axes,) = new_figure(1, width_per_axes=6.0 + 1.4 * columns, height=4.0)
    drawn, zeros = 0, False
    for colour, (name, values) in enumerate(norms.items()):
        points, at_floor = [], []
        for epoch, v in enumerate(values, start=1):
            if math.isfinite(v) and v >= 0:
                points.append((epoch, v if v > 0 else floor))
                if v == 0:
                    at_floor.append((epoch, floor))
        if not points:
            continue
        epochs, shown = zip(*points)
        label = f"{name} (0 at the floor)" if at_floor else name
        axes.plot(epochs, shown, marker="o" if len(values) <= 30 else None, markersize=3, label=label,
                  color=f"C{colour % 10}")
        if at_floor:
            zeros = True
            axes.scatter(*zip(*at_floor), marker="v", s=36, color=f"C{colour % 10}", zorder=3)
        drawn += 1
    axes.set_yscale("log")
    if zeros:
        axes.axhline(floor, color="0.5", linestyle=":", linewidth=1)
        axes.annotate("∂J/∂W = 0 (drawn here: 0 has no place on a log scale)", (0.01, floor),
                      xycoords=("axes fraction", "data"), xytext=(0, 4), textcoords="offset points",
                      fontsize="small", color="0.35")
    if drawn:
        # Beside the axes, not over them: a deep network's legend would hide its lines.
        axes.legend(fontsize="small", ncol=columns, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if not positive:
        axes.text(0.5, 0.5, "every gradient is 0 or not finite", ha="center", va="center",
                  transform=axes.transAxes)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("epoch")
    axes.set_ylabel("‖∂J/∂W‖ (mean over the epoch's steps)")
    axes.set_title("gradient norm per layer")
    axes.grid(True, which="both", alpha=0.3)
    if path is not None:
        save_figure(figure, path)
    return figure
