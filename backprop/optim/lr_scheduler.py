"""Learning-rate schedules: change each parameter group's ``"lr"`` once per epoch.

They are PyTorch's ``torch.optim.lr_scheduler`` classes of the same names, with the
same values: call ``optimizer.step()`` for each batch and ``scheduler.step()`` once
at the end of each epoch (``ReduceLROnPlateau.step(metric)`` with the epoch's
validation loss or score). The schedule starts at epoch 0 with each group's current
lr, which it remembers as ``group["initial_lr"]`` (η₀ below).

Like PyTorch, the schedules compute the next lr from the current ``group["lr"]``
(the recursive form), so a change made to ``group["lr"]`` by hand carries on.

``state_dict()`` is a JSON-serialisable dict of the schedule's counters and
settings; restore the optimiser's state_dict too, since the current lr lives there.
``get_config()`` is its constructor arguments (without the optimiser).

Each schedule class is registered in :data:`SCHEDULES` under a snake-case ``name``
with its PyTorch class name as an alias, so ``get_lr_scheduler("StepLR", opt,
step_size=10)`` and ``get_lr_scheduler("step_lr", opt, step_size=10)`` are the same.
"""

from __future__ import annotations

import inspect
import math

from backprop.checks import check_in_unit_interval, check_int, check_non_negative, check_positive, check_positive_int
from backprop.optim.optimizer import Optimizer
from backprop.registry import Registry

__all__ = ["LRScheduler", "SCHEDULES", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
           "get_lr_scheduler"]

SCHEDULES = Registry("learning-rate schedule")
"""Every schedule class, by ``name`` and ``aliases`` (case-insensitive)."""


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"a schedule needs a backprop.optim optimiser, got {type(optimizer).__name__}")


class LRScheduler:
    """Base class: subclasses define ``_next_lrs()``, the lrs for ``self.last_epoch``.

    Attributes:
        optimizer: the optimiser whose ``param_groups[i]["lr"]`` the schedule sets.
        base_lrs: η₀ of each group.
        last_epoch: the epoch whose lr is in force (0 after construction).
    """

    name = ""
    aliases: tuple = ()
    _hyperparameters: tuple = ()

    def __init__(self, optimizer: Optimizer):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._step_count = 0
        self._initial = True
        self.step()
        self._initial = False

    def step(self) -> None:
        """Advance one epoch and set the optimiser's learning rates."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self._next_lrs()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _next_lrs(self) -> list:
        raise NotImplementedError

    def _current_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The learning rate of each parameter group, as set by the last ``step()``."""
        return list(self._last_lr)

    def get_config(self) -> dict:
        """The constructor arguments after the optimiser: ``type(s)(optimizer, **s.get_config())``."""
        return {name: getattr(self, name) for name in self._hyperparameters}

    def state_dict(self) -> dict:
        """Counters and settings (JSON-serialisable); the optimiser is not included."""
        state = {"base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch,
                 "_step_count": self._step_count, "_last_lr": list(self._last_lr)}
        state.update({name: getattr(self, name) for name in self._hyperparameters})
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` returned (keys it does not know are ignored).

        Raises:
            ValueError: when a key is missing.
        """
        missing = [key for key in self.state_dict() if key not in state_dict]
        if missing:
            raise ValueError(f"{type(self).__name__}.load_state_dict: state_dict lacks {missing}")
        for key in self.state_dict():
            value = state_dict[key]
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameters)
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


@SCHEDULES.register
class StepLR(LRScheduler):
    """Multiply the lr by γ every ``step_size`` epochs: η_e = η₀ · γ^⌊e / step_size⌋.

    Args:
        optimizer: the optimiser to drive.
        step_size: the number of epochs between decays (an integer >= 1).
        gamma: γ > 0, the factor.
    """

    name = "step_lr"
    aliases = ("StepLR",)
    _hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        check_positive_int(step_size, "step_size", "StepLR")
        check_positive(gamma, "gamma", "StepLR")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def _next_lrs(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


@SCHEDULES.register
class ExponentialLR(LRScheduler):
    """Multiply the lr by γ every epoch: η_e = η₀ · γ^e.

    Args:
        optimizer: the optimiser to drive.
        gamma: γ > 0, the factor per epoch.
    """

    name = "exponential_lr"
    aliases = ("ExponentialLR",)
    _hyperparameters = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float):
        check_positive(gamma, "gamma", "ExponentialLR")
        self.gamma = gamma
        super().__init__(optimizer)

    def _next_lrs(self) -> list:
        if self._initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


@SCHEDULES.register
class CosineAnnealingLR(LRScheduler):
    r"""Follow half a cosine from η₀ down to η_min over T_max epochs.

    η_e = η_min + (η₀ − η_min) · (1 + cos(π e / T_max)) / 2, computed recursively as
    PyTorch does (η_e from η_{e−1}); past T_max the cosine goes back up (period 2·T_max).

    Args:
        optimizer: the optimiser to drive.
        T_max: the number of epochs of the half period (> 0).
        eta_min: η_min >= 0, the lowest lr.
    """

    name = "cosine_annealing_lr"
    aliases = ("CosineAnnealingLR",)
    _hyperparameters = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0):
        check_positive(T_max, "T_max", "CosineAnnealingLR")
        check_non_negative(eta_min, "eta_min", "CosineAnnealingLR")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def _next_lrs(self) -> list:
        if self._initial:
            return self._current_lrs()
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if (e - 1 - T) % (2 * T) == 0:  # the bottom of the cosine: the ratio below would be 0/0
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._current_lrs()]


@SCHEDULES.register
class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    Call ``step(metric)`` once per epoch with the monitored value (e.g. the
    validation loss). A value is an improvement over the best so far, ``best``, if
    (mode "min") it is below best·(1 − threshold) ("rel") or best − threshold
    ("abs"); (mode "max") above best·(1 + threshold) or best + threshold. After more
    than ``patience`` epochs without improvement each group's lr becomes
    max(lr · factor, min_lr), if that changes it by more than ``eps``; then
    ``cooldown`` epochs pass before bad epochs are counted again.

    Args:
        optimizer: the optimiser to drive.
        mode: "min" (a loss) or "max" (an accuracy).
        factor: in [0, 1), the lr's multiplier.
        patience: epochs without improvement tolerated (an integer >= 0).
        threshold: >= 0, the least change that counts as an improvement.
        threshold_mode: "rel" or "abs".
        cooldown: epochs to wait after a reduction (an integer >= 0).
        min_lr: >= 0, a floor on the lr; or a list with one floor per parameter group.
        eps: >= 0; a reduction smaller than this is skipped.
    """

    name = "reduce_lr_on_plateau"
    aliases = ("ReduceLROnPlateau",)
    _hyperparameters = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                        "min_lrs", "eps")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0, eps: float = 1e-8):
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        check_in_unit_interval(factor, "factor", "ReduceLROnPlateau")
        check_int(patience, "patience", "ReduceLROnPlateau", low=0)
        check_non_negative(threshold, "threshold", "ReduceLROnPlateau")
        check_int(cooldown, "cooldown", "ReduceLROnPlateau", low=0)
        check_non_negative(eps, "eps", "ReduceLROnPlateau")
        n_groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n_groups:
                raise ValueError(f"min_lr must be a number or a list of {n_groups} numbers "
                                 f"(one per parameter group), got {len(min_lr)}")
            min_lrs = list(min_lr)
        else:
            min_lrs = [min_lr] * n_groups
        for value in min_lrs:
            check_non_negative(value, "min_lr", "ReduceLROnPlateau")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lrs, self.eps = min_lrs, eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def step(self, metric) -> None:  # noqa: D102 - documented in the class
        current = float(metric.item() if hasattr(metric, "item") else metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (1.0 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def get_config(self) -> dict:
        config = super().get_config()
        min_lrs = config.pop("min_lrs")
        config["min_lr"] = min_lrs[0] if len(set(min_lrs)) == 1 else list(min_lrs)
        return config

    def state_dict(self) -> dict:
        """Counters and settings; ``best`` may be ±inf (Python's json writes it as Infinity)."""
        state = {"last_epoch": self.last_epoch, "_last_lr": list(self._last_lr), "best": self.best,
                 "num_bad_epochs": self.num_bad_epochs, "cooldown_counter": self.cooldown_counter}
        state.update({name: getattr(self, name) for name in self._hyperparameters})
        state["min_lrs"] = list(self.min_lrs)
        return state


def get_lr_scheduler(name_or_schedule, optimizer: Optimizer, **arguments) -> LRScheduler:
    """Build a schedule by name (``"StepLR"``, ``"step_lr"``, any case) or class for ``optimizer``.

    Args:
        name_or_schedule: a name in ``SCHEDULES``, an LRScheduler subclass, or an LRScheduler
            (returned as it is; no arguments are then allowed).
        optimizer: the optimiser to drive.
        **arguments: the schedule's constructor arguments, e.g. ``step_size=10, gamma=0.5``.

    Raises:
        ValueError: an unknown name (with the closest valid one) or bad arguments.
        TypeError: something that is neither a name nor a schedule.
    """
    if isinstance(name_or_schedule, LRScheduler):
        if arguments:
            raise ValueError(f"get_lr_scheduler: got a schedule and the arguments {sorted(arguments)}; "
                             "set them when building the schedule, or pass its name instead")
        return name_or_schedule
    if isinstance(name_or_schedule, str):
        cls = SCHEDULES.get(name_or_schedule)
    elif isinstance(name_or_schedule, type) and issubclass(name_or_schedule, LRScheduler):
        cls = name_or_schedule
    else:
        raise TypeError(f"a schedule must be a name, an LRScheduler class or an LRScheduler, "
                        f"got {type(name_or_schedule).__name__}")
    accepted = set(inspect.signature(cls).parameters) - {"optimizer"}
    unknown = sorted(str(key) for key in arguments if key not in accepted)
    if unknown:
        raise ValueError(f"{cls.__name__} has no argument(s) {unknown}; it accepts {sorted(accepted)}")
    return cls(optimizer, **arguments)
