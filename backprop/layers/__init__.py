"""``backprop.layers``: the Module protocol, Parameter, the layer registry and the layers.

Users reach these through :mod:`backprop.nn`, which also holds the models (Sequential,
Model: :mod:`backprop.models`), the losses, the initialisers and the regularisers.
"""

from backprop.layers.parameter import Parameter
from backprop.layers.module import LoadResult, Module
from backprop.layers.fused import FusedOp
from backprop.layers.registry import (
    LAYERS, get_module_class, module_from_config, module_to_config, register_module, registered_modules,
)
# The activation layers (nn.ReLU, nn.Softmax, ...) are derived from the registered activations.
from backprop.layers import activations as _activations
from backprop.layers.activations import *  # noqa: F401,F403
from backprop.layers.dense import Dense
from backprop.layers.dropout import Dropout
from backprop.layers.batchnorm import BatchNorm, batch_norm
from backprop.layers.flatten import Flatten
from backprop.layers.conv import Conv1d, Conv2d
from backprop.layers.pooling import AvgPool1d, AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d

__all__ = [
    "Module", "Parameter", "LoadResult", "FusedOp",
    "Dense", "Dropout", "BatchNorm", "batch_norm", "Flatten",
    "Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d", "MaxPool1d", "AvgPool1d", "GlobalAvgPool2d",
    *_activations.__all__,
    "LAYERS", "register_module", "module_to_config", "module_from_config", "get_module_class", "registered_modules",
]
