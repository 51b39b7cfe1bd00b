"""The one way the library refuses an unknown name: list the valid ones, suggest the closest."""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["unknown_name_error"]


def unknown_name_error(kind: str, name, key: str, valid: Iterable[str], *, candidates: Iterable[str] = (),
                       cutoff: float = 0.6) -> ValueError:
    """``ValueError("unknown {kind} {name!r}; valid names are [...]; did you mean 'x'?")``.

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
    close = difflib.get_close_matches(key, valid + list(candidates), n=1, cutoff=cutoff)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}; valid names are {valid}{hint}")
