"""``backprop.losses``: the loss functions (defined in :mod:`backprop.nn.losses`)."""

from backprop.nn.losses import *  # noqa: F401,F403
from backprop.nn.losses import __all__  # noqa: F401
