"""``backprop.init``: the weight initialisers (defined in :mod:`backprop.nn.init`)."""

from backprop.nn.init import *  # noqa: F401,F403
from backprop.nn.init import __all__  # noqa: F401
