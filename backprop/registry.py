"""Registry: the one table of a concept, mapping names and aliases to its entries.

Each concept keeps exactly one registry, beside its base class: the losses
(:data:`backprop.losses.LOSSES`), the activations, the layers, the optimisers, the
initialisers, the regularisers, the metrics and the learning-rate schedules. An entry is
the object (usually a class) that carries every facet of its concept (its name and
aliases, config, kind, fused form, ...); nothing about it is written in a table
elsewhere. Every place that resolves a name (string lookup, save and load, the
scikit-learn front, the command line) asks the registry, and the tests iterate it, so a
new entry is covered without anyone editing a list.

Lookups are case-insensitive; an unknown name raises a ``ValueError`` listing the valid
names and suggesting the closest (:func:`backprop.naming.unknown_name_error`). Nothing
is imported or evaluated from a name.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from backprop.naming import short_repr, unknown_name_error

__all__ = ["Registry", "Configured"]


class Registry:
    """Names (and aliases) to entries, for one concept.

    Args:
        kind: what the entries are, for messages ("loss", "activation", ...).
        case_sensitive: whether ``"ReLU"`` and ``"relu"`` are different names (layer
            class names are; loss and activation names are not).
        cutoff: how similar a name must be to be suggested (difflib's ratio; lower for
            registries of short names, such as "l1" and "l2").

    Example:
        >>> shapes = Registry("shape")
        >>> @shapes.register(aliases=("box",))
        ... class Square:
        ...     name = "square"
        >>> shapes.get("Box") is Square, shapes.names()
        (True, ['square'])
    """

    def __init__(self, kind: str, *, case_sensitive: bool = False, cutoff: float = 0.6):
        self.kind = kind
        self.case_sensitive = case_sensitive
        self.cutoff = cutoff
        self._entries: dict = {}  # canonical name -> entry, in registration order
        self._aliases: dict = {}  # alias -> canonical name
        self._watchers: list = []  # callbacks told of each entry registered

    def _key(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    def register(self, entry=None, *, name: str | None = None, aliases: Iterable[str] = ()):
        """Add ``entry`` under ``name`` (default: ``entry.name``, else its ``__name__``); a decorator too.

        Registering the same entry again (a module reloaded) replaces it; another entry under
        a taken name or alias is refused.

        Raises:
            ValueError: a name or alias that is not a non-empty identifier, or already taken.
        """

        def add(item):
            key = name or getattr(item, "name", None) or getattr(item, "__name__", None)
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"{self.kind} registry: a name must be an identifier, got {short_repr(key)}")
            key = self._key(key)
            spellings = [self._key(alias) for alias in (*aliases, *getattr(item, "aliases", ()))]
            for spelling in [key, *spellings]:
                if not spelling.isidentifier():
                    raise ValueError(f"{self.kind} registry: an alias must be an identifier, got {short_repr(spelling)}")
                owner = self._entries.get(self._aliases.get(spelling, spelling))
                if owner is not None and not _same(owner, item):
                    raise ValueError(f"{self.kind} registry: the name {spelling!r} is already taken by {owner!r}")
            self._entries[key] = item
            for spelling in spellings:
                if spelling != key:
                    self._aliases[spelling] = key
            for watcher in list(self._watchers):
                watcher(item)
            return item

        return add(entry) if entry is not None else add

    def unregister(self, name: str):
        """Remove the entry registered as ``name`` (or an alias of it) with all its aliases; return it.

        For tests that register a throw-away entry; what a watcher derived from it stays.
        """
        key = self.canonical(name)
        self._aliases = {alias: target for alias, target in self._aliases.items() if target != key}
        return self._entries.pop(key)

    def watch(self, callback) -> None:
        """Call ``callback(entry)`` for each entry now registered, and for every entry registered later.

        A higher layer derives from a lower layer's entries this way without the lower one
        importing it (the activation layers are derived from the activations).
        """
        self._watchers.append(callback)
        for item in list(self._entries.values()):
            callback(item)

    def canonical(self, name) -> str:
        """The registered name that ``name`` (or an alias of it) stands for.

        Raises:
            TypeError: ``name`` is not a string.
            ValueError: an unknown name, listing the valid ones and suggesting the closest.
        """
        if not isinstance(name, str):
            raise TypeError(f"a {self.kind} name must be a string, got {type(name).__name__}")
        key = self._key(name)
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise unknown_name_error(self.kind, name, key, self.names(), candidates=self._aliases, cutoff=self.cutoff)
        return key

    def get(self, name):
        """The entry registered as ``name`` or one of its aliases (see :meth:`canonical`)."""
        return self._entries[self.canonical(name)]

    def name_of(self, entry) -> str | None:
        """The name ``entry`` is registered under (an instance counts as its class), or None."""
        for key, item in self._entries.items():
            if item is entry or (isinstance(item, type) and type(entry) is item):
                return key
        return None

    def names(self) -> list:
        """The canonical names, sorted."""
        return sorted(self._entries)

    def aliases(self) -> dict:
        """``{alias: canonical name}``."""
        return dict(self._aliases)

    def items(self) -> list:
        """``[(name, entry)]`` in registration order."""
        return list(self._entries.items())

    def __iter__(self) -> Iterator:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name) -> bool:
        if not isinstance(name, str):
            return False
        key = self._key(name)
        return self._aliases.get(key, key) in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _same(a, b) -> bool:
    """The same entry, or the same class defined again (a module reloaded in a test)."""
    if a is b:
        return True
    qualified = lambda x: (getattr(x, "__module__", None), getattr(x, "__qualname__", None))  # noqa: E731
    return isinstance(a, type) and isinstance(b, type) and qualified(a) == qualified(b)


class Configured:
    """A registry entry's instances compare, hash and print by their class and ``get_config()``.

    ``Huber(delta=2.0) == Huber(delta=2.0)``: two equal configs rebuild the same object.
    Subclasses define ``get_config()`` (JSON values, hashable once in a tuple).
    """

    def get_config(self) -> dict:
        return {}

    def _shown_config(self) -> dict:
        """The config as the repr shows it (a subclass may leave out what its class name says)."""
        return self.get_config()

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._shown_config().items())
        return f"{type(self).__name__}({args})"
