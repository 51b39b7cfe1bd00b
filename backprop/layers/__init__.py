"""``backprop.layers``: the Module protocol, Parameter, the layer registry and the layers.

Users reach these through :mod:`backprop.nn`, which also holds the models, the losses,
the initialisers and the regularisers.
"""

from backprop.layers.parameter import Parameter
from backprop.layers.module import LoadResult, Module
from backprop.layers.fused import FusedOp
from backprop.layers.registry import (
    get_module_class, module_from_config, module_to_config, register_module, registered_modules,
)
from backprop.layers.activations import (
    Arctan, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, SoftmaxActivation, Step, Tanh, resolve_activation,
)
from backprop.layers.dense import Dense
from backprop.layers.dropout import Dropout
from backprop.layers.batchnorm import BatchNorm, batch_norm
from backprop.layers.flatten import Flatten
from backprop.layers.conv import Conv1d, Conv2d
from backprop.layers.pooling import AvgPool1d, AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d
from backprop.layers.sequential import Sequential

__all__ = [
    "Module", "Parameter", "LoadResult", "Sequential", "FusedOp",
    "Dense", "Dropout", "BatchNorm", "batch_norm", "Flatten",
    "Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "GlobalAvgPool2d",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Arctan", "Step", "Softmax", "Identity",
    "SoftmaxActivation", "resolve_activation",
    "register_module", "module_to_config", "module_from_config", "get_module_class", "registered_modules",
]
