"""The ``backprop`` console script, ``python -m backprop`` and ``python -m backprop.cli``.

This module imports neither Click nor pandas, so that without the ``cli`` extra
the command can still say, in one line on stderr and with exit status 2, what to
install, instead of ending in a ``ModuleNotFoundError`` traceback. With the
extra it hands over to :func:`backprop.cli.main.main`.
"""

from __future__ import annotations

import importlib.util
import sys

from backprop._install import install_hint

__all__ = ["CLI_MODULES", "main", "missing_modules"]

# What the ``cli`` extra installs (pyproject.toml); the command needs all of it.
CLI_MODULES = ("click", "pandas")
MISSING_EXTRA_STATUS = 2  # like any other input the command cannot work with (errors.USAGE_ERROR)


def missing_modules(names=CLI_MODULES) -> list[str]:
    """The modules among ``names`` that cannot be imported, found without importing them."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or half-imported package
            found = False
        if not found:
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> None:
    """Run ``backprop`` with ``argv`` (default: ``sys.argv[1:]``) and exit with its status."""
    missing = missing_modules()
    if missing:
        print(f"error: the backprop command needs the cli extra ({', '.join(missing)} "
              f"{'is' if len(missing) == 1 else 'are'} not installed): {install_hint('cli')}",
              file=sys.stderr)
        sys.exit(MISSING_EXTRA_STATUS)
    from backprop.cli.main import main as run_cli

    run_cli(argv)
