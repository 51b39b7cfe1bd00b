"""``backprop datasets``: the datasets that ship with backprop (or are generated on request)."""

from __future__ import annotations

import click

from backprop.cli.output import echo_json, echo_table
from backprop.datasets import list_datasets

__all__ = ["datasets_command"]


@click.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="Print the list as one JSON object instead.")
def datasets_command(as_json: bool) -> None:
    """List the bundled datasets: name, task, size, classes and a description.

    Train on one with ``backprop train --dataset NAME``.
    """
    records = list_datasets()
    if as_json:
        echo_json({"datasets": records})
        return
    rows = [{**record, "samples": record["n_samples"], "features": record["n_features"],
             "classes": record["n_classes"],
             "description": record["description"] + (" (generated)" if record["generated"] else "")}
            for record in records]
    echo_table(rows, ["name", "task", "samples", "features", "classes", "description"],
               right_aligned=("samples", "features", "classes"))
