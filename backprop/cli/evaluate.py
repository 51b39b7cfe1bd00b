"""``backprop evaluate``: a trained model's metrics on a labelled table."""

from __future__ import annotations

from pathlib import Path

import click

from backprop.cli import image_reports, images, pipeline
from backprop.cli.errors import CLIError
from backprop.cli.output import echo_json, format_number

__all__ = ["evaluate_command"]


@click.command("evaluate")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--target", metavar="COL",
              help="The column holding the true values (default: the model's target column).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@pipeline.table_format_options
def evaluate_command(model: Path, data: Path, target: str | None, as_json: bool, sep: str | None,
                     encoding: str | None) -> None:
    """Score MODEL on the labelled rows of DATA.

    Classification: accuracy and macro F1. Regression: R², RMSE and MAE in the
    target's units. For a model of pictures, DATA is a folder of class subfolders of
    PNG/JPEG files or an .npz with X and y (accuracy and macro F1).
    """
    loaded = image_reports.load_either(model)
    if isinstance(loaded, images.ImageModel):
        if target is not None:
            raise CLIError("--target names a table column; a model of pictures reads the labels from the class "
                           "subfolders (or the .npz's y)")
        image_reports.evaluate_image_model(loaded, data, as_json)
        return
    if images.is_image_data(data):
        raise CLIError(f"{data} holds pictures, but {model} was trained on a table; give it a CSV/Parquet file")
    frame = pipeline.read_data(data, sep=sep, encoding=encoding)
    if target is None:
        target = loaded.target
    if target not in frame.columns:
        raise CLIError(f"target column {target!r} is not in {data}; its columns are: "
                       + ", ".join(str(c) for c in frame.columns))
    if target != loaded.target and target in loaded.preprocessor.feature_names_in:
        raise CLIError(f"--target {target!r} is one of the model's input columns; the model predicts "
                       f"{loaded.target!r}, so --target names the column holding the true {loaded.target!r} values")
    pipeline.check_feature_columns(loaded.preprocessor, frame, data)
    if target != loaded.target:  # the preprocessor reads the target by the name it was fitted with
        frame = frame.drop(columns=[loaded.target], errors="ignore").rename(columns={target: loaded.target})
    outputs = loaded.model.predict(loaded.preprocessor.transform_inputs(frame))
    metrics = pipeline.score(loaded.preprocessor, frame, outputs)
    if as_json:
        echo_json({**metrics, "task": loaded.task, "target": str(target), "n_rows": len(frame)})
        return
    click.echo(f"{loaded.task} on {len(frame)} rows of {data}, target {target!r}")
    for name, value in metrics.items():
        click.echo(f"{name}: {format_number(value)}")
