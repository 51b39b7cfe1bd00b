"""The ``backprop`` command line: train, predict, evaluate, info, explain, datasets.

The console script, ``python -m backprop`` and ``python -m backprop.cli`` all call
:func:`backprop.cli.entry.main`, which checks that the ``cli`` extra (Click,
pandas) is installed and then runs the Click group of :mod:`backprop.cli.main`.
Each command lives in its own module and is registered on that group.

This package imports nothing itself, so that :mod:`backprop.cli.entry` can be
imported without Click.
"""
