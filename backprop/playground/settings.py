"""The playground's settings: what the page sends, checked before anything is built.

One flat JSON object describes a whole run; the page keeps it in the URL (that is the
shared link) and sends it to ``POST /api/sessions``. Every key is optional (the default
is used); an unknown key, a wrong type or a value out of range is refused with a
:class:`SettingsError` that names the key and the values allowed.

    >>> settings = parse_settings({"dataset": "xor", "layers": [{"neurons": 4, "activation": "tanh"}]})
    >>> settings.dataset, settings.layers[0].activation, settings.loss
    ('xor', 'tanh', 'cross_entropy')

The names offered come from the library's own tables: the activations of
:mod:`backprop.engine.ops.activation`, the optimisers of :data:`backprop.optim.OPTIMIZERS`
and the losses of :data:`backprop.losses.LOSSES` that fit the task.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields

from backprop.losses import LOSSES
from backprop.naming import short_repr
from backprop.playground.datasets import DATASETS

__all__ = [
    "Settings", "LayerSettings", "SettingsError", "parse_settings", "options",
    "INITIALISATIONS", "CLASSIFICATION_LOSSES", "REGRESSION_LOSSES", "BATCH_MODES", "REGULARIZATIONS",
    "CSV_SOURCE", "LIMITS",
]

CSV_SOURCE = "csv"  # the dataset name of an uploaded table

# The initialisations of the notes, as the library names them (W only; b starts at 0).
INITIALISATIONS = {
    "zeros": ("zeros", "W = 0: every neuron of a layer computes the same thing (symmetry)"),
    "equal": ("constant", "every W equal to the same value: symmetric too"),
    "normal": ("normal", "W ~ N(0, 0.1), the notes' small random numbers"),
    "xavier": ("xavier_normal", "Xavier: σ = √(2/(n_in + n_out))"),
    "he": ("he_normal", "He: σ = √(2/n_in), for ReLU"),
}
# Output-layer losses, from the loss registry by kind: on logits for classification (the loss
# applies softmax or σ, so the output layer is linear), and the regression losses.
CLASSIFICATION_LOSSES = tuple(name for name, cls in LOSSES.items() if cls.kind in ("multiclass", "binary_logits"))
REGRESSION_LOSSES = tuple(name for name, cls in LOSSES.items() if cls.kind == "regression")
BATCH_MODES = {"batch": "batch gradient descent: one step per epoch on all N examples",
               "stochastic": "stochastic gradient descent: one example per step",
               "minibatch": "mini-batch gradient descent: batch_size examples per step"}
REGULARIZATIONS = ("none", "l1", "l2")
TASKS = ("auto", "classification", "regression")

LIMITS = {
    "n_samples": (20, 5000), "noise": (0.0, 1.0), "train_ratio": (0.1, 0.9), "hidden_layers": (0, 10),
    "neurons": (1, 64), "lr": (1e-6, 10.0), "batch_size": (1, 5000), "reg_lambda": (0.0, 1.0),
    "dropout": (0.0, 0.9), "seed": (0, 2**31 - 1), "k": (-1e6, 1e6), "init_value": (-10.0, 10.0),
}


class SettingsError(ValueError):
    """A setting the playground cannot use; the message names it and what is allowed."""


def activation_names() -> list:
    """The elementwise activations of the library, with ``linear`` for the identity (as the notes call it)."""
    from backprop.engine.ops.activation import ACTIVATIONS

    return ["linear" if name == "identity" else name for name, cls in ACTIVATIONS.items()
            if cls.elementwise and name != "linear"]  # the notes' linear with its default slope k = 1


def optimizer_names() -> list:
    from backprop.optim import OPTIMIZERS

    return OPTIMIZERS.names()


@dataclass
class LayerSettings:
    """One hidden layer: its number of neurons, its activation f and, for ``step``, the threshold k."""

    neurons: int = 4
    activation: str = "tanh"
    k: float = 0.0


def _default_layers() -> list:
    return [LayerSettings(4, "tanh"), LayerSettings(2, "tanh")]


@dataclass
class Settings:
    """A whole run: data, network, training. See :func:`options` for the allowed values."""

    dataset: str = "circle"
    noise: float = 0.1
    train_ratio: float = 0.5
    n_samples: int = 400
    features: list = field(default_factory=list)  # csv: the two feature columns
    target: str = ""  # csv: the target column
    task: str = "auto"  # csv: classification or regression
    layers: list = field(default_factory=_default_layers)
    output_activation: str = "linear"  # regression only: a classifier's loss applies softmax/σ itself
    init: str = "xavier"
    init_value: float = 0.5  # the value of every weight for init "equal"
    loss: str = ""  # "" is cross_entropy for classification, mse for regression
    optimizer: str = "sgd"
    lr: float = 0.03
    batch: str = "minibatch"
    batch_size: int = 10
    regularization: str = "none"
    reg_lambda: float = 0.001
    dropout: float = 0.0
    batch_norm: bool = False
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def batch_size_for_training(self):
        """The Trainer's ``batch_size``: None (batch), 1 (stochastic) or ``batch_size``."""
        return {"batch": None, "stochastic": 1}.get(self.batch, self.batch_size)

    def loss_for(self, task: str) -> str:
        return self.loss or ("cross_entropy" if task == "classification" else "mse")


# ------------------------------------------------------------------ checks
def _real(value, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SettingsError(f"{key} must be a finite number, got {short_repr(value)}")
    low, high = LIMITS[key]
    if not low <= value <= high:
        raise SettingsError(f"{key} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _integer(value, key: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON writes 4 as 4.0 in some clients
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SettingsError(f"{key} must be an integer, got {short_repr(value)}")
    low, high = LIMITS[key]
    if not low <= value <= high:
        raise SettingsError(f"{key} must be between {low} and {high}, got {value!r}")
    return int(value)


def _choice(value, key: str, allowed) -> str:
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise SettingsError(f"{key} must be one of {allowed}, got {short_repr(value)}")
    return value


def _text(value, key: str) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise SettingsError(f"{key} must be a column name (a string of at most 200 characters), "
                            f"got {short_repr(value)}")
    return value


def _boolean(value, key: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{key} must be true or false, got {short_repr(value)}")
    return value


def _layer(value, position: int) -> LayerSettings:
    where = f"layers[{position}]"
    if not isinstance(value, dict):
        raise SettingsError(f"{where} must be an object such as {{\"neurons\": 4, \"activation\": \"tanh\"}}, "
                            f"got {short_repr(value)}")
    known = {f.name for f in fields(LayerSettings)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise SettingsError(f"{where} has unknown key(s) {unknown}; its keys are {sorted(known)}")
    layer = LayerSettings()
    if "neurons" in value:
        layer.neurons = _integer(value["neurons"], "neurons")
    if "activation" in value:
        layer.activation = _choice(value["activation"], f"{where}.activation", activation_names())
    if "k" in value:
        layer.k = _real(value["k"], "k")
    return layer


def parse_settings(data) -> Settings:
    """Check a JSON object of settings and return them as :class:`Settings`.

    Raises:
        SettingsError: naming the first key that is unknown, of the wrong type or out of range.
    """
    if not isinstance(data, dict):
        raise SettingsError(f"the settings must be a JSON object, got {type(data).__name__}")
    known = [f.name for f in fields(Settings)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SettingsError(f"unknown setting(s) {[short_repr(k) for k in unknown[:5]]}; the settings are {known}")
    s = Settings()
    get = data.get
    if "dataset" in data:
        s.dataset = _choice(get("dataset"), "dataset", [*DATASETS, CSV_SOURCE])
    for key in ("noise", "train_ratio", "lr", "reg_lambda", "dropout", "init_value"):
        if key in data:
            setattr(s, key, _real(data[key], key))
    for key in ("n_samples", "batch_size", "seed"):
        if key in data:
            setattr(s, key, _integer(data[key], key))
    if "features" in data:
        features = get("features")
        if not isinstance(features, list) or len(features) > 2:
            raise SettingsError(f"features must be a list of two column names, got {short_repr(features)}")
        s.features = [_text(name, "features") for name in features]
    if "target" in data:
        s.target = _text(get("target"), "target")
    if "task" in data:
        s.task = _choice(get("task"), "task", TASKS)
    if "layers" in data:
        layers = get("layers")
        low, high = LIMITS["hidden_layers"]
        if not isinstance(layers, list) or not low <= len(layers) <= high:
            raise SettingsError(f"layers must be a list of {low} to {high} hidden layers, got {short_repr(layers)}")
        s.layers = [_layer(layer, i) for i, layer in enumerate(layers)]
    if "output_activation" in data:
        s.output_activation = _choice(get("output_activation"), "output_activation", activation_names())
    if "init" in data:
        s.init = _choice(get("init"), "init", INITIALISATIONS)
    if "loss" in data:
        s.loss = _choice(get("loss"), "loss", ["", *CLASSIFICATION_LOSSES, *REGRESSION_LOSSES])
    if "optimizer" in data:
        s.optimizer = _choice(get("optimizer"), "optimizer", optimizer_names())
    if "batch" in data:
        s.batch = _choice(get("batch"), "batch", BATCH_MODES)
    if "regularization" in data:
        s.regularization = _choice(get("regularization"), "regularization", REGULARIZATIONS)
    if "batch_norm" in data:
        s.batch_norm = _boolean(get("batch_norm"), "batch_norm")
    if s.dataset == CSV_SOURCE:
        if len(s.features) != 2 or s.features[0] == s.features[1]:
            raise SettingsError("a CSV dataset needs features: two different column names")
        if not s.target or s.target in s.features:
            raise SettingsError("a CSV dataset needs a target column other than the two features")
    return s


def options() -> dict:
    """What the page may choose from, with the defaults and the limits (``GET /api/options``)."""
    return {
        "datasets": [{"name": d.name, "description": d.description} for d in DATASETS.values()],
        "activations": activation_names(),
        "initialisations": [{"name": name, "library": lib, "description": text}
                            for name, (lib, text) in INITIALISATIONS.items()],
        "losses": {"classification": list(CLASSIFICATION_LOSSES), "regression": list(REGRESSION_LOSSES)},
        "optimizers": optimizer_names(),
        "batch_modes": [{"name": name, "description": text} for name, text in BATCH_MODES.items()],
        "regularizations": list(REGULARIZATIONS),
        "tasks": list(TASKS),
        "limits": {key: list(value) for key, value in LIMITS.items()},
        "defaults": Settings().to_dict(),
    }
