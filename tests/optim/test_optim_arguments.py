"""Argument checking, parameter groups and get_optimizer."""

import numpy as np
import pytest

import backprop as bp
from backprop import optim


def params():
    return [bp.Tensor(np.ones((2, 2)), requires_grad=True), bp.Tensor(np.zeros(2), requires_grad=True)]


BAD = [
    (optim.SGD, {"lr": 0}, "lr must be > 0"),
    (optim.SGD, {"lr": -0.1}, "lr must be > 0"),
    (optim.SGD, {"lr": float("nan")}, "lr must be > 0"),
    (optim.SGD, {"lr": 0.1, "momentum": -0.5}, "momentum must be >= 0"),
    (optim.SGD, {"lr": 0.1, "weight_decay": -1}, "weight_decay must be >= 0"),
    (optim.SGD, {"lr": 0.1, "nesterov": True}, "nesterov=True requires momentum > 0 and dampening = 0"),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}, "nesterov=True requires"),
    (optim.SGD, {"lr": 0.1, "nesterov": "yes"}, "nesterov must be True or False"),
    (optim.RMSprop, {"lr": 0}, "lr must be > 0"),
    (optim.RMSprop, {"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
    (optim.RMSprop, {"eps": -1e-8}, "eps must be >= 0"),
    (optim.RMSprop, {"momentum": -0.1}, "momentum must be >= 0"),
    (optim.RMSprop, {"weight_decay": -0.1}, "weight_decay must be >= 0"),
    (optim.Adam, {"lr": -1e-3}, "lr must be > 0"),
    (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
    (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
    (optim.Adam, {"betas": 0.9}, r"betas must be a pair \(beta1, beta2\), each in \[0, 1\)"),
    (optim.Adam, {"eps": -1.0}, "eps must be >= 0"),
    (optim.Adam, {"weight_decay": -0.01}, "weight_decay must be >= 0"),
    (optim.AdamW, {"weight_decay": -0.01}, "weight_decay must be >= 0"),
    (optim.AdamW, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(params(), **kwargs)


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW])
def test_bad_params(cls):
    lr = {"lr": 0.1}
    with pytest.raises(ValueError, match="params must not be empty"):
        cls([], **lr)
    with pytest.raises(ValueError, match="params must not be empty"):
        cls([{"params": []}], **lr)
    with pytest.raises(TypeError, match="wrap it in a list"):
        cls(params()[0], **lr)
    with pytest.raises(TypeError, match="only update Tensors"):
        cls([np.ones(3)], **lr)
    p = params()
    with pytest.raises(ValueError, match="more than one parameter group"):
        cls([{"params": p}, {"params": p[:1]}], **lr)
    with pytest.raises(ValueError, match="appears twice"):
        cls([p[0], p[0]], **lr)
    with pytest.raises(ValueError, match="lr must be > 0"):
        cls([{"params": p[:1]}, {"params": p[1:], "lr": 0}], **lr)


def test_param_groups_take_defaults_and_overrides():
    a, b = params()
    opt = optim.Adam([{"params": [a]}, {"params": b, "lr": 0.1, "betas": [0.5, 0.9]}], lr=0.01)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.9)
    assert opt.param_groups[1]["params"] == [b]
    assert "Parameter Group 1" in repr(opt)


def test_any_tensor_subclass_is_accepted():
    class Parameter(bp.Tensor):
        pass

    W = Parameter(np.ones(3), requires_grad=True)
    opt = optim.SGD([W], lr=0.5)
    W.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(W.data, 0.5 * np.ones(3))


@pytest.mark.parametrize("name,cls", [("sgd", optim.SGD), ("Adam", optim.Adam), ("RMSPROP", optim.RMSprop),
                                      ("adamw", optim.AdamW)])
def test_get_optimizer_by_name(name, cls):
    opt = optim.get_optimizer(name, params())
    assert type(opt) is cls
    assert optim.OPTIMIZERS[name.lower()] is cls


def test_get_optimizer_overrides_and_defaults():
    opt = optim.get_optimizer("adam", params(), lr=0.1, amsgrad=True)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["amsgrad"] is True
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert optim.get_optimizer("rmsprop", params()).param_groups[0]["lr"] == 0.01
    assert optim.get_optimizer("adamw", params()).param_groups[0]["weight_decay"] == 0.01
    assert optim.get_optimizer("sgd", params(), lr=0.5, momentum=0.9).param_groups[0]["lr"] == 0.5
    assert type(optim.get_optimizer(optim.AdamW, params(), lr=0.1)) is optim.AdamW
    opt = optim.SGD(params(), lr=0.1)
    assert optim.get_optimizer(opt, None) is opt


def test_get_optimizer_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'adma'.*did you mean 'adam'"):
        optim.get_optimizer("adma", params())
    with pytest.raises(ValueError, match="valid names are"):
        optim.get_optimizer("lbfgs", params())
    with pytest.raises(ValueError, match=r"no argument\(s\) \['momentum'\]"):
        optim.get_optimizer("adam", params(), momentum=0.9)
    with pytest.raises(ValueError, match="optimiser instance"):
        optim.get_optimizer(optim.SGD(params(), lr=0.1), None, lr=0.5)
    with pytest.raises(TypeError, match="must be a name"):
        optim.get_optimizer(3, params())


def test_nn_parameter_is_accepted():
    parameter_module = pytest.importorskip("backprop.nn.parameter")
    W = parameter_module.Parameter(np.ones((2, 3), dtype=np.float32))
    opt = optim.Adam([W], lr=0.1)
    W.grad = np.ones((2, 3), dtype=np.float32)
    opt.step()
    assert W.data.dtype == np.float32
    np.testing.assert_allclose(W.data, 0.9, rtol=1e-6)
