"""The ``backprop`` command: a Click group with one subcommand per module of this package
(and ``explain``, from :mod:`backprop.cli.diagnostics`).

``main()`` runs the command; the console script reaches it through
:func:`backprop.cli.entry.main`, which first checks that the cli extra is installed.
It runs the group through :func:`backprop.cli.errors.run_command`, which turns
every failure into one ``error: ...`` line on stderr and an exit status (2 for
bad input, 1 for a bug); ``BACKPROP_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from backprop import __version__
from backprop.cli.datasets import datasets_command
from backprop.cli.errors import run_command
from backprop.cli.evaluate import evaluate_command
from backprop.cli.export import export_command
from backprop.cli.info import info_command
from backprop.cli.predict import predict_command
from backprop.cli.train import train_command
from backprop.cli.diagnostics import explain_command
from backprop.cli.playground import playground_command

__all__ = ["cli", "main"]


@click.group(name="backprop", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="backprop")
def cli() -> None:
    """Neural networks from first principles: train, inspect and use them from the command line.

    \b
    Examples:
      backprop train                                  # bundled digits, test accuracy
      backprop datasets housing --out houses.csv      # a table to try the rest on
      backprop train houses.csv --target price --out house.safetensors --plot curves.png
      backprop predict house.safetensors new_houses.csv --out predictions.csv
      backprop evaluate house.safetensors test.csv --target price --json
      backprop info house.safetensors
      backprop export house.safetensors house.onnx    # for ONNX Runtime, raw columns in
      backprop explain house.safetensors test.csv --row 3   # the four equations on one row
      backprop datasets                               # the bundled datasets
      backprop playground                             # the playground page in your browser

    Errors are one 'error: ...' line on stderr with exit status 2 (bad input)
    or 1 (unexpected); set BACKPROP_DEBUG=1 for a traceback.
    """


for _command in (train_command, predict_command, evaluate_command, info_command, datasets_command,
                 explain_command, playground_command, export_command):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run ``backprop`` with ``argv`` (default: ``sys.argv[1:]``) and exit with its status."""
    sys.exit(run_command(cli, argv))
