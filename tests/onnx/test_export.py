"""``bp.export_onnx`` of networks: every registered layer and activation, run in ONNX Runtime.

The files are compared with ``predict`` (and ``predict_proba`` / ``predict_classes`` for a
classifier) to 1e-5, on random rows and on bundled data, for float32 and float64 networks.
The architectures come from ``tests/io/model_examples.py``, which holds an instance of every
registered layer (a test there fails for a layer it lacks); the activations from the registry.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import onnx
import pytest

import backprop as bp
from backprop import nn
from backprop.engine.ops.activation import ACTIVATIONS
from backprop.layers.module import Module
from backprop.onnx import OPSET
from backprop.training.inference import parameter_dtype
from onnx_runtime_helpers import assert_close, run_onnx
from model_examples import ARCHITECTURES, EXAMPLE_INPUTS, builtin_layer_names, layer_examples

# One example's shape for the architectures whose first layer fixes none (a Concat: per branch).
INPUT_SHAPES = {"everything": (2, 3), "images": (1, 8, 8), "sequences": (2, 12), "tabular": {"pair": (2,), "city": (), "numeric": (4,)}}


def example_rows(model, shape, n=9, seed=0, scale=3.0):
    return (scale * np.random.default_rng(seed).normal(size=(n, *shape))).astype(parameter_dtype(model))


def check_against_predict(model, path, X):
    """The file's outputs on X equal predict (and predict_proba, predict_classes when it has them)."""
    feeds = {"input": X} if not isinstance(X, dict) else {name: np.asarray(value, dtype=np.int64)
                                                          if value.dtype.kind in "iu" else value
                                                          for name, value in X.items()}
    outputs = run_onnx(path, feeds)
    assert_close(outputs["output"], model.predict(X))
    if "probabilities" in outputs:
        assert_close(outputs["probabilities"], model.predict_proba(X))
        np.testing.assert_array_equal(outputs["label"], model.predict_classes(X))
    return outputs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_runs_in_onnxruntime_as_predict(name, dtype, tmp_path):
    model = ARCHITECTURES[name]().to(dtype)
    shape = INPUT_SHAPES.get(name)
    path = tmp_path / f"{name}.onnx"
    proto = bp.export_onnx(model, path, input_shape=shape)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert [opset.version for opset in proto.opset_import if opset.domain in ("", "ai.onnx")] == [OPSET]
    if name in EXAMPLE_INPUTS:
        X = EXAMPLE_INPUTS[name](np.random.default_rng(0), 9)
        X = {key: value.astype(dtype) if value.dtype.kind == "f" else value for key, value in X.items()}
    else:
        X = example_rows(model, shape or (model.expected_in_features(),))
    outputs = check_against_predict(model, path, X)
    assert outputs["output"].dtype == np.dtype(dtype)
    record = model.fit_record
    has_classes = record is not None and record.kind not in (None, "regression")
    assert ("probabilities" in outputs) == has_classes


def test_every_registered_layer_is_in_the_exported_architectures():
    examples = layer_examples()
    assert sorted(examples) == builtin_layer_names()
    for name, layer in examples.items():
        own = type(layer).onnx_nodes is not Module.onnx_nodes
        assert own or layer.sequential_layers() is not None, f"{name} has no onnx_nodes"


def activation_configs(activation_class) -> list:
    """The default config, and one with every float parameter moved off its default."""
    moved = {}
    for name, parameter in list(inspect.signature(activation_class.__init__).parameters.items())[1:]:
        default = parameter.default
        if isinstance(default, float):
            moved[name] = default + 0.37
    return [{}] + ([moved] if moved else [])


ACTIVATION_CASES = [(cls.name, config) for cls in ACTIVATIONS for config in activation_configs(cls)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, config", ACTIVATION_CASES, ids=[f"{n}-{c}" for n, c in ACTIVATION_CASES])
def test_every_activation_exports_as_a_layer_and_inside_dense(name, config, dtype, tmp_path):
    bp.manual_seed(0)
    activation = ACTIVATIONS.get(name)(**config)
    model = nn.Sequential(nn.activation_layer(type(activation))(**config),
                          nn.Dense(5, 4, activation=activation, dtype=dtype))
    model.to(dtype)
    X = example_rows(model, (5,), n=40, scale=4.0)
    X[0] = [-1e3, -30.0, 0.0, 30.0, 1e3]  # far tails: overflow in an exported form would show
    X[1] = config.get("k", 0.0)  # a threshold met exactly
    path = tmp_path / "activation.onnx"
    bp.export_onnx(model, path, input_shape=(5,))
    check_against_predict(model, path, X)


CONV_CASES = {
    "conv2d same, stride, dilation, avg without padding counted": lambda: nn.Sequential(
        nn.Conv2d(2, 3, 3, padding="same", activation="tanh"), nn.Conv2d(3, 3, (2, 3), stride=2, dilation=(1, 2)),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), nn.MaxPool2d(2, stride=1, padding=1, dilation=2),
        nn.GlobalAvgPool2d(keepdims=True), nn.Flatten(), nn.Dense(3, 2)),
    "conv1d padded, pools with padding": lambda: nn.Sequential(
        nn.Conv1d(2, 4, 4, padding=(2,), stride=2, activation="relu"), nn.MaxPool1d(3, stride=1, padding=1),
        nn.AvgPool1d(2, padding=1), nn.Flatten(), nn.Dense(20, 1)),
    "batchnorm over (N, C, L), then layernorm": lambda: nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.BatchNorm(3), nn.Tanh(), nn.Flatten(), nn.LayerNorm(24), nn.Dense(24, 2)),
}
CONV_SHAPES = {"conv2d same, stride, dilation, avg without padding counted": (2, 11, 12),
               "conv1d padded, pools with padding": (2, 17),
               "batchnorm over (N, C, L), then layernorm": (2, 10)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_conv_pool_and_normalisation_settings(name, dtype, tmp_path):
    bp.manual_seed(1)
    model = CONV_CASES[name]().to(dtype)
    shape = CONV_SHAPES[name]
    X = example_rows(model, shape, n=6)
    for layer in model:
        if isinstance(layer, nn.BatchNorm):  # running statistics other than 0 and 1
            layer.running_mean = np.linspace(-1, 1, 3).astype(dtype)
            layer.running_var = np.linspace(0.5, 2, 3).astype(dtype)
            layer.gamma.data[:] = [1.5, -0.5, 2.0]
    path = tmp_path / "conv.onnx"
    bp.export_onnx(model, path, input_shape=shape)
    check_against_predict(model, path, X)


@pytest.mark.parametrize("loader, loss, head", [
    ("load_iris", "cross_entropy", None),
    ("load_breast_cancer", "binary_cross_entropy_with_logits", None),
    ("load_breast_cancer", "binary_cross_entropy", "sigmoid"),
    ("load_diabetes", "mse", None),
])
def test_models_fit_on_bundled_data(loader, loss, head, tmp_path):
    data = getattr(bp.datasets, loader)()
    X = data.X.astype(np.float32)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = data.y if loss != "mse" else (data.y - data.y.mean()) / data.y.std()
    n_out = len(np.unique(y)) if loss == "cross_entropy" else 1
    model = nn.Sequential(nn.Dense(X.shape[1], 16, activation="relu"), nn.BatchNorm(16), nn.Dropout(0.1),
                          nn.Dense(16, n_out, activation=head))
    model.fit(X, y, loss=loss, epochs=5, batch_size=32, seed=0, verbose=0)
    path = tmp_path / "real.onnx"
    bp.export_onnx(model, path)
    check_against_predict(model, path, X)


def test_multi_label_outputs_are_a_zero_one_matrix(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(np.float32)
    model = nn.Sequential(nn.Dense(3, 5, activation="tanh"), nn.Dense(5, 2))
    model.fit(X, Y, loss="binary_cross_entropy_with_logits", epochs=3, verbose=0, seed=0)
    path = tmp_path / "multilabel.onnx"
    bp.export_onnx(model, path)
    outputs = check_against_predict(model, path, X)
    assert outputs["label"].shape == (40, 2) and set(np.unique(outputs["label"])) <= {0, 1}


def test_a_model_loaded_from_its_file_exports_by_path(tmp_path):
    model = ARCHITECTURES["classifier"]()
    model.save(tmp_path / "m.safetensors")
    bp.export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    check_against_predict(model, tmp_path / "m.onnx", example_rows(model, (4,)))


def test_a_layer_without_an_export_is_named(tmp_path):
    class Doubler(Module):
        def forward(self, x):
            return 2 * bp.Tensor(x) if not isinstance(x, bp.Tensor) else 2 * x

    with pytest.raises(NotImplementedError, match="Doubler has no ONNX export"):
        bp.export_onnx(nn.Sequential(nn.Dense(2, 2), Doubler()), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"include_preprocessing": 1}, ValueError, "include_preprocessing must be True or False"),
    ({"include_preprocessing": True}, ValueError, "needs the path of a model file written by 'backprop train'"),
    ({"input_shape": "3"}, TypeError, "input_shape must be a tuple of positive ints"),
    ({"input_shape": (0,)}, ValueError, "input_shape must be a positive int"),
])
def test_bad_arguments_are_refused_before_any_file_is_written(kwargs, error, match, tmp_path):
    with pytest.raises((TypeError, ValueError), match=match) as raised:
        bp.export_onnx(nn.Sequential(nn.Dense(2, 1)), tmp_path / "x.onnx", **kwargs)
    assert isinstance(raised.value, error)
    assert not (tmp_path / "x.onnx").exists()


def test_model_must_be_a_module_or_a_path(tmp_path):
    with pytest.raises(TypeError, match="model must be a file path"):
        bp.export_onnx(42, tmp_path / "x.onnx")
    with pytest.raises(bp.ModelFileError):
        (tmp_path / "junk.safetensors").write_bytes(b"not a model")
        bp.export_onnx(tmp_path / "junk.safetensors", tmp_path / "x.onnx")


def test_an_image_network_needs_its_input_shape(tmp_path):
    with pytest.raises(ValueError, match="pass input_shape"):
        bp.export_onnx(ARCHITECTURES["images"](), tmp_path / "x.onnx")


def test_export_leaves_the_model_as_it_was(tmp_path):
    model = ARCHITECTURES["binary"]()
    model.train()
    state = model.state_dict()
    bp.export_onnx(model, tmp_path / "x.onnx")
    assert all(module.training for module in model.modules())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[key])


def test_import_backprop_does_not_import_onnx():
    code = ("import sys, backprop, backprop.nn, backprop.sklearn; "
            "print(any(m.split('.')[0] in ('onnx', 'onnxruntime', 'skl2onnx') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
