"""The differentiable ops. Importing this package binds them to :class:`Tensor`."""

from backprop.engine.ops.activation import (
    ACTIVATIONS, Activation, arctan, get_activation, identity, leaky_relu, log_softmax, relu,
    sigmoid, softmax, step, tanh,
)
from backprop.engine.ops.arithmetic import add, div, matmul, mul, neg, pow, sub
from backprop.engine.ops.conv import avg_pool1d, avg_pool2d, conv1d, conv2d, global_avg_pool2d, max_pool1d, max_pool2d
from backprop.engine.ops.embedding import embedding
from backprop.engine.ops.elementwise import abs, clip, exp, log, sqrt
from backprop.engine.ops.linear import linear
from backprop.engine.ops.reduction import max, mean, sum
from backprop.engine.ops.shape import concatenate, getitem, reshape, transpose

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation",
    "add", "sub", "mul", "div", "pow", "neg", "matmul",
    "exp", "log", "sqrt", "abs", "clip",
    "sum", "mean", "max",
    "reshape", "transpose", "getitem", "concatenate", "embedding",
    "identity", "relu", "leaky_relu", "sigmoid", "tanh", "arctan", "step", "softmax", "log_softmax",
    "linear",
    "conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "global_avg_pool2d",
]
