"""state_dict / load_state_dict, exact resume, dtypes, in-place updates, zero_grad."""

import json

import numpy as np
import pytest

import backprop as bp
from backprop import optim
from backprop.optim import SGD, Adam, AdamW, RMSprop

rng = np.random.default_rng(2)
X = rng.normal(size=(16, 3))
Y = rng.normal(size=(16, 2))
INITIAL = [rng.normal(size=(5, 3)), np.zeros(5), rng.normal(size=(2, 5)), np.zeros(2)]

CONFIGS = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
    ("RMSprop", {}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("Adam", {}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
]
IDS = [f"{n}-{k}" for n, k in CONFIGS]


def make_params(dtype=np.float64, initial=INITIAL):
    return [bp.Tensor(a.astype(dtype), requires_grad=True) for a in initial]


def grad_step(params, opt):
    W1, b1, W2, b2 = params
    opt.zero_grad()
    x = X.astype(W1.dtype)
    prediction = bp.linear(bp.tanh(bp.linear(x, W1, b1)), W2, b2)
    bp.mean((prediction - Y.astype(W1.dtype)) ** 2).backward()
    opt.step()


def groups(params):
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}]


def build(name, kwargs, params):
    return getattr(optim, name)(groups(params), **kwargs)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_resume_is_bit_identical(name, kwargs):
    params = make_params()
    opt = build(name, kwargs, params)
    for _ in range(25):
        grad_step(params, opt)
    uninterrupted = [p.data.copy() for p in params]

    params = make_params()
    opt = build(name, kwargs, params)
    for _ in range(10):
        grad_step(params, opt)
    saved_weights = [p.data.copy() for p in params]
    saved = opt.state_dict()
    grad_step(params, opt)  # later steps must not change the snapshot
    resumed_params = make_params(initial=saved_weights)
    resumed = build(name, {}, resumed_params) if name != "SGD" else build(name, {"lr": 1.0}, resumed_params)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for _ in range(15):
        grad_step(resumed_params, resumed)
    for a, b in zip(resumed_params, uninterrupted):
        assert np.array_equal(a.data, b)


def split_arrays(state_dict):
    """What a checkpoint does: the arrays apart, the rest through JSON."""
    arrays = {}
    state = {}
    for index, entry in state_dict["state"].items():
        state[index] = {}
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{name}"] = value
            else:
                state[index][name] = value
    text = json.dumps({"param_groups": state_dict["param_groups"], "state": state})
    return text, arrays


def join_arrays(text, arrays):
    state_dict = json.loads(text)
    for key, value in arrays.items():
        index, name = key.split(".")
        state_dict["state"].setdefault(index, {})[name] = value
    return state_dict


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_json_round_trip_resumes(name, kwargs):
    params = make_params()
    opt = build(name, kwargs, params)
    for _ in range(5):
        grad_step(params, opt)
    text, arrays = split_arrays(opt.state_dict())
    clone_params = make_params(initial=[p.data for p in params])
    clone = build(name, kwargs, clone_params)
    clone.load_state_dict(join_arrays(text, arrays))  # string keys, lists for tuples
    for group, original in zip(clone.param_groups, opt.param_groups):
        assert {k: v for k, v in group.items() if k != "params"} == \
               {k: v for k, v in original.items() if k != "params"}
    for _ in range(5):
        grad_step(params, opt)
        grad_step(clone_params, clone)
    for a, b in zip(params, clone_params):
        assert np.array_equal(a.data, b.data)


def test_state_dict_structure():
    params = make_params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], amsgrad=True)
    unused = bp.Tensor(np.ones(3), requires_grad=True)
    opt.add_param_group({"params": [unused]})
    grad_step(params, opt)
    state_dict = opt.state_dict()
    assert set(state_dict) == {"param_groups", "state"}
    assert [g["params"] for g in state_dict["param_groups"]] == [[0, 1], [2, 3], [4]]
    assert state_dict["param_groups"][1]["lr"] == 0.01
    assert state_dict["param_groups"][0]["betas"] == (0.9, 0.999)
    json.dumps(state_dict["param_groups"])
    assert sorted(state_dict["state"]) == [0, 1, 2, 3]  # the unused parameter has no state
    entry = state_dict["state"][2]
    assert set(entry) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert entry["step"] == 1 and isinstance(entry["step"], int)
    assert entry["exp_avg"].shape == params[2].shape
    assert entry["exp_avg"] is not opt.state[params[2]]["exp_avg"]  # a copy


def test_load_state_dict_validates():
    params = make_params()
    opt = optim.Adam(params, lr=0.01)
    grad_step(params, opt)
    good = opt.state_dict()

    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3, 5\)"):
        opt.load_state_dict(bad)

    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam(groups(make_params())).load_state_dict(good)
    with pytest.raises(ValueError, match="has 4 parameters"):
        optim.Adam(make_params()[:3]).load_state_dict(good)
    with pytest.raises(ValueError, match="another optimiser"):
        optim.SGD(make_params(), lr=0.1).load_state_dict(good)
    sgd = optim.SGD(params, lr=0.1, momentum=0.9)
    grad_step(params, sgd)
    sgd_state = sgd.state_dict()
    sgd_state["param_groups"][0].update(opt.defaults)
    with pytest.raises(ValueError, match="unknown state 'momentum_buffer'"):
        optim.Adam(make_params()).load_state_dict(sgd_state)
    with pytest.raises(ValueError, match="'param_groups' and 'state'"):
        opt.load_state_dict({"state": {}})

    # a failed load leaves the optimiser as it was
    before = opt.state_dict()
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    after = opt.state_dict()
    assert np.array_equal(before["state"][0]["exp_avg"], after["state"][0]["exp_avg"])


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_float32_stays_float32(name, kwargs):
    params32 = make_params(np.float32)
    params64 = make_params(np.float64)
    opt32, opt64 = build(name, kwargs, params32), build(name, kwargs, params64)
    for group in opt32.param_groups:  # hyper-parameters as NumPy float64 scalars must not upcast either
        group["lr"] = np.float64(group["lr"])
    for _ in range(10):
        grad_step(params32, opt32)
        grad_step(params64, opt64)
    for p32, p64 in zip(params32, params64):
        assert p32.data.dtype == np.float32
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)
    for state in opt32.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_updates_in_place_with_fixed_buffers(name, kwargs):
    params = make_params()
    opt = build(name, kwargs, params)
    arrays = [p.data for p in params]
    grad_step(params, opt)
    grad_step(params, opt)
    buffers = {id(p): {k: v for k, v in opt.state[p].items() if isinstance(v, np.ndarray)} for p in params}
    scratch = dict(opt._scratch_buffers)
    for _ in range(3):
        grad_step(params, opt)
    assert all(p.data is a for p, a in zip(params, arrays))
    for p in params:
        for key, value in buffers[id(p)].items():
            assert opt.state[p][key] is value
    assert opt._scratch_buffers.keys() == scratch.keys()
    assert all(opt._scratch_buffers[k] is v for k, v in scratch.items())


def test_step_leaves_grad_unchanged():
    params = make_params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    W1, b1, W2, b2 = params
    prediction = bp.linear(bp.tanh(bp.linear(X, W1, b1)), W2, b2)
    bp.mean((prediction - Y) ** 2).backward()
    grads = [p.grad.copy() for p in params]
    opt.step()
    opt.step()
    assert all(np.array_equal(p.grad, g) for p, g in zip(params, grads))


def test_zero_grad():
    params = make_params()
    opt = optim.Adam(params)
    grad_step(params, opt)
    assert all(p.grad is not None for p in params)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    before = [p.data.copy() for p in params]
    opt.step()  # no gradients: nothing moves
    assert all(np.array_equal(p.data, b) for p, b in zip(params, before))


def test_closure_returns_loss():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)

    def closure():
        opt.zero_grad()
        W1, b1, W2, b2 = params
        loss = bp.mean((bp.linear(bp.tanh(bp.linear(X, W1, b1)), W2, b2) - Y) ** 2)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    assert opt.step(closure).item() < first


def test_scheduler_changes_lr_through_param_groups():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    opt.param_groups[0]["lr"] = 0.0  # e.g. set by a schedule: lr = 0 is allowed here
    before = [p.data.copy() for p in params]
    grad_step(params, opt)
    assert all(np.array_equal(p.data, b) for p, b in zip(params, before))


# ------------------------------------------------------------- packed parameters
def _packed_vs_separate(make_optimizer, steps=6, column_major=False):
    """The same updates with parameters packed into one flat array and kept apart (with
    ``column_major``, the matrices packed column-major, as fit packs a Dense layer's W)."""
    from backprop.optim import pack_parameters
    from backprop.optim.packing import packed_like

    rng = np.random.default_rng(3)
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    results = []
    for packed in (False, True):
        params = [bp.Tensor(a.copy(), requires_grad=True) for a in init]
        opt = make_optimizer(params)
        if packed:
            pack_parameters(params, column_major=[p for p in params if p.data.ndim == 2] if column_major else ())
            assert [p.data.flags.c_contiguous for p in params if p.data.ndim == 2] == [not column_major] * 2
            flat_grad = np.empty(sum(a.size for a in init))
            grad_views = packed_like([p.data for p in params])  # (the gradients in the weights' layout)
        for t in range(steps):
            if packed and column_major:
                for p, g, view in zip(params, grads[t], grad_views):
                    p.grad = view
                    p.grad[...] = g
                if t == steps // 2:
                    opt.load_state_dict(opt.state_dict())
            elif packed:
                offset = 0
                for p, g in zip(params, grads[t]):
                    p.grad = flat_grad[offset:offset + g.size].reshape(g.shape)
                    p.grad[...] = g
                    offset += g.size
                if t == steps // 2:  # a state_dict taken mid-way restores into the packed layout
                    opt.load_state_dict(opt.state_dict())
            else:
                for p, g in zip(params, grads[t]):
                    p.grad = g.copy()
            opt.step()
        results.append(([p.data.copy() for p in params], opt.state_dict()))
        if packed:
            assert opt._packed(opt.param_groups[0]) is not None
    return results


@pytest.mark.parametrize("make", [
    lambda ps: Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.01),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
])
@pytest.mark.parametrize("column_major", [False, True])
def test_packed_parameters_update_bit_identically(make, column_major):
    (separate, state_a), (packed, state_b) = _packed_vs_separate(make, column_major=column_major)
    for a, b in zip(separate, packed):
        np.testing.assert_array_equal(a, b)
    for index, entry in state_a["state"].items():
        for name, value in entry.items():
            np.testing.assert_array_equal(state_b["state"][index][name], value)


def test_a_reset_state_restarts_the_packed_update():
    import backprop as bp
    from backprop import optim
    from backprop.optim import pack_parameters

    params = [bp.Tensor(np.ones((3, 2), np.float32), requires_grad=True),
              bp.Tensor(np.ones(3, np.float32), requires_grad=True)]
    pack_parameters(params)
    flat_grad = np.full(9, 0.5, np.float32)
    params[0].grad, params[1].grad = flat_grad[:6].reshape(3, 2), flat_grad[6:]
    opt = optim.Adam(params, lr=0.1)
    opt.step()
    opt.step()
    assert opt.state[params[0]]["step"] == 2
    opt.state.clear()
    opt.step()
    assert opt.state[params[0]]["step"] == 1 and opt.state[params[1]]["step"] == 1
    np.testing.assert_allclose(opt.state[params[0]]["exp_avg"], 0.05)  # (1 − β₁)·g from zero again
