"""Module: the base class of every layer and network.

A Module holds its learnable :class:`Parameter` s (W, b, γ, β), its buffers (arrays
such as BatchNorm's running statistics, saved but not learned) and its submodules.
They are registered by attribute assignment, as in PyTorch::

    class TwoLayer(Module):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(4, 3, activation="relu")   # a submodule
            self.out = Dense(3, 1)

        def forward(self, x):
            return self.out(self.hidden(x))

and are visited in the order they were assigned, so ``parameters()``,
``state_dict()`` and saved files are deterministic.

A Module knows its maths, its config and its shapes, and nothing about training or
files: ``fit``, ``evaluate``, ``predict``, ``save`` and ``summary`` live on
:class:`backprop.models.Model` (``nn.Sequential`` is one; ``bp.Model(module)`` wraps any
other), as Keras keeps them on ``Model`` and not on ``Layer``.

Each module counts its own attribute assignments and deletions in ``_version``. A
cache of a form derived from a network (the fast path's compiled plan) remembers the
versions of the network's modules and is rebuilt when one of them has moved: a layer's
parameters, settings and submodules all change through an assignment. Two assignments are
not counted: the ``training`` flag (which ``train()`` and ``eval()`` set on every module,
and the compiled forms read at each step) and a model's ``fit_record`` (what ``fit`` saw):
counting them rebuilt the plan at every ``fit`` and its buffers with it.
"""

from __future__ import annotations

import functools
import inspect
from collections import namedtuple
from typing import Optional

import numpy as np

from backprop.backend import resolve_dtype
from backprop.engine.tensor import Tensor
from backprop.layers.parameter import Parameter

__all__ = ["Module", "LoadResult"]

LoadResult = namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])
LoadResult.__doc__ = "What :meth:`Module.load_state_dict` did not match: missing and unexpected keys."


_UNVERSIONED = frozenset({"training", "fit_record"})  # read at each use: no compiled form depends on them


class Module:
    """Base class of layers and networks: ``forward``, parameters, buffers, train/eval, state and config.

    Subclasses call ``super().__init__()`` first, then assign Parameters, buffers
    (:meth:`register_buffer`) and submodules as attributes, and implement
    :meth:`forward`. Layers with constructor arguments implement :meth:`get_config`
    so that :func:`backprop.nn.module_from_config` can rebuild them from a file.
    """

    def __init__(self):
        object.__setattr__(self, "_version", 0)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        self.training = True

    # ------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        """Compute the module's output; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------- registration
    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if name not in _UNVERSIONED:
            d["_version"] = d.get("_version", 0) + 1
        if "_parameters" not in d:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"{type(self).__name__}: call super().__init__() before assigning parameters or submodules"
                )
            object.__setattr__(self, name, value)
            return
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to parameter {name!r}; "
                    "assign a Parameter or None"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to submodule {name!r}; "
                    "assign a Module or None"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(
                    f"{type(self).__name__}: buffer {name!r} must be an ndarray, got {type(value).__name__}"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Called only when ordinary lookup fails: parameters, buffers and submodules live here.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        d["_version"] = d.get("_version", 0) + 1
        if not self._forget(name):
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _forget(self, name: str) -> bool:
        found = False
        for store in (self._parameters, self._buffers, self._modules):
            found = store.pop(name, _MISSING) is not _MISSING or found
        if name in self.__dict__:
            object.__delattr__(self, name)
            found = True
        return found

    def register_buffer(self, name: str, array: Optional[np.ndarray]) -> None:
        """Register an array that is saved in the state dict but not learned (e.g. a running mean)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"buffer name must be an identifier, got {name!r}")
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"buffer {name!r} must be an ndarray, got {type(array).__name__}")
        self._forget(name)
        self._buffers[name] = array
        self.__dict__["_version"] += 1

    # ---------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> list:
        """``[(dotted_name, module)]``: this module (name ``prefix``) and every submodule, depth first."""
        found, seen = [], set()

        def visit(module: Module, name: str) -> None:
            if id(module) in seen:
                return
            seen.add(id(module))
            found.append((name, module))
            for child_name, child in module._modules.items():
                if child is not None:
                    visit(child, f"{name}.{child_name}" if name else child_name)

        visit(self, prefix)
        return found

    def modules(self) -> list:
        """This module and all its submodules, depth first."""
        return [module for _, module in self.named_modules()]

    def children(self) -> list:
        """The direct submodules, in assignment order."""
        return [module for module in self._modules.values() if module is not None]

    def named_parameters(self) -> list:
        """``[(dotted_name, Parameter)]`` in assignment order, e.g. ``[("0.W", ...), ("0.b", ...)]``.

        A Parameter shared by two modules is listed once.
        """
        return self._named_members("_parameters")

    def parameters(self) -> list:
        """The learnable Parameters, in the deterministic order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> list:
        """``[(dotted_name, ndarray)]``: saved, non-learned arrays such as BatchNorm's running statistics."""
        return self._named_members("_buffers")

    def _named_members(self, store: str) -> list:
        found, seen = [], set()
        for module_name, module in self.named_modules():
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                found.append((f"{module_name}.{name}" if module_name else name, value))
        return found

    def parameter_groups(self, weight_decay: float) -> list:
        """Optimiser parameter groups that decay the weights only, as PyTorch users write them.

        ``[{"params": weights, "weight_decay": λ}, {"params": the others, "weight_decay": 0.0}]``,
        where the weights are the parameters with two or more axes (a Dense or conv layer's W,
        an embedding table) and the others the biases b and the normalisation parameters γ, β
        (one axis): the notes' L2 penalises "only the weights … not the biases". An empty
        group is left out. Every optimiser takes the list in place of ``parameters()``; with
        plain SGD the step is the notes' W ← (1 − αλ) W − α ∂J/∂W, and b ← b − α ∂J/∂b.

        Args:
            weight_decay: λ >= 0 and finite.

        Example:
            >>> from backprop import nn, optim
            >>> model = nn.Sequential(nn.Dense(3, 4), nn.BatchNorm(4), nn.Dense(4, 1))
            >>> groups = model.parameter_groups(weight_decay=1e-3)
            >>> [len(group["params"]) for group in groups], [group["weight_decay"] for group in groups]
            ([2, 4], [0.001, 0.0])
            >>> opt = optim.SGD(groups, lr=0.1)
        """
        from backprop.checks import check_non_negative

        weight_decay = check_non_negative(weight_decay, "weight_decay", "parameter_groups")
        weights = [p for p in self.parameters() if p.ndim >= 2]
        others = [p for p in self.parameters() if p.ndim < 2]
        groups = [{"params": weights, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
        return [group for group in groups if group["params"]]

    def num_parameters(self) -> int:
        """The number of learnable numbers: Σ over Parameters of their sizes (e.g. 3n + 14 in the notes)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Set every Parameter's ``.grad`` to None (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = None

    # --------------------------------------------------------- train/eval
    def train(self, mode: bool = True) -> "Module":
        """Switch this module and its submodules to training (``mode=True``) or evaluation mode.

        It matters to Dropout (drops units only in training) and BatchNorm (batch
        statistics in training, running statistics in evaluation).
        """
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """Switch to evaluation mode; same as ``train(False)``."""
        return self.train(False)

    # -------------------------------------------------------------- dtype
    def to(self, dtype) -> "Module":
        """Cast every Parameter and every float buffer to ``dtype`` (e.g. ``"float64"``), in place.

        The Parameter objects stay the same (their ``.data`` is replaced), so an
        optimiser built before the cast still holds them; their gradients are cleared.
        """
        dtype = resolve_dtype(dtype)
        for module in self.modules():
            module.__dict__["_version"] += 1  # forms compiled for the old dtype must be rebuilt
            for p in module._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dtype)
                    p.grad = None
            for name, buffer in module._buffers.items():
                if buffer is not None and buffer.dtype.kind == "f":
                    module._buffers[name] = buffer.astype(dtype)
        return self

    # -------------------------------------------------------------- state
    def _state_entries(self) -> dict:
        """``{dotted_name: (module, store, local_name)}`` for every Parameter and buffer, in state-dict order:
        module by module (depth first), each module's parameters and then its buffers, as in PyTorch."""
        entries, seen = {}, set()
        for module_name, module in self.named_modules():
            for store in ("_parameters", "_buffers"):
                for name, value in getattr(module, store).items():
                    if value is None or id(value) in seen:
                        continue
                    seen.add(id(value))
                    entries[f"{module_name}.{name}" if module_name else name] = (module, store, name)
        return entries

    def state_dict(self) -> dict:
        """``{dotted_name: ndarray}``: copies of every Parameter's and buffer's values.

        Ordered module by module, each module's parameters and then its buffers
        (e.g. ``"0.W", "0.b", "1.gamma", "1.beta", "1.running_mean", ...``).
        """
        state = {}
        for key, (module, store, name) in self._state_entries().items():
            value = getattr(module, store)[name]
            state[key] = (value.data if isinstance(value, Tensor) else value).copy()
        return state

    def load_state_dict(self, state, strict: bool = True) -> LoadResult:
        """Copy the values of ``state`` (as returned by :meth:`state_dict`) into this module.

        Values are cast to each Parameter's / buffer's dtype; Parameter objects keep
        their identity. Shapes must match exactly.

        Args:
            state: mapping from dotted names to arrays (or Tensors).
            strict: refuse missing or unexpected keys.

        Returns:
            ``LoadResult(missing_keys, unexpected_keys)``.

        Raises:
            ValueError: on a shape mismatch, or with ``strict=True`` when keys differ.
            TypeError: when ``state`` is not a mapping or a value is not numeric.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"load_state_dict: state must be a mapping of names to arrays, got {type(state).__name__}")
        targets = self._state_entries()
        missing = [key for key in targets if key not in state]
        unexpected = [key for key in state if key not in targets]
        if strict and (missing or unexpected):
            raise ValueError(
                f"load_state_dict: keys do not match {type(self).__name__}'s: "
                f"missing {missing}, unexpected {unexpected}"
            )
        for key, (module, store, name) in targets.items():
            if key not in state:
                continue
            value = state[key]
            value = value.data if isinstance(value, Tensor) else value
            try:
                value = np.asarray(value)
            except (TypeError, ValueError) as error:
                raise TypeError(f"load_state_dict: value for {key!r} is not an array: {error}") from None
            if value.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: value for {key!r} must be numeric, got dtype {value.dtype}")
            current = getattr(module, store)[name]
            current_data = current.data if isinstance(current, Tensor) else current
            if value.shape != current_data.shape:
                raise ValueError(
                    f"load_state_dict: {key!r} has shape {value.shape} in the state but {current_data.shape} in the module"
                )
            new = np.array(value, dtype=current_data.dtype, copy=True)
            if isinstance(current, Parameter):
                current.data = new
                current.grad = None
            else:
                getattr(module, store)[name] = new
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The JSON-serialisable constructor arguments that rebuild this module: ``type(m)(**m.get_config())``.

        The default suits modules whose constructor takes no arguments; others override it.
        """
        if _constructor_parameters(type(self)):
            raise NotImplementedError(
                f"{type(self).__name__} takes constructor arguments, so it must implement get_config()"
            )
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Module":
        """Rebuild a module from :meth:`get_config`'s dict, refusing unknown or missing keys.

        Only the constructor runs, with the config's values as keyword arguments; the
        constructor validates them.

        Raises:
            TypeError: naming the layer, for a non-dict config or unknown/missing keys.
        """
        return cls(**cls.check_config_keys(config))

    @classmethod
    def check_config_keys(cls, config) -> dict:
        """``config`` itself, once it is a dict whose keys are the constructor's (all required ones present).

        Raises:
            TypeError: naming the layer, for a non-dict config or unknown/missing keys.
        """
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}: config must be a dict, got {type(config).__name__}")
        accepted = _constructor_parameters(cls)
        unknown = sorted(str(key) for key in config if key not in accepted)
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown config keys {unknown[:10]}; accepted keys are {sorted(accepted)}")
        required = sorted(name for name, needed in accepted.items() if needed and name not in config)
        if required:
            raise TypeError(f"{cls.__name__}: config is missing required keys {required}")
        return config

    #: True for layers that hold no parameters or buffers whatever their config (activations,
    #: Dropout, pools): :meth:`state_shapes` is then ``{}`` once the config has built one.
    holds_no_arrays = False

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """``{state_dict key: shape}`` of the module :meth:`from_config` would build, without building it.

        The model-file loader compares these with the stored tensors' shapes (read from the
        file's header) before it builds or allocates anything, so a small crafted config
        cannot ask for gigabytes. A layer whose parameters depend on its config (Dense's
        (n_out, n_in) W) must override this, validating every value of ``config`` as its
        constructor would; a layer that holds no arrays whatever its config sets
        ``holds_no_arrays`` instead. The default serves
        modules whose constructor takes no arguments, whose state the file cannot change:
        it builds one and reads its state. Any other module raises NotImplementedError, and
        its files are refused, so a new layer cannot be forgotten.

        Raises:
            TypeError, ValueError: naming the layer, for an invalid config.
            NotImplementedError: for a module with constructor arguments that does not override it.
        """
        if cls.holds_no_arrays:
            cls.from_config(config)  # building one allocates nothing, and checks every value
            return {}
        if _constructor_parameters(cls):
            raise NotImplementedError(
                f"{cls.__name__} takes constructor arguments but does not define the classmethod "
                "state_shapes(config), so its files cannot be checked before loading"
            )
        cls.check_config_keys(config)
        return {key: value.shape for key, value in cls().state_dict().items()}

    # ------------------------------------------------------- regularisation
    def own_regularization_loss(self) -> Optional[Tensor]:
        """This module's own weight penalty, without its submodules' (None when it has none)."""
        return None

    def regularization_loss(self) -> Optional[Tensor]:
        """Σ of the weight penalties of this module and all submodules, or None if there are none.

        Training reports cost = loss + regularization_loss(), e.g. J + λ Σ W² for L2.
        """
        total = None
        for module in self.modules():
            penalty = module.own_regularization_loss()
            if penalty is not None:
                total = penalty if total is None else total + penalty
        return total

    # ------------------------------------------- sizes (Sequential checks them)
    #: True for layers whose input is (N, C, ...) images or sequences rather than rows of features.
    takes_spatial_input = False

    #: What ``forward`` takes when this module is a network's first layer: ``"features"`` (a float
    #: array: rows of features, images, sequences), ``"codes"`` (an integer array of category
    #: codes: Embedding) or ``"branches"`` (a tuple or dict of inputs, one per branch: Concat).
    #: Input validation (:mod:`backprop.training.inputs`) and the fast path's planner read it.
    input_kind = "features"

    def expected_in_features(self) -> Optional[int]:
        """The number of input features this module requires, or None if it fixes none."""
        return None

    def output_features(self, in_features: Optional[int]) -> Optional[int]:
        """The number of features it outputs for inputs with ``in_features`` features (None: unknown)."""
        return None

    # ------------------------------------------------------ composition
    def sequential_layers(self) -> Optional[list]:
        """The modules this one applies one after another, ``a^[ℓ] = layer_ℓ(a^[ℓ−1])``, when its
        ``forward`` is exactly that composition (a Sequential, a Model wrapping one module); None
        for a module that computes its output itself.

        Code below the models (the fast path, :func:`~backprop.diagnostics.trace`) walks a network
        through this, without knowing the container classes.
        """
        return None

    # ----------------------------------------------------------- fused form
    def fused_ops(self) -> Optional[tuple]:
        """This layer's fused form: a tuple of :class:`~backprop.layers.fused.FusedOp` that compute
        its ``forward`` (and backward) on plain arrays, or None when it has none in its present
        configuration. The fast path runs a layer without one through the engine.

        A layer that overrides this builds the ops afresh at each call (they read the layer's
        Parameters and settings; the fast path calls it again when the layer's ``_version`` moves).
        """
        return None

    # ---------------------------------------------------------- traced form
    def traced_form(self):
        """This layer's :class:`~backprop.layers.traced.TracedForm` (its z = op(a; W, b) and the
        notes' equations for it), for :func:`~backprop.diagnostics.trace` and the GradientMonitor;
        None for a layer without weights of that kind (activations, pools, Flatten) or one the
        trace cannot explain (BatchNorm).
        """
        return None

    # ------------------------------------------------------------ ONNX export
    def onnx_nodes(self, graph, x: str) -> str:
        """Add this module's forward in evaluation mode to an ONNX graph; return its output's name.

        ``graph`` is a :class:`backprop.onnx.GraphBuilder` (``graph.node(op_type, inputs, **attributes)``,
        ``graph.constant(array)``); ``x`` names the input tensor. Each layer writes its own export
        beside its forward, with no import of ``onnx``; :func:`backprop.onnx.export_onnx` calls it.
        This default serves a module whose forward is :meth:`sequential_layers` (a Sequential, a
        wrapping Model): each layer's nodes in turn.

        Raises:
            NotImplementedError: for a module that computes its output itself and defines no export.
        """
        layers = self.sequential_layers()
        if layers is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no ONNX export: define onnx_nodes(self, graph, x) beside its forward")
        for layer in layers:
            x = layer.onnx_nodes(graph, x)
        return x

    # ------------------------------------------------------------- PyTorch
    # Each layer states its torch.nn form beside its maths; backprop.interop.torch (to_torch,
    # from_torch, load_torch_state_dict) walks a chain of layers and asks each one. ``nn`` is
    # torch.nn (with the few activations it lacks added), passed in so that no layer file
    # imports torch.
    #: The torch.nn class names :meth:`from_torch_modules` reads (a module of one of them first).
    torch_types: tuple = ()

    def to_torch_modules(self, nn) -> list:
        """This layer as torch.nn modules applied in turn (Dense: Linear, then its activation's),
        built with the layer's settings; :meth:`torch_layout` says where its arrays go.

        Raises:
            TypeError: the layer has no PyTorch form.
        """
        raise TypeError(f"{type(self).__name__} has no PyTorch form (it states none in to_torch_modules)")

    def torch_layout(self) -> list:
        """One dict per module of :meth:`to_torch_modules`: ``{torch state key: this layer's state key}``
        (Dense: ``[{"weight": "W", "bias": "b"}, {}]``). It needs no torch."""
        return [{}]

    @classmethod
    def from_torch_modules(cls, modules: list, nn) -> tuple:
        """``(layer, how many modules it takes)`` for the torch modules at the head of ``modules``,
        whose first is one of :attr:`torch_types`; the arrays are copied afterwards, by
        :meth:`torch_layout`.

        Raises:
            TypeError: settings this library does not support (naming them).
        """
        raise TypeError(f"{cls.__name__} cannot be built from PyTorch modules")

    # --------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr."""
        try:
            config = self.get_config()
        except NotImplementedError:
            return ""
        return ", ".join(f"{key}={value!r}" for key, value in config.items())

    def __repr__(self) -> str:
        children = [(name, module) for name, module in self._modules.items() if module is not None]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, module in children:
            lines.append("  (" + name + "): " + repr(module).replace("\n", "\n  "))
        lines.append(")")
        return "\n".join(lines)


_MISSING = object()



@functools.lru_cache(maxsize=None)  # inspect.signature costs more than building a small layer
def _constructor_parameters(cls) -> dict:
    """``{name: required}`` for the keyword-passable parameters of ``cls.__init__``."""
    signature = inspect.signature(cls.__init__)
    return {
        name: p.default is inspect.Parameter.empty
        for name, p in list(signature.parameters.items())[1:]
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }

