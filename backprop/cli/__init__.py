"""The ``backprop`` command line: train, predict, evaluate, info, datasets.

The console script calls :func:`backprop.cli.main.main`; ``python -m backprop.cli``
does the same. Each command lives in its own module and is registered on the
Click group in :mod:`backprop.cli.main`.
"""

from backprop.cli.main import cli, main

__all__ = ["cli", "main"]
