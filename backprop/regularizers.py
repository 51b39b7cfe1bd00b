"""Weight regularisers: a penalty on the weights W, added to the cost.

    cost = J + penalty(W),  summed over the layers that have a regulariser.

* ``L2(λ)``:  penalty = λ Σ_ij W_ij²  → adds 2λW to ∂J/∂W (weight decay).
* ``L1(λ)``:  penalty = λ Σ_ij |W_ij| → adds λ sign(W), pushing weights to exactly 0.
* ``L1L2(l1, l2)``: both.

Convention: Keras's λ Σ W², **without** the notes' ½. The notes write
J_L2 = J + (λ/2)‖W‖², whose gradient is λW; to get the notes' penalty use
``L2(λ/2)``. As in the notes, only weights are penalised, never biases.

Penalties are composed from engine ops, so their gradients come from backprop. Beside
each one, its fused form ``fused(W, grad) -> float`` adds the penalty's gradient to an
array and returns the penalty, for the fast path (``backprop.layers.fused``). Each
regulariser class is registered in :data:`REGULARIZERS` under its ``name`` and
``aliases``; its config is ``{"name": ..., **strengths}``.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from backprop.engine.tensor import Tensor, as_tensor
from backprop.checks import check_non_negative
from backprop.naming import short_repr
from backprop.registry import Configured, Registry

__all__ = ["Regularizer", "L1", "L2", "L1L2", "REGULARIZERS", "get_regularizer"]

REGULARIZERS = Registry("regulariser", cutoff=0.4)  # short names: "l3" should suggest "l2"
"""Every regulariser class, by ``name`` and ``aliases`` (case-insensitive)."""


class Regularizer(Configured):
    """A penalty on a weight matrix: ``penalty(W) -> Tensor`` (a scalar). Calling it is the same.

    ``fused(W, grad) -> float``, where a subclass defines it (None here: a layer with such a
    regulariser runs through the engine): ``grad += ∂penalty/∂W`` in place on plain arrays,
    returning the penalty's value. It reads the strengths at each call, as ``penalty`` does.
    """

    name = ""
    aliases: tuple = ()
    fused = None

    def penalty(self, W) -> Tensor:
        raise NotImplementedError

    def __call__(self, W) -> Tensor:
        return self.penalty(W)

    def get_config(self) -> dict:
        """``{"name": ..., **params}``, the form :func:`get_regularizer` accepts."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        """Rebuild from :meth:`get_config`'s parameters (``"name"`` may be there or not).

        Raises:
            TypeError: parameters the class does not take.
            ValueError: an invalid strength.
        """
        params = {k: v for k, v in config.items() if k != "name"}
        accepted = set(cls().get_config()) - {"name"}
        unknown = sorted(str(k)[:40] for k in params if k not in accepted)
        if unknown:
            raise TypeError(f"regulariser {cls.name!r} takes no parameters {unknown[:10]}; it accepts {sorted(accepted)}")
        return cls(**params)

    def _shown_config(self) -> dict:
        return {key: value for key, value in self.get_config().items() if key != "name"}


def _strength(value, name: str, owner: str) -> float:
    return check_non_negative(value, name, owner)


@REGULARIZERS.register
class L1(Regularizer):
    """penalty(W) = λ Σ_ij |W_ij|;  ∂/∂W = λ sign(W).

    Args:
        l1: λ ≥ 0 (default 0.01).
    """

    name = "l1"

    def __init__(self, l1: float = 0.01):
        self.l1 = _strength(l1, "l1", "L1")

    def penalty(self, W) -> Tensor:
        return self.l1 * as_tensor(W).abs().sum()

    def fused(self, W: np.ndarray, grad: np.ndarray) -> float:
        if not self.l1:
            return 0.0
        grad += self.l1 * np.sign(W)
        return self.l1 * float(np.abs(W).sum())

    def get_config(self) -> dict:
        return {"name": self.name, "l1": self.l1}


@REGULARIZERS.register
class L2(Regularizer):
    """penalty(W) = λ Σ_ij W_ij² (Keras's convention, no ½);  ∂/∂W = 2λW.

    Args:
        l2: λ ≥ 0 (default 0.01). The notes' (λ/2)‖W‖² is ``L2(λ / 2)``.
    """

    name = "l2"

    def __init__(self, l2: float = 0.01):
        self.l2 = _strength(l2, "l2", "L2")

    def penalty(self, W) -> Tensor:
        W = as_tensor(W)
        return self.l2 * (W * W).sum()

    def fused(self, W: np.ndarray, grad: np.ndarray) -> float:
        if not self.l2:
            return 0.0
        grad += (2 * self.l2) * W
        return self.l2 * float(np.vdot(W, W))

    def get_config(self) -> dict:
        return {"name": self.name, "l2": self.l2}


@REGULARIZERS.register
class L1L2(Regularizer):
    """penalty(W) = l1 Σ_ij |W_ij| + l2 Σ_ij W_ij² (elastic net).

    Args:
        l1, l2: the two strengths, each ≥ 0 (default 0.01 each).
    """

    name = "l1_l2"
    aliases = ("l1l2", "elastic_net")

    def __init__(self, l1: float = 0.01, l2: float = 0.01):
        self.l1 = _strength(l1, "l1", "L1L2")
        self.l2 = _strength(l2, "l2", "L1L2")

    def penalty(self, W) -> Tensor:
        W = as_tensor(W)
        return self.l1 * W.abs().sum() + self.l2 * (W * W).sum()

    def fused(self, W: np.ndarray, grad: np.ndarray) -> float:
        total = 0.0
        if self.l2:
            grad += (2 * self.l2) * W
        if self.l1:
            grad += self.l1 * np.sign(W)
            total += self.l1 * float(np.abs(W).sum())
        if self.l2:
            total += self.l2 * float(np.vdot(W, W))
        return total

    def get_config(self) -> dict:
        return {"name": self.name, "l1": self.l1, "l2": self.l2}


def get_regularizer(spec: Union[None, str, dict, Regularizer]) -> Optional[Regularizer]:
    """Resolve None, a name (``"l2"``: λ = 0.01), a ``{"name": "l2", "l2": 1e-3}`` dict or a Regularizer.

    Raises:
        ValueError: for an unknown name (suggesting the closest one) or a negative strength.
        TypeError: for a spec of the wrong type or unknown parameters.
    """
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str):
        return REGULARIZERS.get(spec)()
    if isinstance(spec, dict):
        if not isinstance(spec.get("name"), str):
            raise TypeError(f"a regulariser dict needs a 'name' string, got {short_repr(spec)}")
        return REGULARIZERS.get(spec["name"]).from_config(spec)
    raise TypeError(f"weight_regularizer must be None, a name, a dict or a Regularizer, got {type(spec).__name__}")
