"""Images on the command line: ``backprop train`` and ``backprop predict`` on pictures.

    backprop train photos/ --out photos.safetensors       # photos/cat/*.png, photos/dog/*.jpg, ...
    backprop train photos/ --resize 64,64 --epochs 20     # pictures of different sizes
    backprop train balls.npz --out balls.safetensors      # X (N, C, H, W) and y in one .npz file
    backprop predict photos.safetensors new_photos/ --out predictions.csv

The data is either

* a folder of class subfolders (the subfolder's name is the class) of PNG or JPEG files,
  read with Pillow (the ``images`` extra) as values in [0, 1]: one channel if every picture
  is greyscale, else three (RGB); without ``--resize H,W`` all must have one size; or
* an ``.npz`` file (read without pickle) with ``X`` of shape (N, C, H, W), its numbers used
  as they are, and ``y`` (N labels, integers or strings).

Each channel is standardised with the training images' mean and standard deviation, kept
in the model file with the classes and the image size, so that ``predict`` transforms new
pictures (converted to the same channels, resized if training resized) the same way.

The network (:func:`build_conv_net`), for C×H×W images and K classes:

* for each width c of ``--conv`` (default 16,32): a 3×3 convolution to c channels with
  padding 1 (the size stays), the activation (``--activation``, ReLU), and a 2×2 max pool
  (halving the size, while it is at least 2×2);
* a max pool over the whole remaining map: one number per channel, wherever on the picture
  its feature was found. With the kernels' shared θ (the notes' parameter sharing) this
  makes the network answer alike for an object anywhere in the picture;
* Dropout (``--dropout``), then a Dense layer to K logits (softmax cross-entropy).

``--l2`` penalises every kernel and weight matrix (not the biases).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from backprop._install import install_hint
from backprop.cli import pipeline
from backprop.cli.errors import CLIError
from backprop.cli.output import echo_json, format_number
from backprop.io import atomic_write_bytes

__all__ = [
    "IMAGE_SUFFIXES", "DEFAULT_CONV", "ImageSize", "ImageSet", "ImageTransform", "ImageModel", "is_image_data",
    "read_training_images", "read_labelled_images", "read_images_to_predict", "image_model", "build_conv_net", "image_options", "train_on_images",
    "load_image_model", "predictions_frame", "predict_images", "TABLE_OPTIONS",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_CONV = (16, 32)
TARGET = "label"  # the name of the prediction column
# ``backprop train`` options that describe a table and mean nothing for pictures.
TABLE_OPTIONS = ("target", "features", "drop", "categorical", "keep_id_columns", "drop_missing_target", "sep",
                 "encoding", "hidden")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


class ImageSize(click.ParamType):
    """``64,64`` (height, width) -> ``(64, 64)``; one number is a square."""

    name = "H,W"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple) or value is None:
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if len(parts) == 1:
            parts *= 2
        if len(parts) != 2 or not all(part.isdecimal() and int(part) >= 1 for part in parts):
            self.fail(f"{value!r} must be a height and a width in pixels, e.g. 64,64", param, ctx)
        return int(parts[0]), int(parts[1])


class ConvWidths(click.ParamType):
    """``16,32`` -> ``(16, 32)``: the channels of the conv blocks (at least one)."""

    name = "CHANNELS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if not parts or not all(part.isdecimal() and int(part) >= 1 for part in parts):
            self.fail(f"{value!r} must be comma-separated positive channel counts, e.g. 16,32", param, ctx)
        return tuple(int(part) for part in parts)


def image_options(command):
    """``--resize`` and ``--conv``, the options of ``backprop train`` for image data."""
    command = click.option(
        "--conv", type=ConvWidths(), default=",".join(map(str, DEFAULT_CONV)), show_default=True,
        help="Image data: the channels of the conv blocks (each a 3×3 convolution, the activation and a 2×2 "
             "max pool), before a global max pool and the output layer.")(command)
    return click.option(
        "--resize", type=ImageSize(), default=None,
        help="Image data: resize every picture to H,W pixels (needed when their sizes differ).")(command)


def is_image_data(path) -> bool:
    """Whether DATA is image data: a folder (of class subfolders of pictures) or an .npz file."""
    return path is not None and (Path(path).is_dir() or Path(path).suffix.lower() == ".npz")


# ------------------------------------------------------------------ reading
@dataclass
class ImageSet:
    """Pictures as one array: X (N, C, H, W) float32, their names (files or rows) and labels (or None)."""

    X: np.ndarray
    names: list
    labels: list | None
    pixels: str  # "files": image files scaled to [0, 1]; "npz": an array's numbers as they are


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise CLIError(f"reading PNG/JPEG pictures needs Pillow: {install_hint('images')}") from None
    return Image


def _image_files(folder: Path) -> list:
    """The picture files under ``folder`` (any depth), sorted; hidden files and folders skipped."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files)
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return found


def _open(path: Path, Image):
    """The picture at ``path``, decoded, or a CLIError naming the file."""
    try:
        with Image.open(path) as picture:
            picture.load()
            return picture.copy()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise CLIError(f"{path}: cannot read this picture ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    return str(error).strip() or type(error).__name__


def _pixels(pictures: list, paths: list, mode: str, size: tuple | None, model_size: tuple | None = None):
    """(N, C, H, W) float32 in [0, 1]: the pictures in ``mode`` ("L" or "RGB"), resized to ``size``
    (height, width) if given; else all of one size, ``model_size`` if given (or a CLIError naming
    the pictures that differ)."""
    Image = _pillow()
    arrays, first = [], None
    for picture, path in zip(pictures, paths):
        picture = picture.convert(mode)
        if size is not None and picture.size != (size[1], size[0]):
            picture = picture.resize((size[1], size[0]), Image.BILINEAR)
        array = np.asarray(picture, dtype=np.float32) / 255.0
        hw = array.shape[:2]
        if model_size is not None and hw != tuple(model_size):
            raise CLIError(f"{path} is {_hw(hw)} (height×width) but the model takes {_hw(model_size)} pictures "
                           "(it was trained without --resize, so pictures must have its size)")
        if first is None:
            first = (path, hw)
        elif hw != first[1]:
            raise CLIError(f"the pictures have different sizes: {first[0]} is {_hw(first[1])} but {path} is "
                           f"{_hw(hw)} (height×width); pass --resize H,W to resize them all")
        arrays.append(array[None] if mode == "L" else array.transpose(2, 0, 1))
    return np.stack(arrays)


def _hw(shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def _read_folder_for_training(folder: Path, size, mode: str | None = None, model_size=None) -> ImageSet:
    """The pictures of a class-subfolder folder with their labels; ``mode`` ("L", "RGB") and
    ``model_size`` are a trained model's (None when training: the pictures decide)."""
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    loose = [f.name for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise CLIError(f"{folder} holds pictures outside class subfolders (e.g. {loose[0]}); put each class's "
                       "pictures in a subfolder named after the class")
    paths, labels = [], []
    for label in classes:
        files = _image_files(folder / label)
        paths += files
        labels += [label] * len(files)
    found = sorted(set(labels))
    if len(found) < 2:
        listed = f" (found {', '.join(repr(c) for c in found)})" if found else ""
        raise CLIError(f"{folder} needs a subfolder of PNG/JPEG pictures for each class, at least two{listed}")
    Image = _pillow()
    pictures = [_open(path, Image) for path in paths]
    if mode is None:
        mode = "L" if all(p.mode in _GREY_MODES for p in pictures) else "RGB"
    names = [str(path.relative_to(folder)) for path in paths]
    return ImageSet(_pixels(pictures, names, mode, size, model_size), names, labels, "files")


def _read_npz(path: Path, need_labels: bool) -> ImageSet:
    """X (N, C, H, W) and (for training) y from an .npz file, checked; no pickle is ever loaded."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if "X" not in keys or (need_labels and "y" not in keys):
                wanted = "X (N, C, H, W) and y (N labels)" if need_labels else "X (N, C, H, W)"
                raise CLIError(f"{path} must hold the arrays {wanted}; it holds {sorted(keys) or 'none'}")
            X = archive["X"]
            y = archive["y"] if need_labels else None
    except CLIError:
        raise
    except (OSError, ValueError, EOFError) as error:  # not a zip, a truncated member, an object array
        raise CLIError(f"cannot read {path} as an .npz of arrays ({_reason(error)})") from None
    if X.ndim != 4 or X.dtype.kind not in "biuf" or X.size == 0:
        raise CLIError(f"{path}: X must be a non-empty numeric array of shape (N, C, H, W), got "
                       f"{X.dtype} of shape {X.shape}")
    X = X.astype(np.float32)
    if not np.isfinite(X).all():
        raise CLIError(f"{path}: X holds NaN or infinite values")
    labels = None
    if need_labels:
        if y.ndim != 1 or len(y) != len(X) or y.dtype.kind not in "biuU":
            raise CLIError(f"{path}: y must hold one integer or string label per picture ({len(X)}), got "
                           f"{y.dtype} of shape {y.shape}")
        labels = [str(label) for label in y.tolist()]
    return ImageSet(X, [str(i) for i in range(len(X))], labels, "npz")


def read_training_images(path, resize=None) -> ImageSet:
    """The labelled pictures of a class-subfolder folder or an .npz file (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _read_folder_for_training(path, resize)
    if resize is not None:
        raise CLIError("--resize applies to picture files; resize X before saving the .npz")
    return _read_npz(path, need_labels=True)


def read_labelled_images(path, transform: "ImageTransform") -> ImageSet:
    """Labelled pictures (a class-subfolder folder, or an .npz with X and y) in a model's size and channels."""
    path = Path(path)
    if path.is_dir():
        mode = "L" if transform.channels == 1 else "RGB"
        model_size = None if transform.resize is not None else (transform.height, transform.width)
        images = _read_folder_for_training(path, transform.resize, mode, model_size)
    else:
        images = _read_npz(path, need_labels=True)
    expected = (transform.channels, transform.height, transform.width)
    if images.X.shape[1:] != expected:
        raise CLIError(f"{path}: X holds pictures of {_chw(images.X.shape[1:])} but the model takes {_chw(expected)}")
    unknown = sorted(set(images.labels) - set(transform.classes))
    if unknown:
        raise CLIError(f"{path} has labels the model does not know: {', '.join(map(repr, unknown[:5]))}; its "
                       f"classes are {', '.join(map(repr, transform.classes))}")
    return images


def read_images_to_predict(path, transform: "ImageTransform") -> ImageSet:
    """The pictures of a folder (every PNG/JPEG file under it) or an .npz's X, in the model's size and channels."""
    path = Path(path)
    if path.is_dir():
        paths = _image_files(path)
        if not paths:
            raise CLIError(f"{path} holds no PNG/JPEG pictures")
        Image = _pillow()
        pictures = [_open(p, Image) for p in paths]
        names = [str(p.relative_to(path)) for p in paths]
        mode = "L" if transform.channels == 1 else "RGB"
        model_size = None if transform.resize is not None else (transform.height, transform.width)
        images = ImageSet(_pixels(pictures, names, mode, transform.resize, model_size), names, None, "files")
    else:
        images = _read_npz(path, need_labels=False)
    expected = (transform.channels, transform.height, transform.width)
    if images.X.shape[1:] != expected:
        raise CLIError(f"{path}: X holds pictures of {_chw(images.X.shape[1:])} but the model takes {_chw(expected)}")
    return images


def _chw(shape) -> str:
    return f"{shape[0]}×{shape[1]}×{shape[2]} (channels×height×width)"


# ------------------------------------------------------------------ the transform
class ImageTransform:
    """x ↦ (x − μ_c) / σ_c per channel c, μ and σ over the training pictures; the classes and image size.

    Its config (in the model file's metadata, untrusted) is checked by :meth:`from_config`.
    """

    def __init__(self, classes, channels, height, width, mean, std, resize=None, pixels="files"):
        self.classes = list(classes)
        self.channels, self.height, self.width = int(channels), int(height), int(width)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.resize = None if resize is None else (int(resize[0]), int(resize[1]))
        self.pixels = pixels

    @classmethod
    def fit(cls, X: np.ndarray, classes, resize, pixels: str) -> "ImageTransform":
        """μ and σ of each channel over the pictures X (N, C, H, W); σ = 1 for a constant channel."""
        mean = X.mean(axis=(0, 2, 3), dtype=np.float64)
        std = X.std(axis=(0, 2, 3), dtype=np.float64)
        std[~(std > 1e-12)] = 1.0
        return cls(classes, *X.shape[1:], mean, std, resize, pixels)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32)

    def get_config(self) -> dict:
        return {"classes": self.classes, "channels": self.channels, "height": self.height, "width": self.width,
                "mean": self.mean.tolist(), "std": self.std.tolist(),
                "resize": None if self.resize is None else list(self.resize), "pixels": self.pixels}

    @classmethod
    def from_config(cls, config) -> "ImageTransform":
        """Rebuild from :meth:`get_config`'s dict; ValueError for anything else."""
        if not isinstance(config, dict):
            raise ValueError("the image config is not an object")
        sizes = [config.get(key) for key in ("channels", "height", "width")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 16 for v in sizes):
            raise ValueError(f"channels, height and width must be positive ints, got {sizes}")
        classes = config.get("classes")
        if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
            raise ValueError("classes must be a list of at least two names")
        stats = [config.get("mean"), config.get("std")]
        if not all(isinstance(s, list) and len(s) == sizes[0] and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in s)
                for s in stats):
            raise ValueError("mean and std must list one finite number per channel")
        if not all(v > 0 for v in stats[1]):
            raise ValueError("std must be positive")
        resize = config.get("resize")
        if resize is not None and not (isinstance(resize, list) and len(resize) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in resize)):
            raise ValueError("resize must be null or [height, width]")
        if config.get("pixels") not in ("files", "npz"):
            raise ValueError("pixels must be 'files' or 'npz'")
        return cls(classes, *sizes, *stats, resize, config["pixels"])


# ------------------------------------------------------------------ the network
def build_conv_net(channels: int, height: int, width: int, n_classes: int, conv=DEFAULT_CONV,
                   activation: str = "relu", dropout: float = 0.0, l2: float = 0.0):
    """The command's conv net for C×H×W pictures (see the module docstring)."""
    from backprop.nn import L2, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Sequential

    regularizer = L2(l2) if l2 > 0 else None
    layers, c_in, h, w = [], channels, height, width
    for c_out in conv:
        layers.append(Conv2d(c_in, c_out, 3, padding=1, activation=activation, weight_regularizer=regularizer))
        if h >= 2 and w >= 2:
            layers.append(MaxPool2d(2))
            h, w = h // 2, w // 2
        c_in = c_out
    layers += [MaxPool2d((h, w)), Flatten()]  # the global max: one number per channel
    if dropout > 0:
        layers.append(Dropout(dropout))
    layers.append(Dense(c_in, n_classes, weight_regularizer=regularizer))
    return Sequential(*layers)


# ------------------------------------------------------------------ train
@dataclass
class ImageTrainResult:
    model: object
    transform: ImageTransform
    history: object
    metrics: dict
    summary: dict


def check_options(ctx: click.Context, data, resize, conv) -> None:
    """One line for an option that does not apply to the data given (image or table)."""
    from click.core import ParameterSource

    def given(name):
        return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

    if is_image_data(data):
        misplaced = [name for name in TABLE_OPTIONS if given(name)]
        if misplaced:
            flag = "--" + misplaced[0].replace("_", "-")
            raise click.UsageError(f"{flag} describes a table; it does not apply to image data ({data})")
        if ctx.params.get("task") == "regression":
            raise click.UsageError("image data trains a classifier: --task regression does not apply")
    else:
        for name in ("resize", "conv"):
            if given(name):
                raise click.UsageError(f"--{name} applies to image data (a folder of pictures or an .npz file)")


def train_on_images(settings, resize, conv, fit_network) -> ImageTrainResult:
    """Read, split, standardise, build, fit, score and (optionally) save and plot, for pictures.

    ``fit_network(model, X, y, settings, task)`` is ``backprop train``'s fit (schedule, early
    stopping, divergence checks): it returns ``(history, schedule, seconds)``.
    """
    import backprop
    from backprop import metrics as metric_functions

    for output in (settings.out, settings.plot):
        if output is not None and not Path(output).resolve().parent.is_dir():
            raise ValueError(f"cannot write {output}: the folder {Path(output).resolve().parent} does not exist")
    images = read_training_images(settings.data, resize)
    classes = sorted(set(images.labels))
    codes = np.searchsorted(classes, images.labels)
    train_rows, test_rows = pipeline.split_rows(images.labels, settings.test_split, settings.seed, stratify=True)
    transform = ImageTransform.fit(images.X[train_rows], classes, resize, images.pixels)
    X_train, X_test = transform.transform(images.X[train_rows]), transform.transform(images.X[test_rows])

    backprop.manual_seed(settings.seed)
    model = build_conv_net(*X_train.shape[1:], len(classes), conv, settings.activation, settings.dropout,
                           settings.l2)
    history, schedule, seconds = fit_network(model, X_train, codes[train_rows], settings, "classification")
    outputs = model.predict(X_test)
    metrics = {"accuracy": metric_functions.accuracy(codes[test_rows], outputs),
               "f1_macro": metric_functions.f1(codes[test_rows], outputs)}
    summary = {
        "source": str(settings.data), "target": TARGET, "task": "classification", "n_rows": len(images.X),
        "n_train": len(train_rows), "n_test": len(test_rows), "image_shape": list(X_train.shape[1:]),
        "resized": resize is not None, "classes": classes, "n_outputs": len(classes), "conv": list(conv),
        "epochs": schedule.epochs, "epochs_auto": schedule.auto, "early_stopping_patience": schedule.patience,
        "epochs_run": len(history.history.get("loss", [])), "train_seconds": seconds,
        "final_loss": history.history["loss"][-1] if history.history.get("loss") else None,
    }
    if settings.out is not None:
        _save(model, transform, settings, summary, metrics, schedule)
    if settings.plot is not None:
        from backprop.plot import learning_curves

        learning_curves(history, settings.plot)
    return ImageTrainResult(model, transform, history, metrics, summary)


def _save(model, transform, settings, summary, metrics, schedule) -> None:
    from backprop.models import save

    options = {"conv": summary["conv"], "resize": None if transform.resize is None else list(transform.resize),
               "activation": settings.activation, "epochs": schedule.epochs, "early_stopping": schedule.patience,
               "val_split": schedule.val_split, "batch_size": settings.batch_size, "optimizer": settings.optimizer,
               "lr": settings.lr, "l2": settings.l2, "dropout": settings.dropout,
               "test_split": settings.test_split, "seed": settings.seed}
    metadata = {
        "images": transform.get_config(), "task": "classification", "target": TARGET,
        "training": {"data": summary["source"], "options": options, "test_metrics": metrics,
                     "n_train": summary["n_train"], "n_test": summary["n_test"]},
    }
    save(model, settings.out, metadata=metadata)


def report(result: ImageTrainResult, settings, as_json: bool) -> None:
    """Print the run's summary and test metrics (or one JSON object with ``--json``)."""
    summary, metrics = result.summary, result.metrics
    if as_json:
        echo_json({**{f"test_{k}": v for k, v in metrics.items()}, **summary,
                   "model_file": None if settings.out is None else os.fspath(settings.out),
                   "plot_file": None if settings.plot is None else os.fspath(settings.plot)})
        return
    c, h, w = summary["image_shape"]
    resized = ", resized" if summary["resized"] else ""
    click.echo(f"data: {summary['source']}: {summary['n_rows']} pictures of {c}×{h}×{w}{resized}, "
               f"{summary['n_outputs']} classes ({', '.join(summary['classes'])})")
    click.echo(f"split: {summary['n_train']} train, {summary['n_test']} test (seed {settings.seed})")
    blocks = " -> ".join(f"conv {n}@3×3 + max pool" for n in summary["conv"])
    click.echo(f"model: {blocks} -> global max -> {summary['n_outputs']} ({settings.activation})")
    epochs = f"{summary['epochs_run']} epochs" + (" (auto)" if summary["epochs_auto"] else "")
    click.echo(f"trained: {epochs} in {summary['train_seconds']:.1f} s, final loss "
               f"{format_number(summary['final_loss'])}")
    for name, value in metrics.items():
        click.echo(f"test {name}: {format_number(value)}")
    if settings.out is not None:
        click.echo(f"saved: {settings.out}")
    if settings.plot is not None:
        click.echo(f"plot: {settings.plot}")


# ------------------------------------------------------------------ predict
@dataclass
class ImageModel:
    """An image model file read back: the network, its image transform and the file's metadata."""

    model: object
    transform: ImageTransform
    metadata: dict


def is_image_model(metadata) -> bool:
    return isinstance(metadata, dict) and "images" in metadata


def load_image_model(path) -> ImageModel:
    """Load a model that ``backprop train`` trained on pictures; CLIError for any other file."""
    from backprop.io import ModelFileError
    from backprop.models import load_with_metadata

    try:
        model, metadata = load_with_metadata(path)
    except ModelFileError as error:
        raise CLIError(f"{path} is not a backprop model file: {error.problem}") from None
    return image_model(model, metadata, path)


def image_model(model, metadata: dict, path) -> ImageModel:
    """The network and its image transform, from a loaded file's model and metadata (see :func:`load_image_model`)."""
    if not is_image_model(metadata):
        raise CLIError(f"{path} was not trained on pictures ('backprop train FOLDER' makes such models); "
                       "give it a table to predict on")
    try:
        transform = ImageTransform.from_config(metadata["images"])
    except ValueError as error:
        raise CLIError(f"{path}: the model's image config is invalid ({error})") from None
    width_in, width_out = pipeline._model_widths(model)
    if width_in != transform.channels or width_out != len(transform.classes):
        raise CLIError(f"{path}: the network takes {width_in} channels and gives {width_out} outputs, but its "
                       f"image config has {transform.channels} channels and {len(transform.classes)} classes")
    return ImageModel(model, transform, metadata)


def predictions_frame(loaded: ImageModel, images: ImageSet):
    """One row per picture: its file (or row of the .npz), the predicted label and ``prob_<class>`` per class."""
    import pandas as pd

    from backprop.training import predict_proba

    probabilities = predict_proba(loaded.model, loaded.transform.transform(images.X))
    classes = loaded.transform.classes
    key = "file" if images.pixels == "files" else "row"
    columns = {key: images.names if key == "file" else np.arange(len(images.X)),
               TARGET: np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]}
    for label, column in zip(classes, probabilities.T):
        columns[f"prob_{label}"] = column.round(6)
    return pd.DataFrame(columns)


def predict_images(model_path, data, out) -> None:
    """``backprop predict MODEL FOLDER|FILE.npz``: the predictions as CSV, on stdout or in ``out``."""
    loaded = load_image_model(model_path)
    images = read_images_to_predict(data, loaded.transform)
    text = predictions_frame(loaded, images).to_csv(index=False)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_bytes(out, text.encode("utf-8"))
        click.echo(f"wrote {len(images.X)} predictions to {out}", err=True)
