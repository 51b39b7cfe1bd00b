"""Diagnostics: see inside the network and check that training works.

* :func:`trace` records z, a, f′(z), δ, ∂J/∂W and ∂J/∂b layer by layer and
  checks the notes' four equations against the engine's gradients;
* :class:`GradientMonitor`, a training callback, watches gradient norms, update
  sizes, dead and saturated units, and warns about vanishing or exploding
  gradients, symmetric initialisation and a learning rate that is too high;
* :mod:`recipe` (a module) runs the notes' training recipe: ``recipe.run`` (alias
  ``recipe.recipe``) overfits one batch, trains with validation and diagnoses
  over- or underfitting; ``recipe.overfit_batch`` is step 1 alone.
"""

from backprop.diagnostics import recipe
from backprop.diagnostics.monitor import DiagnosticsWarning, GradientMonitor
from backprop.diagnostics.recipe import RecipeResult
from backprop.diagnostics.trace import EQUATIONS, LayerTrace, Trace, trace

__all__ = ["trace", "Trace", "LayerTrace", "EQUATIONS", "GradientMonitor", "DiagnosticsWarning",
           "recipe", "RecipeResult"]
