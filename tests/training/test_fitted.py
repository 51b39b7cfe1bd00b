"""FitRecord: one declared record of what fit learnt, its JSON form checked value by value."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.io import ModelFileError
from backprop.losses import LOSSES, get_loss
from backprop.training import FitRecord, predict_proba
from backprop.training.fitted import decode_classes, encode_classes, fit_record_of, keeps_fit_record


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_registered_loss_round_trips_by_name(loss):
    # Iterates the loss registry: a new loss is covered without editing this test.
    function = LOSSES.get(loss)()
    record = FitRecord.of_fit(function, n_features_in=4)
    assert record.loss == loss and record.loss_function is function
    loaded = FitRecord.from_json(record.to_json(), "f")
    assert loaded == record and loaded.loss_function is None
    assert get_loss(loaded.loss_spec) == function and loaded.loss_object == function and loaded.kind == function.kind


@pytest.mark.parametrize("classes", [np.array([0, 1, 2]), np.array([False, True]), np.array([0.5, 1.5]),
                                     np.array(["cat", "dog"])])
def test_classes_round_trip_with_their_kind(classes):
    decoded = decode_classes(encode_classes(classes), "f")
    assert decoded.dtype.kind == classes.dtype.kind and decoded.tolist() == classes.tolist()
    if classes.dtype.kind != "U":  # labels 0, 1 and "0", "1" name different classes
        assert FitRecord(classes=classes) != FitRecord(classes=classes.astype(str))


@pytest.mark.parametrize("data, match", [
    ([], "JSON object"),
    ({"loss": None, "extra": 1}, "unknown keys"),
    ({"loss": "mse"}, "'loss' must be"),
    ({"loss": {"name": "nope", "config": {}}}, "must name one of"),
    ({"loss": {"name": "mse", "config": {"delta": 1}}}, "refused by mse"),
    ({"n_features_in": 0}, "n_features_in"),
    ({"metrics": ["accuracy", "nope"]}, "unknown metric"),
    ({"classes": {"dtype": "str", "values": ["a", "a"]}}, "distinct"),
])
def test_a_bad_record_is_refused_naming_the_entry(data, match):
    with pytest.raises(ModelFileError, match=match) as error:
        FitRecord.from_json(data, "model.safetensors")
    assert "model.safetensors" in str(error.value)


def test_the_record_is_checked_against_the_model():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(3, 4), nn.Dense(4, 2))
    FitRecord(loss="cross_entropy", classes=np.array(["a", "b"]), n_features_in=3).check_against(model, "f")
    for record, match in [
        (FitRecord(loss="cross_entropy", classes=np.array(["a", "b", "c"])), "3 classes"),
        (FitRecord(loss="mse", classes=np.array([0, 1])), "regression"),
        (FitRecord(n_features_in=5), "first layer takes 3"),
        (FitRecord(n_features_in=2**40), "limit"),
    ]:
        with pytest.raises(ModelFileError, match=match):
            record.check_against(model, "f")


def test_only_a_model_keeps_a_record():
    dense, model = nn.Dense(2, 1), bp.Model(nn.Dense(2, 1))
    assert not keeps_fit_record(dense) and fit_record_of(dense) is None
    assert keeps_fit_record(model) and fit_record_of(model) is None
    model.fit_record = FitRecord(loss="binary_cross_entropy_with_logits", classes=np.array(["no", "yes"]))
    assert fit_record_of(model) is model.fit_record
    assert predict_proba(model, np.zeros((3, 2))).shape == (3, 2)
    with pytest.raises(TypeError, match="FitRecord"):
        predict_proba(dense, np.zeros((3, 2)), record={"loss": "mse"})
