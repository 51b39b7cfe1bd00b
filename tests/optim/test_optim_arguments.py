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
    assert optim.OPTIMIZERS.get(name) is cls


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
    parameter_module = pytest.importorskip("backprop.layers.parameter")
    W = parameter_module.Parameter(np.ones((2, 3), dtype=np.float32))
    opt = optim.Adam([W], lr=0.1)
    W.grad = np.ones((2, 3), dtype=np.float32)
    opt.step()
    assert W.data.dtype == np.float32
    np.testing.assert_allclose(W.data, 0.9, rtol=1e-6)


def _numeric_hyperparameters(cls):
    """The optimiser's real-valued defaults (lr, momentum, eps, betas[i], ...), from the class itself."""
    import inspect

    names = []
    for parameter in inspect.signature(cls.__init__).parameters.values():
        default = parameter.default
        if parameter.name in ("self", "params") or isinstance(default, bool):
            continue
        if isinstance(default, (tuple, list)):
            names += [(parameter.name, i) for i in range(len(default))]
        elif isinstance(default, (int, float)) or default is inspect.Parameter.empty:
            names.append((parameter.name, None))
    return names


@pytest.mark.parametrize("name", optim.OPTIMIZERS.names())
@pytest.mark.parametrize("bad", [float("inf"), -float("inf"), float("nan")])
def test_every_optimiser_refuses_non_finite_hyperparameters(name, bad):
    """Adam(lr=inf) and SGD(lr=inf) used to be accepted: every weight became NaN at the first step."""
    import inspect

    cls = optim.OPTIMIZERS.get(name)
    signature = inspect.signature(cls.__init__)
    checked = _numeric_hyperparameters(cls)
    assert ("lr", None) in checked
    for key, index in checked:
        kwargs = {"lr": 0.1}
        if index is None:
            kwargs[key] = bad
        else:
            value = list(signature.parameters[key].default)
            value[index] = bad
            kwargs[key] = tuple(value)
        with pytest.raises(ValueError, match=key):
            cls(params(), **kwargs)
        with pytest.raises(ValueError, match=key):  # also in a parameter group
            cls([{"params": params(), **kwargs}], lr=0.1)


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_schedules_refuse_non_finite_hyperparameters(bad):
    opt = optim.SGD(params(), lr=0.1)
    for make in (lambda: optim.StepLR(opt, step_size=2, gamma=bad),
                 lambda: optim.ExponentialLR(opt, gamma=bad),
                 lambda: optim.CosineAnnealingLR(opt, T_max=bad),
                 lambda: optim.CosineAnnealingLR(opt, T_max=10, eta_min=bad),
                 lambda: optim.ReduceLROnPlateau(opt, threshold=bad),
                 lambda: optim.ReduceLROnPlateau(opt, min_lr=bad),
                 lambda: optim.ReduceLROnPlateau(opt, eps=bad)):
        with pytest.raises(ValueError, match="must be"):
            make()
