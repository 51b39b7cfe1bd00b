"""Training checkpoints: the whole state of a ``fit`` run, to resume it bit for bit.

``fit(..., checkpoint=path)`` writes, atomically at the end of every epoch (and
once more when training ends), a safetensors file of kind ``"checkpoint"``:

* tensors: the model's state dict (``model.<name>``), and every array of the
  optimiser state and of the callbacks' states (``optimizer.<i>``,
  ``callbacks.<i>``);
* metadata ``"checkpoint"`` (JSON): the epochs completed, whether training has
  finished or was stopped, the architecture (``module_to_config``) and the
  state-dict shapes, the loss name, the fit record's classes, the optimiser's class and its
  state (arrays replaced by references to the tensors), the library's random
  state (``backprop.random.get_state()``: it fixes the next epoch's data order
  and dropout masks, since checkpoints are taken between epochs), the history and
  each callback's ``state_dict()``.

Running the same ``fit`` again with the same path restores all of it and continues
at the next epoch, so the final weights, history and predictions equal those of a
run that was never interrupted — also when the process was killed (a half-written
checkpoint never replaces the previous one; its temporary file is removed by the
next write).

**A checkpoint belongs to one run.** It records the run's fingerprint: the
architecture, the loss, the optimiser's class and hyper-parameters (as the run
started), the batch size, the seed, the epoch count, the training data's shapes
with a hash of up to 4096 evenly spaced rows (X, targets, sample weights; taken before
``validation_split``), and each class's weight when ``fit`` has a ``class_weight``. A ``fit`` whose fingerprint differs is refused with
:class:`CheckpointMismatchError`, naming what differs: delete the file, or pass
another path, to start a new run. Nothing is overwritten silently. Two differences
are allowed: a larger ``epochs`` continues a run, and ``seed=None`` on the resuming
call means "as the checkpoint says". A finished run's checkpoint is kept (unlike
Keras's BackupAndRestore, which deletes its backup): the same ``fit`` again returns
the finished result without training.

**A checkpoint is untrusted input**, like a model file: its schema, types and ranges
(0 ≤ epoch ≤ the run's epochs), the shapes of its tensors and their finiteness are
checked before anything is applied, the random generator it names must be one of
NumPy's bit generators (nothing the file names is called), and every refusal is a
:class:`~backprop.io.ModelFileError`. A state that still fails to load is rolled
back, so the model, the optimiser and the random state are as before.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from backprop import random as bp_random
from backprop.io.safefile import ModelFileError, read_json_metadata, read_safetensors, write_safetensors
from backprop.training.fitted import MAX_CLASSES, decode_classes, encode_classes

__all__ = ["CHECKPOINT_KIND", "write_checkpoint", "read_checkpoint", "check_compatible", "check_same_run",
           "run_fingerprint", "data_signature", "restore", "restore_callbacks", "StoredCheckpoint",
           "CheckpointMismatchError"]

CHECKPOINT_KIND = "checkpoint"
_METADATA_KEY = "checkpoint"
_VERSION = 2  # 2: the run's fingerprint
_ARRAY_REF = "__ndarray__"
_HASHED_ROWS = 4096
_FRESH = "delete it or pass another checkpoint path to start a new run"


class CheckpointMismatchError(ValueError):
    """``fit(checkpoint=path)`` found a checkpoint written by another run (other model, data or settings)."""


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
    from backprop.layers.registry import module_to_config

    try:
        return module_to_config(model)
    except (ValueError, TypeError, NotImplementedError):
        return None  # an unregistered custom Module: the state-dict shapes are still checked


def data_signature(arrays) -> dict:
    """Shapes, dtypes and a BLAKE2 hash of up to 4096 evenly spaced rows of each array (None kept).

    Cheap for any N (a fixed number of rows is read) and enough to tell another data
    set from the one a run was started on.
    """
    shapes, digest = [], hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            shapes.append(None)
            continue
        array = np.ascontiguousarray(array)
        shapes.append([array.dtype.str, list(array.shape)])
        if array.ndim and array.shape[0]:
            rows = np.unique(np.linspace(0, array.shape[0] - 1, min(array.shape[0], _HASHED_ROWS)).astype(np.int64))
            sample = array[rows]
            digest.update(sample.tobytes() if sample.dtype.kind != "O" else repr(sample.tolist()).encode())
        else:
            digest.update(array.tobytes())
    return {"shapes": shapes, "hash": digest.hexdigest()}


def _loss_identity(trainer):
    fn = trainer.loss_fn
    if trainer.loss_name is not None:  # a registered loss: its name, and its config when it has one
        config = fn.get_config()
        return trainer.loss_name if not config else trainer.loss_name + json.dumps(config, sort_keys=True)
    return "custom:" + getattr(fn, "__qualname__", type(fn).__qualname__)


def _optimizer_settings(optimizer) -> list:
    """Each group's hyper-parameters as the run started (a schedule's ``initial_lr`` for lr), JSON-normalised."""
    groups = []
    for group in optimizer.param_groups:
        settings = {key: value for key, value in group.items() if key not in ("params", "initial_lr")}
        if "initial_lr" in group:
            settings["lr"] = group["initial_lr"]
        settings["n_params"] = len(group["params"])
        clipping = getattr(optimizer, "clipping", None)
        if clipping is not None:  # (absent without clipping: earlier checkpoints keep their fingerprint)
            settings["clipping"] = clipping.get_config()
        groups.append(settings)
    return json.loads(json.dumps(split_arrays(groups, "settings", {}), default=str))


def run_fingerprint(trainer, *, epochs: int, seed, data: dict, class_weights=None) -> dict:
    """What identifies a training run (see the module docstring).

    ``class_weights``: each class's weight w_k from ``fit``'s ``class_weight`` (in the order of the
    classes), or None; recorded only when given, so checkpoints of runs without class weights
    (earlier ones included) keep their fingerprint.
    """
    fingerprint = {
        "architecture": _architecture(trainer.model),
        "state_shapes": {key: list(value.shape) for key, value in trainer.model.state_dict().items()},
        "loss": _loss_identity(trainer),
        "optimizer": type(trainer.optimizer).__name__,
        "optimizer_settings": _optimizer_settings(trainer.optimizer),
        "batch_size": trainer.batch_size,
        "shuffle": trainer.shuffle,
        "seed": None if seed is None else int(seed),
        "epochs": int(epochs),
        "data": data,
    }
    if class_weights is not None:
        fingerprint["class_weight"] = [float(w) for w in class_weights]
    return fingerprint


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
    fitted = trainer.fit_record
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
        "classes": None if fitted is None else encode_classes(fitted.classes),
        "n_features_in": None if fitted is None else fitted.n_features_in,
        "optimizer": {"class": type(trainer.optimizer).__name__, "state": optimizer_state},
        "random_state": bp_random.get_state(),
        "history": trainer.history.state_dict(),
        "callbacks": callback_states,
        "fingerprint": trainer._run_fingerprint,
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


def _is_int(value, low=0) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def _is_shape(value) -> bool:
    return isinstance(value, list) and len(value) <= 32 and all(_is_int(n) for n in value)


class _Check:
    """Raise ModelFileError(path, problem) unless a condition holds."""

    def __init__(self, path):
        self.path = path

    def __call__(self, condition, problem: str) -> None:
        if not condition:
            raise ModelFileError(self.path, problem)


_RECORD_KEYS = {"version", "epoch", "data_position", "finished", "stop_training", "architecture", "state_shapes",
                "loss", "classes", "n_features_in", "optimizer", "random_state", "history", "callbacks",
                "fingerprint"}
_FINGERPRINT_KEYS = {"architecture", "state_shapes", "loss", "optimizer", "optimizer_settings", "batch_size",
                     "shuffle", "seed", "epochs", "data"}
_OPTIONAL_FINGERPRINT_KEYS = {"class_weight"}  # absent: a run without class weights


def _validate_record(record, tensors: dict, path) -> None:
    """Schema, types and ranges of a checkpoint's JSON record and its tensors; nothing is applied."""
    check = _Check(path)
    check(isinstance(record, dict), "the checkpoint metadata must be a JSON object")
    version = record.get("version")
    check(_is_int(version) and version <= _VERSION,
          f"unsupported checkpoint version {str(version)[:20]!r} (this backprop writes {_VERSION})")
    check(version == _VERSION, f"checkpoint version {version} was written by an older backprop; {_FRESH}")
    missing, unknown = sorted(_RECORD_KEYS - set(record)), sorted(set(record) - _RECORD_KEYS)
    check(not missing, f"checkpoint metadata lacks {missing}")
    check(not unknown, f"checkpoint metadata has unknown keys {[str(k)[:40] for k in unknown[:5]]}")

    fingerprint = record["fingerprint"]
    check(isinstance(fingerprint, dict) and _FINGERPRINT_KEYS <= set(fingerprint)
          <= _FINGERPRINT_KEYS | _OPTIONAL_FINGERPRINT_KEYS,
          f"checkpoint fingerprint must have the keys {sorted(_FINGERPRINT_KEYS)} "
          f"(and optionally {sorted(_OPTIONAL_FINGERPRINT_KEYS)})")
    weights = fingerprint.get("class_weight", [])
    check(isinstance(weights, list) and len(weights) <= MAX_CLASSES and all(
        isinstance(w, numbers.Real) and not isinstance(w, bool) and np.isfinite(w) and w >= 0 for w in weights),
          "fingerprint class_weight must be a list of finite numbers >= 0")
    check(_is_int(fingerprint["epochs"]), "fingerprint epochs must be a non-negative integer")
    check(fingerprint["seed"] is None or _is_int(fingerprint["seed"]), "fingerprint seed must be an integer or null")
    check(fingerprint["batch_size"] is None or _is_int(fingerprint["batch_size"], 1),
          "fingerprint batch_size must be a positive integer or null")
    data = fingerprint["data"]
    check(isinstance(data, dict) and set(data) == {"shapes", "hash"} and isinstance(data["hash"], str)
          and isinstance(data["shapes"], list), "fingerprint data must be {'shapes': [...], 'hash': '...'}")

    epoch = record["epoch"]
    check(_is_int(epoch) and epoch <= fingerprint["epochs"],
          f"epoch must be an integer in 0..{fingerprint['epochs']} (the run's epochs), got {str(epoch)[:20]}")
    check(record["data_position"] == {"epoch": epoch, "batch": 0}, "data_position must be {'epoch': epoch, 'batch': 0}")
    check(isinstance(record["finished"], bool) and isinstance(record["stop_training"], bool),
          "finished and stop_training must be true or false")
    check(record["architecture"] is None or isinstance(record["architecture"], dict), "architecture must be an object or null")
    check(record["loss"] is None or isinstance(record["loss"], str), "loss must be a string or null")
    check(record["n_features_in"] is None or _is_int(record["n_features_in"]), "n_features_in must be an integer or null")
    decode_classes(record["classes"], path)  # ModelFileError itself

    shapes = record["state_shapes"]
    check(isinstance(shapes, dict) and all(isinstance(k, str) and _is_shape(v) for k, v in shapes.items()),
          "state_shapes must map names to shapes (lists of non-negative integers)")
    model_tensors = {key[len("model."):]: value for key, value in tensors.items() if key.startswith("model.")}
    check(set(model_tensors) == set(shapes), "the checkpoint's model tensors do not match its state_shapes")
    for name, value in model_tensors.items():
        check(list(value.shape) == shapes[name], f"tensor model.{name} has shape {list(value.shape)}, "
                                                 f"state_shapes says {shapes[name]}")
    for name, value in tensors.items():
        if value.dtype.kind in "fc":
            check(bool(np.isfinite(value).all()), f"tensor {name} holds NaN or infinite values")

    optimizer = record["optimizer"]
    check(isinstance(optimizer, dict) and set(optimizer) == {"class", "state"} and isinstance(optimizer["class"], str),
          "optimizer must be {'class': name, 'state': {...}}")
    state = optimizer["state"]
    check(isinstance(state, dict) and set(state) == {"param_groups", "state"} and isinstance(state["param_groups"], list)
          and all(isinstance(g, dict) and isinstance(g.get("params"), list) and all(_is_int(i) for i in g["params"])
                  for g in state["param_groups"])
          and isinstance(state["state"], dict) and all(isinstance(v, dict) for v in state["state"].values()),
          "optimizer state must be {'param_groups': [{..., 'params': [indices]}], 'state': {index: {...}}}")
    _check_random_state(record["random_state"], check)

    history = record["history"]
    check(isinstance(history, dict) and set(history) == {"history", "epoch"} and isinstance(history["history"], dict)
          and all(isinstance(k, str) and isinstance(v, list) and all(_is_real(x) for x in v)
                  for k, v in history["history"].items())
          and isinstance(history["epoch"], list) and all(_is_int(e) for e in history["epoch"]),
          "history must be {'history': {name: [numbers]}, 'epoch': [integers]}")
    callbacks = record["callbacks"]
    check(isinstance(callbacks, list) and all(isinstance(c, dict) and set(c) == {"class", "state"}
                                              and isinstance(c["class"], str) for c in callbacks),
          "callbacks must be a list of {'class': name, 'state': ...}")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_random_state(state, check) -> None:
    """Only NumPy's own bit generators, and a state that one of them accepts (tried on a scratch one)."""
    check(isinstance(state, dict) and isinstance(state.get("bit_generator"), str)
          and state["bit_generator"] in bp_random.BIT_GENERATORS,
          f"random_state.bit_generator must be one of {sorted(bp_random.BIT_GENERATORS)}")
    try:
        scratch = bp_random.BIT_GENERATORS[state["bit_generator"]]()
        scratch.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        check(False, f"random_state is not a valid {state['bit_generator']} state ({str(error)[:100]})")


def read_checkpoint(path) -> StoredCheckpoint:
    """Read and check a checkpoint file (a :class:`~backprop.io.ModelFileError` if it is not a valid one)."""
    path = os.fspath(path)
    tensors, metadata = read_safetensors(path, kind=CHECKPOINT_KIND)
    record = read_json_metadata(metadata, _METADATA_KEY, path=path)
    _validate_record(record, tensors, path)
    return StoredCheckpoint(path, record, tensors)


def _mismatch(path, what: str) -> CheckpointMismatchError:
    return CheckpointMismatchError(f"{path}: this checkpoint belongs to another training run: {what}; {_FRESH}")


def check_compatible(stored: StoredCheckpoint, trainer) -> None:
    """Refuse a checkpoint written for another architecture, loss or optimiser (:class:`CheckpointMismatchError`).

    Checked before the data are read; :func:`check_same_run` compares the rest of the fingerprint.
    """
    model, record, path = trainer.model, stored.record, stored.path
    architecture = _architecture(model)
    if record["architecture"] is not None and architecture is not None and record["architecture"] != architecture:
        raise _mismatch(path, f"it was written for a different architecture; "
                              f"checkpoint: {json.dumps(record['architecture'])[:300]}, model: {json.dumps(architecture)[:300]}")
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    if record["state_shapes"] != shapes:
        raise _mismatch(path, f"its parameters {str(record['state_shapes'])[:300]} do not match the model's {str(shapes)[:300]}")
    loss = _loss_identity(trainer)
    if record["fingerprint"]["loss"] != loss:
        raise _mismatch(path, f"it was trained with loss {record['fingerprint']['loss'][:80]!r}, not {loss!r}")
    optimizer_class = record["optimizer"]["class"]
    if optimizer_class != type(trainer.optimizer).__name__:
        raise _mismatch(path, f"its optimiser is {optimizer_class[:80]}, not {type(trainer.optimizer).__name__}")


def check_same_run(stored: StoredCheckpoint, fingerprint: dict) -> dict:
    """Compare the new run's fingerprint with the checkpoint's; return the one to keep writing.

    Allowed: a larger epoch count (the run continues) and ``seed=None`` (the checkpoint's).
    """
    saved = stored.record["fingerprint"]
    if saved.get("class_weight") != fingerprint.get("class_weight"):
        raise _mismatch(stored.path, "class_weight differs: checkpoint "
                                     f"{_class_weights_text(saved.get('class_weight'), stored.classes)}, this fit "
                                     f"{_class_weights_text(fingerprint.get('class_weight'), stored.classes)}")
    names = {"optimizer_settings": "the optimiser's settings", "batch_size": "batch_size", "shuffle": "shuffle",
             "seed": "seed", "data": "the training data (shapes or contents)"}
    for key, label in names.items():
        if key == "seed" and fingerprint["seed"] is None:
            continue
        if saved[key] != fingerprint[key]:
            shown = "" if key == "data" else f": checkpoint {str(saved[key])[:200]}, this fit {str(fingerprint[key])[:200]}"
            raise _mismatch(stored.path, f"{label} differ{shown}")
    if fingerprint["epochs"] < stored.epoch:
        raise _mismatch(stored.path, f"it has already run {stored.epoch} epochs, more than epochs={fingerprint['epochs']}")
    return dict(saved, epochs=max(fingerprint["epochs"], saved["epochs"]))


def _class_weights_text(weights, classes) -> str:
    """``{label: w}`` of each class (the checkpoint's classes), or "none"."""
    if weights is None:
        return "none"
    labels = classes.tolist() if classes is not None and len(classes) == len(weights) else range(len(weights))
    return str(dict(zip(labels, weights)))[:200]


def _snapshot(trainer) -> tuple:
    model = trainer.model
    return (model.state_dict(), trainer.optimizer.state_dict(), bp_random.get_state(), trainer.history.state_dict(),
            trainer.epoch, trainer.stop_training, trainer.fit_record)


def roll_back(trainer, snapshot) -> None:
    """Put back what :func:`snapshot` took."""
    model_state, optimizer_state, random_state, history, epoch, stop, fit_record = snapshot
    trainer.model.load_state_dict(model_state)
    trainer.optimizer.load_state_dict(optimizer_state)
    bp_random.set_state(random_state)
    trainer.history.load_state_dict(history)
    trainer.epoch, trainer.stop_training = epoch, stop
    trainer.set_fit_record(fit_record)


def snapshot(trainer) -> tuple:
    """The state :func:`restore` may change (taken before ``fit`` seeds the random state)."""
    return _snapshot(trainer)


def restore(stored: StoredCheckpoint, trainer, before=None) -> None:
    """Load weights, optimiser state, random state, history and counters into the trainer.

    A state the model or the optimiser refuses is rolled back to ``before`` (a
    :func:`snapshot`; default: taken now) and reported as a ModelFileError.
    """
    model, record = trainer.model, stored.record
    before = _snapshot(trainer) if before is None else before
    try:
        model.load_state_dict(stored.model_state())
        trainer.optimizer.load_state_dict(join_arrays(record["optimizer"]["state"], stored.tensors, stored.path))
        bp_random.set_state(record["random_state"])
        trainer.history.load_state_dict(record["history"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        roll_back(trainer, before)
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(stored.path, f"cannot restore the checkpoint ({type(error).__name__}: {str(error)[:200]})") from None
    trainer.epoch = stored.epoch
    trainer.stop_training = stored.stop_training
    # The stored classes reach the fit record through the data: Trainer.fit encodes the labels with them.


def restore_callbacks(stored: StoredCheckpoint, trainer, callbacks) -> None:
    """Give each callback the state it had when the checkpoint was written (matched by position and class)."""
    saved = stored.record["callbacks"]
    if len(saved) != len(callbacks) or any(s["class"] != type(c).__name__ for s, c in zip(saved, callbacks)):
        warnings.warn(
            f"{stored.path}: the callbacks differ from those of the checkpointed run "
            f"({[s['class'][:40] for s in saved[:10]]} vs {[type(c).__name__ for c in callbacks]}); "
            "callbacks whose class matches at the same position get their state back",
            RuntimeWarning, stacklevel=3,
        )
    for entry, callback in zip(saved, callbacks):
        if entry["class"] == type(callback).__name__:
            try:
                callback.load_state_dict(join_arrays(entry["state"], stored.tensors, stored.path))
            except ModelFileError:
                raise
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
                raise ModelFileError(stored.path, f"cannot restore the state of callback {entry['class']} "
                                                  f"({type(error).__name__}: {str(error)[:200]})") from None
