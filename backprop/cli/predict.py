"""``backprop predict``: run a trained model on the raw rows of a table."""

from __future__ import annotations

from pathlib import Path

import click

from backprop.cli import images, pipeline
from backprop.io import atomic_write_bytes

__all__ = ["predict_command", "predictions_frame"]


def predictions_frame(loaded: pipeline.LoadedModel, frame):
    """One row per input row: the predicted label (+ ``prob_<class>`` per class) or value.

    The prediction column is named after the model's target column; a target
    column present in ``frame`` is ignored.
    """
    import pandas as pd

    from backprop.training import predict_proba

    preprocessor = loaded.preprocessor
    X = preprocessor.transform_inputs(frame)
    if preprocessor.task == "regression":
        values = preprocessor.inverse_transform_target(loaded.model.predict(X))
        return pd.DataFrame({str(preprocessor.target): values}, index=frame.index)
    probabilities = predict_proba(loaded.model, X)  # softmax of the logits; column k is class k
    columns = {str(preprocessor.target): preprocessor.inverse_transform_target(probabilities)}
    for label, column in zip(preprocessor.classes, probabilities.T):
        columns[f"prob_{label}"] = column.round(6)  # float64 noise beyond 1e-6 only clutters the CSV
    return pd.DataFrame(columns, index=frame.index)


@click.command("predict")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the predictions to this CSV file instead of stdout.")
@pipeline.table_format_options
def predict_command(model: Path, data: Path, out: Path | None, sep: str | None, encoding: str | None) -> None:
    """Predict the target of every row of DATA with MODEL (a file from 'backprop train').

    DATA needs the feature columns the model was trained on (extra columns,
    including the target, are ignored). Classifiers write the predicted label
    and one probability column per class (prob_<class>); regressors write the
    prediction in the target's units. CSV goes to stdout unless --out is given.

    For a model trained on pictures, DATA is a folder (every PNG/JPEG file under
    it) or an .npz file with X: one row per picture with its file (or row), the
    predicted label and prob_<class> per class.
    """
    if images.is_image_data(data):
        images.predict_images(model, data, out)
        return
    loaded = pipeline.load_model_file(model)
    frame = pipeline.read_data(data, sep=sep, encoding=encoding)
    pipeline.check_feature_columns(loaded.preprocessor, frame, data)
    text = predictions_frame(loaded, frame).to_csv(index=False)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_bytes(out, text.encode("utf-8"))
        click.echo(f"wrote {len(frame)} predictions to {out}", err=True)
