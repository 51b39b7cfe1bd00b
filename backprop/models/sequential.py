"""Sequential: layers applied one after another, a^[ℓ] = layer_ℓ(a^[ℓ−1]); a Model, so it trains and saves."""

from __future__ import annotations

from typing import Iterator, Optional

from backprop.interop import torch as torch_interop
from backprop.layers.module import Module
from backprop.layers.registry import declared_state_shapes, module_from_config, module_to_config, register_module
from backprop.models.model import Model

__all__ = ["Sequential"]


@register_module
class Sequential(Model):
    """A stack of layers: the output of each is the input of the next; a :class:`Model` (``fit``, ``save``...).

    The layers are registered as submodules named "0", "1", ..., so parameter names
    read ``"0.W"``, ``"0.b"``, ``"2.W"``. At construction (and on :meth:`append`)
    the sizes must chain: a layer that fixes its input size (Dense, BatchNorm) must
    get the number of features the previous size-fixing layer outputs; activation and
    Dropout layers pass sizes through.

    Args:
        *layers: Modules (or one list of Modules).

    Raises:
        TypeError: for a layer that is not a Module.
        ValueError: when sizes do not chain, naming both layers and sizes.

    Example:
        >>> from backprop.nn import Dense
        >>> net = Sequential(Dense(4, 3, activation="relu"), Dense(3, 2, activation="relu"),
        ...                  Dense(2, 1, activation="sigmoid"))
        >>> len(net), net.num_parameters()   # 3n + 14 with n = 4
        (3, 26)
    """

    def __init__(self, *layers: Module):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for layer in layers:
            self.append(layer)

    @classmethod
    def from_torch(cls, module) -> "Sequential":
        """The model of a ``torch.nn.Sequential`` of supported layers, weights copied.

        A ``Linear`` followed by an activation becomes one Dense with that activation; BatchNorm1d
        keeps its running statistics. See :mod:`backprop.interop.torch`.

        Raises:
            TypeError: ``module`` is not a ``torch.nn.Sequential``, or holds a torch module with no
                counterpart here (the message names it and lists the supported ones).
        """
        model = cls(*torch_interop.layers_from_torch(module))
        model.train(bool(module.training))
        return model

    def append(self, layer: Module) -> "Sequential":
        """Add ``layer`` at the end, after checking that its input size chains."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: layer {len(self)} must be a Module, got {type(layer).__name__}")
        self._check_chain(layer)
        setattr(self, str(len(self)), layer)
        return self

    def _check_chain(self, layer: Module) -> None:
        expected = layer.expected_in_features()
        if expected is None:
            return
        found = self._last_known_output()
        if found is None:
            return
        source_index, source, n_out = found
        if n_out != expected:
            raise ValueError(
                f"Sequential: layer {source_index} ({source!r}) outputs {n_out} features but "
                f"layer {len(self)} ({layer!r}) expects {expected} inputs"
            )

    def _last_known_output(self) -> Optional[tuple]:
        """(index, layer, n_out) of the layer that fixed the current number of features, or None."""
        n, source = None, None
        for index, layer in enumerate(self):
            n_next = layer.output_features(n)
            if n_next is None:
                n, source = None, None
            elif n_next != n or source is None or layer.expected_in_features() is not None:
                n, source = n_next, (index, layer)
        return None if n is None else (*source, n)

    def forward(self, x):
        for layer in self:
            x = layer(x)
        return x

    def sequential_layers(self) -> list:
        return self.children()

    def __getitem__(self, index):
        layers = self.children()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.children())

    def expected_in_features(self) -> Optional[int]:
        for layer in self:
            expected = layer.expected_in_features()
            if expected is not None:
                return expected
            if not _passes_sizes(layer):
                return None
        return None

    def output_features(self, in_features):
        n = in_features
        for layer in self:
            n = layer.output_features(n)
        return n

    def get_config(self) -> dict:
        return {"layers": [module_to_config(layer) for layer in self]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        """Rebuild from ``{"layers": [{"class_name": ..., "config": ...}, ...]}``, each layer via the registry."""
        return cls(*[module_from_config(layer) for layer in _layer_descriptions(config)])

    @classmethod
    def state_shapes(cls, config: dict) -> dict:
        """Each layer's :meth:`~Module.state_shapes`, its keys prefixed with the layer's index ("0.W", ...)."""
        shapes = {}
        for index, layer in enumerate(_layer_descriptions(config)):
            shapes.update({f"{index}.{key}": shape for key, shape in declared_state_shapes(layer).items()})
        return shapes

    def extra_repr(self) -> str:
        return ""


def _layer_descriptions(config) -> list:
    if not isinstance(config, dict) or set(config) != {"layers"} or not isinstance(config["layers"], list):
        raise TypeError("Sequential: config must be {'layers': [layer descriptions]}")
    return config["layers"]


def _passes_sizes(layer: Module) -> bool:
    """True for layers whose output has as many features as their input (activations, Dropout)."""
    return layer.output_features(1) == 1 and layer.output_features(2) == 2
