"""Diagnostics: see inside the network and check that training works.

* :func:`trace` records z, a, f′(z), δ, ∂J/∂W and ∂J/∂b layer by layer and
  checks the notes' four equations against the engine's gradients;
* :class:`GradientMonitor`, a training callback, watches gradient norms, update
  sizes, dead and saturated units, and warns about vanishing or exploding
  gradients, symmetric initialisation and a learning rate that is too high;
* :func:`recipe` runs the notes' training recipe: overfit one batch, train with
  validation, diagnose over- or underfitting.
"""

from backprop.diagnostics.monitor import DiagnosticsWarning, GradientMonitor
from backprop.diagnostics.trace import EQUATIONS, LayerTrace, Trace, trace

__all__ = ["trace", "Trace", "LayerTrace", "EQUATIONS", "GradientMonitor", "DiagnosticsWarning"]
