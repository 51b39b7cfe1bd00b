"""Dense against torch.nn.Linear (+ activation), gradcheck, arguments, defaults."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.engine.ops.activation import Activation

torch = pytest.importorskip("torch")

TORCH_ACTIVATIONS = {
    None: lambda z: z,
    "identity": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "sigmoid": torch.sigmoid,
    "logistic": torch.sigmoid,
    "tanh": torch.tanh,
    "arctan": torch.atan,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


def torch_linear_like(layer):
    linear = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.b is not None, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.W.data))  # both (out_features, in_features)
        if layer.b is not None:
            linear.bias.copy_(torch.from_numpy(layer.b.data))
    return linear


@pytest.mark.parametrize("activation", list(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("use_bias", [True, False])
def test_forward_and_gradients_match_torch_linear(activation, use_bias):
    layer = nn.Dense(5, 4, activation=activation, use_bias=use_bias, dtype="float64")
    linear = torch_linear_like(layer)
    x_np = np.random.default_rng(1).standard_normal((7, 5))
    upstream = np.random.default_rng(2).standard_normal((7, 4))

    x = bp.Tensor(x_np, requires_grad=True)
    out = layer(x)
    out.backward(upstream)

    x_t = torch.tensor(x_np, requires_grad=True)
    out_t = TORCH_ACTIVATIONS[activation](linear(x_t))
    out_t.backward(torch.from_numpy(upstream))

    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.W.grad, linear.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    if use_bias:
        np.testing.assert_allclose(layer.b.grad, linear.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_step_activation_passes_no_gradient():
    layer = nn.Dense(3, 2, activation="step", dtype="float64")
    x = bp.Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    out = layer(x)
    z = x.data @ layer.W.data.T + layer.b.data
    np.testing.assert_array_equal(out.data, torch.heaviside(torch.from_numpy(z), torch.tensor(1.0, dtype=torch.float64)).numpy())
    out.sum().backward()
    np.testing.assert_array_equal(layer.W.grad, 0)


def test_single_example_is_the_notes_column_form():
    layer = nn.Dense(3, 2, activation="sigmoid", dtype="float64")
    a = np.array([0.5, -1.0, 2.0])
    z = layer.W.data @ a + layer.b.data  # z = W a + b
    np.testing.assert_allclose(layer(a).data, 1 / (1 + np.exp(-z)))


def _with_parameters(layer, x, W, b):
    """Run the layer with W and b replaced by gradcheck's float64 tensors."""
    saved = dict(layer._parameters)
    layer._parameters.update(W=W, b=b)
    try:
        return layer(x)
    finally:
        layer._parameters.update(saved)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu", "softmax", None])
def test_gradcheck(activation):
    layer = nn.Dense(4, 3, activation=activation, dtype="float64")
    rng = np.random.default_rng(3)
    x = bp.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    W = bp.Tensor(layer.W.data.copy(), requires_grad=True)
    b = bp.Tensor(rng.standard_normal(3), requires_grad=True)
    assert bp.gradcheck(lambda x, W, b: _with_parameters(layer, x, W, b), x, W, b)


def test_exposes_activation_object_with_f_and_df():
    assert isinstance(nn.Dense(2, 2, activation="tanh").activation, Activation)
    assert nn.Dense(2, 2, activation="relu").activation.name == "relu"
    assert nn.Dense(2, 2, activation="logistic").activation.name == "sigmoid"
    for identity in (None, "identity", "linear"):
        assert nn.Dense(2, 2, activation=identity).activation is None
    leaky = nn.Dense(2, 2, activation={"name": "leaky_relu", "negative_slope": 0.2}).activation
    assert leaky.negative_slope == 0.2
    z = np.array([-1.0, 2.0])
    np.testing.assert_allclose(leaky.df(z, leaky.f(z)), [0.2, 1.0])


def test_shapes_match_the_notes():
    layer = nn.Dense(4, 3)
    assert layer.W.shape == (3, 4)  # (n_out, n_in)
    assert layer.b.shape == (3,)
    assert layer(np.ones((10, 4), dtype=np.float32)).shape == (10, 3)
    assert nn.Dense(4, 3, use_bias=False).b is None
    assert [name for name, _ in layer.named_parameters()] == ["W", "b"]


def test_dtype():
    assert nn.Dense(2, 3).W.dtype == np.float32
    assert nn.Dense(2, 3, dtype="float64").b.dtype == np.float64


def test_default_initialiser_depends_on_the_activation():
    assert nn.Dense(2, 2, activation="relu").get_config()["weight_init"] == "he_normal"
    assert nn.Dense(2, 2, activation="leaky_relu").get_config()["weight_init"] == "he_normal"
    for activation in (None, "sigmoid", "tanh", "softmax"):
        assert nn.Dense(2, 2, activation=activation).get_config()["weight_init"] == "xavier_normal"
    np.testing.assert_array_equal(nn.Dense(3, 2).b.data, 0)


def test_initialisers_by_name_dict_and_function():
    np.testing.assert_array_equal(nn.Dense(3, 2, weight_init="ones").W.data, 1)
    np.testing.assert_array_equal(nn.Dense(3, 2, weight_init=nn.init.constant(0.5)).W.data, 0.5)
    np.testing.assert_array_equal(nn.Dense(3, 2, weight_init={"name": "constant", "value": 2.0}).W.data, 2)
    np.testing.assert_array_equal(nn.Dense(3, 2, bias_init="ones").b.data, 1)
    layer = nn.Dense(3, 2, weight_init={"name": "normal", "std": 0.5})
    assert layer.get_config()["weight_init"] == {"name": "normal", "std": 0.5}


def test_same_seed_same_weights():
    bp.manual_seed(42)
    first = nn.Dense(5, 4).W.data.copy()
    bp.manual_seed(42)
    np.testing.assert_array_equal(nn.Dense(5, 4).W.data, first)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"in_features": 0, "out_features": 2}, "in_features"),
        ({"in_features": 2.0, "out_features": 2}, "in_features"),
        ({"in_features": True, "out_features": 2}, "in_features"),
        ({"in_features": 2, "out_features": -1}, "out_features"),
        ({"in_features": 2, "out_features": "3"}, "out_features"),
        ({"in_features": 2, "out_features": 2, "use_bias": 1}, "use_bias"),
        ({"in_features": 2, "out_features": 2, "dtype": "int32"}, "dtype"),
        ({"in_features": 2, "out_features": 2, "weight_regularizer": {"name": "l2", "l2": -1}}, "l2"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        nn.Dense(**kwargs)


def test_unknown_names_suggest_the_closest():
    with pytest.raises(ValueError, match=r"activation.*'rleu'.*did you mean 'relu'"):
        nn.Dense(2, 2, activation="rleu")
    with pytest.raises(ValueError, match=r"softmax"):
        nn.Dense(2, 2, activation="sofmax")
    with pytest.raises(ValueError, match=r"weight_init.*did you mean 'he_normal'"):
        nn.Dense(2, 2, weight_init="he_norml")
    with pytest.raises(ValueError, match=r"weight_regularizer.*did you mean 'l2'"):
        nn.Dense(2, 2, weight_regularizer="l3")
    with pytest.raises(TypeError, match="activation"):
        nn.Dense(2, 2, activation=3)


def test_input_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="does not match"):
        nn.Dense(3, 2)(np.ones((4, 5), dtype=np.float32))


def test_custom_initialiser_works_but_cannot_be_saved():
    layer = nn.Dense(2, 2, weight_init=lambda shape, rng=None, dtype=None: np.full(shape, 3.0, dtype=dtype))
    np.testing.assert_array_equal(layer.W.data, 3)
    with pytest.raises(ValueError, match="custom initialiser"):
        layer.get_config()
