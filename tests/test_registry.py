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


def test_unregister_removes_the_entry_and_its_aliases():
    registry, Square, Circle = _registry()
    assert registry.unregister("BOX") is Square
    assert "square" not in registry and "box" not in registry and registry.names() == ["circle"]
    with pytest.raises(ValueError, match="unknown shape"):
        registry.unregister("square")


def test_watchers_see_every_entry_present_and_future():
    registry, Square, Circle = _registry()
    seen = []
    registry.watch(seen.append)
    assert seen == [Square, Circle]

    @registry.register
    class Triangle:
        name = "triangle"

    assert seen == [Square, Circle, Triangle]


def test_cutoff_sets_how_close_a_suggestion_must_be():
    strict, loose = Registry("regulariser"), Registry("regulariser", cutoff=0.4)
    for registry in (strict, loose):
        registry.register(object(), name="l2")
    with pytest.raises(ValueError) as error:
        strict.get("l3")
    assert "did you mean" not in str(error.value)
    with pytest.raises(ValueError, match="did you mean 'l2'"):
        loose.get("l3")
