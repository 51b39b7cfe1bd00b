"""PyTorch both ways: every registered layer and activation converts to torch.nn and back with the
same outputs, and a torch state_dict loads into a model built here, with the index shifts."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import backprop as bp  # noqa: E402 (after the importorskip)
from backprop import nn  # noqa: E402
from backprop.engine.ops.activation import ACTIVATIONS  # noqa: E402
from backprop.interop.torch import torch_nn  # noqa: E402
from backprop.layers.registry import LAYERS  # noqa: E402

# One example of each registered layer, with the input it takes (without the batch axis). A new
# registered layer fails test_every_registered_layer_has_an_example_and_a_torch_form until it has both.
EXAMPLES = {
    "Dense": (lambda dtype: nn.Dense(5, 4, activation="tanh", dtype=dtype), (5,)),
    "Dropout": (lambda dtype: nn.Dropout(0.3), (5,)),
    "BatchNorm": (lambda dtype: nn.BatchNorm(5, momentum=0.2, eps=1e-3, dtype=dtype), (5,)),
    "LayerNorm": (lambda dtype: nn.LayerNorm(5, eps=1e-4, dtype=dtype), (5,)),
    "Flatten": (lambda dtype: nn.Flatten(), (2, 3, 4)),
    "Conv2d": (lambda dtype: nn.Conv2d(2, 3, 3, stride=2, padding=1, activation="relu", dtype=dtype), (2, 7, 6)),
    "Conv1d": (lambda dtype: nn.Conv1d(2, 3, 3, dilation=2, bias=False, dtype=dtype), (2, 9)),
    "MaxPool2d": (lambda dtype: nn.MaxPool2d(3, stride=1, padding=1), (2, 5, 5)),
    "AvgPool2d": (lambda dtype: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 6, 6)),
    "MaxPool1d": (lambda dtype: nn.MaxPool1d(3, stride=2), (2, 9)),
    "AvgPool1d": (lambda dtype: nn.AvgPool1d(2), (2, 8)),
    "GlobalAvgPool2d": (lambda dtype: nn.GlobalAvgPool2d(), (3, 4, 5)),
    "Embedding": (lambda dtype: nn.Embedding(7, 3, padding_idx=2, dtype=dtype), ("codes", 7)),
}
CONTAINERS = ("Model", "Sequential")  # chains: converted layer by layer
# Layers a torch.nn.Sequential cannot express, with the reason; to_torch refuses them by name.
NO_TORCH_FORM = {"Concat": "several input branches: not a chain of modules"}
ACTIVATION_LAYERS = {cls.layer_name for cls in ACTIVATIONS}
_rng = np.random.default_rng(0)


def _layer_names():
    return [name for name in LAYERS.names()
            if name not in CONTAINERS and name not in ACTIVATION_LAYERS and name not in NO_TORCH_FORM]


def _inputs(shape, dtype, n=6):
    if shape[0] == "codes":  # integer category codes in [0, V)
        return _rng.integers(0, shape[1], size=(n, 2))
    return _rng.normal(size=(n, *shape)).astype(dtype)


def _randomise(model):
    """Random weights and running statistics (BatchNorm's var positive), so nothing passes by luck."""
    state = {key: (np.abs(_rng.normal(size=v.shape)) + 0.5 if "var" in key else _rng.normal(size=v.shape))
             .astype(v.dtype) if v.dtype.kind == "f" else v for key, v in model.state_dict().items()}
    model.load_state_dict(state)


def _outputs(ours, theirs, X):
    with torch.no_grad():
        expected = theirs(torch.from_numpy(X)).numpy()
    return ours.predict(X), expected


def test_every_registered_layer_has_an_example_and_a_torch_form():
    for name in _layer_names():
        assert name in EXAMPLES, f"add an example of {name} to EXAMPLES"
        assert LAYERS.get(name).torch_types, f"{name} states no torch_types"


@pytest.mark.parametrize("name", _layer_names())
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-6)])
def test_every_layer_converts_both_ways_with_the_same_outputs(name, dtype, tolerance):
    make, shape = EXAMPLES[name]
    bp.manual_seed(1)
    model = nn.Sequential(make(dtype))
    _randomise(model)
    model.eval()
    X = _inputs(shape, dtype)
    if not model.parameters():
        tolerance = 1e-6  # a model without weights predicts in the default dtype, float32
    theirs = model.to_torch()
    assert not theirs.training
    ours, expected = _outputs(model, theirs, X)
    np.testing.assert_allclose(ours, expected, rtol=tolerance, atol=tolerance)
    back = nn.Sequential.from_torch(theirs)
    assert [type(layer) for layer in back] == [type(layer) for layer in model]
    assert back.get_config() == model.get_config()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)
    fresh = nn.Sequential(make(dtype))
    fresh.load_torch_state_dict(theirs.state_dict())
    fresh.eval()
    np.testing.assert_allclose(fresh.predict(X), ours, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("activation", [cls.name for cls in ACTIVATIONS])
def test_every_activation_converts_as_a_layer_and_inside_dense(activation):
    cls = ACTIVATIONS.get(activation)
    assert cls.torch_name and hasattr(torch_nn(), cls.torch_name), f"{activation} names no torch module"
    bp.manual_seed(2)
    layer = nn.__dict__[cls.layer_name]() if cls.layer_name != "Identity" else nn.Identity()
    model = nn.Sequential(nn.Dense(4, 6, dtype="float64"), layer,
                          nn.Dense(6, 3, activation=None if activation == "identity" else activation, dtype="float64"))
    X = 2 * _rng.normal(size=(7, 4))
    theirs = model.to_torch()
    ours, expected = _outputs(model, theirs, X)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    back = nn.Sequential.from_torch(theirs)  # (a Linear and the activation after it become one Dense)
    assert repr(back.to_torch()) == repr(theirs)
    np.testing.assert_allclose(back.predict(X), ours, rtol=1e-12, atol=1e-12)


def test_a_network_in_training_mode_keeps_torch_s_batch_norm_updates():
    bp.manual_seed(3)
    model = nn.Sequential(nn.Dense(5, 8, activation="relu", dtype="float64"), nn.BatchNorm(8, dtype="float64"),
                          nn.Dense(8, 2, dtype="float64"))
    theirs = model.to_torch()
    assert theirs.training
    X = _rng.normal(size=(16, 5))
    out = model(bp.Tensor(X)).data
    expected = theirs(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model[1].running_var, theirs[2].running_var.numpy(), rtol=1e-12)


def test_a_torch_state_dict_loads_into_a_model_built_here_with_the_index_shifts():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                 torch.nn.Dropout(0.1), torch.nn.Linear(8, 3)).double().eval()
    ours = nn.Sequential(nn.Dense(4, 8, activation="relu"), nn.Dense(8, 8, activation="tanh"), nn.Dropout(0.1),
                         nn.Dense(8, 3))
    ours.load_torch_state_dict(theirs.state_dict())  # 0, 2, 5 in torch are 0, 1, 3 here
    ours.eval()
    X = _rng.normal(size=(9, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(X).double()).numpy()
    np.testing.assert_allclose(ours.predict(X), expected, rtol=1e-5, atol=1e-6)  # float32 weights here
    np.testing.assert_allclose(ours[3].W.data, theirs[5].weight.detach().numpy(), rtol=1e-7)
    state = {key: value.numpy() for key, value in theirs.state_dict().items()}  # NumPy arrays do too
    ours.load_torch_state_dict(state)
    del state["2.bias"]
    state["3.weight"] = state.pop("2.weight")
    with pytest.raises(ValueError, match=r"missing \['2.weight', '2.bias'\], unexpected \['3.weight'\]"):
        ours.load_torch_state_dict(state)


def test_from_torch_names_an_unsupported_module_and_lists_the_supported_ones():
    with pytest.raises(TypeError, match=r"torch.nn.GRU \(module 1\) is not supported; the supported torch "
                                        r"modules are \[.*'Linear'.*\]"):
        nn.Sequential.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.GRU(3, 3)))
    with pytest.raises(TypeError, match="expected a torch.nn.Sequential"):
        nn.Sequential.from_torch(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError, match="only beta=1"):
        nn.Sequential.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Softplus(beta=2)))
    nested = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()), torch.nn.Linear(4, 1))
    assert [type(layer).__name__ for layer in nn.Sequential.from_torch(nested)] == ["Dense", "Dense"]


def test_a_layer_without_a_torch_form_is_refused_by_name():
    @nn.register_module(name="Doubler_for_torch_test")
    class Doubler(nn.Module):
        def forward(self, x):
            return 2 * x

    model = nn.Sequential(nn.Dense(3, 3), Doubler())
    with pytest.raises(TypeError, match=r"layer 1 \(Doubler\) has no PyTorch form; these layers have one: \["):
        model.to_torch()
    with pytest.raises(TypeError, match="Doubler"):
        model.load_torch_state_dict({})

    class TwoLayers(bp.Model):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Dense(3, 4), nn.Dense(4, 1)

        def forward(self, x):
            return self.second(self.first(x))

    with pytest.raises(TypeError, match="TwoLayers computes its own forward from its submodules; only chains"):
        TwoLayers().to_torch()
    wrapped = bp.Model(nn.Sequential(nn.Dense(3, 2, activation="relu"), nn.Dense(2, 1)))
    wrapped.load_torch_state_dict(wrapped.to_torch().state_dict())  # keys module.0.W, ... here; 0, 2 in torch


def test_layers_without_a_torch_form_are_refused_by_to_torch():
    assert set(NO_TORCH_FORM) <= set(LAYERS.names())
    branches = nn.Concat(nn.Dense(2, 3), nn.Dense(2, 1))
    with pytest.raises(TypeError, match="Concat computes its own forward from its submodules"):
        bp.Model(branches).to_torch()


def test_torch_is_imported_only_when_a_conversion_is_asked_for():
    code = ("import sys, numpy as np, backprop as bp; from backprop import nn; "
            "m = nn.Sequential(nn.Dense(3, 2, activation='relu')); m.fit(np.zeros((4, 3)), np.zeros((4, 2)), "
            "loss='mse', verbose=0); m.summary(print_fn=None); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
