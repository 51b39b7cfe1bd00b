"""Model files: save/load round trips, the previous format version, and every hostile or mismatched
file refused without running code (read through ``bp.load``, which adds the fit record's checks)."""

import json
import os
import pickle
import struct

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.io import ModelFileError
from backprop.io.safefile import read_safetensors, write_safetensors
from backprop.training import FitRecord


def _model(seed=0):
    bp.manual_seed(seed)
    return nn.Sequential(nn.Dense(3, 8, activation="relu", weight_regularizer=nn.L2(1e-3)), nn.BatchNorm(8),
                         nn.Dropout(0.1), nn.Dense(8, 2))


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)


@pytest.fixture
def fitted(X):
    model = _model()
    y = np.where(X[:, 0] > 0, "up", "down")
    model.fit(X, y, loss="cross_entropy", epochs=3, batch_size=5, verbose=0)
    return model


def _raw_file(path, header: dict, data: bytes = b"", metadata=None, header_length=None, version="2"):
    """Write a hand-made safetensors file: u64 header length, JSON header, data."""
    header = dict(header)
    header["__metadata__"] = {"format": "backprop", "format_version": version, "kind": "model", **(metadata or {})}
    header_bytes = json.dumps(header).encode()
    length = len(header_bytes) if header_length is None else header_length
    path.write_bytes(struct.pack("<Q", length) + header_bytes + data)
    return path


# ---------------------------------------------------------------- round trips
def test_save_and_load_give_the_same_architecture_weights_and_predictions(tmp_path, fitted, X):
    path = tmp_path / "model.safetensors"
    bp.save(fitted, path, metadata={"preprocessing": {"mean": [1.0, 2.0]}, "note": "digits"})
    loaded, metadata = bp.load_with_metadata(path)
    assert nn.module_to_config(loaded) == nn.module_to_config(fitted)
    state, loaded_state = fitted.state_dict(), loaded.state_dict()
    assert list(state) == list(loaded_state)
    for key in state:
        np.testing.assert_array_equal(state[key], loaded_state[key])
        assert state[key].dtype == loaded_state[key].dtype
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(loaded.predict_classes(X), fitted.predict_classes(X))
    np.testing.assert_array_equal(loaded.classes_, ["down", "up"])
    assert loaded.fit_record == fitted.fit_record
    assert loaded.fit_record.loss == "cross_entropy" and loaded.n_features_in_ == 3
    assert metadata == {"preprocessing": {"mean": [1.0, 2.0]}, "note": "digits"}
    assert bp.load(path).predict(X).tolist() == fitted.predict(X).tolist()
    loaded_y = np.where(X[:, 0] > 0, "up", "down")
    assert loaded.evaluate(X, loaded_y)["loss"] == pytest.approx(fitted.evaluate(X, loaded_y)["loss"])


def test_model_save_method_delegates(tmp_path, fitted, X):
    path = tmp_path / "m.safetensors"
    fitted.save(path)
    np.testing.assert_array_equal(bp.load(path).predict(X), fitted.predict(X))


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array([False, True]), np.array([1.5, 2.5]),
                                     np.array(["a", "b"])])
def test_classes_keep_their_type(tmp_path, classes):
    model = _model()
    model.fit_record = FitRecord(classes=classes)
    bp.save(model, tmp_path / "m.safetensors")
    loaded = bp.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.classes_, classes)
    assert loaded.classes_.dtype.kind == classes.dtype.kind


def test_an_unfitted_model_round_trips_without_training_attributes(tmp_path, X):
    model = _model()
    bp.save(model, tmp_path / "m.safetensors")
    loaded, metadata = bp.load_with_metadata(tmp_path / "m.safetensors")
    assert metadata == {} and loaded.fit_record is None and not hasattr(loaded, "classes_")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_float64_model_stays_float64(tmp_path, X):
    model = nn.Sequential(nn.Dense(3, 2, dtype="float64"))
    bp.save(model, tmp_path / "m.safetensors")
    assert bp.load(tmp_path / "m.safetensors").state_dict()["0.W"].dtype == np.float64


def test_save_refuses_metadata_that_is_not_json(tmp_path, fitted):
    with pytest.raises(ValueError, match="JSON"):
        bp.save(fitted, tmp_path / "m.safetensors", metadata={"f": object()})
    with pytest.raises(TypeError):
        bp.save(fitted, tmp_path / "m.safetensors", metadata=["not", "a", "dict"])


def test_a_failed_save_keeps_the_previous_file(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    bp.save(fitted, path)
    before = path.read_bytes()

    class Unregistered(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="not registered"):
        bp.save(Unregistered(), path)
    with pytest.raises(ValueError):
        bp.save(fitted, path, metadata={"x": float("nan")})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]


# ------------------------------------------------------------ hostile files
class _CreatesMarker:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_payload_is_refused_and_never_run(tmp_path, protocol):
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_CreatesMarker(str(marker)), protocol=protocol))
    with pytest.raises(ModelFileError, match="pickle") as error:
        bp.load(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFileError, match="noise.safetensors"):
        bp.load(path)


def test_an_oversized_header_is_refused(tmp_path):
    path = _raw_file(tmp_path / "big.safetensors", {}, header_length=2**60)
    with pytest.raises(ModelFileError, match="header length"):
        bp.load(path)


def test_overlapping_offsets_are_refused(tmp_path):
    header = {"0.W": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "0.b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
    path = _raw_file(tmp_path / "overlap.safetensors", header, bytes(12))
    with pytest.raises(ModelFileError, match="overlap"):
        bp.load(path)


def test_offsets_that_leave_a_hole_are_refused(tmp_path):
    header = {"0.W": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
              "0.b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}
    path = _raw_file(tmp_path / "hole.safetensors", header, bytes(12))
    with pytest.raises(ModelFileError, match="hole"):
        bp.load(path)


def test_a_truncated_file_is_refused(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    bp.save(fitted, path)
    data = path.read_bytes()
    for keep in (4, 100, len(data) - 10):
        path.write_bytes(data[:keep])
        with pytest.raises(ModelFileError, match="m.safetensors"):
            bp.load(path)


def test_an_unknown_layer_type_is_refused_and_nothing_is_imported(tmp_path, fitted):
    path = tmp_path / "evil.safetensors"
    config = {"class_name": "Evil", "config": {"command": "rm -rf /"}}
    write_safetensors(path, fitted.state_dict(), {"config": json.dumps(config)}, kind="model")
    with pytest.raises(ModelFileError, match=r"evil.safetensors: invalid architecture config: unknown layer type 'Evil'"):
        bp.load(path)
    nested = {"class_name": "Sequential", "config": {"layers": [{"class_name": "os.system", "config": {}}]}}
    write_safetensors(path, {}, {"config": json.dumps(nested)}, kind="model")
    with pytest.raises(ModelFileError, match="unknown layer type 'os.system'"):
        bp.load(path)


def test_a_config_with_unknown_arguments_is_refused(tmp_path, fitted):
    config = nn.module_to_config(fitted)
    config["config"]["layers"][0]["config"]["__init__"] = "x"
    path = tmp_path / "m.safetensors"
    write_safetensors(path, fitted.state_dict(), {"config": json.dumps(config)}, kind="model")
    with pytest.raises(ModelFileError, match="invalid architecture config: .*unknown config keys"):
        bp.load(path)


def test_weights_must_match_the_architecture_exactly(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    config = json.dumps(nn.module_to_config(fitted))
    state = fitted.state_dict()
    missing = {k: v for k, v in state.items() if k != "3.b"}
    write_safetensors(path, missing, {"config": config}, kind="model")
    with pytest.raises(ModelFileError, match=r"missing \['3.b'\]"):
        bp.load(path)
    write_safetensors(path, {**state, "extra": np.zeros(1, np.float32)}, {"config": config}, kind="model")
    with pytest.raises(ModelFileError, match=r"unexpected \['extra'\]"):
        bp.load(path)
    write_safetensors(path, {**state, "0.W": np.zeros((3, 8), np.float32)}, {"config": config}, kind="model")
    with pytest.raises(ModelFileError, match=r"0.W: \(3, 8\) \(architecture: \(8, 3\)\)"):
        bp.load(path)


def test_a_missing_config_or_a_bad_fit_record_is_refused(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    write_safetensors(path, fitted.state_dict(), {}, kind="model")
    with pytest.raises(ModelFileError, match="'config' is missing"):
        bp.load(path)
    config = json.dumps(nn.module_to_config(fitted))
    bad = json.dumps({"loss": {"name": "cross_entropy", "config": {}}, "classes": {"dtype": "object", "values": ["x"]}})
    write_safetensors(path, fitted.state_dict(), {"config": config, "fit_record": bad}, kind="model")
    with pytest.raises(ModelFileError, match="classes"):
        bp.load(path)
    # The previous version's key is not this version's.
    write_safetensors(path, fitted.state_dict(), {"config": config, "training": json.dumps({})}, kind="model")
    with pytest.raises(ModelFileError, match="unknown metadata keys"):
        bp.load(path)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    import safetensors.numpy

    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({"0.W": np.zeros((2, 2), np.float32)}, str(path))
    with pytest.raises(ModelFileError, match="not a backprop file"):
        bp.load(path)


def test_the_file_is_plain_safetensors_with_json_metadata(tmp_path, fitted):
    path = tmp_path / "m.safetensors"
    bp.save(fitted, path, metadata={"a": 1})
    tensors, metadata = read_safetensors(path, kind="model")
    assert set(tensors) == set(fitted.state_dict())
    assert json.loads(metadata["config"]) == nn.module_to_config(fitted)
    assert json.loads(metadata["fit_record"]) == {
        "loss": {"name": "cross_entropy", "config": {}}, "classes": {"dtype": "str", "values": ["down", "up"]},
        "n_features_in": 3, "metrics": []}
    assert json.loads(metadata["user_metadata"]) == {"a": 1}


def _crafted_model_file(tmp_path, config, tensors=None, record=None):
    path = tmp_path / "crafted.safetensors"
    metadata = {"config": json.dumps(config)} if isinstance(config, (dict, list)) else {"config": config}
    if record is not None:
        metadata["fit_record"] = record
    write_safetensors(path, tensors or {"0.W": np.zeros((2, 2), np.float32)}, metadata, kind="model")
    return path


def test_a_huge_declared_layer_is_refused_before_anything_is_allocated(tmp_path):
    config = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "Dense", "config": {"in_features": 10**9, "out_features": 10**9}}]}}
    with pytest.raises(ModelFileError, match="declares"):
        bp.load(_crafted_model_file(tmp_path, config))


def test_deeply_nested_json_is_refused_cleanly(tmp_path):
    with pytest.raises(ModelFileError):
        bp.load(_crafted_model_file(tmp_path, "[" * 100000 + "]" * 100000))


def test_class_values_that_overflow_are_refused(tmp_path):
    fitted = _model()
    path = tmp_path / "ok.safetensors"
    bp.save(fitted, path)
    tensors, metadata = read_safetensors(path)
    record = json.dumps({"classes": {"dtype": "int64", "values": [10**30]}})
    with pytest.raises(ModelFileError, match="classes"):
        bp.load(_crafted_model_file(tmp_path, metadata["config"], tensors, record))


# ------------------------------------------------------------ version 1 files
def _version_1_file(path, model, training: dict):
    """A file as format version 1 wrote it: the fit facts under ``"training"``, the loss as a bare name."""
    state = model.state_dict()
    header, data, offset = {}, b"", 0
    for key, value in state.items():
        raw = np.ascontiguousarray(value).tobytes()
        tag = {"float32": "F32", "float64": "F64", "int64": "I64"}[str(value.dtype)]
        header[key] = {"dtype": tag, "shape": list(value.shape), "data_offsets": [offset, offset + len(raw)]}
        data, offset = data + raw, offset + len(raw)
    metadata = {"config": json.dumps(nn.module_to_config(model)), "training": json.dumps(training)}
    return _raw_file(path, header, data, metadata=metadata, version="1")


def test_a_version_1_file_loads_with_its_fit_record(tmp_path, fitted, X):
    training = {"loss": "cross_entropy", "classes": {"dtype": "str", "values": ["down", "up"]}, "n_features_in": 3}
    loaded = bp.load(_version_1_file(tmp_path / "v1.safetensors", fitted, training))
    assert loaded.fit_record == FitRecord(loss="cross_entropy", classes=np.array(["down", "up"]), n_features_in=3)
    np.testing.assert_array_equal(loaded.predict_classes(X), fitted.predict_classes(X))


@pytest.mark.parametrize("training, match", [
    ({"loss": {"name": "cross_entropy"}}, "training.loss"),
    ({"loss": "hinge"}, "loss"),
    ({"loss": "mse", "metrics": ["mae"]}, "unknown keys"),
    ({"loss": "cross_entropy", "classes": {"dtype": "str", "values": ["a", "b", "c"]}}, "3 classes"),
])
def test_a_bad_version_1_training_entry_is_refused(tmp_path, fitted, training, match):
    with pytest.raises(ModelFileError, match=match):
        bp.load(_version_1_file(tmp_path / "v1.safetensors", fitted, training))


def test_a_version_2_entry_in_a_version_1_file_is_refused(tmp_path, fitted):
    path = _version_1_file(tmp_path / "v1.safetensors", fitted, {})
    tensors, metadata = read_safetensors(path)
    _raw_file(path, {}, metadata={"config": metadata["config"], "fit_record": "{}"}, version="1")
    with pytest.raises(ModelFileError, match="unknown metadata keys"):
        bp.load(path)
