"""One learner's run, held in memory: the data, the network, its Trainer and its GradientMonitor.

Training happens on the server, a few epochs per request (:meth:`Session.train`), so the
page polls: it asks for some epochs, draws the state it gets back, and asks again. A
request never trains longer than its time budget; a lock per session keeps two requests
of one page from training the same network at once.

Everything the page shows comes from the library:

* the loss curves from the Trainer's ``History`` (``loss`` over each epoch's batches,
  ``val_loss`` on the test rows);
* the diagnostics from ``bp.GradientMonitor`` (its warnings, in the order they fired);
* the step through one example from ``bp.trace``: z, a, f′(z), δ, ∂J/∂W, ∂J/∂b of every
  layer, and the four equations' residuals. :meth:`Session.apply_step` then performs the
  notes' update W ← W − α ∂J/∂W with those gradients (plus the weight penalty's own
  gradient, from the regulariser, when there is one);
* the model file from ``bp.save``, with the preprocessing ``backprop predict`` needs.

:class:`SessionStore` keeps at most ``max_sessions`` sessions and forgets the least
recently used one first.
"""

from __future__ import annotations

import base64
import math
import os
import secrets
import tempfile
import threading
import time
from collections import OrderedDict

import numpy as np

import backprop as bp
from backprop.playground.data import GRID, NEURON_GRID, build_data
from backprop.playground.network import build_network
from backprop.playground.settings import Settings, SettingsError

__all__ = ["Session", "SessionStore", "UnavailableError", "two_logit_softmax", "MAX_EPOCHS_PER_REQUEST",
           "TRAIN_BUDGET_S", "PROBE_ROWS"]

MAX_EPOCHS_PER_REQUEST = 1000
TRAIN_BUDGET_S = 0.5  # a train request stops after the epoch that passes this
PROBE_ROWS = 256  # GradientMonitor's probe batch: dead ReLUs and saturation are measured on it
MODEL_FILE_NAME = "playground.safetensors"

# bp.manual_seed sets the library's one generator: two sessions built at once must not
# interleave their draws, or a shared setup would not give the same weights.
_BUILD_LOCK = threading.Lock()


class UnavailableError(ValueError):
    """What was asked cannot be done in this state (a trace through BatchNorm, saving NaN weights)."""


class _TimeBudget(bp.training.Callback):
    """Stops training after the epoch in which ``budget`` seconds have passed."""

    def __init__(self):
        self.budget = TRAIN_BUDGET_S

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self._started > self.budget:
            self.trainer.stop_training = True


def _plane(values: np.ndarray, low: float, high: float) -> str:
    """Values mapped linearly from [low, high] to bytes 0..255 (clipped; not finite: 0), base64."""
    values = np.asarray(values, dtype=np.float64)
    span = high - low if high > low else 1.0
    scaled = np.where(np.isfinite(values), (values - low) / span, 0.0)
    return base64.b64encode(np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8).tobytes()).decode("ascii")


def _floats(array) -> list:
    return np.asarray(array, dtype=np.float64).tolist()


class Session:
    """A run: built from :class:`~backprop.playground.settings.Settings` (and CSV text for ``dataset="csv"``).

    Raises:
        SettingsError: the settings do not fit the data, or the library refuses them
            (its message is passed on).
    """

    def __init__(self, settings: Settings, csv_text=None):
        self.id = secrets.token_urlsafe(12)
        self.settings = settings
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.data = data = build_data(settings, csv_text)
        self.loss_name = settings.loss_for(data.task)
        n_train = len(data.X_train)
        batch_size = settings.batch_size_for_training
        if batch_size is not None and batch_size > n_train:
            raise SettingsError(f"batch_size {batch_size} is larger than the {n_train} training rows")
        if settings.batch_norm:
            last = n_train if batch_size is None else (n_train % batch_size or batch_size)
            if last < 2:
                raise SettingsError(
                    f"batch normalisation needs at least 2 examples in every batch; with {n_train} training rows "
                    f"and batches of {batch_size} the last batch has 1: choose another batch size")
        n_outputs = 1 if self.loss_name == "binary_cross_entropy_with_logits" else data.n_outputs_needed
        try:
            with _BUILD_LOCK:
                bp.manual_seed(settings.seed)
                self.network = build_network(settings, n_outputs, data.task)
            model = self.network.model
            optimizer = bp.optim.get_optimizer(settings.optimizer, model.parameters(), lr=settings.lr)
        except (ValueError, TypeError) as error:
            raise SettingsError(str(error)) from None
        probe = (data.X_train[:PROBE_ROWS], data.y_train[:PROBE_ROWS])
        self.monitor = bp.GradientMonitor(probe=probe, warn=False)
        self._budget = _TimeBudget()
        self.metrics = ["accuracy"] if data.task == "classification" else []
        self.trainer = bp.training.Trainer(
            model, loss=self.loss_name, optimizer=optimizer, metrics=self.metrics,
            callbacks=[self.monitor, self._budget], batch_size=batch_size, shuffle=True, verbose=0,
            order_rng=np.random.default_rng(settings.seed))
        self.diverged = None
        self.warnings = []  # [{"epoch", "message"}], as GradientMonitor issued them
        self._fit(0)  # records the model's fitted attributes; the monitor checks the initial weights

    # ------------------------------------------------------------------ training
    def _fit(self, epochs: int) -> None:
        data = self.data
        with np.errstate(all="ignore"):  # a diverging run is reported once, below, not per NumPy call
            try:
                self.trainer.fit(data.X_train, data.y_train, epochs=epochs,
                                 validation_data=(data.X_test, data.y_test))
            except bp.training.TrainingDivergedError as error:
                self.diverged = f"{error} Lower the learning rate and press reset."
        for message in self.monitor.warnings[len(self.warnings):]:
            self.warnings.append({"epoch": self.trainer.epoch, "message": message})

    def train(self, epochs: int, budget_s: float = TRAIN_BUDGET_S) -> None:
        """Run up to ``epochs`` more epochs, stopping after the epoch that passes ``budget_s`` seconds."""
        if self.diverged is None:
            self._budget.budget = budget_s
            self._fit(epochs)

    # ------------------------------------------------------------------ state
    def state(self) -> dict:
        """What the page draws after each request: curves, heatmaps, weights, diagnostics."""
        data, network = self.data, self.network
        with np.errstate(all="ignore"):
            if data.task == "classification":
                probabilities = bp.training.predict_proba(network.model, data.grid)  # (G², K)
                output = {"kind": "classes", "planes": [_plane(p, 0.0, 1.0) for p in probabilities.T]}
            else:
                values = data.preprocessor.inverse_transform_target(bp.predict(network.model, data.grid))
                low, high = data.to_json()["target_range"]
                output = {"kind": "values", "low": low, "high": high, "planes": [_plane(values, low, high)]}
            neurons = []
            for a in network.layer_outputs(data.neuron_grid):
                layer = []
                for column in np.asarray(a, dtype=np.float64).T:
                    finite = column[np.isfinite(column)]
                    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
                    scale = scale if scale > 0 else 1.0
                    layer.append({"scale": scale, "plane": _plane(column, -scale, scale),
                                  "finite": bool(finite.size == column.size)})
                neurons.append(layer)
        history = {key: [v if math.isfinite(v) else None for v in values]
                   for key, values in self.trainer.history.history.items()}
        return {
            "epoch": self.trainer.epoch, "history": history, "output": output, "neurons": neurons,
            "weights": network.weights(), "warnings": list(self.warnings), "diverged": self.diverged,
        }

    def describe(self) -> dict:
        """The session's fixed facts: its id, its settings, the data points and the network's shape."""
        network = self.network
        return {
            "id": self.id, "settings": self.settings.to_dict(), "data": self.data.to_json(),
            "loss": self.loss_name, "grid": [GRID, NEURON_GRID],
            "sizes": [2] + [d.out_features for d in network.dense],
            "activations": [layer.activation for layer in self.settings.layers] + [self._output_activation()],
            "batch_norm": network.has_batch_norm, "traceable": not network.has_batch_norm,
            "parameters": network.model.num_parameters(),
        }

    def _output_activation(self) -> str:
        if self.loss_name == "cross_entropy":
            return "softmax (in the loss)"
        if self.loss_name == "binary_cross_entropy_with_logits":
            return "sigmoid (in the loss)"
        return self.settings.output_activation

    # ------------------------------------------------------------------ one example
    def _example(self, split: str, index: int):
        if split not in ("train", "test"):
            raise SettingsError(f"split must be 'train' or 'test', got {split!r}")
        X, y = (self.data.X_train, self.data.y_train) if split == "train" else (self.data.X_test, self.data.y_test)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(X):
            raise SettingsError(f"index must be an integer from 0 to {len(X) - 1} for the {split} rows, got {index!r}")
        return X[index], y[index]

    def trace(self, split: str, index: int) -> dict:
        """``bp.trace`` of one example: every quantity of the four equations, and the update they give."""
        if self.network.has_batch_norm:
            raise UnavailableError(
                "bp.trace follows Dense and activation layers only, so it cannot step through batch "
                "normalisation: turn batch_norm off to step through an example")
        x, y = self._example(split, index)
        with np.errstate(all="ignore"):
            t = bp.trace(self.network.model, x, y, loss=self.loss_name)
        lr = self.settings.lr
        layers = []
        for record, dense in zip(t.layers, self.network.dense):
            penalty = self._penalty_gradient(dense)
            dW_total = record.dW if penalty is None else record.dW + penalty
            layers.append({
                "index": record.index, "description": record.description, "activation": record.activation,
                "W": _floats(record.W), "b": _floats(record.b), "a_prev": _floats(record.a_prev),
                "z": _floats(record.z), "a": _floats(record.a), "df": _floats(record.df),
                "jacobian": bool(record.jacobian), "delta": _floats(record.delta), "dW": _floats(record.dW),
                "db": _floats(record.db), "dJ_da": None if record.dJ_da is None else _floats(record.dJ_da),
                "penalty_dW": None if penalty is None else _floats(penalty),
                "W_new": _floats(record.W - lr * dW_total), "b_new": _floats(record.b - lr * record.db),
            })
        raw = (self.data.raw_train if split == "train" else self.data.raw_test)[index]
        label = (self.data.label_train if split == "train" else self.data.label_test)[index]
        return {
            "split": split, "index": index, "x_raw": _floats(raw),
            "label": label.item() if isinstance(label, np.generic) else label,
            "x": _floats(t.x), "y": _floats(t.y), "target": _floats(y), "loss": float(t.loss), "loss_name": t.loss_name,
            "lr": lr, "layers": layers, "notes": list(t.notes), "output_in_loss": t.output_in_loss,
            "residuals": {key: {str(m): value for m, value in per_layer.items()}
                          for key, per_layer in t.residuals.items()},
            "max_residual": t.max_residual, "dtype": str(t.dtype),
        }

    @staticmethod
    def _penalty_gradient(dense):
        """∂penalty/∂W of the layer's regulariser (L1: λ sign W, L2: 2λW), by the engine; None without one."""
        regularizer = getattr(dense, "weight_regularizer", None)
        if regularizer is None:
            return None
        W = bp.Tensor(np.array(dense.W.data), requires_grad=True)
        regularizer(W).backward()
        return np.asarray(W.grad, dtype=dense.W.data.dtype)

    def apply_step(self, split: str, index: int) -> dict:
        """One gradient-descent step on one example: W ← W − α (∂J/∂W + ∂penalty/∂W), b ← b − α ∂J/∂b.

        The gradients are ``bp.trace``'s (evaluation mode: no dropout mask); returns that trace.
        """
        traced = self.trace(split, index)
        for layer, dense in zip(traced["layers"], self.network.dense):
            dense.W.data[...] = np.asarray(layer["W_new"], dtype=dense.W.data.dtype)
            if dense.b is not None:
                dense.b.data[...] = np.asarray(layer["b_new"], dtype=dense.b.data.dtype)
        return traced

    # ------------------------------------------------------------------ the model file
    def model_file(self) -> bytes:
        """The network as a ``.safetensors`` model file that ``backprop predict`` reads."""
        data = self.data
        test = self.trainer.evaluate(data.X_test, data.y_test)
        metadata = {
            "preprocessing": data.preprocessor.get_config(), "task": data.task, "target": str(data.target),
            "training": {"data": f"backprop playground: {data.source}", "options": self.settings.to_dict(),
                         "test_metrics": {key: float(value) for key, value in test.items()},
                         "n_train": len(data.X_train), "n_test": len(data.X_test),
                         "epochs": self.trainer.epoch},
        }
        model = self.network.model
        if self.loss_name == "binary_cross_entropy_with_logits":
            model = two_logit_softmax(model)
            metadata["training"]["saved_as"] = ("the σ output z saved as the equivalent softmax over the "
                                                "two logits [0, z], which backprop predict reads")
        with tempfile.TemporaryDirectory(prefix="backprop-playground-") as folder:
            path = os.path.join(folder, MODEL_FILE_NAME)
            try:
                bp.save(model, path, metadata=metadata)
            except ValueError as error:
                raise UnavailableError(f"cannot save this network: {error}") from None
            with open(path, "rb") as handle:
                return handle.read()


def two_logit_softmax(model):
    """The same classifier with the σ of one logit z written as a softmax over the two logits [0, z].

    softmax([0, z]) = [1/(1 + e^z), e^z/(1 + e^z)] = [1 − σ(z), σ(z)], so the copy predicts the
    same probabilities; it is the cross-entropy form every command reads (one output per class).
    """
    config = bp.nn.module_to_config(model)
    layers = config["config"]["layers"]
    last = len(layers) - 1
    layers[last]["config"]["out_features"] = 2
    twin = bp.nn.module_from_config(config)
    state = model.state_dict()
    W, b = state[f"{last}.W"], state.get(f"{last}.b")
    state[f"{last}.W"] = np.vstack([np.zeros_like(W), W])
    if b is not None:
        state[f"{last}.b"] = np.concatenate([np.zeros_like(b), b])
    twin.load_state_dict(state)
    record = model.fit_record
    twin.fit_record = bp.training.FitRecord.of_fit(
        bp.losses.cross_entropy, classes=None if record is None else record.classes,
        n_features_in=None if record is None else record.n_features_in, metrics=() if record is None else record.metrics)
    return twin


class SessionStore:
    """At most ``max_sessions`` sessions in memory; adding one more forgets the least recently used."""

    def __init__(self, max_sessions: int = 16):
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError(f"max_sessions must be a positive integer, got {max_sessions!r}")
        self.max_sessions = max_sessions
        self._sessions: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def get(self, session_id: str):
        """The session, or None when there is none by that id (never made, or forgotten)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._sessions.move_to_end(session_id)
                session.last_used = time.monotonic()
            return session

    def __len__(self) -> int:
        return len(self._sessions)
