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
from backprop.layers.dense import Dense as Dense  # noqa: F401 (public: a registered layer)
from backprop.layers.dropout import Dropout as Dropout  # noqa: F401 (public: a registered layer)
from backprop.layers.batchnorm import BatchNorm, batch_norm  # noqa: F401 (public: a registered layer)
from backprop.layers.layernorm import LayerNorm as LayerNorm  # noqa: F401 (public: a registered layer)
from backprop.layers.flatten import Flatten as Flatten  # noqa: F401 (public: a registered layer)
from backprop.layers.embedding import Embedding as Embedding  # noqa: F401 (public: a registered layer)
from backprop.layers.concat import Concat as Concat  # noqa: F401 (public: a registered layer)
from backprop.layers.conv import Conv1d, Conv2d  # noqa: F401 (public: registered layers)
from backprop.layers.pooling import AvgPool1d, AvgPool2d, GlobalAvgPool2d, MaxPool1d, MaxPool2d  # noqa: F401

# Every layer class registered by the files imported above is public under its name.
__all__ = sorted({cls.__name__ for cls in LAYERS if cls.__module__.startswith("backprop.layers.")}) + [
    "Module", "Parameter", "LoadResult", "FusedOp", "batch_norm",
    *_activations.__all__,
    "LAYERS", "register_module", "module_to_config", "module_from_config", "get_module_class", "registered_modules",
]
