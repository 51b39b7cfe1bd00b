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
Python scalars as "weak"; an ``np.float64`` scalar would upcast). A float16 parameter
is the exception: its update and its state are float32 (see ``_update_widened``), as
in PyTorch's mixed precision, since Adam's ε and √v̂ underflow in float16.

Hyper-parameters must be finite (``Adam(lr=inf)`` is refused), also when they come
from a ``state_dict`` (a checkpoint file): ``load_state_dict`` runs the constructor's checks.

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

from typing import Any, Callable, Iterable, Optional

import numpy as np

from backprop.backend import is_column_major
from backprop.checks import check_non_negative, check_positive
from backprop.engine.tensor import Tensor, enable_grad
from backprop.optim.clipping import GradientClipping
from backprop.optim.packing import flat_base, ravel_like, view_like
from backprop.registry import Registry

__all__ = ["Optimizer", "OPTIMIZERS"]

OPTIMIZERS = Registry("optimizer")
"""Every optimiser class, by ``name`` and ``aliases`` (case-insensitive); each registers itself in its file."""


class Optimizer:
    """Base class: holds the parameter groups and the per-parameter state.

    Args:
        params: an iterable of Tensors (each with ``requires_grad=True``), or an
            iterable of dicts ``{"params": [...], "lr": ..., ...}`` (parameter
            groups; a key a group leaves out takes the optimiser's default).
        defaults: the optimiser's hyper-parameters, e.g. ``{"lr": 0.01, "momentum": 0}``.
        clipnorm, clipvalue, global_clipnorm: gradient clipping before each update, with
            Keras's meaning (at most one; see :mod:`backprop.optim.clipping`): each
            parameter's g to norm ≤ clipnorm, each element to [−clipvalue, clipvalue], or all
            gradients together to norm ≤ global_clipnorm. Every optimiser takes them; the
            setting is ``self.clipping`` (None: no clipping).

    Subclasses define ``_check_group(group)`` (raise ValueError on a bad
    hyper-parameter), ``_update(W, g, state, group)`` and the class attributes
    ``state_arrays`` / ``state_scalars`` (the names their state may hold); a subclass
    picked by name sets ``name``, ``aliases`` and ``defaults_when_named`` (the arguments
    ``get_optimizer(name, ...)`` supplies that its constructor requires, e.g. SGD's lr)
    and registers itself with ``@OPTIMIZERS.register``.
    """

    name = ""
    aliases: tuple = ()
    defaults_when_named: dict = {}
    state_arrays: tuple = ()
    state_scalars: tuple = ()

    def __init__(self, params: Iterable, defaults: dict, *, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None):
        self.clipping = GradientClipping.of(clipnorm, clipvalue, global_clipnorm, owner=type(self).__name__)
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts (parameter groups), "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        self.defaults = dict(defaults)
        self.state: dict = {}  # Tensor -> {name: ndarray or number}; Tensor hashes by identity
        self.param_groups: list = []
        self._scratch_buffers: dict = {}
        self._scalar_buffers: dict = {}
        self._packed_cache: dict = {}  # id(group) -> ((data, grad) per param, flat W, flat g, flat state)
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
        unknown = sorted(str(key) for key in group if key not in self.defaults)
        if unknown:  # e.g. a weight_decay this optimiser does not have would be ignored without a word
            raise ValueError(f"{type(self).__name__}: a parameter group has the settings {unknown}, which it does "
                             f"not have; its hyper-parameters are {sorted(self.defaults)}")
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
        clipping, global_factor = self.clipping, None
        if clipping is not None and clipping.global_clipnorm is not None:
            global_factor = clipping.global_factor(
                p.grad for group in self.param_groups for p in group["params"] if p.grad is not None)
        for group in self.param_groups:
            packed = self._packed(group)
            if packed is not None:
                W, g, flat_state = packed
                if clipping is not None:  # into a work array: the flat gradient is the caller's
                    g = clipping.clip(g, self._scratch(g, "clip"), global_factor, _slices(group["params"]))
                self._step_packed(group, W, g, flat_state)
                continue
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.shape != p.data.shape:
                    raise ValueError(f"gradient of shape {g.shape} for a parameter of shape {p.data.shape}")
                if clipping is not None:
                    g = clipping.clip(g, self._scratch(g, "clip"), global_factor)
                if p.data.dtype in _WIDENED:
                    self._update_widened(p, g, group)
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}  # _update fills it on the first step
                self._update(p.data, g, state, group)
        return loss

    def _update_widened(self, p, g: np.ndarray, group: dict) -> None:
        """A float16 parameter is updated in float32, with float32 state, then rounded back.

        In float16 Adam's ε = 1e-8 is 0 and √v̂ underflows, so m̂/(√v̂ + ε) is 0/0 = NaN at
        the first step; PyTorch's mixed-precision recipe keeps the optimiser's arithmetic
        and state in float32 for the same reason. Only the weight itself stays float16
        (updates far below its resolution, |W|·2⁻¹¹, are rounded away).
        """
        wide = _WIDENED[p.data.dtype]
        W = p.data.astype(wide)
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
        self._update(W, g.astype(wide), state, group)
        with np.errstate(over="ignore"):  # a weight beyond float16's range becomes ±inf: divergence, reported by fit
            p.data[...] = W

    # ------------------------------------------------------- packed step
    # When a group's parameters live in one flat array and their gradients in another with
    # the same layout (backprop.optim.packing; the fused fast path does that), the
    # update runs once over the flat arrays instead of once per parameter: the same
    # elementwise arithmetic, so bit-for-bit the same numbers, with a few ufunc calls
    # per step instead of a few per parameter. Each parameter's state then holds views
    # of the flat state arrays, so ``state_dict`` is unchanged.
    def _packed(self, group: dict):
        params = group["params"]
        if len(params) < 2:
            return None
        cache = self._packed_cache.get(id(group))
        # Compare the arrays themselves (the cache holds them, so their ids cannot be reused),
        # and each parameter's state dict: a state that was reset must not be carried on.
        state = self.state
        if cache is not None and all(p.data is data and p.grad is grad and state.get(p) is entry
                                     for p, (data, grad, entry) in zip(params, cache[0])):
            return cache[1:]
        if any(p.data.dtype in _WIDENED for p in params):
            return None  # updated one by one, in float32 (never cached, so checked here only)
        key = self._packed_key(params)
        W = flat_base(params, lambda p: p.data)
        g = None if W is None else flat_base(params, lambda p: p.grad)
        if g is not None and any(is_column_major(p.data) != is_column_major(p.grad) for p in params):
            g = None  # element k of the two flat arrays would not be the same weight's
        flat_state = None if g is None else self._flat_state(params, W)
        if flat_state is None:
            self._packed_cache.pop(id(group), None)
            return None
        self._packed_cache[id(group)] = (key, W, g, flat_state)
        return W, g, flat_state

    def _packed_key(self, params) -> tuple:
        return tuple((p.data, p.grad, self.state.get(p)) for p in params)

    def _flat_state(self, params, W_flat: np.ndarray):
        """One state dict over the flat array, built from the parameters' own states (or empty)."""
        states = [self.state.get(p) or {} for p in params]
        if not any(states):
            return {}
        names = set(states[0])
        if any(set(state) != names for state in states):
            return None
        flat = {}
        for name in names:
            values = [state[name] for state in states]
            if isinstance(values[0], np.ndarray):
                if any(not isinstance(v, np.ndarray) or v.shape != p.data.shape for v, p in zip(values, params)):
                    return None
                flat[name] = np.concatenate([ravel_like(v, p.data) for v, p in zip(values, params)]).astype(
                    W_flat.dtype, copy=False)
            elif all(v == values[0] for v in values):
                flat[name] = values[0]
            else:
                return None  # e.g. different step counts: update them one by one
        self._share_state(params, flat)
        return flat

    def _share_state(self, params, flat: dict) -> None:
        """Point every parameter's state at views of the flat state (arrays) or copies (numbers)."""
        offset = 0
        for p in params:
            size = p.data.size
            state = self.state.setdefault(p, {})
            for name, value in flat.items():
                if isinstance(value, np.ndarray):
                    view = view_like(value[offset:offset + size], p.data)  # (in W's memory order)
                    if state.get(name) is None or not np.shares_memory(state[name], value):
                        state[name] = view
                else:
                    state[name] = value
            offset += size

    def _step_packed(self, group: dict, W: np.ndarray, g: np.ndarray, flat_state: dict) -> None:
        entries = len(flat_state)
        # (Splitting this update between two threads was measured: no faster inside a
        # training step, where OpenBLAS's own threads are still spinning after the matmuls.)
        self._update(W, g, flat_state, group)
        if len(flat_state) != entries:  # new state (the first step; a buffer made on demand)
            self._share_state(group["params"], flat_state)
            cache = self._packed_cache.get(id(group))
            if cache is not None:  # the parameters' state dicts exist now: remember them
                self._packed_cache[id(group)] = (self._packed_key(group["params"]),) + cache[1:]
            return
        # The arrays are shared views already; copy the numbers (e.g. "step") to each parameter.
        scalars = [(name, value) for name, value in flat_state.items() if not isinstance(value, np.ndarray)]
        if scalars:
            for p in group["params"]:
                self.state[p].update(scalars)

    def _update(self, W: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """Update ``W`` in place from its gradient ``g`` (do not modify ``g``).

        ``state`` is empty before the parameter's first step: the update creates its
        buffers then (``if not state: ...``). That is the one place state is made, for one
        parameter and for a packed group's flat arrays alike.
        """
        raise NotImplementedError

    def _kernel_scalars(self, dtype: np.dtype, values) -> np.ndarray:
        """``values`` rounded to ``dtype`` in a reused array: one argument for a compiled kernel
        (each NumPy scalar made and passed separately costs about a microsecond)."""
        buffer = self._scalar_buffers.get(dtype)
        if buffer is None or buffer.size < len(values):
            buffer = self._scalar_buffers[dtype] = np.empty(max(8, len(values)), dtype)
        buffer[:len(values)] = values
        return buffer

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
        by_index, new_groups, unknown_settings = {}, [], []
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
            unknown_settings += [(i, str(key)[:40]) for key in new_group if key not in self.defaults and key != "initial_lr"]
            if isinstance(new_group.get("betas"), list):
                new_group["betas"] = tuple(new_group["betas"])  # JSON turns tuples into lists
            self._check_group(new_group)  # a state_dict may come from a file: the same checks as the constructor
            if "initial_lr" in new_group:
                check_positive(new_group["initial_lr"], "initial_lr", type(self).__name__)
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
        if unknown_settings:  # (after the state: its errors say more about a mix-up of optimisers)
            i = unknown_settings[0][0]
            raise ValueError(f"param_groups[{i}] of the state_dict has unknown settings "
                             f"{[key for j, key in unknown_settings if j == i][:5]}")
        self.param_groups = new_groups
        self.state = new_state
        self._packed_cache = {}  # the flat state no longer backs the parameters' state

    def _restore_state_value(self, name: str, value, W: np.ndarray, index: int):
        if name in self.state_scalars:
            if isinstance(value, np.ndarray):
                value = value.item()
            check_non_negative(value, f"state '{name}' of parameter {index}")
            return int(value) if float(value).is_integer() else float(value)
        if name in self.state_arrays:
            array = np.asarray(value)
            if array.dtype.kind not in "fiu":
                raise ValueError(f"state '{name}' of parameter {index} must be a real array, got dtype {array.dtype}")
            if array.shape != W.shape:
                raise ValueError(
                    f"state '{name}' of parameter {index} has shape {array.shape}, "
                    f"but the parameter has shape {W.shape}"
                )
            return np.array(array, dtype=_WIDENED.get(W.dtype, W.dtype), copy=True)
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


def _slices(params) -> list:
    """Each parameter's slice of a packed group's flat arrays (clipnorm takes each one's own norm)."""
    slices, offset = [], 0
    for p in params:
        slices.append(slice(offset, offset + p.data.size))
        offset += p.data.size
    return slices


def lerp_form(weight: float) -> tuple[bool, float]:
    """How torch evaluates a lerp with ``weight``: (from start?, factor).

    From the start, start + weight·(end − start), when |weight| < ½; else from the end,
    end − (1 − weight)·(end − start). :func:`lerp_` and the compiled kernels both use it.
    """
    if abs(weight) < 0.5:
        return True, weight
    return False, 1.0 - weight


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> None:
    """start ← start + weight·(end − start), in place, evaluated as torch's ``lerp_`` does."""
    from_start, factor = lerp_form(weight)
    np.subtract(end, start, out=scratch)
    np.multiply(scratch, factor, out=scratch)
    if from_start:
        np.add(start, scratch, out=start)
    else:
        np.subtract(end, scratch, out=start)


# Parameter dtypes whose update runs in a wider dtype (see Optimizer._update_widened).
_WIDENED = {np.dtype(np.float16): np.dtype(np.float32)}
