"""``backprop.callbacks``: the training callbacks (defined in :mod:`backprop.training.callbacks`)."""

from backprop.training.callbacks import *  # noqa: F401,F403
from backprop.training.callbacks import __all__ as _callbacks_all
from backprop.training.history import History  # noqa: F401
from backprop.training.progress import ProgressLogger  # noqa: F401

__all__ = list(_callbacks_all) + ["History", "ProgressLogger"]
