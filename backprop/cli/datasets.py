"""``backprop datasets``: list the datasets that ship with backprop, or write one as a CSV file.

    backprop datasets                                   # the list
    backprop datasets housing --out houses.csv          # 500 synthetic houses, seed 0
    backprop datasets housing --rows 20 --seed 1 --no-target --out new_houses.csv
    backprop datasets iris > iris.csv                   # CSV on stdout without --out
"""

from __future__ import annotations

from pathlib import Path

import click

from backprop.cli.errors import CLIError
from backprop.cli.output import echo_json, echo_table
from backprop.datasets import list_datasets, load
from backprop.datasets.registry import resolve_name
from backprop.io import atomic_write_bytes

__all__ = ["datasets_command", "dataset_frame"]

DEFAULT_SEED = 0  # a generated table is the same on every run unless --seed says otherwise


def dataset_frame(name: str, *, rows: int | None = None, seed: int | None = None, target: bool = True):
    """The dataset ``name`` as the table a CSV file would hold.

    Class labels are written as their names (``setosa``, not ``0``), so that
    ``backprop train FILE --target target`` learns the same classes; columns whose
    values are all whole numbers are written as integers.

    Args:
        name: A name from :func:`backprop.datasets.list_datasets`.
        rows, seed: Size and seed of a generated dataset (default: its usual size,
            seed 0). Bundled datasets have a fixed size, so both must be None there.
        target: False leaves the target column out (rows to predict).

    Raises:
        ValueError: Unknown name, or ``rows``/``seed`` given for a bundled dataset.
    """
    import numpy as np

    name = resolve_name(name)
    record = next(r for r in list_datasets() if r["name"] == name)
    options = {}
    if record["generated"]:
        options = {"seed": DEFAULT_SEED if seed is None else seed}
        if rows is not None:
            options["n_samples"] = rows
    elif rows is not None or seed is not None:
        raise ValueError(f"--rows and --seed apply to generated datasets only; {name} is bundled "
                         f"with a fixed {record['n_samples']} rows")
    dataset = load(name, dtype="float64", **options)  # float64: 89.7 stays 89.7 in the file
    frame = dataset.as_frame()
    for column in dataset.feature_names:
        values = frame[column]
        if values.dtype.kind == "f" and np.isfinite(values).all() and (values == values.round()).all():
            frame[column] = values.astype(np.int64)
    if dataset.target_names is not None:
        frame[dataset.target_column] = np.asarray(dataset.target_names, dtype=object)[dataset.y]
    if not target:
        frame = frame.drop(columns=[dataset.target_column])
    return frame


@click.command("datasets")
@click.argument("name", required=False)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="With NAME: write the CSV file here instead of to stdout.")
@click.option("--rows", type=click.IntRange(min=1), help="With a generated NAME (housing): how many rows.")
@click.option("--seed", type=click.IntRange(min=0),
              help=f"With a generated NAME (housing): the random seed [default: {DEFAULT_SEED}].")
@click.option("--no-target", "no_target", is_flag=True,
              help="With NAME: leave the target column out (a table to predict).")
@click.option("--json", "as_json", is_flag=True, help="Print the list as one JSON object instead.")
def datasets_command(name: str | None, out: Path | None, rows: int | None, seed: int | None,
                     no_target: bool, as_json: bool) -> None:
    """List the bundled datasets, or write the dataset NAME as a CSV file.

    Without NAME: name, task, size, classes and a description of each dataset.
    Train on one with 'backprop train --dataset NAME'.

    With NAME: the dataset as CSV (features, then the target column), on stdout
    or in --out, e.g. 'backprop datasets housing --out houses.csv'.
    """
    if name is None:
        given = [option for option, value in (("--out", out), ("--rows", rows), ("--seed", seed),
                                              ("--no-target", no_target)) if value not in (None, False)]
        if given:
            raise click.UsageError(f"{', '.join(given)} needs a dataset NAME, e.g. 'backprop datasets housing'")
        _list(as_json)
        return
    if as_json:
        raise click.UsageError("--json lists the datasets; it takes no NAME")
    try:
        frame = dataset_frame(name, rows=rows, seed=seed, target=not no_target)
    except ValueError as error:
        raise CLIError(str(error)) from None
    text = frame.to_csv(index=False)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_bytes(out, text.encode("utf-8"))
        click.echo(f"wrote {len(frame)} rows of {name} to {out}", err=True)


def _list(as_json: bool) -> None:
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
