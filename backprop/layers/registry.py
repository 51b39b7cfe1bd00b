"""The layer registry, :data:`LAYERS`: class names to Module classes.

Saved models store their architecture as ``{"class_name": "Dense", "config": {...}}``
(nested for Sequential). Loading looks the class name up in this registry and calls the
class's ``from_config``, which checks the keys and passes them to the constructor,
which checks the values. Nothing in a config is ever imported, evaluated or executed.
"""

from __future__ import annotations

from backprop.naming import short_repr
from backprop.layers.module import Module
from backprop.registry import Registry

__all__ = ["LAYERS", "register_module", "get_module_class", "registered_modules", "module_to_config",
           "module_from_config", "declared_state_shapes"]

LAYERS = Registry("layer", case_sensitive=True)
"""Every loadable Module class, by its class name (or the name given to :func:`register_module`)."""


def register_module(cls=None, *, name: str = None):
    """Class decorator: make a Module subclass loadable by its class name (or ``name``).

    Example:
        >>> @register_module
        ... class Doubler(Module):
        ...     def forward(self, x):
        ...         return 2 * x
        >>> module_from_config({"class_name": "Doubler", "config": {}})
        Doubler()
    """

    def register(klass):
        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register_module: {klass!r} is not a Module subclass")
        key = name or klass.__name__
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"register_module: name must be an identifier, got {key!r}")
        try:
            return LAYERS.register(klass, name=key)  # the same class defined again replaces itself
        except ValueError:
            raise ValueError(
                f"register_module: the name {key!r} is already taken by {_qualified(LAYERS.get(key))}; pass name=..."
            ) from None

    return register(cls) if cls is not None else register


def _qualified(klass) -> str:
    return f"{klass.__module__}.{klass.__qualname__}"


def registered_modules() -> list:
    """The registered class names, sorted."""
    return LAYERS.names()


def get_module_class(class_name: str) -> type:
    """The registered class called ``class_name``.

    Raises:
        ValueError: ``unknown layer type 'X'; known types: [...]``.
    """
    if not isinstance(class_name, str) or class_name not in LAYERS:
        raise ValueError(f"unknown layer type {short_repr(class_name)}; known types: {registered_modules()}")
    return LAYERS.get(class_name)


def module_to_config(module: Module) -> dict:
    """``{"class_name": ..., "config": module.get_config()}``, JSON-serialisable.

    Raises:
        ValueError: when the module's class is not registered (so it could not be loaded).
    """
    if not isinstance(module, Module):
        raise TypeError(f"module_to_config: expected a Module, got {type(module).__name__}")
    key = LAYERS.name_of(module)
    if key is not None:
        return {"class_name": key, "config": module.get_config()}
    raise ValueError(
        f"module_to_config: {type(module).__name__} is not registered; decorate it with @register_module "
        "so that it can be saved and loaded"
    )


def _described_class(description) -> tuple:
    """(class_name, class, config) of a ``{"class_name": ..., "config": ...}`` description."""
    if not isinstance(description, dict):
        raise TypeError(f"module_from_config: expected a dict with 'class_name' and 'config', got {type(description).__name__}")
    extra = sorted(str(key)[:40] for key in description if key not in ("class_name", "config"))
    if extra or "class_name" not in description:
        raise TypeError(
            f"module_from_config: expected the keys 'class_name' and 'config', got {sorted(str(k)[:40] for k in description)[:10]}"
        )
    class_name = description["class_name"]
    return class_name, get_module_class(class_name), description.get("config", {})


def _prefixed(class_name: str, error: Exception) -> Exception:
    """The same kind of error, its message starting with the layer's name."""
    message = str(error)
    if not message.startswith(f"{class_name}:"):
        message = f"{class_name}: {message}"
    return (TypeError if isinstance(error, TypeError) else ValueError)(message)


def declared_state_shapes(description: dict) -> dict:
    """``{state_dict key: shape}`` that :func:`module_from_config` would build, built without allocating.

    Each class answers from its config with its :meth:`~backprop.nn.Module.state_shapes`, which
    validates the config's values first.

    Raises:
        ValueError, TypeError: as :func:`module_from_config`, naming the layer.
        NotImplementedError: a registered class that cannot state its shapes.
    """
    class_name, klass, config = _described_class(description)
    try:
        shapes = klass.state_shapes(config)
    except (TypeError, ValueError) as error:
        raise _prefixed(class_name, error) from error
    return {key: tuple(shape) for key, shape in shapes.items()}


def module_from_config(description: dict) -> Module:
    """Rebuild a module from :func:`module_to_config`'s dict.

    Raises:
        ValueError: for an unknown class name (``unknown layer type 'X'; known types: [...]``), or an
            invalid value, naming the layer.
        TypeError: for a malformed description or config keys the layer does not accept, naming the layer.
    """
    class_name, klass, config = _described_class(description)
    try:
        return klass.from_config(config)
    except (TypeError, ValueError) as error:
        raise _prefixed(class_name, error) from error
