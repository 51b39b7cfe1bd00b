"""Training checkpoints: the whole state of a ``fit`` run, to resume it bit for bit.

``fit(..., checkpoint=path)`` writes, atomically at the end of every epoch (and
once more when training ends), a safetensors file of kind ``"checkpoint"``:

* tensors: the model's state dict (``model.<name>``), and every array of the
  optimiser state and of the callbacks' states (``optimizer.<i>``,
  ``callbacks.<i>``);
* metadata ``"checkpoint"`` (JSON): the epochs completed, whether training has
  finished or was stopped, the architecture (``module_to_config``) and the
  state-dict shapes, the loss name, ``classes_``, the optimiser's class and its
  state (arrays replaced by references to the tensors), the library's random
  state (``backprop.random.get_state()``: it fixes the next epoch's data order
  and dropout masks, since checkpoints are taken between epochs), the history and
  each callback's ``state_dict()``.

Running the same ``fit`` again with the same path restores all of it and continues
at the next epoch, so the final weights, history and predictions equal those of a
run that was never interrupted — also when the process was killed (a half-written
checkpoint never replaces the previous one).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import random as bp_random
from backprop.io.model_file import decode_classes, encode_classes
from backprop.io.safefile import ModelFileError, read_json_metadata, read_safetensors, write_safetensors

__all__ = ["CHECKPOINT_KIND", "write_checkpoint", "read_checkpoint", "check_compatible", "restore",
           "restore_callbacks", "StoredCheckpoint"]

CHECKPOINT_KIND = "checkpoint"
_METADATA_KEY = "checkpoint"
_VERSION = 1
_ARRAY_REF = "__ndarray__"


# ------------------------------------------------------ arrays inside JSON
def split_arrays(value: Any, prefix: str, tensors: dict) -> Any:
    """A JSON-ready copy of ``value`` whose ndarrays are moved into ``tensors`` and referenced by name."""
    if isinstance(value, np.ndarray):
        name = f"{prefix}.{len(tensors)}"
        while name in tensors:
            name += "_"
        tensors[name] = value
        return {_ARRAY_REF: name}
    if isinstance(value, dict):
        return {str(key) if not isinstance(key, str) else key: split_arrays(item, prefix, tensors)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [split_arrays(item, prefix, tensors) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def join_arrays(value: Any, tensors: dict, path) -> Any:
    """Inverse of :func:`split_arrays`."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY_REF}:
            name = value[_ARRAY_REF]
            if name not in tensors:
                raise ModelFileError(path, f"checkpoint refers to a missing tensor {name!r}")
            return tensors[name]
        return {key: join_arrays(item, tensors, path) for key, item in value.items()}
    if isinstance(value, list):
        return [join_arrays(item, tensors, path) for item in value]
    return value


# --------------------------------------------------------------- writing
def _architecture(model):
    from backprop.nn.registry import module_to_config

    try:
        return module_to_config(model)
    except (ValueError, TypeError, NotImplementedError):
        return None  # an unregistered custom Module: the state-dict shapes are still checked


def write_checkpoint(path, trainer, callbacks, *, finished: bool) -> None:
    """Atomically write the trainer's whole training state to ``path``."""
    model = trainer.model
    tensors = {f"model.{key}": value for key, value in model.state_dict().items()}
    extra: dict = {}
    optimizer_state = split_arrays(trainer.optimizer.state_dict(), "optimizer", extra)
    callback_states = [
        {"class": type(callback).__name__, "state": split_arrays(callback.state_dict(), f"callbacks.{i}", extra)}
        for i, callback in enumerate(callbacks)
    ]
    tensors.update(extra)
    record = {
        "version": _VERSION,
        "epoch": trainer.epoch,
        # Checkpoints are taken between epochs: the next batch is batch 0 of this epoch.
        "data_position": {"epoch": trainer.epoch, "batch": 0},
        "finished": bool(finished),
        "stop_training": bool(trainer.stop_training),
        "architecture": _architecture(model),
        "state_shapes": {key: list(value.shape) for key, value in model.state_dict().items()},
        "loss": trainer.loss_name,
        "classes": encode_classes(getattr(model, "classes_", None)),
        "n_features_in": getattr(model, "n_features_in_", None),
        "optimizer": {"class": type(trainer.optimizer).__name__, "state": optimizer_state},
        "random_state": bp_random.get_state(),
        "history": trainer.history.state_dict(),
        "callbacks": callback_states,
    }
    write_safetensors(path, tensors, {_METADATA_KEY: json.dumps(record)}, kind=CHECKPOINT_KIND)


# --------------------------------------------------------------- reading
@dataclass
class StoredCheckpoint:
    """A checkpoint read from disk (nothing applied yet)."""

    path: str
    record: dict
    tensors: dict

    @property
    def epoch(self) -> int:
        return int(self.record["epoch"])

    @property
    def finished(self) -> bool:
        return bool(self.record["finished"])

    @property
    def stop_training(self) -> bool:
        return bool(self.record["stop_training"])

    @property
    def classes(self):
        return decode_classes(self.record.get("classes"), self.path)

    def model_state(self) -> dict:
        return {key[len("model."):]: value for key, value in self.tensors.items() if key.startswith("model.")}


def read_checkpoint(path) -> StoredCheckpoint:
    """Read and check a checkpoint file (a :class:`~backprop.io.ModelFileError` if it is not one)."""
    path = os.fspath(path)
    tensors, metadata = read_safetensors(path, kind=CHECKPOINT_KIND)
    record = read_json_metadata(metadata, _METADATA_KEY, path=path)
    required = {"version", "epoch", "finished", "stop_training", "architecture", "state_shapes", "optimizer",
                "random_state", "history", "callbacks"}
    if not isinstance(record, dict) or not required <= set(record):
        raise ModelFileError(path, f"checkpoint metadata lacks {sorted(required - set(record or {}))}")
    if record["version"] != _VERSION:
        raise ModelFileError(path, f"unsupported checkpoint version {record['version']!r}")
    return StoredCheckpoint(path, record, tensors)


def check_compatible(stored: StoredCheckpoint, trainer) -> None:
    """Refuse a checkpoint written for another architecture, loss or optimiser (ValueError)."""
    model, record, path = trainer.model, stored.record, stored.path
    architecture = _architecture(model)
    if record["architecture"] is not None and architecture is not None and record["architecture"] != architecture:
        raise ValueError(
            f"{path}: the checkpoint was written for a different architecture; "
            f"checkpoint: {json.dumps(record['architecture'])[:300]}, model: {json.dumps(architecture)[:300]}"
        )
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    if record["state_shapes"] != shapes:
        raise ValueError(
            f"{path}: the checkpoint's parameters {record['state_shapes']} do not match the model's {shapes}"
        )
    if record.get("loss") is not None and trainer.loss_name is not None and record["loss"] != trainer.loss_name:
        raise ValueError(f"{path}: the checkpoint was trained with loss {record['loss']!r}, not {trainer.loss_name!r}")
    optimizer_class = record["optimizer"]["class"]
    if optimizer_class != type(trainer.optimizer).__name__:
        raise ValueError(
            f"{path}: the checkpoint's optimiser is {optimizer_class}, not {type(trainer.optimizer).__name__}"
        )


def restore(stored: StoredCheckpoint, trainer) -> None:
    """Load weights, optimiser state, random state, history and counters into the trainer."""
    model, record = trainer.model, stored.record
    model.load_state_dict(stored.model_state())
    trainer.optimizer.load_state_dict(join_arrays(record["optimizer"]["state"], stored.tensors, stored.path))
    bp_random.set_state(record["random_state"])
    trainer.history.load_state_dict(record["history"])
    trainer.epoch = stored.epoch
    trainer.stop_training = stored.stop_training
    classes = stored.classes
    if classes is not None:
        model.classes_ = classes


def restore_callbacks(stored: StoredCheckpoint, trainer, callbacks) -> None:
    """Give each callback the state it had when the checkpoint was written (matched by position and class)."""
    saved = stored.record["callbacks"]
    if len(saved) != len(callbacks) or any(s["class"] != type(c).__name__ for s, c in zip(saved, callbacks)):
        warnings.warn(
            f"{stored.path}: the callbacks differ from those of the checkpointed run "
            f"({[s['class'] for s in saved]} vs {[type(c).__name__ for c in callbacks]}); "
            "callbacks whose class matches at the same position get their state back",
            RuntimeWarning, stacklevel=3,
        )
    for entry, callback in zip(saved, callbacks):
        if entry["class"] == type(callback).__name__:
            callback.load_state_dict(join_arrays(entry["state"], stored.tensors, stored.path))
