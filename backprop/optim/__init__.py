"""Optimisers and learning-rate schedules, with PyTorch's update rules and values.

    >>> import backprop as bp
    >>> from backprop import optim
    >>> W = bp.Tensor([[0.5, -0.5]], requires_grad=True)
    >>> opt = optim.get_optimizer("adam", [W], lr=0.01)
    >>> schedule = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)

Each step: ``opt.zero_grad(); loss.backward(); opt.step()``; then ``schedule.step()`` each
epoch, or each step for a schedule whose ``interval`` is ``"batch"`` (LinearLR, OneCycleLR,
CosineAnnealingWarmRestarts). Every optimiser clips gradients with Keras's ``clipnorm=``,
``clipvalue=`` or ``global_clipnorm=`` (:mod:`backprop.optim.clipping`, which also holds
PyTorch's ``clip_grad_norm_`` and ``clip_grad_value_``).

Each optimiser registers itself in :data:`OPTIMIZERS` in its own file, and each schedule in
:data:`~backprop.optim.lr_scheduler.SCHEDULES`; importing the file here is what makes it
available by name.
"""

from __future__ import annotations

import inspect

from backprop.optim import lr_scheduler
from backprop.optim.adagrad import Adagrad as Adagrad  # noqa: F401 (public: listed by the registry)
from backprop.optim.adam import Adam as Adam  # noqa: F401 (public: listed by the registry)
from backprop.optim.adamw import AdamW as AdamW  # noqa: F401 (public: listed by the registry)
from backprop.optim.momentum import Momentum as Momentum  # noqa: F401 (public: listed by the registry)
from backprop.optim.lr_scheduler import (
    SCHEDULES, CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR, LinearLR, LRScheduler, OneCycleLR,
    ReduceLROnPlateau, SequentialLR, StepLR, get_lr_scheduler,
)
from backprop.optim.clipping import clip_grad_norm_, clip_grad_value_
from backprop.optim.optimizer import OPTIMIZERS, Optimizer
from backprop.optim.packing import pack_parameters
from backprop.optim.rmsprop import RMSprop as RMSprop  # noqa: F401 (public: listed by the registry)
from backprop.optim.sgd import SGD as SGD  # noqa: F401 (public: listed by the registry)

# Every registered optimiser class is public under its class name (importing its file above registers it).
__all__ = [cls.__name__ for cls in OPTIMIZERS] + [
    "Optimizer", "pack_parameters", "OPTIMIZERS", "get_optimizer",
    "lr_scheduler", "LRScheduler", "SCHEDULES", "get_lr_scheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
    "LinearLR", "OneCycleLR", "CosineAnnealingWarmRestarts", "SequentialLR", "clip_grad_norm_", "clip_grad_value_",
]


def get_optimizer(name_or_optimizer, params, **overrides) -> Optimizer:
    """Build an optimiser from a name, or pass an optimiser through.

    Args:
        name_or_optimizer: a name in ``OPTIMIZERS`` ("sgd", "momentum", "rmsprop", "adam",
            "adamw", any case), an Optimizer subclass, or an Optimizer instance (returned
            as it is; ``params`` is then ignored and no overrides are allowed).
        params: the Tensors to optimise, or parameter groups (dicts with "params").
        **overrides: constructor arguments, e.g. ``lr=0.1, momentum=0.9``; the rest
            are the optimiser's defaults, and its ``defaults_when_named`` when picked by name
            (SGD: lr = 0.01).

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
    cls = OPTIMIZERS.get(name_or_optimizer)
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ValueError(f"{cls.__name__} has no argument(s) {unknown}; it accepts {sorted(accepted)}")
    return cls(params, **{**cls.defaults_when_named, **overrides})
