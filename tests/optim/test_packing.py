"""Parameter packing: one flat array behind several parameters, values and identities unchanged."""

import numpy as np
import pytest

import backprop as bp
from backprop import optim
from backprop.optim.packing import flat_base, pack_parameters, packed_like

SHAPES = [(4, 3), (4,), (2, 4), (2,)]


def _params(dtype=np.float64, shapes=SHAPES):
    rng = np.random.default_rng(0)
    return [bp.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def test_pack_parameters_keeps_values_and_identities_and_shares_one_array():
    params = _params()
    before = [(p, p.data.copy()) for p in params]
    pack_parameters(params)
    base = flat_base(params, lambda p: p.data)
    assert base is not None and base.size == sum(int(np.prod(s)) for s in SHAPES)
    for (p0, values), p in zip(before, params):
        assert p is p0
        np.testing.assert_array_equal(p.data, values)
        assert np.shares_memory(p.data, base)
    np.testing.assert_array_equal(base, np.concatenate([values.ravel() for _, values in before]))


def test_packing_twice_leaves_the_layout_alone():
    params = _params()
    pack_parameters(params)
    arrays = [p.data for p in params]
    pack_parameters(params)
    assert all(p.data is a for p, a in zip(params, arrays))


@pytest.mark.parametrize("params", [
    lambda: _params()[:1],                                                # one parameter: nothing to gain
    lambda: _params()[:2] + _params(np.float32)[2:],                      # two dtypes: no one flat array
])
def test_what_cannot_share_one_array_is_left_alone(params):
    params = params()
    arrays = [p.data for p in params]
    pack_parameters(params)
    assert all(p.data is a for p, a in zip(params, arrays))


def test_flat_base_needs_the_slices_in_order():
    params = _params()
    pack_parameters(params)
    assert flat_base(params, lambda p: p.data) is not None
    assert flat_base(params[::-1], lambda p: p.data) is None
    assert flat_base(params, lambda p: p.grad) is None  # no gradients yet
    params[1].data = params[1].data.copy()  # one parameter moved out: the layout is broken
    assert flat_base(params, lambda p: p.data) is None


def test_packed_like_gives_gradients_the_weights_layout():
    params = _params(np.float32)
    pack_parameters(params)
    grads = packed_like([p.data for p in params])
    for p, g in zip(params, grads):
        assert g.shape == p.data.shape and g.dtype == np.float32
        p.grad = g
    assert flat_base(params, lambda p: p.grad) is not None
    assert packed_like([p.data for p in params], np.float64)[0].dtype == np.float64


def test_the_optimiser_takes_the_packed_route_only_when_both_layouts_hold():
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    for p, g in zip(params, packed_like([p.data for p in params])):
        g[...] = 1.0
        p.grad = g
    assert opt._packed(opt.param_groups[0]) is None  # the weights are apart
    pack_parameters(params)
    assert opt._packed(opt.param_groups[0]) is not None
    opt.step()
    assert opt.state[params[0]]["step"] == 1


def test_pack_parameters_stays_importable_from_optim():
    assert optim.pack_parameters is pack_parameters


def test_the_flat_array_starts_on_a_cache_line():
    for dtype in (np.float32, np.float64, np.float16):
        for n in range(1, 6):
            grads = packed_like([np.zeros(n, dtype), np.zeros((n, 3), dtype)])
            assert grads[0].ctypes.data % 64 == 0 and grads[0].dtype == dtype
            assert flat_base([bp.Tensor(g) for g in grads], lambda p: p.data) is not None


def test_column_major_packing_keeps_values_and_lays_each_matrix_out_column_major():
    params = _params()
    before = [p.data.copy() for p in params]
    pack_parameters(params, column_major=[params[0], params[2]])
    base = flat_base(params, lambda p: p.data)
    assert base is not None
    assert [p.data.flags.c_contiguous for p in params] == [False, True, False, True]
    for p, values in zip(params, before):
        np.testing.assert_array_equal(p.data, values)  # same shape and values: only the memory order differs
    # Element k of the flat array is element k of each slice's memory (W[:, 0] first for a matrix).
    np.testing.assert_array_equal(base[:4], before[0][:, 0])
    grads = packed_like([p.data for p in params])
    assert [g.flags.c_contiguous for g in grads] == [False, True, False, True]
    pack_parameters(params)  # asked for row-major again: repacked so, values kept
    assert all(p.data.flags.c_contiguous for p in params)
    for p, values in zip(params, before):
        np.testing.assert_array_equal(p.data, values)


def test_fit_packs_each_dense_w_column_major_and_nothing_else():
    model = bp.nn.Sequential(bp.nn.Dense(6, 5, activation="relu"), bp.nn.Dense(5, 3))
    X = np.random.default_rng(1).standard_normal((40, 6)).astype(np.float32)
    model.fit(X, np.arange(40) % 3, loss="cross_entropy", optimizer="adam", epochs=1, batch_size=8, verbose=0)
    W1, b1, W2, b2 = model.parameters()
    assert not W1.data.flags.c_contiguous and not W2.data.flags.c_contiguous
    assert W1.shape == (5, 6) and W2.shape == (3, 5)  # torch.nn.Linear's (n_out, n_in), as ever
    assert flat_base(list(model.parameters()), lambda p: p.data) is not None
    assert all(value.flags.c_contiguous for value in model.state_dict().values())  # copies, row-major
