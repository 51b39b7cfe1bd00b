"""``backprop.regularizers``: the weight regularisers (defined in :mod:`backprop.nn.regularizers`)."""

from backprop.nn.regularizers import *  # noqa: F401,F403
from backprop.nn.regularizers import __all__  # noqa: F401
