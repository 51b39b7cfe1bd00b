"""``backprop info``: what a model file holds — layers, shapes, parameter counts, preprocessing."""

from __future__ import annotations

from pathlib import Path

import click

from backprop.cli import image_reports, images
from backprop.cli.embedding_inputs import input_shapes
from backprop.cli.output import echo_json

__all__ = ["info_command", "layer_rows"]


def layer_rows(model) -> list[dict]:
    """One row per leaf layer: name, type, input -> output features, parameter shapes and count.

    Features are chained through ``expected_in_features`` / ``output_features``,
    the sizes Sequential checks, so a Dropout between two Dense layers shows the
    width it passes through.
    """
    rows, width = [], None
    for name, module in model.named_modules():
        if module.children():
            continue  # containers: their layers are listed instead
        width_in = module.expected_in_features() or width
        width = module.output_features(width_in) or width_in
        activation = getattr(getattr(module, "activation", None), "name", None)
        parameters = module.named_parameters()
        rows.append({
            "layer": name or "0",
            "type": type(module).__name__ + (f"({activation})" if activation else ""),
            "features": f"{width_in} -> {width}" if width_in is not None else "-",
            "parameters": ", ".join(f"{p_name} {tuple(p.shape)}" for p_name, p in parameters) or "-",
            "count": sum(int(p.size) for _, p in parameters),
        })
    return rows


@click.command("info")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the description as one JSON object.")
def info_command(model: Path, as_json: bool) -> None:
    """Describe MODEL: its layers, their shapes and parameter counts, and its preprocessing.

    For a model of pictures: the summary table with each layer's output shape for one
    picture, its classes and its per-channel standardisation.
    """
    loaded = image_reports.load_either(model)
    if isinstance(loaded, images.ImageModel):
        image_reports.describe_image_model(loaded, model, as_json, _training_line)
        return
    rows = layer_rows(loaded.model)
    total = loaded.model.num_parameters()
    preprocessing = loaded.preprocessor.describe()
    training = loaded.metadata.get("training")
    if as_json:
        echo_json({"layers": rows, "total_parameters": total, "task": loaded.task,
                   "target": loaded.target, "preprocessing": preprocessing, "training": training})
        return
    click.echo(f"model: {model}")
    click.echo(f"task: {loaded.task}, target {loaded.target!r}")
    click.echo("")
    # The table Model.summary prints, as in Python; embedded columns: one shape per input.
    click.echo(loaded.model.summary(input_shapes(loaded.preprocessor), print_fn=None))
    click.echo("")
    click.echo("preprocessing:")
    for line in preprocessing:
        click.echo(f"  {line}")
    line = _training_line(training)
    if line:
        click.echo("")
        click.echo(line)


def _training_line(training) -> str | None:
    """``trained on: DATA (N rows); test accuracy 0.9667, ...`` from the file's (untrusted) metadata."""
    if not isinstance(training, dict) or not isinstance(training.get("test_metrics"), dict):
        return None
    metrics = [(str(name)[:40], value) for name, value in list(training["test_metrics"].items())[:10]
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if not metrics:
        return None
    shown = ", ".join(f"{name} {value:.4f}" for name, value in metrics)
    n_train = training.get("n_train")
    rows = f" ({n_train} rows)" if isinstance(n_train, int) and not isinstance(n_train, bool) else ""
    return f"trained on: {str(training.get('data'))[:200]}{rows}; test {shown}"
