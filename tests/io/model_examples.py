"""Valid models of several architectures, one instance of every registered layer among them.

The tests of untrusted model files craft their hostile files from these, and check that
every layer class the library registers appears here, so a new layer is covered (or the
test that iterates the registry fails and says which one is missing).
"""

import numpy as np

import backprop as bp
from backprop import nn
from backprop.engine.ops.activation import ACTIVATIONS


def classifier():
    """Dense → ReLU → Dense, fit with cross_entropy on string labels (3 classes)."""
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(4, 6, activation="relu"), nn.Dense(6, 3))
    X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    y = np.array(["a", "b", "c"])[np.arange(30) % 3]
    model.fit(X, y, loss="cross_entropy", epochs=1, batch_size=10, verbose=0)
    return model


def binary():
    """Dense → BatchNorm → Dropout → Dense(1), fit with binary cross-entropy on logits, labels 0/1."""
    bp.manual_seed(1)
    model = nn.Sequential(nn.Dense(3, 5, weight_regularizer=nn.L2(1e-3)), nn.BatchNorm(5), nn.Dropout(0.2),
                          nn.Tanh(), nn.Dense(5, 1))
    X = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    model.fit(X, (X[:, 0] > 0).astype(int), loss="binary_cross_entropy_with_logits", epochs=1, batch_size=5,
              verbose=0)
    return model


def everything():
    """Every built-in layer, nested Sequential included; not fit."""
    bp.manual_seed(2)
    return nn.Sequential(
        nn.Flatten(),
        nn.Dense(6, 5, activation={"name": "leaky_relu", "negative_slope": 0.2}, weight_init="he_uniform"),
        nn.BatchNorm(5, momentum=None),
        nn.Sequential(nn.Dense(5, 4, use_bias=False, bias_init="zeros"), nn.ReLU(), nn.LeakyReLU(0.3)),
        nn.Dense(4, 4, activation="softmax", weight_init={"name": "normal", "std": 0.2}),
        *activation_layers(), nn.Dropout(0.1),
        nn.Dense(4, 3), nn.Softmax(axis=-1),
    )


def activation_layers() -> list:
    """One layer of every registered activation, with its default arguments."""
    return [nn.activation_layer(activation)() for activation in ACTIVATIONS]


def regressor():
    """A float64 Dense → sigmoid → LayerNorm → Dense(2) fit with mse."""
    bp.manual_seed(3)
    model = nn.Sequential(nn.Dense(2, 3, activation="sigmoid", dtype="float64"), nn.LayerNorm(3, eps=1e-3, dtype="float64"),
                          nn.Dense(3, 2, dtype="float64"))
    X = np.random.default_rng(3).normal(size=(12, 2))
    model.fit(X, X @ np.ones((2, 2)), loss="mse", epochs=1, verbose=0)
    return model


def images():
    """Conv2d → MaxPool2d → AvgPool2d → Conv2d → GlobalAvgPool2d → Dense on (N, 1, 8, 8); not fit."""
    bp.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, activation="relu"), nn.MaxPool2d(2), nn.AvgPool2d(2, stride=1),
        nn.Conv2d(3, 4, (2, 1), bias=False), nn.GlobalAvgPool2d(), nn.Dense(4, 2),
    )


def sequences():
    """Conv1d → MaxPool1d → AvgPool1d → Flatten → Dense on (N, 2, 12); not fit."""
    bp.manual_seed(5)
    return nn.Sequential(nn.Conv1d(2, 3, 3, stride=1, dilation=2), nn.MaxPool1d(2), nn.AvgPool1d(2),
                         nn.Flatten(), nn.Dense(6, 2))


def wrapped():
    """A Model wrapping a Sequential (keys "module.0.W", ...), fit with binary cross-entropy on two labels."""
    bp.manual_seed(6)
    model = bp.Model(nn.Sequential(nn.Dense(3, 4, activation="tanh"), nn.Dense(4, 1)))
    X = np.random.default_rng(6).normal(size=(16, 3)).astype(np.float32)
    model.fit(X, np.where(X[:, 1] > 0, "yes", "no"), loss="binary_cross_entropy_with_logits", epochs=1,
              batch_size=8, verbose=0)
    return model


def tabular():
    """Concat of an Embedding of two code columns (flattened), an Embedding with a padding code and the
    numeric columns → Dense(1), fit with mse on a dict X."""
    bp.manual_seed(7)
    model = nn.Sequential(
        nn.Concat({"pair": nn.Sequential(nn.Embedding(12, 3), nn.Flatten()),
                   "city": nn.Embedding(20, 2, padding_idx=0, weight_init={"name": "normal", "std": 0.5}),
                   "numeric": nn.Identity()}),
        nn.Dense(3 * 2 + 2 + 4, 5, activation="relu"), nn.Dense(5, 1))
    X = tabular_inputs(np.random.default_rng(7), 24)
    model.fit(X, X["numeric"][:, 0] + (X["city"] % 3), loss="mse", epochs=1, batch_size=8, verbose=0)
    return model


def tabular_inputs(rng, n: int) -> dict:
    """Inputs for :func:`tabular`: codes (n, 2) in [0, 12), codes (n,) in [0, 20), (n, 4) floats."""
    return {"pair": rng.integers(0, 12, size=(n, 2)), "city": rng.integers(0, 20, size=n),
            "numeric": rng.normal(size=(n, 4)).astype(np.float32)}


ARCHITECTURES = {"classifier": classifier, "binary": binary, "everything": everything, "regressor": regressor,
                 "images": images, "sequences": sequences, "wrapped": wrapped, "tabular": tabular}

#: ``{architecture: inputs(rng, n)}`` for the architectures that take something else than an array of features.
EXAMPLE_INPUTS = {"tabular": tabular_inputs}


def layer_examples() -> dict:
    """``{class name: an instance}`` for every layer class in the architectures above."""
    examples = {}
    for build in ARCHITECTURES.values():
        for module in build().modules():
            examples.setdefault(type(module).__name__, module)
    return examples


def builtin_layer_names() -> list:
    """The registered layer classes that the library itself defines (tests register others)."""
    return sorted(name for name in nn.registered_modules()
                  if nn.get_module_class(name).__module__.startswith("backprop."))
