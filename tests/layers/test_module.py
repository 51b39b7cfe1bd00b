"""The Module contract: registration, traversal, train/eval, state_dict, dtype."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Dense(4, 3, activation="tanh")
        self.norm = nn.BatchNorm(3)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Dense(3, 2)
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))

    def forward(self, x):
        return self.out(self.drop(self.norm(self.hidden(x)))) * self.scale


def test_registration_by_attribute_in_assignment_order():
    model = TwoLayer()
    assert [name for name, _ in model.named_parameters()] == [
        "scale", "hidden.W", "hidden.b", "norm.gamma", "norm.beta", "out.W", "out.b",
    ]
    assert model.parameters()[1] is model.hidden.W
    assert [name for name, _ in model.named_buffers()] == [
        "norm.running_mean", "norm.running_var", "norm.num_batches_tracked",
    ]
    assert [name for name, _ in model.named_modules()] == ["", "hidden", "norm", "drop", "out"]
    assert model.children() == [model.hidden, model.norm, model.drop, model.out]
    assert all(isinstance(p, bp.Tensor) and p.requires_grad for p in model.parameters())
    assert model.num_parameters() == 2 + 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2


def test_shared_parameters_are_listed_once():
    net = nn.Sequential(nn.Dense(3, 3), nn.Dense(3, 3))
    net[1].W = net[0].W
    assert len(net.parameters()) == 3


def test_assignment_rules():
    model = TwoLayer()
    with pytest.raises(TypeError, match="parameter 'scale'"):
        model.scale = np.ones(2)
    model.scale = None
    assert "scale" not in dict(model.named_parameters())
    with pytest.raises(TypeError, match="buffer"):
        model.norm.running_mean = [0.0, 0.0, 0.0]
    del model.out
    assert not hasattr(model, "out")

    class Forgetful(nn.Module):
        def __init__(self):
            self.W = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Forgetful()


def test_train_and_eval_reach_every_submodule():
    model = TwoLayer()
    assert model.training and model.drop.training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError):
        model.train("no")


def test_state_dict_round_trip():
    model = TwoLayer()
    model(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))  # moves the running stats
    state = model.state_dict()
    assert list(state)[:3] == ["scale", "hidden.W", "hidden.b"]
    state["scale"][...] = 99.0  # copies: changing them leaves the model alone
    assert model.scale.data[0] == 1.0

    other = TwoLayer()
    W_before = other.hidden.W
    result = other.load_state_dict(model.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert other.hidden.W is W_before  # Parameter objects keep their identity (optimisers hold them)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    model.eval(), other.eval()
    np.testing.assert_array_equal(model(x).data, other(x).data)


def test_load_state_dict_errors():
    model = TwoLayer()
    state = model.state_dict()
    with pytest.raises(ValueError, match=r"missing \['out.b'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "out.b"})
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        model.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({**state, "out.W": np.zeros((3, 3))})
    with pytest.raises(TypeError, match="numeric"):
        model.load_state_dict({**state, "out.b": np.array(["a", "b"])})
    result = model.load_state_dict({"out.b": np.array([1.0, 2.0]), "extra": np.zeros(1)}, strict=False)
    assert "hidden.W" in result.missing_keys and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.out.b.data, [1.0, 2.0])
    assert model.out.b.dtype == np.float32  # cast to the parameter's dtype


def test_to_dtype():
    model = TwoLayer().to("float64")
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.norm.running_var.dtype == np.float64
    assert model.norm.num_batches_tracked.dtype == np.int64
    assert model.hidden.get_config()["dtype"] == "float64"


def test_zero_grad():
    layer = nn.Dense(2, 2)
    layer(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert layer.W.grad is not None
    layer.zero_grad()
    assert layer.W.grad is None and layer.b.grad is None


def test_forward_must_be_implemented_and_config_needed_for_arguments():
    with pytest.raises(NotImplementedError):
        nn.Module()(1)

    class WithArgs(nn.Module):
        def __init__(self, size):
            super().__init__()

    with pytest.raises(NotImplementedError, match="get_config"):
        WithArgs(3).get_config()


def test_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Dense(4, 3, activation="relu"), nn.Dense(3, 1)))
    assert "(0): Dense(4 -> 3, activation='relu')" in text and "(1): Dense(3 -> 1)" in text


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.zeros((2, 3)))
    assert isinstance(p, bp.Tensor) and p.requires_grad and p.dtype == np.float64
    assert "Parameter(" in repr(p)


def test_a_module_version_moves_on_its_own_changes_only():
    from backprop import nn

    layer, other = nn.Dense(3, 2), nn.Dense(3, 2)
    versions = [layer._version]
    layer.b = None
    versions.append(layer._version)
    del layer.b
    versions.append(layer._version)
    layer.register_buffer("seen", np.zeros(2))
    versions.append(layer._version)
    assert versions == sorted(set(versions))  # each change moved it
    before = other._version
    nn.Sequential(other).to("float64")  # a cast changes the arrays every compiled form was made for
    assert other._version > before
    untouched = nn.Dense(3, 2)
    before = untouched._version
    layer.activation = None
    assert untouched._version == before  # no process-wide counter: another module's change is not its own
