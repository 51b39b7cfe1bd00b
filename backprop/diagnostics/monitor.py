"""GradientMonitor: watch the gradient flow during training and say what to do about problems.

The notes list what goes wrong when training deep networks: gradients that
vanish on their way back through saturated sigmoids (δ^m = f′(z^m) ∘ (W^(m+1))ᵀ δ^(m+1)
shrinks by f′ ≤ 1/4 per sigmoid layer), gradients that explode, neurons that
stay identical because they started identical (symmetry), and a learning rate
so high that the loss rises. The monitor records, per layer m with weights (Dense,
Conv1d, Conv2d: a layer with a :meth:`~backprop.nn.Module.traced_form`) and per epoch:

* ``grad_norm``: ‖∂J/∂W^m‖ (Frobenius), the mean over the epoch's steps of the
  gradients the optimiser used;
* ``update_ratio``: ‖ΔW^m‖ / ‖W^m‖, how much the epoch changed the weights
  (about 1e-3 per step is healthy; near 1 the weights are being thrown around);
* with a probe batch: ``dead_relu``, the share of ReLU units (a conv layer's units are its
  channels, at every position) that output 0 for every example of the probe batch, and ``saturated``, the share of sigmoid
  activations with a < 0.01 or a > 0.99 and of tanh activations with |a| > 0.99
  (over units and probe examples), where f′ is below 0.01 (sigmoid) or 0.02 (tanh).

It warns once per problem (a :class:`DiagnosticsWarning`, also kept in
``monitor.warnings``) with a sentence that says what to do, fitted to the network: the
advice for vanishing gradients names the cause it can see (weights that start zero or
equal, dead ReLUs, saturated sigmoids, or a network that already uses ReLU). A step
activation, whose f′ is 0 everywhere, is reported as such rather than as "vanishing"; with a
probe batch, activations that grow by ``exploding_ratio`` from the input to some layer (a
deep linear network with too large weights) are reported as exploding.

Example:
    >>> monitor = GradientMonitor(probe=(X[:256], y[:256]))               # doctest: +SKIP
    >>> model.fit(X, y, loss="cross_entropy", epochs=10, callbacks=[monitor])
    >>> monitor.history["grad_norm"]["layer 1"]       # one value per epoch
    >>> print(monitor.report())
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from backprop.training.callbacks import Callback

__all__ = ["GradientMonitor", "DiagnosticsWarning"]

SIGMOID_SATURATION = 0.01  # a < 0.01 or a > 0.99: f′ = a(1 − a) < 0.0099
TANH_SATURATION = 0.99     # |a| > 0.99: f′ = 1 − a² < 0.0199


class DiagnosticsWarning(UserWarning):
    """A training problem found by :class:`GradientMonitor`; the message says what to do."""


class GradientMonitor(Callback):
    """Records gradient norms, update ratios, dead and saturated units; warns about problems.

    Args:
        probe: a probe batch ``(X, y)`` (or just X) measured at the end of each epoch:
            dead ReLUs and saturated units need it, and it supplies the gradient norms
            when the training step leaves no ``.grad`` on the parameters. Without it
            only gradients, updates and the loss are watched.
        probe_size: use at most this many rows of the probe (default 256).
        vanishing_ratio: warn when g_1 < vanishing_ratio × g_L (default 1e-2: the first
            layer learns 100× slower than the last), where g_m = ‖∂J/∂W^m‖ / √size(W^m) is
            the root-mean-square gradient of one weight (layers of different sizes compare
            fairly). Checked on the first step's gradients and on each epoch's mean.
        gradient_floor: ... or when g_1 < gradient_floor ≤ g_L (1e-8).
        exploding_ratio: warn when g_1 > exploding_ratio × g_L (1e2), or a gradient is
            not finite; and, with a probe, when the root-mean-square of some layer's z exceeds
            exploding_ratio × that of the input (exploding activations).
        rise_factor: warn about the learning rate when the epoch's loss is above
            rise_factor × the lowest loss seen so far (the first step's loss included),
            and the rise is at least ``rise_share`` (0.1) of the fall from the first loss to
            that lowest one (a loss near 0 that doubles by noise is no learning-rate problem),
            or is not finite (1.5).
        dead_share: warn when at least this share of all ReLU units is dead (0.5), or when
            every unit of a ReLU layer is (no gradient then passes through it).
        warn: also issue ``warnings.warn`` (default True); messages are always kept
            in :attr:`warnings`.

    Attributes:
        history: ``{quantity: {"layer m": [one value per epoch]}}`` for the quantities
            ``grad_norm``, ``update_ratio``, ``dead_relu``, ``saturated`` (the last two
            only for layers where they apply, and only with a probe).
        losses: the training loss of each epoch.
        warnings: the warning messages issued, in order.
        layers: ``[(name, description)]`` of the Dense layers watched.
        weight_sizes: the number of weights of each of those layers.
        probe_used: whether the probe batch is measured (it needs a Sequential of Dense
            and activation layers, like :func:`~backprop.diagnostics.trace`).
    """

    def __init__(self, probe=None, *, probe_size: int = 256, vanishing_ratio: float = 1e-2,
                 gradient_floor: float = 1e-8, exploding_ratio: float = 1e2, rise_factor: float = 1.5,
                 rise_share: float = 0.1,
                 dead_share: float = 0.5, warn: bool = True):
        self.probe = probe
        self.probe_size = int(probe_size)
        self.vanishing_ratio = float(vanishing_ratio)
        self.gradient_floor = float(gradient_floor)
        self.exploding_ratio = float(exploding_ratio)
        self.rise_factor = float(rise_factor)
        self.rise_share = float(rise_share)
        self._start_loss = None  # the first loss this monitor saw, over all fit calls
        self.dead_share = float(dead_share)
        self.warn = bool(warn)
        self.history: dict = {}
        self.losses: list = []
        self.warnings: list = []
        self.layers: list = []
        self.weight_sizes: list = []
        self.probe_used = False
        self._kinds_warned: set = set()
        self._symmetric = None  # what _check_symmetry found: "all zero", "all equal", "identical" or None

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._groups, self._traceable = _watched_layers(self.model)
        self.layers = [(f"layer {m}", _describe(group)) for m, group in enumerate(self._groups, 1)]
        names = [name for name, _ in self.layers]
        self.weight_sizes = [group.layer.W.data.size for group in self._groups]
        if not self.history or set(self.history["grad_norm"]) != set(names):
            # A first fit, or a monitor reused on another network: start a fresh record.
            self.history = {"grad_norm": {n: [] for n in names}, "update_ratio": {n: [] for n in names},
                            "dead_relu": {}, "saturated": {}}
        self._probe = self._prepare_probe() if self._traceable else None
        self.probe_used = self._probe is not None
        self._best_loss = min(self.losses) if self.losses else math.inf
        self._first_loss = None
        self._checked_first_step = bool(self.losses)
        self._check_symmetry()
        self._check_no_gradient()
        if self._probe is not None:
            self._check_activation_growth("before training")

    def on_epoch_begin(self, epoch, logs=None):
        self._start_weights = [np.array(group.layer.W.data, dtype=np.float64) for group in self._groups]
        self._grad_sums = np.zeros(len(self._groups))
        self._grad_steps = 0

    def on_batch_end(self, batch, logs=None):
        grads = [group.layer.W.grad for group in self._groups]
        if all(g is not None for g in grads):
            norms = [_norm(g) for g in grads]
            self._grad_sums += norms
            self._grad_steps += 1
            if not self._checked_first_step:
                self._checked_first_step = True
                self._check_gradients(norms, "first step")
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if self._first_loss is None:
            self._first_loss = float(loss)
            if self._start_loss is None and math.isfinite(self._first_loss):
                self._start_loss = self._first_loss
            self._best_loss = min(self._best_loss, self._first_loss)
        if not math.isfinite(loss):
            self._warn_learning_rate(f"the loss became {loss} in epoch {self.trainer.epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        n = epoch + 1
        if self._grad_steps:
            norms = list(self._grad_sums / self._grad_steps)
        elif self._probe is not None:
            norms = self._probe_gradient_norms()
        else:
            norms = [math.nan] * len(self._groups)
        for (name, _), value in zip(self.layers, norms):
            self.history["grad_norm"][name].append(float(value))
        for (name, _), group, start in zip(self.layers, self._groups, self._start_weights):
            self.history["update_ratio"][name].append(_ratio(_norm(group.layer.W.data - start), _norm(start)))
        if self._probe is not None:
            self._record_activations()
        loss = (logs or {}).get("loss")
        if loss is not None:
            self.losses.append(float(loss))
            self._check_loss(float(loss), n)
        self._check_gradients(norms, f"epoch {n}")
        self._check_dead(n)
        if self._probe is not None and "learning_rate" not in self._kinds_warned:
            # (after a learning rate that is too high, large activations are its consequence, already said)
            self._check_activation_growth(f"epoch {n}")

    # ------------------------------------------------------------------ probe
    def _prepare_probe(self):
        if self.probe is None:
            return None
        X, y = (self.probe if isinstance(self.probe, (tuple, list)) and len(self.probe) == 2 else (self.probe, None))
        X = np.asarray(X)[: self.probe_size]
        target = None
        if y is not None:
            from backprop.training.loop import Trainer

            try:
                prepared = Trainer(self.model, loss=self.trainer.loss_fn, optimizer=None, verbose=0).prepare(
                    X, np.asarray(y)[: self.probe_size])
                X, target = prepared.X, prepared.target
            except (ValueError, TypeError):
                # A loss the Trainer cannot encode labels for (e.g. the scikit-learn front's
                # own cost): the unit statistics need only the inputs.
                target = None
                X = np.asarray(X, dtype=self._groups[0].layer.W.data.dtype)
        else:
            X = X.astype(self._groups[0].layer.W.data.dtype, copy=False)
        return X, target

    def _probe_forward(self):
        """(z, a) of each layer on the probe batch, in evaluation mode and without a graph."""
        from backprop.diagnostics.trace import _forward
        from backprop.engine.tensor import no_grad

        X, _ = self._probe
        with no_grad():
            kept, _ = _forward(self._groups, X, X.dtype, copies=False)
        return [(k["z"].data, k["a"].data) for k in kept]

    def _probe_gradient_norms(self) -> list:
        X, target = self._probe
        if target is None:
            return [math.nan] * len(self._groups)
        from backprop.diagnostics.trace import _forward_backward
        from backprop.engine.tensor import enable_grad

        with enable_grad():
            _, _, kept = _forward_backward(self._groups, X, target, self.trainer.loss_fn, X.dtype)
        return [_norm(k["W"].grad) if k["W"].grad is not None else 0.0 for k in kept]

    def _record_activations(self):
        for (name, _), group, (z, a) in zip(self.layers, self._groups, self._probe_forward()):
            kinds = [act.name for act in group.acts]
            if not kinds:
                continue
            last = kinds[-1]
            if last == "relu":
                dead = float(np.mean(_dead_units(a)))
                self.history["dead_relu"].setdefault(name, []).append(dead)
            elif last == "sigmoid":
                share = float(np.mean((a < SIGMOID_SATURATION) | (a > 1 - SIGMOID_SATURATION)))
                self.history["saturated"].setdefault(name, []).append(share)
            elif last == "tanh":
                share = float(np.mean(np.abs(a) > TANH_SATURATION))
                self.history["saturated"].setdefault(name, []).append(share)

    # ----------------------------------------------------------------- checks
    def _issue(self, kind: str, message: str) -> None:
        if kind in self._kinds_warned:
            return
        self._kinds_warned.add(kind)
        self.warnings.append(message)
        if self.warn:
            warnings.warn(message, DiagnosticsWarning, stacklevel=3)

    def _check_symmetry(self):
        self._symmetric = None
        for m, group in enumerate(self._groups, 1):
            W = group.layer.W.data
            if W.shape[0] < 2:
                continue
            b = None if group.layer.b is None else group.layer.b.data
            same_rows = np.all(W == W[:1]) and (b is None or np.all(b == b[0]))
            if same_rows:
                what = "all zero" if not np.any(W) else "all equal" if np.all(W == W.flat[0]) else "identical"
                self._symmetric = what
                self._issue("symmetry", (
                    f"GradientMonitor: symmetric initialisation: the weights of layer {m} are {what}, so its "
                    f"{W.shape[0]} neurons compute the same output and receive the same gradient; the neurons "
                    "of a layer stay identical. Use random initialisation such as he_normal/xavier_normal."
                ))
                return

    def _check_no_gradient(self):
        """A step activation has f′(z) = 0 for every z: δ is 0 there and in every layer before it."""
        steps = [m for m, group in enumerate(self._groups, 1) if any(act.name == "step" for act in group.acts)]
        if not steps:
            return
        m = steps[-1]
        before = "layer 1" if m == 1 else f"layers 1 to {m}"
        self._issue("no_gradient", (
            f"GradientMonitor: the step function has no gradient: layer {m} applies step, whose f′(z) = 0 for "
            f"every z, so δ^{m} = 0 and, through δ^(k−1) = f′(z^(k−1)) ∘ (W^k)ᵀ δ^k, so is the δ of every "
            f"layer before it: {before} never learn. Train with sigmoid, tanh or ReLU there (the notes' "
            "reason to replace the step by the sigmoid); keep the step for thresholding a trained output."
        ))

    def _check_activation_growth(self, when: str):
        """Warn when the RMS of z^m exceeds exploding_ratio × the RMS of the input (activations explode)."""
        X, _ = self._probe
        with np.errstate(all="ignore"):
            base = float(np.sqrt(np.mean(np.square(np.asarray(X, dtype=np.float64)))))
            sizes = [float(np.sqrt(np.mean(np.square(np.asarray(z, dtype=np.float64)))))
                     for z, _ in self._probe_forward()]
        if not base > 0 or not sizes:
            return
        growth = [size / base for size in sizes]
        worst = max(range(len(growth)), key=lambda i: growth[i] if math.isfinite(growth[i]) else math.inf)
        if math.isfinite(growth[worst]) and growth[worst] <= self.exploding_ratio:
            return
        self._issue("exploding_activations", (
            f"GradientMonitor: exploding activations and gradients: the root-mean-square of z grows from "
            f"{base:.2g} at the input to {sizes[worst]:.2g} in layer {worst + 1} ({when}), so the outputs, the "
            "loss and the gradients are huge. Use Xavier/He initialisation (they keep the variance of z from "
            "layer to layer) or batch normalisation, and a smaller learning rate."
        ))

    def _unit_shares(self):
        """(share of ReLU units dead, share of sigmoid/tanh activations saturated) on the probe, or None."""
        if self._probe is None:
            return None
        dead, relu_units, saturated, squashed = 0.0, 0, 0.0, 0
        for group, (_, a) in zip(self._groups, self._probe_forward()):
            last = group.acts[-1].name if group.acts else "identity"
            if last == "relu":
                dead += float(np.sum(_dead_units(a)))
                relu_units += a.shape[1]
            elif last == "sigmoid":
                saturated += float(np.sum((a < SIGMOID_SATURATION) | (a > 1 - SIGMOID_SATURATION)))
                squashed += a.size
            elif last == "tanh":
                saturated += float(np.sum(np.abs(a) > TANH_SATURATION))
                squashed += a.size
        return (dead / relu_units if relu_units else 0.0), (saturated / squashed if squashed else 0.0)

    def _vanishing_advice(self) -> str:
        """What to do about vanishing gradients, for the cause this network shows."""
        if self._symmetric is not None:
            return (f"The weights start {self._symmetric} (see the symmetric-initialisation warning), so δ cannot "
                    "reach the first layers: use random initialisation such as he_normal/xavier_normal.")
        shares = self._unit_shares()
        if shares is not None and shares[0] >= self.dead_share:
            return ("Most ReLUs are dead (a = 0, so f′ = 0, for every probe example): lower the learning rate, "
                    "use He initialisation, or LeakyReLU.")
        hidden = [group.acts[-1].name if group.acts else "identity" for group in self._groups[:-1]]
        if hidden and all(name in ("relu", "leaky_relu") for name in hidden):
            return ("The network already uses ReLU: check the initialisation's scale (He: σ = √(2/n_in)), "
                    "or add batch normalisation.")
        if any(name in ("sigmoid", "tanh") for name in hidden) or (shares is not None and shares[1] >= 0.5):
            return "Use ReLU and He initialisation, or batch normalisation."
        return "Use He or Xavier initialisation, or batch normalisation."

    def _check_loss(self, loss: float, epoch: int):
        if not math.isfinite(loss):
            self._warn_learning_rate(f"the loss is {loss} after epoch {epoch}")
        elif (math.isfinite(self._best_loss) and loss > self.rise_factor * self._best_loss
              and loss - self._best_loss >= self.rise_share * max((self._start_loss or 0.0) - self._best_loss, 0.0)):
            self._warn_learning_rate(
                f"the loss rose to {loss:.4g} in epoch {epoch}, above {self.rise_factor:g} × the lowest "
                f"loss so far ({self._best_loss:.4g})"
            )
        if math.isfinite(loss):
            self._best_loss = min(self._best_loss, loss)

    def _warn_learning_rate(self, what: str):
        self._issue("learning_rate", (
            f"GradientMonitor: learning rate too high: {what}; gradient descent is overshooting. "
            "Lower the learning rate, e.g. by 10×."
        ))

    def _check_gradients(self, norms: list, when: str):
        """Compare the first and last layers' gradients, per weight (RMS = ‖∂J/∂W‖ / √size)."""
        if len(norms) < 2:
            return
        if not all(math.isfinite(v) for v in norms):
            if not all(math.isnan(v) for v in norms):
                self._issue("exploding", (
                    f"GradientMonitor: exploding gradients: a gradient norm is not finite ({when}). "
                    "Lower the learning rate, clip the gradients, or use He/Xavier initialisation "
                    "(or batch normalisation)."
                ))
            return
        sizes = [group.layer.W.data.size for group in self._groups]
        first, last = norms[0] / math.sqrt(sizes[0]), norms[-1] / math.sqrt(sizes[-1])
        L = len(norms)
        if last > 0 and (first < self.vanishing_ratio * last or first < self.gradient_floor <= last):
            if "no_gradient" in self._kinds_warned or "vanishing" in self._kinds_warned:
                return  # a step activation is the cause, and its warning says so
            self._issue("vanishing", (
                f"GradientMonitor: vanishing gradients: per weight, ∂J/∂W of layer 1 is {first / last:.1g} × "
                f"that of layer {L} ({when}), so the first layers barely learn. {self._vanishing_advice()}"
            ))
        elif first > 0 and first > self.exploding_ratio * last:
            self._issue("exploding", (
                f"GradientMonitor: exploding gradients: per weight, ∂J/∂W of layer 1 is "
                f"{first / max(last, 1e-300):.1g} × that of layer {L} ({when}). Lower the learning rate, "
                "clip the gradients, or use He/Xavier initialisation (or batch normalisation)."
            ))

    def _check_dead(self, epoch: int):
        """Warn when dead_share of all ReLU units (over the ReLU layers) is dead, or a whole layer is."""
        latest = {name: shares[-1] for name, shares in self.history["dead_relu"].items() if shares}
        if not latest:
            return
        units = {name: group.layer.W.shape[0] for (name, _), group in zip(self.layers, self._groups)}
        overall = sum(latest[n] * units[n] for n in latest) / sum(units[n] for n in latest)
        worst = max(latest, key=latest.get)
        if overall >= self.dead_share or latest[worst] == 1.0:
            share = f" ({overall:.0%} of all ReLU units)" if len(latest) > 1 else ""
            if self._symmetric == "all zero":
                advice = ("The weights started at zero, so z = b and every unit of a layer is the same: use random "
                          "initialisation such as he_normal.")
            else:
                advice = "Lower the learning rate, use He initialisation, or LeakyReLU."
            self._issue("dead_relu", (
                f"GradientMonitor: dead ReLUs: {latest[worst]:.0%} of the ReLU units of {worst}{share} "
                f"output 0 for every probe example (epoch {epoch}) and no longer learn. {advice}"
            ))

    # ----------------------------------------------------------------- report
    def report(self) -> str:
        """A readable text report of the gradient flow (lines of at most 80 characters)."""
        from backprop.diagnostics.report import gradient_report

        return gradient_report(self)

    def state_dict(self) -> dict:
        return {"history": self.history, "losses": list(self.losses), "warnings": list(self.warnings),
                "kinds_warned": sorted(self._kinds_warned), "start_loss": self._start_loss}

    def load_state_dict(self, state: dict) -> None:
        self.history = state.get("history", {})
        self.losses = list(state.get("losses", []))
        self.warnings = list(state.get("warnings", []))
        self._kinds_warned = set(state.get("kinds_warned", []))
        start = state.get("start_loss")
        self._start_loss = float(start) if isinstance(start, (int, float)) and math.isfinite(start) else None


def _watched_layers(model):
    """``([group], traceable)``: the layers with weights (a traced form), as :func:`trace` groups them.

    For a Sequential of such layers, activation layers and weightless ones (what :func:`trace`
    takes), the activations are grouped with their layer and the probe batch can be run
    through them. For any other model, every layer with a traced form is watched on its own
    (gradients, updates, symmetry) and the probe is not used.
    """
    from backprop.diagnostics.trace import _group_layers, _Group

    try:
        return _group_layers(model), True
    except TypeError:
        groups = []
        for module in model.modules():
            form = module.traced_form()
            if form is not None:
                groups.append(_Group(module, form, [] if form.activation is None else [form.activation], []))
        return groups, False


def _describe(group) -> str:
    """``"2 → 3, relu"`` for a Dense layer; a conv layer's kernel too: ``"Conv2d 1 → 8, 3×3 kernel, relu"``."""
    names = [act.name for act in group.acts if act.name != "identity"]
    W = group.layer.W
    what = f"{W.shape[1]} → {W.shape[0]}" if W.ndim == 2 else group.form.description
    return f"{what}, {' then '.join(names) if names else 'identity'}"


def _dead_units(a: np.ndarray) -> np.ndarray:
    """Per unit (axis 1: a Dense layer's neurons, a conv layer's channels), whether a ≤ 0 for every
    example and, for a conv layer, at every position."""
    return np.all(a <= 0, axis=tuple(axis for axis in range(a.ndim) if axis != 1))


def _norm(array) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(array, dtype=np.float64)))))


def _ratio(change: float, size: float) -> float:
    if size > 0:
        return change / size
    return 0.0 if change == 0 else math.inf
