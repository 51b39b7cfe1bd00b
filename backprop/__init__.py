"""backprop: neural networks from first principles, in the notation of the course notes.

    >>> import backprop as bp
    >>> x = bp.Tensor(3.0, requires_grad=True)
    >>> y = 2 * (3 * x)
    >>> y.backward()
    >>> float(x.grad)
    6.0

Subpackages: ``bp.nn`` (layers, models, losses, initialisers), ``bp.optim``, ``bp.losses``,
``bp.callbacks``, ``bp.metrics``, ``bp.datasets``, ``bp.data`` (Parquet streams), ``bp.io``,
``bp.distributed`` (the ranks of an MPI job; mpi4py imported on first use), ``bp.plot`` (imported
on first use; matplotlib only when a plot is drawn). ``bp.Model`` is the front door
(``fit``, ``predict``, ``save``, ``summary``...; ``bp.Model(module)`` wraps any module, and
``nn.Sequential`` is one); model files with ``model.save`` / ``bp.load``. The scikit-learn
estimators are in ``backprop.sklearn``.
"""

from backprop.backend import get_default_dtype, set_default_dtype
from backprop.engine import GradcheckError, Tensor, enable_grad, eval_mode, gradcheck, is_grad_enabled, no_grad
from backprop.engine.ops import (
    abs, arctan, clip, exp, identity, leaky_relu, linear, log, log_softmax, matmul, max, mean, relu,
    reshape, sigmoid, softmax, sqrt, step, sum, tanh, transpose,
)
from backprop.random import manual_seed
from backprop.threads import get_num_threads, set_num_threads
from backprop import losses, nn, init, regularizers, optim, datasets, data, io
from backprop import callbacks, metrics, distributed
from backprop.training import FitRecord, History, fit, evaluate, predict
from backprop.datasets.split import train_test_split
from backprop.models import Model, load, load_with_metadata, save
from backprop.io.safefile import ModelFileError
from backprop.diagnostics import DiagnosticsWarning, GradientMonitor, recipe, trace

__version__ = "0.1.0"

__all__ = [
    "Tensor", "no_grad", "enable_grad", "is_grad_enabled", "eval_mode", "gradcheck", "GradcheckError",
    "set_default_dtype", "get_default_dtype", "manual_seed", "set_num_threads", "get_num_threads",
    "abs", "arctan", "clip", "exp", "identity", "leaky_relu", "linear", "log", "log_softmax", "matmul",
    "max", "mean", "relu", "reshape", "sigmoid", "softmax", "sqrt", "step", "sum", "tanh", "transpose",
    "losses", "nn", "init", "regularizers", "optim", "datasets", "data", "io", "callbacks", "metrics",
    "distributed",
    "Model", "FitRecord",
    "History", "fit", "evaluate", "predict", "save", "load", "load_with_metadata", "ModelFileError",
    "trace", "recipe", "GradientMonitor", "DiagnosticsWarning", "plot",
    "train_test_split", "export_onnx",
]

# Subpackages imported on first access (PEP 562), to keep ``import backprop`` fast.
_LAZY_SUBMODULES = ("plot",)


def export_onnx(model, path, include_preprocessing: bool = False, *, input_shape=None):
    """Write ``model`` (a network, or a model file's path) to ``path`` as ONNX; see
    :func:`backprop.onnx.export_onnx`. Imports ``onnx`` only when called (the ``onnx`` extra)."""
    from backprop.onnx import export_onnx as export

    return export(model, path, include_preprocessing, input_shape=input_shape)


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # also binds it on this module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
