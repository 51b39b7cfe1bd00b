"""The one way the library refuses an unknown name: list the valid ones, suggest the closest."""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["unknown_name_error", "short_repr"]

MAX_SHOWN = 60
"""The most characters of a user's value that a message repeats."""


def short_repr(value, limit: int = MAX_SHOWN) -> str:
    """``repr(value)``, cut to ``limit`` characters with its length noted, so a message stays one short line.

    A 40 MB string from a crafted file is never copied into a message, and a huge list is not
    turned into text at all (only its type and length are shown).
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def unknown_name_error(kind: str, name, key: str, valid: Iterable[str], *, candidates: Iterable[str] = (),
                       cutoff: float = 0.6) -> ValueError:
    """``ValueError("unknown {kind} {name!r}; valid names are [...]; did you mean 'x'?")``.

    The work is bounded by the valid names, not by ``name``: difflib's similarity
    2M/(len(a) + len(b)) can reach ``cutoff`` only when len(key) ≤ len(c)·(2/cutoff − 1), so
    longer keys are not compared at all (the suggestion is the same, and a 40 MB name costs
    nothing), and the message shows at most :data:`MAX_SHOWN` characters of ``name``.

    Args:
        kind: what was looked up ("loss", "activation", ...).
        name: the name as the user gave it (shown in the message).
        key: its normalised form (lower case, aliases resolved), matched against
            ``valid`` and ``candidates`` for the suggestion.
        valid: the names listed in the message, in that order.
        candidates: further spellings to suggest (aliases).
        cutoff: difflib's similarity threshold for a suggestion.
    """
    valid = list(valid)
    possible = [c for c in valid + list(candidates) if 2 * min(len(c), len(key)) >= cutoff * (len(c) + len(key))]
    close = difflib.get_close_matches(key, possible, n=1, cutoff=cutoff) if possible else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown {kind} {short_repr(name)}; valid names are {valid}{hint}")
