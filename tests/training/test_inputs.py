"""What a model takes as X: features, codes or one input per branch, checked before work; the
InputSet's rows sliced, gathered and batched together."""

import contextlib

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.training.data import EpochBatches
from backprop.training.input_set import InputSet, empty_rows, model_input, take_rows
from backprop.training.inputs import check_inputs, entry_layer, input_kind

F32 = np.float32


def _branched():
    return nn.Sequential(nn.Concat({"city": nn.Embedding(5, 2), "x": nn.Dense(3, 2)}), nn.Dense(4, 1))


def test_the_first_layer_says_what_the_model_takes():
    assert input_kind(nn.Sequential(nn.Dense(2, 1))) == "features"
    assert input_kind(bp.Model(nn.Sequential(nn.Sequential(nn.Embedding(3, 2)), nn.Dense(2, 1)))) == "codes"
    model = _branched()
    assert input_kind(model) == "branches" and entry_layer(model) is model[0]
    assert input_kind(nn.Sequential()) == "features"


def test_features_are_converted_and_one_array_of_rows_is_still_one_array():
    model = nn.Sequential(nn.Dense(2, 1))
    for X in ([[0, 1], [1, 0]], ((0, 1), (1, 0)), np.array([[0, 1], [1, 0]])):
        checked = check_inputs(model, X, dtype=F32)
        assert isinstance(checked, np.ndarray) and checked.dtype == F32 and checked.shape == (2, 2)
    with pytest.raises(ValueError, match="is a dict of 2 inputs, but the model's first layer \\(Dense\\) takes one"):
        check_inputs(model, {"a": np.ones((2, 2)), "b": np.ones((2, 2))}, dtype=F32)
    with pytest.raises(ValueError, match="tuple of 2 inputs"):
        check_inputs(model, (np.ones((2, 2)), np.ones((2, 2))), dtype=F32)


def test_codes_stay_integers_and_are_checked_against_the_layer():
    model = nn.Sequential(nn.Embedding(4, 2), nn.Flatten(), nn.Dense(4, 1))
    codes = np.array([[0, 3], [2, 1]], dtype=np.int32)
    checked = check_inputs(model, codes, dtype=F32, n_features=2)
    assert checked.dtype == np.int32 and checked is codes  # read, never copied or modified
    assert check_inputs(model, [[0, 1]], dtype=F32).dtype.kind == "i"
    with pytest.raises(ValueError, match="3 code columns, but the model expects 2"):
        check_inputs(model, np.zeros((2, 3), int), dtype=F32, n_features=2)
    with pytest.raises(ValueError, match=r"Embedding: X codes must lie in \[0, 3\]"):
        check_inputs(model, codes + 1, dtype=F32)
    with pytest.raises(ValueError, match="empty"):
        check_inputs(model, np.zeros((0, 2), int), dtype=F32)


def test_branches_are_checked_one_by_one_and_must_have_the_same_rows():
    model = _branched()
    city, x = np.array([0, 4, 2]), np.ones((3, 3))
    checked = check_inputs(model, {"x": x, "city": city}, dtype=F32)
    assert isinstance(checked, InputSet) and checked.keys == ("city", "x") and len(checked) == 3
    assert checked.arrays[0].dtype.kind == "i" and checked.arrays[1].dtype == F32
    assert check_inputs(model, (city, x), dtype=F32).keys is None
    with pytest.raises(ValueError, match=r"X\['x'\] has 2 features, but the model expects 3"):
        check_inputs(model, {"city": city, "x": np.ones((3, 2))}, dtype=F32)
    with pytest.raises(ValueError, match=r"X\['x'\] contains 1 NaN"):
        check_inputs(model, {"city": city, "x": np.where(np.eye(3) * [1, 0, 0] > 0, np.nan, x)}, dtype=F32)
    with pytest.raises(ValueError, match="different numbers of examples"):
        check_inputs(model, {"city": city[:2], "x": x}, dtype=F32)
    with pytest.raises(ValueError, match=r"validation X\['city'\]"):
        check_inputs(model, {"city": city.astype(float), "x": x}, dtype=F32, name="validation X")
    with pytest.raises(ValueError, match="must be a tuple or dict of 2 arrays"):
        check_inputs(model, x, dtype=F32)
    nested = nn.Sequential(nn.Concat({"a": nn.Concat({"b": nn.Identity()}), "c": nn.Identity()}))
    with pytest.raises(ValueError, match="nested branches"):
        check_inputs(nested, {"a": {"b": x}, "c": x}, dtype=F32)


def test_a_pandas_frame_can_be_a_branch():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"u": [1.0, 2.0, 3.0], "v": [0.0, 1.0, 0.5], "w": [1, 2, 3]})
    checked = check_inputs(_branched(), {"city": pd.Series([0, 1, 2]), "x": frame}, dtype=F32)
    np.testing.assert_array_equal(checked.arrays[1], frame.to_numpy(dtype=F32))


def test_an_input_set_slices_and_gathers_every_array_with_the_same_rows():
    a, b = np.arange(10).reshape(5, 2), np.arange(5) * 10
    inputs = InputSet([a, b], keys=("a", "b"))
    part = inputs[1:3]
    np.testing.assert_array_equal(part.arrays[0], a[1:3])
    np.testing.assert_array_equal(part.arrays[1], b[1:3])
    index = np.array([4, 0, 2])
    buffer = empty_rows(inputs, 3)
    taken = take_rows(inputs, index, out=buffer)
    assert taken is buffer and np.array_equal(taken.arrays[1], b[index]) and np.array_equal(taken.arrays[0], a[index])
    fed = model_input(InputSet([a.astype(F32), b], ("a", "b")))
    assert isinstance(fed["a"], bp.Tensor) and isinstance(fed["b"], np.ndarray)
    with pytest.raises(ValueError, match="different numbers of rows"):
        InputSet([a, b[:3]])


@pytest.mark.parametrize("jit_on", [True, False])
@pytest.mark.parametrize("shape, dtype", [((40, 7), np.float32), ((40, 7), np.float64), ((40, 2, 3, 3), np.float32),
                                          ((40, 5), np.int64), ((40, 5), np.float16)])
def test_take_rows_into_a_buffer_equals_np_take(jit_on, shape, dtype):
    """The compiled gather (float arrays) and np.take (the rest) give np.take's rows, clipped indices included."""
    from backprop import jit

    source = (np.random.default_rng(0).standard_normal(shape) * 10).astype(dtype)
    kept = source.copy()
    index = np.random.default_rng(1).permutation(40)[:17]
    index[[3, 9]] = [-5, 99]  # outside: clipped, as np.take(mode="clip")
    out = empty_rows(source, 17)
    with (jit.disabled() if not jit_on else contextlib.nullcontext()):
        taken = take_rows(source, index, out=out)
    assert taken is out
    np.testing.assert_array_equal(out, np.take(source, index, axis=0, mode="clip"))
    np.testing.assert_array_equal(source, kept)


def test_shuffled_batches_pair_the_rows_of_every_input():
    rows = np.arange(23)
    inputs = InputSet([rows.reshape(-1, 1) * 1.0, rows * 2])
    target = rows * 3.0
    batches = EpochBatches([inputs, target], batch_size=5, shuffle=True)
    X, y = batches.start_epoch(np.random.default_rng(0))
    seen = []
    for start, stop in batches.bounds():
        part = X[start:stop]
        np.testing.assert_array_equal(part.arrays[1], 2 * part.arrays[0][:, 0])
        np.testing.assert_array_equal(y[start:stop], 3 * part.arrays[0][:, 0])
        seen += part.arrays[1].tolist()
    assert sorted(seen) == (rows * 2).tolist()
