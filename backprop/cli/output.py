"""Writing results: aligned plain-text tables, ``key: value`` lines and the ``--json`` line.

stdout stays machine-friendly: tables are plain text (no colour, no box
drawing), and with ``--json`` the last line is a single JSON object.
"""

from __future__ import annotations

import json
import math

import click

__all__ = ["echo_table", "echo_json", "format_number"]


def format_number(value) -> str:
    """Short human form of a metric or count: ints as is, floats with 4 significant decimals."""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) and abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def echo_table(rows: list[dict], columns: list[str], *, right_aligned=()) -> None:
    """Print ``rows`` as a plain table: a header line, then one line per row."""
    cells = [[format_number(row.get(c, "")) if row.get(c) is not None else "-" for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[j]) for r in cells]) for j, c in enumerate(columns)]

    def line(values):
        parts = [v.rjust(w) if c in right_aligned else v.ljust(w) for v, w, c in zip(values, widths, columns)]
        return "  ".join(parts).rstrip()

    click.echo(line(columns))
    for row in cells:
        click.echo(line(row))


def echo_json(payload: dict) -> None:
    """Print ``payload`` as one line of JSON (non-finite floats become null)."""
    click.echo(json.dumps(_finite(payload)))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
