"""Optimisers and learning-rate schedules, with PyTorch's update rules and values.

    >>> import backprop as bp
    >>> from backprop import optim
    >>> W = bp.Tensor([[0.5, -0.5]], requires_grad=True)
    >>> opt = optim.get_optimizer("adam", [W], lr=0.01)
    >>> schedule = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)

Each step: ``opt.zero_grad(); loss.backward(); opt.step()``; each epoch: ``schedule.step()``.
"""

from __future__ import annotations

import inspect

from backprop.naming import unknown_name_error
from backprop.optim import lr_scheduler
from backprop.optim.adam import Adam
from backprop.optim.adamw import AdamW
from backprop.optim.momentum import Momentum
from backprop.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR
from backprop.optim.optimizer import Optimizer
from backprop.optim.packing import pack_parameters
from backprop.optim.rmsprop import RMSprop
from backprop.optim.sgd import SGD

__all__ = [
    "Optimizer", "pack_parameters", "SGD", "Momentum", "RMSprop", "Adam", "AdamW", "OPTIMIZERS", "get_optimizer",
    "lr_scheduler", "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
]

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}

# Defaults used when an optimiser is picked by name and its class has no default.
_NAME_DEFAULTS = {"sgd": {"lr": 0.01}, "momentum": {"lr": 0.01}}


def get_optimizer(name_or_optimizer, params, **overrides) -> Optimizer:
    """Build an optimiser from a name, or pass an optimiser through.

    Args:
        name_or_optimizer: one of ``OPTIMIZERS`` ("sgd", "momentum", "rmsprop", "adam", "adamw",
            any case), an Optimizer subclass, or an Optimizer instance (returned
            as it is; ``params`` is then ignored and no overrides are allowed).
        params: the Tensors to optimise, or parameter groups (dicts with "params").
        **overrides: constructor arguments, e.g. ``lr=0.1, momentum=0.9``; the rest
            are the optimiser's defaults (SGD picked by name: lr = 0.01).

    Raises:
        ValueError: for an unknown name (with the closest valid one) or bad arguments.
    """
    if isinstance(name_or_optimizer, Optimizer):
        if overrides:
            raise ValueError(
                f"get_optimizer: got an optimiser instance and the arguments {sorted(overrides)}; "
                "set them when building the optimiser, or pass its name instead"
            )
        return name_or_optimizer
    if inspect.isclass(name_or_optimizer) and issubclass(name_or_optimizer, Optimizer):
        return name_or_optimizer(params, **overrides)
    if not isinstance(name_or_optimizer, str):
        raise TypeError(
            f"optimizer must be a name, an Optimizer class or an Optimizer, got {type(name_or_optimizer).__name__}"
        )
    key = name_or_optimizer.lower()
    if key not in OPTIMIZERS:
        raise unknown_name_error("optimizer", name_or_optimizer, key, sorted(OPTIMIZERS))
    cls = OPTIMIZERS[key]
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ValueError(f"{cls.__name__} has no argument(s) {unknown}; it accepts {sorted(accepted)}")
    return cls(params, **{**_NAME_DEFAULTS.get(key, {}), **overrides})
