"""Conv and pooling layers: PyTorch parity (layers and a 50-step Adam trajectory), configs and
files, initialisers, errors naming the layer, and training with fit."""

import json

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.training import fastpath

# One example of every registered conv/pool layer; the registry test below fails when a new one has none.
EXAMPLES = {
    "Conv2d": lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), activation="relu",
                                weight_init="he_uniform", bias_init=nn.init.constant(0.1),
                                weight_regularizer={"name": "l2", "l2": 1e-3}),
    "Conv1d": lambda: nn.Conv1d(3, 2, 3, padding="same", bias=False, dilation=2),
    "MaxPool2d": lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=1),
    "AvgPool2d": lambda: nn.AvgPool2d((2, 3), padding=(1, 1), count_include_pad=False),
    "MaxPool1d": lambda: nn.MaxPool1d(2),
    "AvgPool1d": lambda: nn.AvgPool1d(3, stride=1, padding=1),
    "GlobalAvgPool2d": lambda: nn.GlobalAvgPool2d(keepdims=True),
}
INPUT_SHAPES = {"Conv1d": (2, 3, 9), "MaxPool1d": (2, 3, 9), "AvgPool1d": (2, 3, 9)}


def conv_layer_classes():
    return sorted(name for name in nn.registered_modules()
                  if nn.get_module_class(name).__module__ in ("backprop.layers.conv", "backprop.layers.pooling"))


def test_every_conv_and_pool_layer_has_an_example():
    assert conv_layer_classes() == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_config_round_trip_rebuilds_the_same_layer(name):
    layer = EXAMPLES[name]()
    description = json.loads(json.dumps(nn.module_to_config(layer)))
    rebuilt = nn.module_from_config(description)
    assert nn.module_to_config(rebuilt) == description
    assert repr(rebuilt) == repr(layer)
    rebuilt.load_state_dict(layer.state_dict())
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPES.get(name, (2, 3, 7, 8))).astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x).data, layer(x).data)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_output_shape_is_what_forward_returns(name):
    layer = EXAMPLES[name]()
    shape = INPUT_SHAPES.get(name, (2, 3, 7, 8))
    assert layer.output_shape(shape[1:]) == layer(np.zeros(shape, dtype=np.float32)).shape[1:]


def small_conv_net(dtype="float32"):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, activation="relu", dtype=dtype),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, dtype=dtype),
        nn.Tanh(),
        nn.GlobalAvgPool2d(),
        nn.Dense(6, 3, dtype=dtype),
    )


def test_save_and_load_round_trip(tmp_path):
    bp.manual_seed(0)
    model = small_conv_net()
    X = np.random.default_rng(1).standard_normal((5, 1, 8, 8)).astype(np.float32)
    path = tmp_path / "conv.bpm"
    model.save(path)
    loaded = bp.load(path)
    assert nn.module_to_config(loaded) == nn.module_to_config(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_conv_layers_state_their_shapes_without_building():
    """A crafted file declaring a huge kernel is compared with its tensors before anything is allocated."""
    config = {"in_channels": 4096, "out_channels": 4096, "kernel_size": [64, 64]}
    assert nn.Conv2d.state_shapes(config) == {"W": (4096, 4096, 64, 64), "b": (4096,)}
    assert nn.Conv1d.state_shapes({**config, "kernel_size": 3, "bias": False}) == {"W": (4096, 4096, 3)}
    model = small_conv_net()
    for module in model.modules():
        if not module.children():
            expected = {key: value.shape for key, value in module.state_dict().items()}
            assert type(module).state_shapes(module.get_config()) == expected
    with pytest.raises(ValueError, match="Conv2d"):
        nn.Conv2d.state_shapes({**config, "in_channels": -1})


# ------------------------------------------------------------------ initialisers
def test_fans_of_a_kernel_are_pytorchs():
    assert nn.init.fans((8, 3, 5, 5)) == (3 * 25, 8 * 25)
    assert nn.init.fans((8, 3, 5)) == (15, 40)


@pytest.mark.parametrize("weight_init,expected_std", [
    ("he_normal", np.sqrt(2 / (16 * 9))),
    ("xavier_normal", np.sqrt(2 / (16 * 9 + 64 * 9))),
    ("he_uniform", np.sqrt(2 / (16 * 9))),
])
def test_initialiser_scale_uses_conv_fan_in(weight_init, expected_std):
    bp.manual_seed(0)
    layer = nn.Conv2d(16, 64, 3, weight_init=weight_init)
    assert layer.W.shape == (64, 16, 3, 3)
    assert abs(layer.W.data.std() / expected_std - 1) < 0.03


def test_default_init_follows_the_activation_as_for_dense():
    assert nn.Conv2d(2, 3, 3, activation="relu").weight_init == nn.init.he_normal
    assert nn.Conv2d(2, 3, 3).weight_init == nn.init.xavier_normal
    assert np.all(nn.Conv2d(2, 3, 3).b.data == 0)


# ------------------------------------------------------------------ PyTorch parity of the layers
torch_required = pytest.mark.torch


def torch_conv_like(layer):
    import torch

    klass = torch.nn.Conv2d if isinstance(layer, nn.Conv2d) else torch.nn.Conv1d
    padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    conv = klass(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride, padding=padding,
                 dilation=layer.dilation, bias=layer.b is not None, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(layer.W.data))  # the same layout: copies over directly
        if layer.b is not None:
            conv.bias.copy_(torch.from_numpy(layer.b.data))
    return conv


@torch_required
@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1, dtype="float64"), (2, 3, 9, 8)),
    (lambda: nn.Conv2d(2, 4, (2, 3), padding="same", dilation=2, bias=False, dtype="float64"), (3, 2, 6, 7)),
    (lambda: nn.Conv1d(3, 2, 4, stride=3, padding=2, dtype="float64"), (2, 3, 13)),
], ids=["conv2d", "conv2d-same", "conv1d"])
def test_conv_layers_match_torch(layer, shape):
    import torch

    layer = layer()
    conv = torch_conv_like(layer)
    x_np = np.random.default_rng(1).standard_normal(shape)
    x, x_t = bp.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, out_t = layer(x), conv(x_t)
    upstream = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(upstream)
    out_t.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.W.grad, conv.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    if layer.b is not None:
        np.testing.assert_allclose(layer.b.grad, conv.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


@torch_required
def test_pool_layers_match_torch():
    import torch

    x_np = np.random.default_rng(3).standard_normal((2, 3, 9, 8))
    pairs = [
        (nn.MaxPool2d(3, stride=2, padding=1), torch.nn.MaxPool2d(3, stride=2, padding=1)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
        (nn.GlobalAvgPool2d(keepdims=True), torch.nn.AdaptiveAvgPool2d(1)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x_np).data, theirs(torch.from_numpy(x_np)).numpy(), rtol=1e-12,
                                   err_msg=repr(ours))
    x1 = x_np[:, :, 0, :]
    np.testing.assert_allclose(nn.MaxPool1d(3, 2, 1)(x1).data, torch.nn.MaxPool1d(3, 2, 1)(torch.from_numpy(x1)).numpy())
    np.testing.assert_allclose(nn.AvgPool1d(2)(x1).data, torch.nn.AvgPool1d(2)(torch.from_numpy(x1)).numpy())


def torch_copy_of(model):
    """The same network in torch, with the weights copied."""
    import torch

    layers = []
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            layers.append(torch_conv_like(layer))
            if layer.activation is not None:
                layers.append(torch.nn.ReLU())
        elif isinstance(layer, nn.MaxPool2d):
            layers.append(torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding))
        elif isinstance(layer, nn.Tanh):
            layers.append(torch.nn.Tanh())
        elif isinstance(layer, nn.GlobalAvgPool2d):
            layers.extend([torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()])
        elif isinstance(layer, nn.Dense):
            linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.W.data))
                linear.bias.copy_(torch.from_numpy(layer.b.data))
            layers.append(linear)
        else:  # pragma: no cover - the test network holds only the layers above
            raise AssertionError(f"no torch copy for {layer!r}")
    return torch.nn.Sequential(*layers)


@torch_required
def test_fifty_adam_steps_follow_torch():
    import torch

    bp.manual_seed(0)
    model = small_conv_net("float64")
    reference = torch_copy_of(model)
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((12, 1, 8, 8)), rng.integers(0, 3, 12)
    opt = optim.Adam(model.parameters(), lr=0.01)
    opt_t = torch.optim.Adam(reference.parameters(), lr=0.01)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    for step in range(50):
        opt.zero_grad()
        loss = bp.losses.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(reference(X_t), y_t)
        loss_t.backward()
        opt_t.step()
        assert abs(loss.item() - loss_t.item()) <= 1e-9, f"step {step}"
        for p, p_t in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.data, p_t.detach().numpy(), rtol=0, atol=1e-9, err_msg=f"step {step}")
    assert loss.item() < 0.9 * np.log(3)  # it learned something


# ------------------------------------------------------------------ errors naming the layer
@pytest.mark.parametrize("call,message", [
    (lambda: nn.Conv2d(1, 4, 9)(np.zeros((2, 1, 8, 8))),
     r"Conv2d: the window 9×9 .* padded input 8×8 \(input of shape \(2, 1, 8, 8\)"),
    (lambda: nn.Conv2d(1, 4, 5, dilation=2)(np.zeros((2, 1, 8, 8))),
     r"Conv2d: the window 5×5 \(dilated span 9×9\) is larger than the padded input 8×8"),
    (lambda: nn.Conv2d(3, 4, 3)(np.zeros((2, 1, 8, 8))),
     r"Conv2d: input of shape \(2, 1, 8, 8\) has 1 channels, but the layer has in_channels=3"),
    (lambda: nn.Conv2d(1, 4, 3)(np.zeros((2, 64))), r"Conv2d: input must be 4-D \(N, C, H, W\), got shape \(2, 64\)"),
    (lambda: nn.Conv1d(2, 4, 3)(np.zeros((2, 3, 8))), r"Conv1d: input of shape \(2, 3, 8\) has 3 channels"),
    (lambda: nn.MaxPool2d(3)(np.zeros((1, 2, 2, 5))), r"MaxPool2d: the window 3×3 .* padded input 2×5"),
    (lambda: nn.AvgPool1d(4)(np.zeros((1, 2, 3))), r"AvgPool1d: the window 4 .* padded input 3"),
    (lambda: nn.GlobalAvgPool2d()(np.zeros((2, 3))), r"GlobalAvgPool2d: input must be 4-D"),
    (lambda: nn.Conv2d(0, 4, 3), r"Conv2d: in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2d(1, 4, 0), r"Conv2d: kernel_size must be a positive int"),
    (lambda: nn.Conv2d(1, 4, (3, 3, 3)), r"Conv2d: kernel_size must be a positive int or a tuple of 2"),
    (lambda: nn.Conv2d(1, 4, 3, stride=-1), r"Conv2d: stride must be a positive int"),
    (lambda: nn.Conv2d(1, 4, 3, padding=-1), r"Conv2d: padding must be a non-negative int"),
    (lambda: nn.Conv2d(1, 4, 3, stride=2, padding="same"), r"Conv2d: padding='same' needs stride 1"),
    (lambda: nn.Conv2d(1, 4, 3, bias="yes"), r"Conv2d: bias must be True or False"),
    (lambda: nn.Conv2d(1, 4, 3, activation="relux"), r"Conv2d: activation: "),
    (lambda: nn.MaxPool2d(2, padding=2), r"MaxPool2d: padding \(2, 2\) must be at most half the kernel size"),
    (lambda: nn.AvgPool2d(2, count_include_pad="no"), r"AvgPool2d: count_include_pad must be True or False"),
    # padding that would make the output larger than the input: at most d·(k − 1) + s − 1 in all
    (lambda: nn.Conv2d(1, 4, 3, padding=2), r"Conv2d: padding 2\+2 along axis 0 .* at most d·\(k − 1\) \+ s − 1 = 2"),
    (lambda: nn.Conv2d(1, 4, 1, padding=(0, 1)), r"Conv2d: padding 1\+1 along axis 1 .* = 0"),
    (lambda: nn.Conv1d(1, 4, 3, padding=10**9, dilation=2), r"Conv1d: padding .* at most d·\(k − 1\) \+ s − 1 = 4"),
    (lambda: nn.MaxPool2d(2, stride=1, padding=1), r"MaxPool2d: padding 1\+1 along axis 0 .* = 1"),
    (lambda: nn.AvgPool1d(4, stride=1, padding=2), r"AvgPool1d: padding 2\+2 along axis 0 .* = 3"),
    # a window far larger than the image: refused before the padded work array is allocated
    (lambda: nn.Conv2d(1, 1, 3, padding="same", dilation=10**6)(np.zeros((1, 1, 4, 4))),
     r"Conv2d: padding .* would need a work array of \d+ values, more than 64× the input's 16"),
    (lambda: nn.MaxPool2d(10**5, padding=5 * 10**4)(np.zeros((1, 1, 2, 2))), r"MaxPool2d: .* work array"),
])
def test_bad_arguments_name_the_layer_and_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sequential_checks_that_channels_chain():
    with pytest.raises(ValueError, match=r"outputs 8 features but layer 2 .* expects 4 inputs"):
        nn.Sequential(nn.Conv2d(1, 8, 3), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3))
    nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 2, 3), nn.GlobalAvgPool2d(),
                  nn.Dense(2, 1))


def test_weight_regularizer_penalises_the_kernel_only():
    layer = nn.Conv2d(2, 3, 3, weight_regularizer={"name": "l2", "l2": 0.5}, bias_init=nn.init.constant(1.0))
    expected = 0.5 * float((layer.W.data.astype(np.float64) ** 2).sum())
    assert np.isclose(float(layer.regularization_loss().data), expected, rtol=1e-5)


# ------------------------------------------------------------------ training with fit
def digits_like(n=96, seed=0):
    """Two classes of 8×8 images: a vertical or a horizontal bar at a random place, with noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.2, (n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for image, label, where in zip(X, y, rng.integers(0, 6, n)):
        if label:
            image[0, :, where:where + 2] += 1.0
        else:
            image[0, where:where + 2, :] += 1.0
    return X, y


def test_fit_trains_a_conv_net_through_the_layers_fused_forms():
    bp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, activation="relu"), nn.MaxPool2d(2), nn.Flatten(), nn.Dense(36, 2))
    steps = fastpath.compile_model(model).steps  # conv, pool and flatten have fused forms: no engine step
    assert [type(step).__name__ for step in steps] == ["ConvOp", "MaxPoolOp", "FlattenOp", "DenseOp"]
    assert [step.layer for step in steps[:2]] == list(model)[:2]
    assert steps[0].params == (model[0].W, model[0].b) and steps[3].params == (model[3].W, model[3].b)
    X, y = digits_like()
    history = model.fit(X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=0.01),
                        epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert (model.predict_classes(X) == y).mean() >= 0.9
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (len(X), 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"X has 3 channels \(axis 1 of N, C, ...\), but the model expects 1"):
        model.predict(np.zeros((2, 3, 8, 8), dtype=np.float32))


@pytest.mark.slow
def test_a_small_conv_net_beats_the_dense_net_on_digits_as_images():
    """Bundled digits, the same stratified 1347/450 split for both. Measured: Dense (64 → 128 → 10,
    the README's network) 0.978 held-out accuracy; the conv net on (N, 1, 8, 8) images 0.993."""
    X, y = bp.datasets.load_digits()
    X_train, X_test, y_train, y_test = bp.train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-8

    bp.manual_seed(0)
    dense = nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    dense.fit((X_train - mean) / std, y_train, loss="cross_entropy", optimizer="adam", epochs=20, batch_size=32,
              verbose=0)
    dense_accuracy = float((dense.predict_classes((X_test - mean) / std) == y_test).mean())

    bp.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, activation="relu"), nn.MaxPool2d(2),    # 8×8 → 4×4
        nn.Conv2d(32, 64, 3, padding=1, activation="relu"), nn.MaxPool2d(2),   # → 2×2
        nn.Flatten(), nn.Dense(256, 64, activation="relu"), nn.Dense(64, 10),
    )
    images_train, images_test = (X_train / 16).reshape(-1, 1, 8, 8), (X_test / 16).reshape(-1, 1, 8, 8)
    conv.fit(images_train, y_train, loss="cross_entropy", optimizer="adam", epochs=20, batch_size=32, verbose=0)
    conv_accuracy = float((conv.predict_classes(images_test) == y_test).mean())

    print(f"digits held-out accuracy: Dense {dense_accuracy:.3f}, conv {conv_accuracy:.3f}")
    assert dense_accuracy >= 0.95
    assert conv_accuracy >= dense_accuracy + 0.005


@pytest.mark.parametrize("module", ["backprop.layers.conv", "backprop.layers.pooling", "backprop.datasets.ball_images"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0
