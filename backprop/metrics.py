"""``backprop.metrics``: the metrics (defined in :mod:`backprop.training.metrics`)."""

from backprop.training.metrics import *  # noqa: F401,F403
from backprop.training.metrics import __all__  # noqa: F401
