"""Plots for training diagnostics, drawn with matplotlib but never with pyplot.

    >>> from backprop.plot import learning_curves, decision_boundary, gradient_norms
    >>> figure = learning_curves({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.6]})

Every function returns a :class:`matplotlib.figure.Figure` on its own Agg canvas
(no global backend switch, no figure registry), and writes it atomically when
given a ``path``. matplotlib is an optional dependency, imported only when a
plot is drawn; without it the call raises ImportError saying
``pip install "backprop-nn[plot]"``. New plots reuse :func:`new_figure` and
:func:`save_figure`.
"""

from backprop.plot._canvas import new_figure, save_figure
from backprop.plot.boundary import decision_boundary
from backprop.plot.curves import learning_curves
from backprop.plot.gradients import gradient_norms

__all__ = ["learning_curves", "decision_boundary", "gradient_norms", "new_figure", "save_figure"]
