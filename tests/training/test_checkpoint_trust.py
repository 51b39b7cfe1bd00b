"""Checkpoints are untrusted input and belong to one run.

* crafted checkpoints (schema, types, ranges, non-finite weights, a bit generator
  that names a function) are refused with ModelFileError before anything changes:
  the model, the library's random state and NumPy's global random state are intact;
* a different run (other data, settings, seed...) on the same path is refused with
  CheckpointMismatchError, which says how to start fresh.
"""

import copy
import json

import numpy as np
import pytest

import backprop as bp
from backprop import random as bp_random
from backprop.io import ModelFileError
from backprop.io.safefile import read_safetensors, write_safetensors
from backprop.training import EarlyStopping
from backprop.training.checkpoint import CheckpointMismatchError
from training_helpers import assert_same_weights, mlp, weights

EPOCHS = 4


def _data(seed=1, n=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    return X, y


def _fit(path, *, model=None, data=None, epochs=EPOCHS, **options):
    X, y = data or _data()
    model = model or mlp(2, 4, 2)
    settings = dict(loss="cross_entropy", optimizer="adam", epochs=epochs, batch_size=16, seed=3, verbose=0)
    settings.update(options)
    history = model.fit(X, y, checkpoint=path, callbacks=[EarlyStopping(monitor="loss", patience=50)], **settings)
    return model, history


@pytest.fixture
def valid(tmp_path):
    """A checkpoint written after 2 of 4 epochs: (path, tensors, record)."""
    path = tmp_path / "run.ckpt"
    _fit(path, epochs=2)
    tensors, metadata = read_safetensors(path, kind="checkpoint")
    record = json.loads(metadata["checkpoint"])
    record["finished"] = False
    record["fingerprint"]["epochs"] = EPOCHS
    write_safetensors(path, tensors, {"checkpoint": json.dumps(record)}, kind="checkpoint")
    return path, tensors, record


def _set(record, dotted, value):
    keys = dotted.split(".")
    target = record
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[int(keys[-1]) if isinstance(target, list) else keys[-1]] = value


_DELETE = object()

# (what is changed, to what) — each must be refused as ModelFileError.
CRAFTED_RECORDS = [
    ("version", 3), ("version", "1"), ("version", 1), ("epoch", -5), ("epoch", 10 ** 9), ("epoch", 1.5),
    ("epoch", "2"), ("epoch", True), ("finished", "no"), ("stop_training", None), ("data_position", [0, 0]),
    ("state_shapes", []), ("state_shapes.0.W", [2]), ("architecture", "Dense"), ("loss", 3),
    ("classes", {"dtype": "object", "values": [1]}), ("classes", [0, 1]), ("n_features_in", -1),
    ("optimizer", "Adam"), ("optimizer.class", ["Adam"]), ("optimizer.state", None),
    ("optimizer.state.param_groups", {}), ("optimizer.state.param_groups.0.params", "all"),
    ("optimizer.state.param_groups.0.lr", float("inf")), ("optimizer.state.param_groups.0.lr", -1.0),
    ("optimizer.state.param_groups.0.lr", "fast"), ("optimizer.state.param_groups.0.evil", 1),
    ("optimizer.state.param_groups.0.betas", [0.9]), ("optimizer.state.state.0.step", -3),
    ("optimizer.state.state.0.step", "x"), ("optimizer.state.state.0.exp_avg", {"__ndarray__": "missing"}),
    ("optimizer.state.state.0.bogus", 1), ("optimizer.state.state.9", {"step": 1}),
    ("random_state.bit_generator", "seed"), ("random_state.bit_generator", "default_rng"),
    ("random_state.bit_generator", ["PCG64"]), ("random_state.state", "x"), ("random_state", None),
    ("history", []), ("history.history.loss", ["x"]), ("history.epoch", "0"),
    ("callbacks", {}), ("callbacks.0", "EarlyStopping"), ("callbacks.0.state", {"wait": "x"}),
    ("fingerprint", None), ("fingerprint.epochs", -1), ("fingerprint.seed", "three"),
    ("fingerprint.batch_size", 0), ("fingerprint.data", "same"), ("random_state", _DELETE), ("epoch", _DELETE),
    ("fingerprint.data", _DELETE), ("extra", 1), ("fingerprint.class_weight", ["x"]),
    ("fingerprint.class_weight", [-1.0]), ("fingerprint.class_weight", {"0": 1.0}), ("fingerprint.other", 1),
]


def _state_of_the_world(model):
    return weights(model), json.dumps(bp_random.get_state()), np.random.get_state()[1].copy()


def _assert_unchanged(model, before):
    after = _state_of_the_world(model)
    assert_same_weights(before[0], after[0])
    assert before[1] == after[1], "the library's random state changed"
    np.testing.assert_array_equal(before[2], after[2], err_msg="NumPy's global random state changed")


@pytest.mark.parametrize("dotted, value", CRAFTED_RECORDS, ids=[f"{k}={str(v)[:12]}" for k, v in CRAFTED_RECORDS])
def test_a_crafted_checkpoint_is_refused_and_changes_nothing(valid, dotted, value):
    path, tensors, record = valid
    if dotted == "extra":
        record = dict(record, extra=1)
    else:
        record = copy.deepcopy(record)
        if dotted.startswith("state_shapes.0."):  # (state-dict names hold dots themselves)
            record["state_shapes"][sorted(record["state_shapes"])[0]] = value
        else:
            _set(record, dotted, value)
    write_safetensors(path, tensors, {"checkpoint": json.dumps(record)}, kind="checkpoint")
    model = mlp(2, 4, 2, seed=7)
    np.random.seed(11)
    before = _state_of_the_world(model)
    with pytest.raises(ModelFileError) as caught:
        _fit(path, model=model)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    _assert_unchanged(model, before)


def _crafted_tensors(tensors):
    name = sorted(k for k in tensors if k.startswith("model."))[0]
    optimizer_name = sorted(k for k in tensors if k.startswith("optimizer."))[0]
    yield "NaN weight", {**tensors, name: np.full_like(tensors[name], np.nan)}
    yield "inf weight", {**tensors, name: np.full_like(tensors[name], np.inf)}
    yield "inf optimiser state", {**tensors, optimizer_name: np.full_like(tensors[optimizer_name], np.inf)}
    yield "wrong shape", {**tensors, name: np.zeros((7, 7), np.float32)}
    yield "missing tensor", {k: v for k, v in tensors.items() if k != name}
    yield "extra model tensor", {**tensors, "model.evil": np.zeros(3, np.float32)}
    yield "wrong optimiser state shape", {**tensors, optimizer_name: np.zeros(1, np.float32)}


CRAFTED_TENSORS = ["NaN weight", "inf weight", "inf optimiser state", "wrong shape", "missing tensor",
                   "extra model tensor", "wrong optimiser state shape"]


@pytest.mark.parametrize("case", CRAFTED_TENSORS)
def test_crafted_tensors_are_refused_and_change_nothing(valid, case):
    path, tensors, record = valid
    crafted = dict(_crafted_tensors(tensors))[case]
    write_safetensors(path, crafted, {"checkpoint": json.dumps(record)}, kind="checkpoint")
    model = mlp(2, 4, 2, seed=7)
    before = _state_of_the_world(model)
    with pytest.raises(ModelFileError):
        _fit(path, model=model)
    _assert_unchanged(model, before)


def test_the_valid_checkpoint_of_the_fixture_resumes(valid):
    path, _, _ = valid
    _, history = _fit(path)
    assert len(history.history["loss"]) == EPOCHS


def test_the_file_never_calls_what_it_names(valid):
    """`bit_generator: "seed"` used to call np.random.seed() and reset the global legacy stream."""
    path, tensors, record = valid
    record = copy.deepcopy(record)
    record["random_state"]["bit_generator"] = "seed"
    write_safetensors(path, tensors, {"checkpoint": json.dumps(record)}, kind="checkpoint")
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    with pytest.raises(ModelFileError, match="bit_generator must be one of"):
        _fit(path)
    assert np.random.random() == expected
    with pytest.raises(ValueError, match="bit_generator must be one of"):
        bp_random.set_state({"bit_generator": "seed"})


# ------------------------------------------------------------------ one run per checkpoint
OTHER_RUNS = [
    ("other data", dict(data=_data(seed=9)), "training data"),
    ("more rows", dict(data=_data(n=80)), "training data"),
    ("other labels", dict(data=(_data()[0], 1 - _data()[1])), "training data"),
    ("another learning rate", dict(optimizer=None), "optimiser's settings"),
    ("another batch size", dict(batch_size=8), "batch_size"),
    ("another seed", dict(seed=4), "seed"),
    ("no shuffling", dict(shuffle=False), "shuffle"),
    ("another loss", dict(loss="binary_cross_entropy_with_logits"), "loss"),
    ("another optimiser", dict(optimizer="sgd"), "optimiser is"),
    ("another architecture", dict(model="wide"), "architecture"),
    ("fewer epochs than run", dict(epochs=1), "already run 2 epochs"),
    ("class weights added", dict(class_weight={1: 2.0}), r"class_weight differs: checkpoint none, this fit \{0: 1.0, 1: 2.0\}"),
]


@pytest.mark.parametrize("label, change, named", OTHER_RUNS, ids=[case[0] for case in OTHER_RUNS])
def test_another_run_on_the_same_path_is_refused_saying_how_to_start_fresh(tmp_path, label, change, named):
    path = tmp_path / "run.ckpt"
    _fit(path, epochs=2)
    saved = path.read_bytes()
    change = dict(change)
    model = mlp(2, 8, 2) if change.pop("model", None) == "wide" else mlp(2, 4, 2, seed=8)
    if "optimizer" in change and change["optimizer"] is None:
        change["optimizer"] = bp.optim.Adam(model.parameters(), lr=0.05)
    before = weights(model)
    with pytest.raises(CheckpointMismatchError, match=named) as caught:
        _fit(path, model=model, **change)
    message = str(caught.value)
    assert "belongs to another training run" in message and "delete it or pass another checkpoint path" in message
    assert_same_weights(before, weights(model))  # nothing trained, nothing restored
    assert path.read_bytes() == saved  # and the checkpoint is kept


def test_the_issue_case_a_new_model_on_new_data_is_not_handed_the_old_result(tmp_path):
    """It used to return the first run's model without training."""
    path = tmp_path / "run.ckpt"
    _fit(path)
    X, y = _data(seed=5, n=90)
    with pytest.raises(CheckpointMismatchError):
        mlp(2, 4, 2, seed=1).fit(X, y, loss="cross_entropy", epochs=EPOCHS, batch_size=16, seed=3, verbose=0,
                                 checkpoint=path)


def test_class_weights_are_part_of_the_run(tmp_path):
    path = tmp_path / "run.ckpt"
    reference, _ = _fit(tmp_path / "reference.ckpt", class_weight={0: 3.0})
    _fit(path, epochs=2, class_weight={0: 3.0})
    record = json.loads(read_safetensors(path, kind="checkpoint")[1]["checkpoint"])
    assert record["fingerprint"]["class_weight"] == [3.0, 1.0]  # each class's weight, in the classes' order
    saved = path.read_bytes()
    for other, shown in [({0: 2.0}, r"\{0: 2.0, 1: 1.0\}"), (None, "none"), ("balanced", r"\{0: 1.0")]:
        with pytest.raises(CheckpointMismatchError, match=r"class_weight differs: checkpoint \{0: 3.0, 1: 1.0\}, "
                                                          f"this fit {shown}"):
            _fit(path, model=mlp(2, 4, 2, seed=8), class_weight=other)
    assert path.read_bytes() == saved
    # The same weights, written another way ({0: 3.0, 1: 1.0} is {0: 3.0}), continue the run.
    model, history = _fit(path, model=mlp(2, 4, 2, seed=99), class_weight={1: 1.0, 0: 3.0})
    assert len(history.history["loss"]) == EPOCHS
    assert_same_weights(weights(reference), weights(model))


def test_a_checkpoint_without_class_weights_resumes_without_them(valid):
    path, _, record = valid  # (what a run without class weights writes, as earlier checkpoints did)
    assert "class_weight" not in record["fingerprint"]
    model, history = _fit(path, model=mlp(2, 4, 2, seed=99))
    assert len(history.history["loss"]) == EPOCHS


def test_labels_the_checkpoint_never_saw_are_a_mismatch_not_a_crash(tmp_path):
    path = tmp_path / "run.ckpt"
    _fit(path, epochs=2)
    X, y = _data()
    with pytest.raises(CheckpointMismatchError, match="the data do not fit"):
        _fit(path, data=(X, y + 5))


def test_the_same_run_resumes_with_seed_omitted_and_more_epochs(tmp_path):
    path = tmp_path / "run.ckpt"
    reference, _ = _fit(tmp_path / "reference.ckpt", epochs=EPOCHS)
    _fit(path, epochs=2)
    model, history = _fit(path, epochs=EPOCHS, seed=None, model=mlp(2, 4, 2, seed=99))
    assert len(history.history["loss"]) == EPOCHS
    assert_same_weights(weights(reference), weights(model))


def test_bad_data_are_reported_as_bad_data_not_as_another_run(tmp_path):
    path = tmp_path / "run.ckpt"
    _fit(path, epochs=2)
    X, y = _data()
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN") as caught:
        _fit(path, data=(X, y))
    assert not isinstance(caught.value, CheckpointMismatchError)
