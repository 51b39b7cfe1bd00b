"""``backprop.nn``: the public namespace of networks: models, layers, losses, initialisers, regularisers.

    >>> from backprop import nn
    >>> net = nn.Sequential(nn.Dense(4, 3, activation="relu"), nn.Dense(3, 1, activation="sigmoid"))

This module only gathers names; each lives in its own module (:mod:`backprop.layers`,
:mod:`backprop.models`, :mod:`backprop.losses`, :mod:`backprop.init`,
:mod:`backprop.regularizers`), as Keras's public namespaces gather ``keras.src``.
"""

from backprop import init, losses
from backprop.nn import utils
from backprop.layers import *  # noqa: F401,F403
from backprop.layers import __all__ as _layers_all
from backprop.models import Model, Sequential
from backprop.regularizers import L1, L1L2, L2, Regularizer, get_regularizer

__all__ = list(_layers_all) + ["Model", "Sequential", "L1", "L2", "L1L2", "Regularizer", "get_regularizer", "init", "losses", "utils"]
