"""The diagnostics on the command line: ``backprop explain`` and ``backprop train --diagnostics``.

``explain_command`` is a Click command; register it on the ``backprop`` group
(``cli.add_command(explain_command)``). For ``train --diagnostics``, the train
command adds :data:`diagnostics_option`, calls :func:`attach_monitor` on its
settings before training and :func:`echo_diagnostics` after its report.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

__all__ = ["explain_command", "explain_row", "diagnostics_option", "attach_monitor", "echo_diagnostics"]


def explain_row(model_path, data_path, row: int, *, max_items: int = 6) -> str:
    """The text ``backprop explain`` prints: the row, its features and the trace of the network.

    Args:
        model_path: a model file written by ``backprop train`` (it holds the preprocessing).
        data_path: a CSV/Parquet table with the model's feature columns and its target column.
        row: the row to explain, counting from 0 (the first row after the header).
        max_items: vectors longer than this are shortened in the table.

    Raises:
        CLIError: a bad row number, a missing target column, or a file that is not a model.
    """
    from backprop.cli import pipeline
    from backprop.cli.errors import CLIError
    from backprop.diagnostics.trace import check_traceable, trace
    from backprop.cli.preprocessing import read_table

    from backprop.cli import image_reports, images

    loaded = image_reports.load_either(model_path)
    if isinstance(loaded, images.ImageModel):
        return image_reports.explain_picture(loaded, data_path, row, max_items=max_items)
    try:
        check_traceable(loaded.model)  # before the data are read
    except TypeError as error:
        raise CLIError(f"cannot explain {model_path}: {error}") from None
    if images.is_image_data(data_path):
        raise CLIError(f"{data_path} holds pictures, but {model_path} was trained on a table; give it a "
                       "CSV/Parquet file")
    frame = read_table(data_path)
    pipeline.check_feature_columns(loaded.preprocessor, frame, data_path)
    if not 0 <= row < len(frame):
        raise CLIError(f"--row {row} is out of range: {data_path} has rows 0 to {len(frame) - 1}")
    preprocessor = loaded.preprocessor
    if preprocessor.target not in frame.columns:
        raise CLIError(
            f"{data_path} has no target column {preprocessor.target!r}: the trace needs the true target "
            "to compute the loss J and the gradients"
        )
    selected = frame.iloc[[row]]
    x = preprocessor.transform(selected)[0]
    y = preprocessor.transform_target(selected)
    classification = preprocessor.task == "classification"
    loss = "cross_entropy" if classification else "mse"
    target = y[0] if classification else y.reshape(1)
    result = trace(loaded.model, x, target, loss=loss)

    lines = [f"Row {row} of {data_path}:"]
    # Cell by cell from each column (a row of mixed columns would turn 30305 into 30305.0); a
    # categorical cell as the category it is matched as.
    kinds = {column["name"]: column["kind"] for column in preprocessor.get_config().get("columns", [])}
    raw = ", ".join(f"{name}={_cell(selected[name].iloc[0], kinds.get(name))}"
                    for name in preprocessor.feature_names_in)
    lines += _wrapped(raw, "  ")
    truth = _cell(selected[preprocessor.target].iloc[0])
    if classification:
        classes = ", ".join(str(c) for c in preprocessor.classes)
        lines += _wrapped(f"target {preprocessor.target} = {truth}: class {int(y[0])} of [{classes}]; "
                          "y is its one-hot vector.", "  ")
    else:
        lines += _wrapped(f"target {preprocessor.target} = {truth}, standardised to y = {float(y[0]):.4g}.", "  ")
    lines += _wrapped("x = a^0 is the row after preprocessing (numbers standardised, text one-hot): "
                      + ", ".join(str(n) for n in preprocessor.feature_names_out) + ".", "  ")
    lines += _wrapped(_prediction(preprocessor, result), "  ")
    lines.append("")
    return "\n".join(lines) + "\n" + result.table(max_items=max_items)


def _prediction(preprocessor, result) -> str:
    """The network's output a^L for the row, in the target's own labels or units."""
    output = np.asarray(result.output, dtype=np.float64).reshape(1, -1)
    predicted = preprocessor.inverse_transform_target(output)[0]
    if preprocessor.task == "classification":
        k = int(np.argmax(output[0])) if output.shape[1] > 1 else int(output[0, 0] > 0.5)
        probability = output[0, k] if output.shape[1] > 1 else (output[0, 0] if k else 1 - output[0, 0])
        return (f"prediction: {preprocessor.target} = {_cell(predicted)} (class {k}, with probability "
                f"{probability:.4g} = a^L_{k + 1}).")
    return (f"prediction: {preprocessor.target} = {float(predicted):.6g} (a^L = {float(output[0, 0]):.4g} in "
            "standardised units, mapped back with the training target's mean and std).")


def _cell(value, kind=None) -> str:
    """A table cell as a person writes it: 4.42, 'black', <missing>; a categorical 30305.0 as 30305."""
    try:
        import pandas as pd

        if pd.isna(value):
            return "<missing>"
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        value = value.item()
    if kind == "categorical" and isinstance(value, float) and value.is_integer():
        return str(int(value))  # a category column read as floats (it had missing cells)
    return repr(value) if isinstance(value, str) else str(value)


def _wrapped(text: str, indent: str) -> list:
    from backprop.diagnostics.report import wrap

    return wrap(text, 80, indent)


@click.command("explain")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--row", type=click.IntRange(min=0), default=0, show_default=True,
              help="The row of DATA to explain, counting from 0 (the first row after the header).")
@click.option("--max-items", type=click.IntRange(min=2, max=6), default=6, show_default=True,
              help="Longer vectors show their first entries and their length.")
def explain_command(model: Path, data: Path, row: int, max_items: int) -> None:
    """Show what MODEL computes for one row of DATA, layer by layer, in the notes' notation.

    The forward pass (z = W a + b, a = f(z), f′(z)) and the backward pass
    (δ = ∂J/∂z, ∂J/∂W, ∂J/∂b) for that example, then the notes' four
    equations evaluated from these records against the engine's gradients.
    DATA needs the model's feature columns and its target column. For a model of
    pictures, DATA is labelled pictures (a folder of class subfolders, or an .npz with
    X and y) and --row picks one: its conv layers show their shared kernels W, z, δ and
    ∂J/∂W summed over every position that shares W.
    """
    click.echo(explain_row(model, data, row, max_items=max_items), nl=False)


diagnostics_option = click.option(
    "--diagnostics", is_flag=True,
    help="Watch the gradient flow while training and print a report: gradient norms per layer, "
         "update sizes, and warnings about vanishing or exploding gradients, symmetric weights "
         "or a learning rate that is too high.",
)


def attach_monitor(settings):
    """Add a :class:`GradientMonitor` to ``settings.extra_callbacks`` (of ``backprop train``); return it.

    Its warnings go into the report rather than onto stderr.
    """
    from backprop.diagnostics.monitor import GradientMonitor

    monitor = GradientMonitor(warn=False)
    settings.extra_callbacks.append(monitor)
    return monitor


def echo_diagnostics(monitor, as_json: bool = False) -> None:
    """Print the monitor's report: on stdout after the results, or on stderr with ``--json``."""
    click.echo("\n" + monitor.report(), nl=False, err=as_json)
