"""``backprop.nn``: modules, layers, activation layers, losses, initialisers, regularisers.

    >>> from backprop import nn
    >>> net = nn.Sequential(nn.Dense(4, 3, activation="relu"), nn.Dense(3, 1, activation="sigmoid"))
"""

from backprop.nn.parameter import Parameter
from backprop.nn.module import LoadResult, Module
from backprop.nn.registry import (
    get_module_class, module_from_config, module_to_config, register_module, registered_modules,
)
from backprop.nn import init
from backprop.nn.regularizers import L1, L1L2, L2, Regularizer, get_regularizer
from backprop.nn.activations import (
    Arctan, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, SoftmaxActivation, Step, Tanh, resolve_activation,
)
from backprop.nn.dense import Dense
from backprop.nn.dropout import Dropout
from backprop.nn.batchnorm import BatchNorm, batch_norm
from backprop.nn.flatten import Flatten
from backprop.nn.conv import Conv1d, Conv2d
from backprop.nn.pooling import AvgPool1d, AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d
from backprop.nn.sequential import Sequential
from backprop.nn import losses

__all__ = [
    "Module", "Parameter", "LoadResult", "Sequential",
    "Dense", "Dropout", "BatchNorm", "batch_norm", "Flatten",
    "Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "GlobalAvgPool2d",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Arctan", "Step", "Softmax", "Identity",
    "SoftmaxActivation", "resolve_activation",
    "L1", "L2", "L1L2", "Regularizer", "get_regularizer",
    "register_module", "module_to_config", "module_from_config", "get_module_class", "registered_modules",
    "init", "losses",
]
