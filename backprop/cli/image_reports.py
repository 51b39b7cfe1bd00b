"""``backprop info``, ``evaluate`` and ``explain`` on a model of pictures (``backprop train FOLDER``).

    backprop info balls.safetensors                       # the layers' table, the image transform
    backprop evaluate balls.safetensors test_photos/      # accuracy, macro F1 on labelled pictures
    backprop explain balls.safetensors test_photos/ --row 3   # bp.trace of one picture

The commands load a model file once (:func:`load_either`) and hand a model of pictures
here; a table model goes on to their table code. Labelled pictures are a folder of
class subfolders or an .npz with ``X`` and ``y``, read in the model's channels and size
(:func:`~backprop.cli.images.read_labelled_images`). ``explain`` traces the picture through
the network (:func:`~backprop.diagnostics.trace`): each conv layer's shared kernel W, its
z and δ, and ∂J/∂W summed over every position that shares W, with the residuals of the
notes' equations against the engine.
"""

from __future__ import annotations

import click
import numpy as np

from backprop.cli import images, pipeline
from backprop.cli.errors import CLIError
from backprop.cli.output import echo_json, format_number

__all__ = ["load_either", "describe_image_model", "evaluate_image_model", "explain_picture"]


def load_either(path):
    """An :class:`~backprop.cli.images.ImageModel` for a model of pictures, else the table model's
    :class:`~backprop.cli.pipeline.LoadedModel`; CLIError for a file that is neither."""
    from backprop.io import ModelFileError
    from backprop.models import load_with_metadata

    try:
        model, metadata = load_with_metadata(path)
    except ModelFileError as error:
        raise CLIError(f"{path} is not a backprop model file: {error.problem}") from None
    if images.is_image_model(metadata):
        return images.image_model(model, metadata, path)
    return pipeline.tabular_model(model, metadata, path)


def _shape(transform) -> tuple:
    return transform.channels, transform.height, transform.width


def describe_image_model(loaded, path, as_json: bool, training_line) -> None:
    """``backprop info`` for pictures: the summary table (output shapes of one picture), the classes
    and the per-channel standardisation, and what the file says about its training."""
    from backprop.models.summary import format_summary, summary_rows

    transform = loaded.transform
    rows = summary_rows(loaded.model, input_shape=_shape(transform))
    preprocessing = [f"pictures of {images._chw(_shape(transform))}"
                     + (f", resized to {transform.resize[0]}×{transform.resize[1]}" if transform.resize else ""),
                     "each channel c standardised: (x − μ_c) / σ_c, from the training pictures",
                     f"μ = {_numbers(transform.mean)}", f"σ = {_numbers(transform.std)}"]
    training = loaded.metadata.get("training")
    if as_json:
        echo_json({"layers": rows, "total_parameters": loaded.model.num_parameters(), "task": "classification",
                   "target": images.TARGET, "classes": transform.classes, "image_shape": list(_shape(transform)),
                   "preprocessing": preprocessing, "training": training})
        return
    click.echo(f"model: {path}")
    click.echo(f"task: classification of pictures into {len(transform.classes)} classes "
               f"({', '.join(transform.classes)})")
    click.echo("")
    click.echo(format_summary(loaded.model, rows))
    click.echo("")
    click.echo("preprocessing:")
    for line in preprocessing:
        click.echo(f"  {line}")
    line = training_line(training)
    if line:
        click.echo("")
        click.echo(line)


def _numbers(values) -> str:
    return "[" + ", ".join(format_number(float(v)) for v in values) + "]"


def evaluate_image_model(loaded, data, as_json: bool) -> None:
    """``backprop evaluate`` for pictures: accuracy and macro F1 on labelled pictures."""
    from backprop import metrics as metric_functions

    pictures = images.read_labelled_images(data, loaded.transform)
    truth = np.searchsorted(loaded.transform.classes, pictures.labels)
    outputs = loaded.model.predict(loaded.transform.transform(pictures.X))
    metrics = {"accuracy": metric_functions.accuracy(truth, outputs), "f1_macro": metric_functions.f1(truth, outputs)}
    if as_json:
        echo_json({**metrics, "task": "classification", "target": images.TARGET, "n_rows": len(pictures.X)})
        return
    click.echo(f"classification on {len(pictures.X)} pictures of {data}")
    for name, value in metrics.items():
        click.echo(f"{name}: {format_number(value)}")


def explain_picture(loaded, data, row: int, *, max_items: int = 6) -> str:
    """``backprop explain`` for pictures: the trace of picture ``row`` of DATA (labelled pictures)."""
    from backprop.diagnostics.trace import trace
    from backprop.training import predict_proba

    pictures = images.read_labelled_images(data, loaded.transform)
    if not 0 <= row < len(pictures.X):
        raise CLIError(f"--row {row} is out of range: {data} has pictures 0 to {len(pictures.X) - 1}")
    classes = loaded.transform.classes
    x = loaded.transform.transform(pictures.X[row:row + 1])
    label = pictures.labels[row]
    probabilities = predict_proba(loaded.model, x)[0]
    result = trace(loaded.model, x[0], classes.index(label), loss="cross_entropy")
    where = "file" if pictures.pixels == "files" else "row"
    from backprop.diagnostics.report import wrap

    text = (f"Picture {row} of {data} ({where} {pictures.names[row]}), labelled {label!r}; predicted "
            f"{classes[int(np.argmax(probabilities))]!r}, probabilities "
            + ", ".join(f"{name} {format_number(p)}" for name, p in zip(classes, probabilities))
            + f". The network's input a^0 is the picture standardised per channel, {images._chw(x.shape[1:])}, "
            "shown flattened; each conv layer's W has one kernel per row, shared by every position.")
    return "\n".join(wrap(text) + [""]) + result.table(max_items=max_items)
