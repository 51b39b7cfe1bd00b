"""How to install this library and its optional extras: the one place that spells the name.

The distribution is ``backprop-nn`` (the name ``backprop`` on PyPI belongs to an
unrelated project); the import name is ``backprop``. Every "needs the X extra"
message goes through :func:`install_hint`, so the name is written once.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "install_hint"]

DISTRIBUTION = "backprop-nn"


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``, e.g. ``pip install "backprop-nn[cli]"``.

    The quotes keep shells such as zsh from reading the brackets as a glob.
    """
    return f'pip install "{DISTRIBUTION}[{extra}]"'
