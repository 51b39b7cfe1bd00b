"""The network a playground run trains: a ``bp.nn.Sequential`` built from the settings.

Each hidden layer m is ``Dense(n_(m−1), n_m, activation=f)`` (z = W a + b, a = f(z)); with
batch normalisation it is ``Dense`` (no f), ``BatchNorm`` of z, then the activation layer,
so that f sees the normalised z; dropout follows as its own layer. The output layer is
linear for classification (the loss applies softmax or σ: its z are logits) and has the
chosen activation for regression.

:class:`Network` also remembers which modules make up each layer, so that the page can
show every neuron's output a^m_j on the plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import backprop as bp
from backprop.playground.settings import INITIALISATIONS, Settings, SettingsError

__all__ = ["Network", "build_network", "activation_layer"]


def _activation_spec(name: str, k: float):
    """What ``Dense(activation=...)`` takes: None for linear, ``{"name": "step", "k": k}`` for step."""
    if name in ("linear", "identity"):
        return None
    if name == "step" and k != 0:
        return {"name": "step", "k": k}
    return name


def activation_layer(name: str, k: float = 0.0):
    """The registered activation layer (``bp.nn.ReLU()``, ``bp.nn.Step(k=...)``...) that applies ``name``.

    Found through the layer registry, so that every activation with a layer is covered.
    """
    from backprop.layers.activations import ActivationLayer

    for class_name in bp.nn.registered_modules():
        cls = bp.nn.get_module_class(class_name)
        if isinstance(cls, type) and issubclass(cls, ActivationLayer) and cls is not bp.nn.Softmax:
            try:
                layer = cls()
            except TypeError:  # needs arguments: not one of the plain activations
                continue
            if layer.activation.name == ("identity" if name == "linear" else name):
                return cls(k=k) if name == "step" else layer
    raise SettingsError(f"activation {name!r} has no activation layer to follow batch normalisation")


def _weight_init(settings: Settings):
    library_name = INITIALISATIONS[settings.init][0]
    if library_name == "constant":
        return {"name": "constant", "value": settings.init_value}
    return library_name


def _regularizer(settings: Settings):
    if settings.regularization == "l1":
        return bp.nn.L1(settings.reg_lambda)
    if settings.regularization == "l2":
        return bp.nn.L2(settings.reg_lambda)
    return None


@dataclass
class Network:
    """The model, and for each Dense layer m the index of the module whose output is a^m.

    Attributes:
        model: the ``bp.nn.Sequential``.
        dense: the Dense layers, input to output (their W and b are the weights drawn).
        outputs_at: for each Dense layer, the index in ``model`` of the module that outputs a^m.
        has_batch_norm: whether BatchNorm layers are in the model (``bp.trace`` then cannot follow it).
    """

    model: object
    dense: list
    outputs_at: list
    has_batch_norm: bool

    def layer_outputs(self, X: np.ndarray) -> list:
        """a^m for every Dense layer m on the rows X, in evaluation mode (no dropout, BN's running statistics)."""
        outputs, wanted = [], set(self.outputs_at)
        with bp.eval_mode(), bp.no_grad():
            a = bp.Tensor(X)
            for index, module in enumerate(self.model):
                a = module(a)
                if index in wanted:
                    outputs.append(np.asarray(a.data))
        return outputs

    def weights(self) -> list:
        """``[{"W": rows, "b": list}]`` per Dense layer, W of shape (n_out, n_in) as in the notes."""
        return [{"W": np.asarray(d.W.data, np.float64).tolist(),
                 "b": (np.zeros(d.out_features) if d.b is None else np.asarray(d.b.data, np.float64)).tolist()}
                for d in self.dense]


def build_network(settings: Settings, n_outputs: int, task: str) -> Network:
    """The Sequential for these settings (weights drawn from ``bp.manual_seed(settings.seed)``)."""
    weight_init, regularizer = _weight_init(settings), _regularizer(settings)
    modules, dense, outputs_at, width = [], [], [], 2

    def add_dense(n_out, activation):
        layer = bp.nn.Dense(width, n_out, activation=activation, weight_init=weight_init,
                            weight_regularizer=regularizer)
        modules.append(layer)
        dense.append(layer)

    for layer in settings.layers:
        if settings.batch_norm:
            add_dense(layer.neurons, None)
            modules.append(bp.nn.BatchNorm(layer.neurons))
            if layer.activation != "linear":
                modules.append(activation_layer(layer.activation, layer.k))
        else:
            add_dense(layer.neurons, _activation_spec(layer.activation, layer.k))
        outputs_at.append(len(modules) - 1)
        if settings.dropout > 0:
            modules.append(bp.nn.Dropout(settings.dropout))
        width = layer.neurons
    output_activation = None if task == "classification" else _activation_spec(settings.output_activation, 0.0)
    add_dense(n_outputs, output_activation)
    outputs_at.append(len(modules) - 1)
    return Network(model=bp.nn.Sequential(*modules), dense=dense, outputs_at=outputs_at,
                   has_batch_norm=settings.batch_norm)
