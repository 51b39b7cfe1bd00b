"""The generic Registry that each concept keeps one of."""

import pytest

from backprop.registry import Registry


def _registry():
    registry = Registry("shape")

    @registry.register(aliases=("box",))
    class Square:
        name = "square"

    @registry.register
    class Circle:
        name = "circle"
        aliases = ("round",)

    return registry, Square, Circle


def test_names_aliases_and_case():
    registry, Square, Circle = _registry()
    assert registry.get("SQUARE") is Square and registry.get("box") is Square and registry.get("Round") is Circle
    assert registry.names() == ["circle", "square"] and registry.aliases() == {"box": "square", "round": "circle"}
    assert list(registry) == [Square, Circle] and len(registry) == 2 and "BOX" in registry and 3 not in registry
    assert registry.name_of(Circle) == "circle" and registry.name_of(Circle()) == "circle" and registry.name_of(1) is None


def test_unknown_names_suggest_the_closest():
    registry, *_ = _registry()
    with pytest.raises(ValueError, match=r"unknown shape 'sqare'; valid names are \['circle', 'square'\]; did you mean 'square'"):
        registry.get("sqare")
    with pytest.raises(TypeError, match="a shape name must be a string"):
        registry.get(3)


def test_a_taken_name_is_refused():
    registry, *_ = _registry()
    with pytest.raises(ValueError, match="already taken"):
        registry.register(object(), name="box")
    with pytest.raises(ValueError, match="identifier"):
        registry.register(object(), name="no spaces")


def test_case_sensitive_registries_keep_case():
    registry = Registry("layer", case_sensitive=True)
    registry.register(int, name="ReLU")
    assert "ReLU" in registry and "relu" not in registry
