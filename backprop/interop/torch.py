"""PyTorch both ways: a chain of layers to an equivalent ``torch.nn.Sequential`` and back.

* :func:`to_torch` builds ``torch.nn.Sequential`` of each layer's
  :meth:`~backprop.nn.Module.to_torch_modules` (``Dense(activation="relu")`` is ``Linear`` then
  ``ReLU``) and copies the arrays by each layer's :meth:`~backprop.nn.Module.torch_layout`
  (``W`` → ``weight``, ``b`` → ``bias``, BatchNorm's γ, β and running statistics); the modules
  get the weights' dtype, so a float64 model gives the same outputs to rounding.
* :func:`layers_from_torch` reads a ``torch.nn.Sequential`` (nested ones flattened) module by
  module: the registered layer whose ``torch_types`` names the module's class builds itself
  from it (a ``Linear`` followed by an activation becomes one Dense with that activation), and
  the arrays are copied back the same way. ``nn.Sequential.from_torch`` wraps it.
* :func:`load_torch_state_dict` copies a torch ``state_dict`` into a model built here,
  whose torch counterpart numbers its modules differently: ``Dense(activation=...)`` is two
  torch modules, so the second Dense's ``W`` is torch's ``2.weight``. The numbering comes from
  the layers' ``torch_layout``; torch is not needed for it.

Torch is imported only when :func:`to_torch` or :func:`layers_from_torch` is called.
``torch.nn`` has no arctan, step or k·z module; :func:`torch_nn` adds them (``Arctan``, ``Step``,
``LinearActivation``), and :func:`layers_from_torch` reads them back.
"""

from __future__ import annotations

import functools

import numpy as np

from backprop.layers.module import Module
from backprop.layers.registry import LAYERS

__all__ = ["to_torch", "layers_from_torch", "load_torch_state_dict", "torch_nn", "torch_state_keys"]


def _import_torch():
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch interop needs torch (pip install torch)") from None
    return torch


class _TorchNamespace:
    """``torch.nn`` with the activations it lacks (Arctan, Step) added."""

    def __init__(self, nn, extra: dict):
        self._nn, self._extra = nn, extra

    def __getattr__(self, name):
        if name in self._extra:
            return self._extra[name]
        return getattr(self._nn, name)


@functools.lru_cache(maxsize=None)
def torch_nn() -> _TorchNamespace:
    """``torch.nn`` plus ``Arctan`` (a = arctan z), ``Step`` (a = 1 for z ≥ k, else 0) and
    ``LinearActivation`` (a = k·z), built once."""
    torch = _import_torch()

    class Arctan(torch.nn.Module):
        """a = arctan z (backprop's Arctan activation)."""

        def forward(self, x):
            return torch.atan(x)

    class Step(torch.nn.Module):
        """a = 1 for z ≥ k, else 0 (backprop's Step activation; no gradient)."""

        def __init__(self, k: float = 0.0):
            super().__init__()
            self.k = float(k)

        def forward(self, x):
            return (x >= self.k).to(x.dtype)

        def extra_repr(self) -> str:
            return f"k={self.k}"

    class LinearActivation(torch.nn.Module):
        """a = k·z (backprop's linear activation with slope k)."""

        def __init__(self, k: float = 1.0):
            super().__init__()
            self.k = float(k)

        def forward(self, x):
            return x * self.k

        def extra_repr(self) -> str:
            return f"k={self.k}"

    return _TorchNamespace(torch.nn, {"Arctan": Arctan, "Step": Step, "LinearActivation": LinearActivation})


def _named_leaves(model) -> list:
    """``[(state-dict prefix, layer)]`` of the chain the model applies, nested chains flattened."""
    names = {id(module): name for name, module in model.named_modules()}

    def expand(module):
        inner = module.sequential_layers()
        if inner is None:
            return [(names.get(id(module), ""), module)]
        return [leaf for child in inner for leaf in expand(child)]

    return expand(model)


def _has_torch_form(layer) -> bool:
    return type(layer).to_torch_modules is not Module.to_torch_modules


def _check_chain(model, what: str) -> list:
    if not isinstance(model, Module):
        raise TypeError(f"{what}: expected a backprop Module, got {type(model).__name__}")
    leaves = _named_leaves(model)
    for name, layer in leaves:
        if layer.children() and not _has_torch_form(layer):
            raise TypeError(f"{what}: {type(layer).__name__} computes its own forward from its submodules; only "
                            "chains of layers (nn.Sequential, a Model wrapping one) convert")
        if not _has_torch_form(layer):
            raise TypeError(f"{what}: layer {name or '-'} ({type(layer).__name__}) has no PyTorch form; "
                            f"these layers have one: {_supported_layers()}")
    return leaves


def _supported_layers() -> list:
    return sorted(cls.__name__ for cls in LAYERS if cls.torch_types)


def _supported_torch() -> dict:
    """``{torch.nn class name: layer class}``, read from the registered layers' ``torch_types``."""
    return {torch_type: cls for cls in LAYERS for torch_type in cls.torch_types}


def to_torch(model) -> "torch.nn.Sequential":  # noqa: F821 (torch is imported on call)
    """An equivalent ``torch.nn.Sequential`` with the weights (and running statistics) copied.

    Args:
        model: a chain of layers (``nn.Sequential``, a Model wrapping one, one layer).

    Returns:
        The torch module, in the weights' dtype and in the model's training mode.

    Raises:
        TypeError: a layer without a PyTorch form, or a model that is not a chain.
        ImportError: torch is not installed.
    """
    leaves = _check_chain(model, "to_torch")
    torch = _import_torch()
    nn = torch_nn()
    modules = []
    for name, layer in leaves:
        built = layer.to_torch_modules(nn)
        layout = layer.torch_layout()
        state = layer.state_dict()
        dtype = _torch_dtype(torch, layer)
        for module, arrays in zip(built, layout, strict=True):
            if dtype is not None:
                module.to(dtype)
            tensors = module.state_dict(keep_vars=True)
            if set(tensors) != set(arrays):
                raise TypeError(f"to_torch: {type(layer).__name__}.torch_layout() names {sorted(arrays)} for "
                                f"torch.nn.{type(module).__name__}, whose state is {sorted(tensors)}")
            with torch.no_grad():
                for torch_key, key in arrays.items():
                    tensors[torch_key].copy_(torch.from_numpy(np.array(state[key], order="C")))  # (0-d stays 0-d)
        modules.extend(built)
    sequential = torch.nn.Sequential(*modules)
    sequential.train(bool(model.training))
    return sequential


def _torch_dtype(torch, layer):
    floats = [array.dtype for array in layer.state_dict().values() if array.dtype.kind == "f"]
    return getattr(torch, floats[0].name) if floats else None


def _flat_modules(sequential) -> list:
    torch = _import_torch()
    modules = []
    for module in sequential:
        modules.extend(_flat_modules(module) if isinstance(module, torch.nn.Sequential) else [module])
    return modules


def layers_from_torch(sequential) -> list:
    """The layers of a ``torch.nn.Sequential``, weights copied (``nn.Sequential.from_torch`` wraps them).

    Raises:
        TypeError: not a ``torch.nn.Sequential``, or a module with no counterpart here (naming it
            and listing the torch modules that have one), or settings that are not supported.
    """
    torch = _import_torch()
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(sequential).__name__}")
    modules = _flat_modules(sequential)
    supported = _supported_torch()
    nn = torch_nn()
    layers, i = [], 0
    while i < len(modules):
        module = modules[i]
        kind = type(module).__name__
        cls = supported.get(kind)
        if cls is None:
            raise TypeError(f"from_torch: torch.nn.{kind} (module {i}) is not supported; the supported torch "
                            f"modules are {sorted(supported)}")
        try:
            layer, used = cls.from_torch_modules(modules[i:], nn)
        except TypeError as error:
            raise TypeError(f"from_torch: module {i}: {error}") from None
        state = {}
        for source, arrays in zip(modules[i:i + used], layer.torch_layout(), strict=True):
            tensors = source.state_dict()
            for torch_key, key in arrays.items():
                state[key] = tensors[torch_key].detach().cpu().numpy()
        if state:
            layer.load_state_dict(state)
        layer.train(bool(module.training))
        layers.append(layer)
        i += used
    return layers


def torch_state_keys(model) -> dict:
    """``{torch state key: the model's state key}`` of the model's torch counterpart (:func:`to_torch`)."""
    keys, index = {}, 0
    for name, layer in _check_chain(model, "load_torch_state_dict"):
        layout = layer.torch_layout()
        for j, arrays in enumerate(layout):
            for torch_key, key in arrays.items():
                keys[f"{index + j}.{torch_key}"] = f"{name}.{key}" if name else key
        index += len(layout)
    return keys


def load_torch_state_dict(model, state_dict, strict: bool = True) -> None:
    """Copy a torch ``state_dict`` (of the model's counterpart, keys ``"0.weight"``, ...) into the model.

    Args:
        model: a chain of layers whose torch counterpart the state dict is.
        state_dict: torch tensors or NumPy arrays by torch's keys.
        strict: refuse keys that are missing or unexpected (with the keys listed).

    Raises:
        ValueError: keys that do not match (naming them and the expected ones) or a shape mismatch.
        TypeError: a layer without a PyTorch form, or a state dict that is not a mapping.
    """
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"load_torch_state_dict: expected a mapping of names to tensors, got "
                        f"{type(state_dict).__name__}")
    keys = torch_state_keys(model)
    missing = [key for key in keys if key not in state_dict]
    unexpected = [str(key) for key in state_dict if key not in keys]
    if strict and (missing or unexpected):
        raise ValueError(f"load_torch_state_dict: the keys do not match the model's torch counterpart: missing "
                         f"{missing[:10]}, unexpected {unexpected[:10]}; expected {list(keys)[:12]}")
    state = {}
    for torch_key, key in keys.items():
        if torch_key in state_dict:
            value = state_dict[torch_key]
            state[key] = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    model.load_state_dict(state, strict=strict)
