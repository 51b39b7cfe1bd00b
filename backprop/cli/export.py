"""``backprop export``: a model file as an ONNX file that any ONNX runtime can run."""

from __future__ import annotations

from pathlib import Path

import click

from backprop._install import install_hint
from backprop.cli.errors import CLIError

__all__ = ["export_command"]


@click.command("export")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--network-only", is_flag=True,
              help="Export the network alone (its input is the preprocessed matrix), not the preprocessing.")
def export_command(model: Path, out: Path, network_only: bool) -> None:
    """Write MODEL (a .safetensors model file) to OUT as ONNX (opset 17), for ONNX Runtime and others.

    A model from 'backprop train' is exported with its preprocessing: the ONNX
    file takes one input per raw column (numbers as float64, categories as
    strings, dates as float64 seconds since 1970-01-01 UTC, times of day as
    seconds since midnight; missing cells as NaN or '') and outputs 'label' and
    'probabilities' (classification) or 'prediction' (regression), as 'backprop
    predict'. With --network-only, or for a model saved from Python, the file
    takes the network's input 'input' and outputs 'output' (what predict()
    returns), plus 'probabilities' and 'label' for a classifier.
    """
    try:
        from backprop.onnx import export_onnx
    except ImportError:
        raise CLIError(f"exporting to ONNX needs the onnx extra: {install_hint('onnx')}") from None
    from backprop.models import load_with_metadata

    try:
        _, metadata = load_with_metadata(model)
    except ValueError as error:
        raise CLIError(f"{model} is not a backprop model file: {getattr(error, 'problem', error)}") from None
    preprocessing = not network_only and isinstance(metadata, dict) and (
        isinstance(metadata.get("preprocessing"), dict) or isinstance(metadata.get("images"), dict))
    proto = export_onnx(model, out, include_preprocessing=preprocessing)
    inputs = [value.name for value in proto.graph.input]
    shown = ", ".join(inputs[:6]) + (f", ... ({len(inputs)} inputs)" if len(inputs) > 6 else "")
    outputs = ", ".join(value.name for value in proto.graph.output)
    click.echo(f"wrote {out}: inputs {shown}; outputs {outputs}", err=True)
