"""The base class of the optimisers: parameter groups, per-parameter state, state_dict.

An optimiser holds ``param_groups``, a list of dicts, each with ``"params"`` (the
tensors to update) and that group's hyper-parameters (``"lr"``, ...). A scheduler
or a callback changes the learning rate by writing ``group["lr"]``. ``step()``
visits every parameter whose ``.grad`` is not None and updates ``W = p.data`` in
place from ``g = p.grad = ∂J/∂W``; subclasses write only that update, in
:meth:`Optimizer._update`.

Speed: updates run as NumPy ufuncs with ``out=`` on the parameter's own array, its
state buffers (allocated once, on the parameter's first step) and scratch buffers
shared by parameters of the same shape and dtype, so that a steady-state step
allocates no arrays. Hyper-parameters are turned into Python floats before they
meet an array, so that a float32 parameter is updated in float32 (NumPy 2 treats
Python scalars as "weak"; an ``np.float64`` scalar would upcast).

``state_dict()`` layout (PyTorch's)::

    {
        "param_groups": [                      # one dict per group, JSON-serialisable
            {"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]},
            {"lr": 0.01, ..., "params": [2, 3, 4]},
        ],
        "state": {                             # only parameters that have state
            0: {"step": 12, "exp_avg": ndarray, "exp_avg_sq": ndarray},
            ...
        },
    }

Parameters are numbered 0, 1, 2, ... in the order of the groups and, within a
group, of ``group["params"]``. State values are NumPy arrays (copies, of the
parameter's shape and dtype) or Python numbers (``"step"``). A checkpoint can
keep the arrays apart and write the rest as JSON; ``load_state_dict`` accepts the
state keys as ints or as the strings JSON turns them into.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, Optional

import numpy as np

from backprop.engine.tensor import Tensor, enable_grad

__all__ = ["Optimizer"]


class Optimizer:
    """Base class: holds the parameter groups and the per-parameter state.

    Args:
        params: an iterable of Tensors (each with ``requires_grad=True``), or an
            iterable of dicts ``{"params": [...], "lr": ..., ...}`` (parameter
            groups; a key a group leaves out takes the optimiser's default).
        defaults: the optimiser's hyper-parameters, e.g. ``{"lr": 0.01, "momentum": 0}``.

    Subclasses define ``_check_group(group)`` (raise ValueError on a bad
    hyper-parameter), ``_update(W, g, state, group)`` and the class attributes
    ``state_arrays`` / ``state_scalars`` (the names their state may hold).
    """

    state_arrays: tuple = ()
    state_scalars: tuple = ()

    def __init__(self, params: Iterable, defaults: dict):
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts (parameter groups), "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        self.defaults = dict(defaults)
        self.state: dict = {}  # Tensor -> {name: ndarray or number}; Tensor hashes by identity
        self.param_groups: list = []
        self._scratch_buffers: dict = {}
        groups = list(params)
        if not groups:
            raise ValueError("params must not be empty: the optimiser got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. a smaller lr)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group must have a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("params must not be empty: a parameter group got an empty parameter list")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"the optimiser can only update Tensors, got {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter appears twice in one parameter group")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")

        group = {key: value for key, value in param_group.items() if key != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Raise ValueError if a hyper-parameter of ``group`` is out of range."""

    # -------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (or fill them with 0 if ``set_to_none=False``).

        The engine accumulates gradients (``+=``), so call this before each backward pass.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0)

    def step(self, closure: Optional[Callable[[], Any]] = None):
        """Update every parameter that has a gradient; parameters with ``grad is None`` are skipped.

        Args:
            closure: optional function that re-evaluates the loss (computes it and
                calls ``backward``) and returns it; its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.shape != p.data.shape:
                    raise ValueError(f"gradient of shape {g.shape} for a parameter of shape {p.data.shape}")
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p.data)
                self._update(p.data, g, state, group)
        return loss

    def _init_state(self, W: np.ndarray) -> dict:
        """The state of a parameter before its first step."""
        return {}

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """Update ``W`` in place from its gradient ``g`` (do not modify ``g``)."""
        raise NotImplementedError

    def _scratch(self, W: np.ndarray, slot: int) -> np.ndarray:
        """A reusable work array of W's shape and dtype (shared by same-shaped parameters)."""
        key = (W.shape, W.dtype, slot)
        buffer = self._scratch_buffers.get(key)
        if buffer is None:
            buffer = self._scratch_buffers[key] = np.empty_like(W)
        return buffer

    # ------------------------------------------------------- state_dict
    def state_dict(self) -> dict:
        """The optimiser's hyper-parameters and state, with parameters as integer indices.

        See the module docstring for the layout. Arrays are copies, so the dict is a
        snapshot that later steps do not change.
        """
        index_of, groups = {}, []
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = []
            for p in group["params"]:
                index_of[id(p)] = len(index_of)
                saved["params"].append(index_of[id(p)])
            groups.append(saved)
        state = {}
        for p, entry in self.state.items():
            if entry:
                state[index_of[id(p)]] = {
                    name: value.copy() if isinstance(value, np.ndarray) else value
                    for name, value in entry.items()
                }
        return {"param_groups": groups, "state": state}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict`.

        The optimiser must have been built over the same parameters (same groups, same
        shapes, same order). Continuing afterwards gives bit-for-bit the same result
        as a run that was never interrupted.

        Raises:
            ValueError: when the groups, the number of parameters, a state name or an
                array's shape does not match this optimiser.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"param_groups", "state"}:
            raise ValueError("state_dict must be a dict with the keys 'param_groups' and 'state'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"state_dict has {len(saved_groups)} parameter groups, this optimiser has {len(self.param_groups)}"
            )
        by_index, new_groups = {}, []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"param_groups[{i}] of the state_dict has {len(saved['params'])} parameters, "
                    f"this optimiser's has {len(group['params'])}"
                )
            missing = [key for key in self.defaults if key not in saved]
            if missing:
                raise ValueError(
                    f"param_groups[{i}] of the state_dict lacks {missing}: was it saved by another "
                    f"optimiser than {type(self).__name__}?"
                )
            for index, p in zip(saved["params"], group["params"]):
                by_index[int(index)] = p
            new_group = {key: value for key, value in saved.items() if key != "params"}
            if "betas" in new_group:
                new_group["betas"] = tuple(new_group["betas"])  # JSON turns tuples into lists
            new_group["params"] = group["params"]
            new_groups.append(new_group)

        new_state = {}
        for key, entry in state_dict["state"].items():
            index = int(key)
            if index not in by_index:
                raise ValueError(f"state_dict has state for parameter {index}, which no group lists")
            p = by_index[index]
            new_state[p] = {name: self._restore_state_value(name, value, p.data, index)
                            for name, value in entry.items()}
        self.param_groups = new_groups
        self.state = new_state

    def _restore_state_value(self, name: str, value, W: np.ndarray, index: int):
        if name in self.state_scalars:
            if isinstance(value, np.ndarray):
                value = value.item()
            if not isinstance(value, numbers.Real):
                raise ValueError(f"state '{name}' of parameter {index} must be a number, got {value!r}")
            return int(value) if float(value).is_integer() else float(value)
        if name in self.state_arrays:
            array = np.asarray(value)
            if array.shape != W.shape:
                raise ValueError(
                    f"state '{name}' of parameter {index} has shape {array.shape}, "
                    f"but the parameter has shape {W.shape}"
                )
            return np.array(array, dtype=W.dtype, copy=True)
        allowed = sorted(self.state_arrays + self.state_scalars)
        raise ValueError(
            f"unknown state '{name}' for parameter {index}: {type(self).__name__} keeps {allowed}"
        )

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


# ------------------------------------------------------------ validation helpers
def check_real(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value != value:
        raise ValueError(f"{name} must be a real number, got {value!r}")


def check_positive(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def check_non_negative(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_in_unit_interval(name: str, value, closed_right: bool = False) -> None:
    """0 <= value < 1 (or <= 1 with closed_right)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        0 <= value <= 1 if closed_right else 0 <= value < 1
    )
    if not ok:
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_bool(name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> None:
    """start ← start + weight·(end − start), in place, evaluated as torch's ``lerp_`` does."""
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        np.multiply(scratch, weight, out=scratch)
        np.add(start, scratch, out=start)
    else:
        np.multiply(scratch, 1.0 - weight, out=scratch)
        np.subtract(end, scratch, out=start)
