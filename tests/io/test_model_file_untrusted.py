"""Untrusted model files: bounded memory and time, one error type, no self-contradicting file loads.

Every crafted file here must be refused by ``bp.load`` with a short ModelFileError naming the
file, before anything large is allocated (measured with tracemalloc, which sees NumPy's
allocations), and a seeded mutation loop over valid files of several architectures checks
that nothing but ModelFileError ever escapes.
"""

import copy
import json
import random
import struct
import time
import tracemalloc

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.io import ModelFileError, model_file
from backprop.io.safefile import FORMAT_VERSION, read_safetensors, write_safetensors
from model_examples import ARCHITECTURES, EXAMPLE_INPUTS, builtin_layer_names, layer_examples

PEAK_LIMIT = 50 * 2**20
TIME_LIMIT = 2.0
MAX_MESSAGE = 600
PEAKS = []  # every crafted file's peak, reported by the last test


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{architecture: (tensors, metadata as decoded JSON)} of a valid saved file of each."""
    directory = tmp_path_factory.mktemp("valid")
    files = {}
    for name, build in ARCHITECTURES.items():
        path = directory / f"{name}.safetensors"
        bp.save(build(), path, metadata={"note": name, "preprocessing": {"mean": [0.5, 1.5]}})
        tensors, metadata = read_safetensors(path, kind="model")
        decoded = {key: json.loads(metadata[key]) for key in ("config", "fit_record", "user_metadata")
                   if key in metadata}  # a model never fit has no fit record
        files[name] = (tensors, decoded)
    return files


EMPTY_RECORD = {"loss": None, "classes": None, "n_features_in": None, "metrics": []}


def _write(path, tensors, config, record=None, user=None, raw=None):
    """A model file with these tensors and JSON entries (``raw``: entries given as strings)."""
    metadata = {"config": json.dumps(config)}
    if record is not None:
        metadata["fit_record"] = json.dumps(record)
    if user is not None:
        metadata["user_metadata"] = json.dumps(user)
    metadata.update(raw or {})
    write_safetensors(path, tensors, metadata, kind="model")
    return path


def _refused(path, match=None):
    """Load ``path``: it must raise a short ModelFileError naming it, within the time and memory bounds.

    Timed without tracemalloc (which slows Python allocations several times), then measured with it.
    """
    start = time.perf_counter()
    with pytest.raises(ModelFileError):
        bp.load(path)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as error:
            bp.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    PEAKS.append(peak)
    message = str(error.value)
    assert str(path) in message and len(message) < MAX_MESSAGE + len(str(path)), message[:1000]
    assert "\n" not in message
    if match is not None:
        assert match in message, message
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"
    assert elapsed < TIME_LIMIT
    return message, peak


def _dense(n_in, n_out, **extra):
    return {"class_name": "Dense", "config": {"in_features": n_in, "out_features": n_out, **extra}}


def _sequential(*layers):
    return {"class_name": "Sequential", "config": {"layers": list(layers)}}


TINY = {"0.W": np.zeros((2, 2), np.float32)}


# ------------------------------------------------- every registered layer, 10⁹ units
def test_tracemalloc_sees_numpy_allocations():
    # The memory bound below is only as good as the measurement: NumPy reports its buffers.
    tracemalloc.start()
    try:
        array = np.ones(10**7)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak >= array.nbytes


def test_every_builtin_layer_appears_in_the_examples_and_states_its_shapes():
    examples = layer_examples()
    missing = [name for name in builtin_layer_names() if name not in examples]
    assert not missing, f"add an instance of {missing} to tests/io/model_examples.py"
    for name, module in examples.items():
        declared = nn.get_module_class(name).state_shapes(module.get_config())
        assert {key: tuple(shape) for key, shape in declared.items()} == \
            {key: value.shape for key, value in module.state_dict().items()}, name


def _inflated(value, units):
    """``value`` with every int (not bool) in it replaced by ``units``."""
    if isinstance(value, dict):
        return {key: _inflated(item, units) for key, item in value.items()}
    if isinstance(value, list):
        return [_inflated(item, units) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return units
    return value


def _huge_configs(name):
    """Crafted architectures asking for 10⁹ units of layer ``name``: its own sizes, and after a wide Dense."""
    description = nn.module_to_config(layer_examples()[name])
    huge = _inflated(description, 10**9)
    configs = {"after a Dense(4, 10**9)": _sequential(_dense(4, 10**9), huge)}
    if huge != description:
        configs["own sizes"] = huge
        configs["own sizes, in a Sequential"] = _sequential(huge)
    return configs


@pytest.mark.parametrize("name", builtin_layer_names())
def test_a_config_asking_for_a_billion_units_is_refused_in_bounded_memory(tmp_path, name):
    for label, config in _huge_configs(name).items():
        path = _write(tmp_path / f"{name}.safetensors", TINY, config)
        message, peak = _refused(path)
        assert peak < PEAK_LIMIT, label


def test_a_billion_units_of_every_dense_and_batchnorm_size_with_matching_tensor_names(tmp_path):
    # The tensor names match; only the shapes lie.
    tensors = {"0.W": np.zeros((2, 2), np.float32), "0.b": np.zeros(2, np.float32)}
    for config in (_dense(10**9, 2), _dense(2, 10**9), _sequential(_dense(10**9, 10**9))):
        _refused(_write(tmp_path / "m.safetensors", tensors if "layers" not in config["config"] else
                        {"0." + k: v for k, v in tensors.items()}, config), match="architecture")


# ----------------------------------------------------------- crafted files of the issue
BAD_SIZES = ["leaky_relu", [1, 2], 2e8, 2.0, 2**40, 10**30, -5, 0, True, None, {"a": 1}]


@pytest.mark.parametrize("size", BAD_SIZES, ids=repr)
def test_a_size_of_the_wrong_type_or_range_is_refused(tmp_path, size):
    for config in (_sequential(_dense(size, 2)), _sequential(_dense(2, size)),
                   _sequential({"class_name": "BatchNorm", "config": {"num_features": size}})):
        _refused(_write(tmp_path / "m.safetensors", TINY, config))


def test_a_later_negative_size_does_not_cancel_an_earlier_huge_one(tmp_path):
    config = _sequential(_dense(2, 15000), _dense(15000, 15000), _dense(15000, -15000))
    _refused(_write(tmp_path / "m.safetensors", TINY, config), match="out_features must be a positive int")


def test_a_registered_layer_that_does_not_state_its_shapes_is_refused(tmp_path):
    @nn.register_module
    class ShapelessForTest(nn.Module):
        def __init__(self, units):
            super().__init__()
            self.units = units
            self.W = nn.Parameter(np.zeros((units, units), np.float32))

        def get_config(self):
            return {"units": self.units}

    with pytest.raises(ValueError, match="state_shapes"):
        bp.save(ShapelessForTest(2), tmp_path / "s.safetensors")
    config = _sequential({"class_name": "ShapelessForTest", "config": {"units": 15000}})
    _refused(_write(tmp_path / "m.safetensors", TINY, config), match="state_shapes")


def test_a_huge_activation_name_is_refused_quickly_with_a_short_message(tmp_path):
    for length in (10**6, 5 * 10**6):  # the string limit; and 40 MB: the header limit
        config = _sequential(_dense(2, 2, activation="x" * length))
        _refused(_write(tmp_path / "m.safetensors", TINY, config), match="longer than")
    config = _sequential(_dense(2, 2, activation="x" * 40 * 10**6))
    _refused(_write(tmp_path / "m.safetensors", TINY, config), match="header length")


def test_the_suggester_costs_nothing_for_a_huge_name():
    start = time.perf_counter()
    with pytest.raises(ValueError) as error:
        nn.Dense(2, 2, activation="r" * 10**7)
    assert time.perf_counter() - start < 0.5 and len(str(error.value)) < 300
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        nn.Dense(2, 2, activation="rleu")


@pytest.mark.parametrize("class_name", [["Dense"], {"Dense": 1}, 3, None, "x" * 200, "os.system"], ids=repr)
def test_an_unhashable_or_unknown_class_name_is_refused(tmp_path, class_name):
    config = _sequential({"class_name": class_name, "config": {}})
    _refused(_write(tmp_path / "m.safetensors", TINY, config))
    _refused(_write(tmp_path / "m.safetensors", TINY, {"class_name": class_name, "config": {}}))


@pytest.mark.parametrize("classes", [
    {"dtype": ["str"], "values": ["a", "b"]}, {"dtype": {"a": 1}, "values": []}, {"dtype": "object", "values": []},
    {"dtype": "str", "values": "ab"}, {"dtype": "str", "values": ["a", "a"]}, {"dtype": "str", "values": ["a", 1]},
    {"dtype": "str", "values": ["x" * 2000, "b"]}, {"dtype": "int64", "values": [10**30, 1]},
    {"dtype": "float64", "values": [1.0, float("nan")]}, {"dtype": "bool", "values": [0, 1]}, ["a", "b"],
    {"dtype": "int64", "values": list(range(200_000))},
], ids=lambda c: json.dumps(c)[:40])
def test_malformed_classes_are_refused(tmp_path, saved, classes):
    tensors, decoded = saved["classifier"]
    record = {**decoded["fit_record"], "classes": classes}
    _refused(_write(tmp_path / "m.safetensors", tensors, decoded["config"], record))


CONFIG_VALUES = [float("nan"), float("inf"), -float("inf"), 10**30, "x" * 500, [[[[[]]]]] * 3]


@pytest.mark.parametrize("value", CONFIG_VALUES, ids=lambda v: repr(v)[:20])
def test_non_finite_huge_or_long_config_values_are_refused(tmp_path, saved, value):
    tensors, decoded = saved["binary"]
    for key in ("momentum", "eps", "extra_key"):
        config = copy.deepcopy(decoded["config"])
        config["config"]["layers"][1]["config"][key] = value
        _refused(_write(tmp_path / "m.safetensors", tensors, config, decoded["fit_record"]))


def test_limits_on_layers_tensors_depth_and_names(tmp_path):
    identities = _sequential(*[{"class_name": "Identity", "config": {}}] * (model_file.MAX_LAYERS + 1))
    _refused(_write(tmp_path / "m.safetensors", {}, identities), match="layers")
    many = {f"t{i}": np.zeros(0, np.float32) for i in range(model_file.MAX_TENSORS + 1)}
    _refused(_write(tmp_path / "m.safetensors", many, _sequential()), match="tensors")
    nested = {"class_name": "Identity", "config": {}}
    for _ in range(40):
        nested = _sequential(nested)
    _refused(_write(tmp_path / "m.safetensors", {}, nested), match="nested deeper")
    _refused(_write(tmp_path / "m.safetensors", {"n" * 300: np.zeros(1, np.float32)}, _sequential()),
             match="tensor name")
    _refused(_write(tmp_path / "m.safetensors", {"0": np.zeros(1, np.complex64)}, _sequential()), match="dtype")


def test_a_header_with_too_many_json_values_is_refused_before_it_is_parsed(tmp_path):
    path = _write(tmp_path / "m.safetensors", {}, _sequential(), raw={"user_metadata": "[" + "0," * 1_100_000 + "0]"})
    _refused(path, match="JSON values")


def test_unknown_metadata_and_fit_record_keys_and_bad_user_metadata_are_refused(tmp_path, saved):
    tensors, decoded = saved["classifier"]
    config, record = decoded["config"], decoded["fit_record"]
    _refused(_write(tmp_path / "m.safetensors", tensors, config, record, raw={"exec": "x"}), match="unknown")
    _refused(_write(tmp_path / "m.safetensors", tensors, config, {**record, "code": 1}), match="unknown")
    _refused(_write(tmp_path / "m.safetensors", tensors, config, record, user=[1, 2]), match="user_metadata")
    _refused(_write(tmp_path / "m.safetensors", tensors, config, record, raw={"user_metadata": '{"a": NaN}'}),
             match="finite")
    for n_features in ("4", 0, -1, True, 4.0):
        _refused(_write(tmp_path / "m.safetensors", tensors, config, {**record, "n_features_in": n_features}),
                 match="n_features_in")
    for metrics in ("accuracy", ["no_such_metric"], [1], {"a": 1}):
        _refused(_write(tmp_path / "m.safetensors", tensors, config, {**record, "metrics": metrics}), match="metric")
    for loss in ("cross_entropy", {"name": "cross_entropy", "code": 1}, {"config": {}}, {"name": 3},
                 {"name": "cross_entropy", "config": [1]}, {"name": "cross_entropy", "config": {"delta": 2}}):
        _refused(_write(tmp_path / "m.safetensors", tensors, config, {**record, "loss": loss}), match="loss")


# --------------------------------------------------------- files that contradict themselves
def _file_with(tmp_path, saved, architecture, *, config_edit=None, record_edit=None, tensors_edit=None):
    tensors, decoded = saved[architecture]
    config, record = copy.deepcopy(decoded["config"]), dict(decoded.get("fit_record") or EMPTY_RECORD)
    tensors = dict(tensors)
    if config_edit:
        config_edit(config)
    record.update(record_edit or {})
    if tensors_edit:
        tensors_edit(tensors)
    return _write(tmp_path / "contradiction.safetensors", tensors, config, record)


def _layer(config, index):
    return config["config"]["layers"][index]["config"]


CONTRADICTIONS = {
    "classes count differs from the outputs": (
        "classifier", dict(record_edit={"classes": {"dtype": "str", "values": ["a", "b"]}}), "2 classes"),
    "four classes for one binary output": (
        "binary", dict(record_edit={"classes": {"dtype": "int64", "values": [0, 1, 2, 3]}}), "4 classes"),
    "classes with a regression loss": (
        "regressor", dict(record_edit={"classes": {"dtype": "int64", "values": [0, 1]}}), "regression"),
    "n_features_in differs from the first layer": (
        "classifier", dict(record_edit={"n_features_in": 5}), "n_features_in"),
    "softmax axis out of range in a Dense": (
        "classifier", dict(config_edit=lambda c: _layer(c, 1).update(activation={"name": "softmax", "axis": 3})),
        "axis must be in [-2, 1]"),
    "softmax axis out of range in a Softmax layer": (
        "classifier", dict(config_edit=lambda c: c["config"]["layers"].append(
            {"class_name": "Softmax", "config": {"axis": 2}})), "cannot run"),
    "softmax axis out of range in a Softmax layer, no n_features_in": (
        "classifier", dict(config_edit=lambda c: c["config"]["layers"].append(
            {"class_name": "Softmax", "config": {"axis": -3}}), record_edit={"n_features_in": None}),
        "cannot run"),
    "softmax axis out of range in a Dense, no input size known": (
        "everything", dict(config_edit=lambda c: _layer(c, 4).update(activation={"name": "softmax", "axis": 7})),
        "axis must be in [-2, 1]"),
    "huge n_features_in with no first layer size to compare": (
        "everything", dict(record_edit={"n_features_in": 2**40}), "n_features_in"),
    "softmax axis beyond NumPy's dimensions": (
        "everything", dict(config_edit=lambda c: _layer(c, 12).update(axis=10**6)), "axis"),
    "leaky_relu slope NaN in a Dense": (
        "everything", dict(config_edit=lambda c: _layer(c, 1).update(
            activation={"name": "leaky_relu", "negative_slope": float("nan")})), "finite"),
    "leaky_relu slope NaN in a LeakyReLU layer": (
        "everything", dict(config_edit=lambda c: _layer(c, 3)["layers"][2]["config"].update(
            negative_slope=float("nan"))), "finite"),
    "loss not in the registry": ("classifier", dict(record_edit={"loss": {"name": "hinge", "config": {}}}),
                                 "'loss' must name one of"),
    "loss alias rather than the registry name": (
        "classifier", dict(record_edit={"loss": {"name": "log_loss", "config": {}}}), "'loss' must name one of"),
    "NaN weights": ("classifier", dict(tensors_edit=lambda t: t.update({"0.W": np.full((6, 4), np.nan, np.float32)})),
                    "NaN"),
    "infinite running variance": (
        "binary", dict(tensors_edit=lambda t: t.update({"1.running_var": np.full(5, np.inf, np.float32)})), "NaN"),
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_a_file_that_contradicts_itself_is_refused_at_load(tmp_path, saved, case):
    architecture, edits, match = CONTRADICTIONS[case]
    _refused(_file_with(tmp_path, saved, architecture, **edits), match=match)


INPUT_SHAPES = {"images": (1, 8, 8), "sequences": (2, 12)}  # one example of the models that take no rows


def test_the_unedited_files_load_and_predict(tmp_path, saved):
    for name in ARCHITECTURES:
        model = bp.load(_file_with(tmp_path, saved, name))
        if name in EXAMPLE_INPUTS:  # one array per branch
            X = EXAMPLE_INPUTS[name](np.random.default_rng(0), 2)
        else:
            X = np.zeros((2, *INPUT_SHAPES.get(name, (model.expected_in_features() or 6,))))
        assert np.isfinite(model.predict(X)).all()


# ------------------------------------------- window sizes of image models (conv and pool configs)
# images(): 0 Conv2d(1, 3, 3, padding=1), 1 MaxPool2d(2), 2 AvgPool2d(2, stride=1), 3 Conv2d(3, 4, (2, 1)), ...
HUGE = 10**9
WINDOWS_REFUSED_AT_LOAD = {
    "conv padding 10⁹": (0, {"padding": HUGE}),
    "conv padding 10⁹ on one axis": (3, {"padding": [0, HUGE]}),
    "conv padding beyond d·(k − 1) + s − 1": (0, {"padding": 2}),
    "conv padding 10⁹ with a huge stride": (0, {"padding": HUGE, "stride": HUGE}),
    "conv padding 10⁹ with a huge dilation": (0, {"padding": HUGE, "dilation": 3}),
    "conv kernel size not the stored W's": (0, {"kernel_size": HUGE}),
    "conv stride of the wrong type": (0, {"stride": [1.5, 1]}),
    "conv dilation 0": (3, {"dilation": 0}),
    "max pool padding 10⁹": (1, {"padding": HUGE}),
    "max pool padding more than half a huge kernel": (1, {"kernel_size": HUGE, "padding": HUGE // 2 + 1}),
    "max pool padding that grows the output": (1, {"kernel_size": 2, "stride": 1, "padding": 1}),
    "avg pool padding 10⁹": (2, {"padding": HUGE}),
    "avg pool negative padding": (2, {"padding": -1}),
}


@pytest.mark.parametrize("case", sorted(WINDOWS_REFUSED_AT_LOAD))
def test_conv_and_pool_window_sizes_out_of_range_are_refused_at_load(tmp_path, saved, case):
    index, edit = WINDOWS_REFUSED_AT_LOAD[case]
    path = _file_with(tmp_path, saved, "images", config_edit=lambda c: _layer(c, index).update(edit))
    message, _ = _refused(path)
    named = "weight shapes do not match" if "kernel_size" in edit and index in (0, 3) else \
        "Conv2d" if index in (0, 3) else "MaxPool2d" if index == 1 else "AvgPool2d"
    assert named in message, message


# Configs within the layers' ranges whose windows are still far beyond any 8×8 image: the file
# loads (the check on one example is not run for image models), and predict refuses the input.
WINDOWS_REFUSED_AT_PREDICT = {
    "conv 'same' padding with dilation 10⁹": (0, {"padding": "same", "dilation": HUGE}),
    "conv padding 5·10⁸ with stride 10⁹ (within d·(k − 1) + s − 1)": (0, {"padding": HUGE // 2, "stride": HUGE}),
    "max pool of a 10⁹ window padded by half": (1, {"kernel_size": HUGE, "stride": HUGE, "padding": HUGE // 2}),
    "avg pool of a 10⁶ × 10⁶ window padded by half": (
        2, {"kernel_size": 10**6, "stride": 10**6, "padding": 10**6 // 2}),
}


@pytest.mark.parametrize("case", sorted(WINDOWS_REFUSED_AT_PREDICT))
def test_a_window_far_larger_than_the_image_is_refused_at_predict_before_allocating(tmp_path, saved, case):
    index, edit = WINDOWS_REFUSED_AT_PREDICT[case]
    model = bp.load(_file_with(tmp_path, saved, "images", config_edit=lambda c: _layer(c, index).update(edit)))
    X = np.zeros((4, 1, 8, 8), np.float32)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="work array") as error:
            model.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB"
    assert len(str(error.value)) < MAX_MESSAGE and "\n" not in str(error.value)


def test_the_padded_work_array_bound_leaves_real_networks_alone():
    # A 3×3 "same" conv on a 1×1 feature map (9× its input) and a batch of large images both run.
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 5, padding="same", dilation=2))
    assert model(np.zeros((3, 2, 1, 1), np.float32)).shape == (3, 2, 1, 1)
    assert nn.Conv2d(1, 1, 3, padding=1)(np.zeros((2, 1, 300, 300), np.float32)).shape == (2, 1, 300, 300)


def test_the_checks_draw_no_random_numbers_and_leave_the_model_in_training_mode(tmp_path, saved):
    # Building the layers draws their initial weights, as constructing them does; the checks
    # (one example through the model, Dropout included) draw nothing more.
    path = _file_with(tmp_path, saved, "binary")
    bp.manual_seed(5)
    nn.module_from_config(saved["binary"][1]["config"])
    after_building = bp.random.get_rng().random()
    bp.manual_seed(5)
    model = bp.load(path)
    assert bp.random.get_rng().random() == after_building
    assert all(module.training for module in model.modules())


def test_a_model_taking_images_through_flatten_still_loads(tmp_path):
    bp.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm(3), nn.Flatten(), nn.Dense(12, 2))
    X = np.random.default_rng(0).normal(size=(8, 3, 4)).astype(np.float32)
    model.fit(X, np.arange(8) % 2, loss="cross_entropy", epochs=1, verbose=0)
    bp.save(model, tmp_path / "images.safetensors")
    np.testing.assert_array_equal(bp.load(tmp_path / "images.safetensors").predict(X), model.predict(X))


# ------------------------------------------------------------------------ fuzzing
_POOL = [None, True, False, 0, 1, -1, 2, 3, 10**9, -10**9, 2**40, 10**30, 0.5, -0.0, 1e308, float("nan"),
         float("inf"), "", "relu", "softmax", "leaky_relu", "float16", "float64", "object", "Dense", "BatchNorm",
         "Sequential", "cross_entropy", "x" * 300, [], [1, 2], [[]], {}, {"name": "relu"},
         {"name": "softmax", "axis": 7}, {"name": "leaky_relu", "negative_slope": float("nan")},
         {"class_name": "Dense", "config": {"in_features": 10**9, "out_features": 10**9}},
         {"class_name": ["Dense"], "config": {}}, {"dtype": ["str"], "values": []}]


def _nodes(value, where=()):
    """Every (container, key) position inside a JSON value."""
    positions = []
    if isinstance(value, dict):
        for key, item in value.items():
            positions.append((value, key))
            positions.extend(_nodes(item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            positions.append((value, index))
            positions.extend(_nodes(item))
    return positions


def _mutate_json(rng, value):
    """A copy of ``value`` with one to three random edits: replace, delete, add, duplicate, nest."""
    value = copy.deepcopy(value)
    for _ in range(rng.randint(1, 3)):
        positions = _nodes(value)
        if not positions:
            return rng.choice(_POOL)
        container, key = rng.choice(positions)
        action = rng.random()
        if action < 0.6:
            container[key] = copy.deepcopy(rng.choice(_POOL))
        elif action < 0.7:
            del container[key]
        elif action < 0.8 and isinstance(container, dict):
            container[rng.choice(["extra", "name", "axis", "config", "class_name"])] = copy.deepcopy(rng.choice(_POOL))
        elif action < 0.9 and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        else:
            container[key] = [container[key]] if rng.random() < 0.5 else {"name": container[key]}
    return value


def _mutate_bytes(rng, data: bytes) -> bytes:
    """Flip bytes, truncate, or rewrite a number in the header."""
    data = bytearray(data)
    action = rng.random()
    if action < 0.4:
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] = rng.randrange(256)
    elif action < 0.6:
        return bytes(data[:rng.randrange(len(data))])
    elif action < 0.8:
        header_length = struct.unpack("<Q", data[:8])[0]
        header = data[8:8 + header_length]
        digits = [i for i, byte in enumerate(header) if 48 <= byte <= 57]
        if digits:
            header[rng.choice(digits)] = rng.choice(b"0123456789")
        data[8:8 + header_length] = header
    else:
        data[:8] = struct.pack("<Q", rng.choice([0, 1, 2**63, len(data), struct.unpack("<Q", data[:8])[0] + 1]))
    return bytes(data)


FUZZ_JSON_CASES = 600  # per architecture and metadata entry mix
FUZZ_BYTE_CASES = 150  # per architecture


def _fuzz_case(path, example_shape):
    """Load ``path``; only ModelFileError may escape, and a loaded model must predict (one
    example of ``example_shape``, or a row of its features for None)."""
    start = time.perf_counter()
    outcome = "loaded"
    try:
        model = bp.load(path)
    except ModelFileError as error:
        assert len(str(error)) < MAX_MESSAGE + len(str(path))
        outcome = "refused"
    else:
        if example_shape is None:  # rows of features
            example_shape = (getattr(model, "n_features_in_", None) or model.expected_in_features() or 6,)
        try:
            model.predict(np.zeros((1, *example_shape), np.float32))
        except ValueError as error:
            # A mutated model whose file does not fix its input's rank (an image model, or one
            # starting with Flatten, e.g. a Softmax over axis −5 behind it) may take other
            # shapes than rows: it must say so. A model that takes rows of its features must predict.
            assert any(module.takes_spatial_input for module in model.modules()) or (
                getattr(model, "n_features_in_", None) is None and model.expected_in_features() is None), error
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT
    return outcome, elapsed


def _quick_write(path, tensors, raw):
    """What write_safetensors writes, without its fsyncs (thousands of files here)."""
    import safetensors.numpy

    metadata = {"format": "backprop", "format_version": str(FORMAT_VERSION), "kind": "model", **raw}
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


def test_fuzz_only_model_file_errors_escape(tmp_path, saved):
    counts = {"loaded": 0, "refused": 0}
    slowest = 0.0
    path = tmp_path / "fuzz.safetensors"
    for name, (tensors, decoded) in sorted(saved.items()):
        rng = random.Random(f"20260512-{name}")  # one stream per architecture: adding one changes no other's
        for _ in range(FUZZ_JSON_CASES):
            entries = dict(decoded)
            target = rng.choice([key for key in ["config", "config", "config", "fit_record", "user_metadata"]
                                 if key in entries])
            entries[target] = _mutate_json(rng, entries[target])
            raw = {key: json.dumps(value) for key, value in entries.items()}
            if rng.random() < 0.1:  # a tensor of another shape or dtype, too
                key = rng.choice(sorted(tensors))
                changed = dict(tensors)
                changed[key] = np.zeros(rng.choice([(1,), (2, 3), (0,), tensors[key].shape]), rng.choice(
                    [np.float32, np.float16, np.int64, np.uint8]))
                _quick_write(path, changed, raw)
            else:
                _quick_write(path, tensors, raw)
            outcome, elapsed = _fuzz_case(path, INPUT_SHAPES.get(name))
            counts[outcome] += 1
            slowest = max(slowest, elapsed)
        write_safetensors(path, tensors, {key: json.dumps(value) for key, value in decoded.items()}, kind="model")
        valid = path.read_bytes()
        for _ in range(FUZZ_BYTE_CASES):
            path.write_bytes(_mutate_bytes(rng, valid))
            outcome, elapsed = _fuzz_case(path, INPUT_SHAPES.get(name))
            counts[outcome] += 1
            slowest = max(slowest, elapsed)
    total = counts["loaded"] + counts["refused"]
    assert total == len(saved) * (FUZZ_JSON_CASES + FUZZ_BYTE_CASES)
    assert counts["refused"] > total // 2 and counts["loaded"] > 0  # the mutations do reach both outcomes
    print(f"fuzz: {total} cases, {counts}, slowest {slowest * 1000:.1f} ms")
