"""Every registered optimiser: its names, its config, a step picked by name, and PyTorch's numbers
where torch.optim has the optimiser. A new optimiser is covered here without editing a list."""

import numpy as np
import pytest
import torch

import backprop as bp
from backprop import optim
from test_optim_torch_parity import INITIAL, assert_same_trajectory, backprop_loss, backprop_params, train

ENTRIES = optim.OPTIMIZERS.items()
IDS = [name for name, _ in ENTRIES]
IN_TORCH = [(name, cls) for name, cls in ENTRIES if isinstance(getattr(torch.optim, cls.__name__, None), type)]


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_every_name_and_alias_builds_the_class(name, cls):
    aliases = [alias for alias, target in optim.OPTIMIZERS.aliases().items() if target == name]
    for spelling in [name, *aliases, name.upper()]:
        assert optim.OPTIMIZERS.get(spelling) is cls
        opt = optim.get_optimizer(spelling, [bp.Tensor(np.zeros(2), requires_grad=True)])
        assert type(opt) is cls
        assert all(opt.defaults[key] == value for key, value in cls.defaults_when_named.items())
    assert optim.OPTIMIZERS.name_of(opt) == name


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_defaults_rebuild_the_optimiser(name, cls):
    """An optimiser's config is its ``defaults``: the constructor arguments after ``params``."""
    opt = optim.get_optimizer(name, backprop_params())
    rebuilt = cls(backprop_params(), **opt.defaults)
    assert rebuilt.defaults == opt.defaults
    assert [{k: v for k, v in g.items() if k != "params"} for g in rebuilt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


@pytest.mark.parametrize("name, cls", ENTRIES, ids=IDS)
def test_steps_by_name_lower_the_loss(name, cls):
    params = backprop_params()
    opt = optim.get_optimizer(name, params)
    start = float(backprop_loss(params).item())
    for _ in range(20):
        opt.zero_grad()
        backprop_loss(params).backward()
        opt.step()
    assert float(backprop_loss(params).item()) < start
    assert not np.allclose(params[0].data, INITIAL[0])


@pytest.mark.parametrize("name, cls", IN_TORCH, ids=[name for name, _ in IN_TORCH])
def test_by_name_defaults_follow_torch(name, cls):
    """The optimiser as picked by name, against torch.optim's class of the same name and arguments."""
    kwargs = dict(cls.defaults_when_named)
    ours, _ = train("backprop", cls.__name__, kwargs)
    theirs, _ = train("torch", cls.__name__, kwargs)
    assert_same_trajectory(ours, theirs)
