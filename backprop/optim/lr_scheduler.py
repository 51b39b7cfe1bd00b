"""Learning-rate schedules: change each parameter group's ``"lr"`` once per epoch or once per batch.

They are PyTorch's ``torch.optim.lr_scheduler`` classes of the same names, with the
same values: call ``optimizer.step()`` for each batch and ``scheduler.step()`` once
per period (``ReduceLROnPlateau.step(metric)`` with the epoch's validation loss or
score). The period is the schedule's ``interval``: ``"epoch"`` for StepLR, ExponentialLR,
CosineAnnealingLR and ReduceLROnPlateau, ``"batch"`` for the warm-up and cycle schedules
(LinearLR, OneCycleLR, CosineAnnealingWarmRestarts), whose counts (``total_iters``,
``total_steps``, ``T_0``) are then optimiser steps. ``fit``'s
:class:`~backprop.training.callbacks.LearningRateScheduler` steps a schedule at that
interval; set ``schedule.interval`` to choose the other one. A schedule's counter is
``last_epoch`` in either case (PyTorch's name). The schedule starts at step 0 with each
group's current lr, which it remembers as ``group["initial_lr"]`` (η₀ below).

Warm-up: ``LinearLR(opt, start_factor=0.01, total_iters=w)`` raises the lr from 1 % of η₀
to η₀ over w steps; ``SequentialLR(opt, [warm_up, CosineAnnealingLR(opt, T_max=n - w)],
milestones=[w])`` then hands over to another schedule, as in PyTorch.

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

import bisect
import inspect
import math

from backprop.checks import (
    check_bool, check_in_unit_interval, check_int, check_non_negative, check_positive, check_positive_int, check_real,
)
from backprop.optim.optimizer import Optimizer
from backprop.registry import Registry

__all__ = ["LRScheduler", "SCHEDULES", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
           "LinearLR", "OneCycleLR", "CosineAnnealingWarmRestarts", "SequentialLR", "INTERVALS", "get_lr_scheduler"]

INTERVALS = ("epoch", "batch")
"""How often ``fit`` steps a schedule: a schedule's ``interval`` is one of these."""

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
        last_epoch: the epoch (or batch, see ``interval``) whose lr is in force (0 after construction).
        interval: ``"epoch"`` or ``"batch"``: how often ``fit`` calls ``step()`` (a class default
            that an instance may change).
    """

    name = ""
    aliases: tuple = ()
    interval = "epoch"
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

    def _closed_form_lrs(self):
        """The lrs at ``last_epoch`` from η₀ alone, where PyTorch has that form (else None)."""
        return None

    def _restart(self) -> None:
        """Put the schedule at step 0 of its own course, from η₀: SequentialLR's hand-over
        (PyTorch's ``_update_lr(0)``: the closed form where there is one)."""
        self.last_epoch = 0
        lrs = self._closed_form_lrs()
        for group, lr in zip(self.optimizer.param_groups, self._next_lrs() if lrs is None else lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

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

    def _closed_form_lrs(self) -> list:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


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

    def _closed_form_lrs(self) -> list:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


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

    def _closed_form_lrs(self) -> list:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


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


# ------------------------------------------------------- per-batch schedules
@SCHEDULES.register
class LinearLR(LRScheduler):
    """Scale η₀ by a factor that moves linearly from ``start_factor`` to ``end_factor`` (a warm-up).

    η_t = η₀ · (s + (e − s) · min(t, T) / T) for the step t, s = ``start_factor``,
    e = ``end_factor``, T = ``total_iters``; computed recursively as PyTorch does. With s < 1 = e
    it is a linear warm-up over T steps; chain it with :class:`SequentialLR`.

    Args:
        optimizer: the optimiser to drive.
        start_factor: s in (0, 1].
        end_factor: e in [0, 1].
        total_iters: T, the number of steps to reach e (an integer >= 1).
        interval: how often ``fit`` steps it: ``"batch"`` (default) or ``"epoch"``.
    """

    name = "linear_lr"
    aliases = ("LinearLR",)
    interval = "batch"
    _hyperparameters = ("start_factor", "end_factor", "total_iters", "interval")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, interval: str = "batch"):
        check_real(start_factor, "start_factor", "LinearLR", low=0, high=1, low_open=True)
        check_real(end_factor, "end_factor", "LinearLR", low=0, high=1)
        check_positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        self.interval = _check_interval(interval, "LinearLR")
        super().__init__(optimizer)

    def _next_lrs(self) -> list:
        t, s, e = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * s for lr in self._current_lrs()]
        if t > self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))) for lr in self._current_lrs()]

    def _closed_form_lrs(self) -> list:
        s, e, T = self.start_factor, self.end_factor, self.total_iters
        return [base_lr * (s + (e - s) * min(T, self.last_epoch) / T) for base_lr in self.base_lrs]


@SCHEDULES.register
class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Half cosines from η₀ down to η_min, restarting at η₀ (SGDR, Loshchilov & Hutter).

    η_t = η_min + (η₀ − η_min) · (1 + cos(π T_cur / T_i)) / 2, where T_cur counts the steps
    since the last restart and T_i is the length of the current cycle: T_0, then T_0·T_mult,
    T_0·T_mult², ... ``step(epoch)`` with a fractional epoch sets the position directly, as
    in PyTorch.

    Args:
        optimizer: the optimiser to drive.
        T_0: the length of the first cycle, in steps (an integer >= 1).
        T_mult: the factor on each following cycle's length (an integer >= 1).
        eta_min: η_min >= 0.
        interval: how often ``fit`` steps it: ``"batch"`` (default) or ``"epoch"``.
    """

    name = "cosine_annealing_warm_restarts"
    aliases = ("CosineAnnealingWarmRestarts",)
    interval = "batch"
    _hyperparameters = ("T_0", "T_mult", "eta_min", "interval")

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 interval: str = "batch"):
        check_positive_int(T_0, "T_0", "CosineAnnealingWarmRestarts")
        check_positive_int(T_mult, "T_mult", "CosineAnnealingWarmRestarts")
        check_non_negative(eta_min, "eta_min", "CosineAnnealingWarmRestarts")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = -1
        self.interval = _check_interval(interval, "CosineAnnealingWarmRestarts")
        super().__init__(optimizer)

    def step(self, epoch=None) -> None:
        """Advance one step, or go to ``epoch`` (a float, e.g. ``epoch + batch / n_batches``)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        else:
            epoch = check_non_negative(epoch, "epoch", "CosineAnnealingWarmRestarts.step")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i, self.T_cur = self.T_0, epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self._next_lrs()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def _next_lrs(self) -> list:
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(T_i=self.T_i, T_cur=self.T_cur)
        return state


@SCHEDULES.register
class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): the lr rises from η_max/d to η_max, then falls to η_max/(d·f).

    Over ``total_steps`` steps (or ``epochs × steps_per_epoch``): for the first
    ``pct_start`` of them the lr anneals from η_max / d up to η_max, then down to
    η_max / (d · f) (d = ``div_factor``, f = ``final_div_factor``), along a half cosine
    (``anneal_strategy="cos"``) or a line. With ``three_phase`` it comes back to η_max / d
    at 2 · pct_start and then falls to the minimum. With ``cycle_momentum`` the momentum
    (SGD's and RMSprop's ``momentum``, Adam's β₁) moves the other way, between
    ``max_momentum`` and ``base_momentum``. Stepping more than ``total_steps`` times is an
    error, as in PyTorch.

    Args:
        optimizer: the optimiser to drive (its lr is replaced by η_max / d).
        max_lr: η_max > 0, or one per parameter group.
        total_steps: the number of steps of the cycle (an integer >= 1), or None to use
            ``epochs * steps_per_epoch``.
        epochs, steps_per_epoch: integers >= 1, when ``total_steps`` is None.
        pct_start: the share of the steps spent rising, in [0, 1].
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: also cycle the momentum (the optimiser must have ``momentum`` or ``betas``).
        base_momentum, max_momentum: the momentum at the top and at the ends of the cycle
            (numbers or one per group).
        div_factor: d > 0.
        final_div_factor: f > 0.
        three_phase: the three-phase form (see above).
        interval: how often ``fit`` steps it: ``"batch"`` (default) or ``"epoch"``.
    """

    name = "one_cycle_lr"
    aliases = ("OneCycleLR",)
    interval = "batch"
    _hyperparameters = ("max_lr", "total_steps", "pct_start", "anneal_strategy", "cycle_momentum",
                        "base_momentum", "max_momentum", "div_factor", "final_div_factor", "three_phase", "interval")

    def __init__(self, optimizer: Optimizer, max_lr: float, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, interval: str = "batch"):
        owner = "OneCycleLR"
        _check_optimizer(optimizer)
        if total_steps is not None:
            total_steps = check_positive_int(total_steps, "total_steps", owner)
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = check_positive_int(epochs, "epochs", owner) * check_positive_int(
                steps_per_epoch, "steps_per_epoch", owner)
        else:
            raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        check_real(pct_start, "pct_start", owner, low=0, high=1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        check_bool(cycle_momentum, "cycle_momentum", owner)
        check_bool(three_phase, "three_phase", owner)
        check_positive(div_factor, "div_factor", owner)
        check_positive(final_div_factor, "final_div_factor", owner)
        max_lrs = _per_group(optimizer, max_lr, "max_lr", owner, check_positive)
        self.max_lr, self.total_steps, self.pct_start = max_lr, total_steps, pct_start
        self.anneal_strategy, self.cycle_momentum, self.three_phase = anneal_strategy, cycle_momentum, three_phase
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        self.div_factor, self.final_div_factor = div_factor, final_div_factor
        self.interval = _check_interval(interval, owner)
        # The three lrs of each group (PyTorch keeps them in the groups; here the optimiser's
        # state_dict stays its own).
        self._max_lrs = max_lrs
        self._initial_lrs = [lr / div_factor for lr in max_lrs]
        self._min_lrs = [lr / final_div_factor for lr in self._initial_lrs]
        self._momentum_key = None
        if cycle_momentum:
            if "betas" in optimizer.defaults:
                self._momentum_key = "betas"
            elif "momentum" in optimizer.defaults:
                self._momentum_key = "momentum"
            else:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has no momentum or betas to cycle; "
                                 "pass cycle_momentum=False")
            self._max_momenta = _per_group(optimizer, max_momentum, "max_momentum", owner, check_non_negative)
            self._base_momenta = _per_group(optimizer, base_momentum, "base_momentum", owner, check_non_negative)
            for group, momentum in zip(optimizer.param_groups, self._max_momenta):
                self._set_momentum(group, momentum)
        if three_phase:
            self._phases = [(float(pct_start * total_steps) - 1, "initial", "max", "max", "base"),
                            (float(2 * pct_start * total_steps) - 2, "max", "initial", "base", "max"),
                            (total_steps - 1, "initial", "min", "max", "max")]
        else:
            self._phases = [(float(pct_start * total_steps) - 1, "initial", "max", "max", "base"),
                            (total_steps - 1, "max", "min", "base", "max")]
        for group, lr in zip(optimizer.param_groups, self._initial_lrs):
            group["initial_lr"] = lr
        super().__init__(optimizer)

    def _set_momentum(self, group: dict, momentum: float) -> None:
        if self._momentum_key == "betas":
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _next_lrs(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the cycle has total_steps={self.total_steps}")
        lrs = []
        for k, group in enumerate(self.optimizer.param_groups):
            values = {"initial": self._initial_lrs[k], "max": self._max_lrs[k], "min": self._min_lrs[k]}
            start_step = 0.0
            for i, (end_step, start_lr, end_lr, start_momentum, end_momentum) in enumerate(self._phases):
                if step <= end_step or i == len(self._phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(values[start_lr], values[end_lr], pct))
                    if self._momentum_key is not None:
                        momenta = {"max": self._max_momenta[k], "base": self._base_momenta[k]}
                        self._set_momentum(group, self._anneal(momenta[start_momentum], momenta[end_momentum], pct))
                    break
                start_step = end_step
        return lrs


@SCHEDULES.register
class SequentialLR(LRScheduler):
    """Run schedules one after another: ``schedulers[i]`` from step ``milestones[i − 1]`` on.

    PyTorch's composition, for a warm-up followed by a decay::

        warm_up = LinearLR(opt, start_factor=0.01, total_iters=100)
        decay = CosineAnnealingLR(opt, T_max=900)
        schedule = SequentialLR(opt, [warm_up, decay], milestones=[100])

    At a milestone the next schedule starts its own course from η₀. The schedules must drive
    ``optimizer``; the sequence steps them (their own ``interval`` is not used).

    Args:
        optimizer: the optimiser they drive.
        schedulers: LRScheduler instances (not ReduceLROnPlateau), or their configs
            ``{"name": ..., "config": {...}}`` (what :meth:`get_config` returns).
        milestones: the steps at which the next schedule takes over, increasing
            (one fewer than the schedules).
        interval: how often ``fit`` steps the sequence: ``"batch"``, ``"epoch"``, or None:
            ``"batch"`` when one of the schedules is a per-batch one (a warm-up), else ``"epoch"``.
    """

    name = "sequential_lr"
    aliases = ("SequentialLR",)

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list, interval: str | None = None):
        _check_optimizer(optimizer)
        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError("SequentialLR: schedulers must be a non-empty list of schedules")
        schedulers = [_schedule_from(optimizer, s, k) for k, s in enumerate(schedulers)]
        for k, scheduler in enumerate(schedulers):
            if isinstance(scheduler, (ReduceLROnPlateau, SequentialLR)):
                raise ValueError(f"SequentialLR: schedulers[{k}] is a {type(scheduler).__name__}, which "
                                 "SequentialLR cannot run")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{k}] drives another optimiser")
        if not isinstance(milestones, (list, tuple)) or len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: milestones must be a list of {len(schedulers) - 1} step(s), one "
                             f"fewer than the schedulers, got {milestones!r}")
        milestones = [check_positive_int(m, "milestones", "SequentialLR") for m in milestones]
        if milestones != sorted(set(milestones)):
            raise ValueError(f"SequentialLR: milestones must increase, got {milestones}")
        if interval is None:  # a warm-up is counted in batches: one per-batch schedule makes the sequence so
            interval = "batch" if any(scheduler.interval == "batch" for scheduler in schedulers) else "epoch"
        self.interval = _check_interval(interval, "SequentialLR")
        self.optimizer = optimizer
        self.schedulers, self.milestones = list(schedulers), milestones
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]  # each schedule's construction took a step: undo them
        for scheduler in self.schedulers:
            scheduler.last_epoch -= 1
        self.last_epoch, self._step_count = 0, 0
        first = self.schedulers[0]
        first._step_count, first._initial = 0, True
        first.step()
        first._initial = False
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        index = bisect.bisect_right(self.milestones, self.last_epoch)
        scheduler = self.schedulers[index]
        if index > 0 and self.milestones[index - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._step_count += 1
        self._last_lr = scheduler.get_last_lr()

    def _next_lrs(self) -> list:  # (step is the sequence's own)
        return self._current_lrs()

    def get_config(self) -> dict:
        return {"schedulers": [{"name": SCHEDULES.name_of(s), "config": s.get_config()} for s in self.schedulers],
                "milestones": list(self.milestones), "interval": self.interval}

    def state_dict(self) -> dict:
        return {"last_epoch": self.last_epoch, "_step_count": self._step_count, "_last_lr": list(self._last_lr),
                "base_lrs": list(self.base_lrs), "milestones": list(self.milestones),
                "schedulers": [s.state_dict() for s in self.schedulers]}

    def load_state_dict(self, state_dict: dict) -> None:
        states = state_dict.get("schedulers")
        if not isinstance(states, list) or len(states) != len(self.schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: state_dict must hold {len(self.schedulers)} "
                             "schedulers' states")
        for scheduler, state in zip(self.schedulers, states):
            scheduler.load_state_dict(state)
        self.last_epoch, self._step_count = state_dict["last_epoch"], state_dict["_step_count"]
        self._last_lr, self.base_lrs = list(state_dict["_last_lr"]), list(state_dict["base_lrs"])

    def __repr__(self) -> str:
        return f"SequentialLR({self.schedulers!r}, milestones={self.milestones}, last_epoch={self.last_epoch})"


def _check_interval(interval, owner: str) -> str:
    if interval not in INTERVALS:
        raise ValueError(f"{owner}: interval must be one of {list(INTERVALS)}, got {interval!r}")
    return interval


def _per_group(optimizer: Optimizer, value, name: str, owner: str, check) -> list:
    """One value per parameter group, from a number or a list of them."""
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{owner}: {name} must be a number or a list of {n} (one per parameter group), "
                         f"got {len(values)}")
    return [check(v, name, owner) for v in values]


def _schedule_from(optimizer: Optimizer, entry, index: int) -> LRScheduler:
    if isinstance(entry, LRScheduler):
        return entry
    if isinstance(entry, dict) and set(entry) == {"name", "config"} and isinstance(entry["config"], dict):
        return get_lr_scheduler(entry["name"], optimizer, **entry["config"])
    raise TypeError(f"SequentialLR: schedulers[{index}] must be a schedule or {{'name': ..., 'config': {{...}}}}, "
                    f"got {type(entry).__name__}")


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
