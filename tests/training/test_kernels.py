"""The fast path's compiled kernels agree with the NumPy code they replace.

(ReLU's own kernels are checked bit for bit in ``tests/engine/test_activation_kernels.py``.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import jit, losses, nn
from backprop.engine.ops.activation import ReLU
from backprop.layers.dense import dense_stack_row
from backprop.training import fastpath

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not installed (or BACKPROP_JIT=0)")

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-13)])
def test_softmax_cross_entropy_matches_numpy(dtype, rtol):
    rng = np.random.default_rng(3)
    Z = (rng.standard_normal((9, 4)) * 5).astype(dtype)
    Z[0] = [1000, -1000, 0, 999]  # extreme logits stay finite
    labels = rng.integers(0, 4, 9)
    delta, expected_delta = np.empty_like(Z), np.empty_like(Z)
    loss = losses.softmax_cross_entropy_kernel.get()(Z, labels, delta, dtype(1 / 9), dtype(0), dtype(1))
    with jit.disabled():
        expected = losses.cross_entropy.fused(Z, labels, None, expected_delta)
    assert loss == pytest.approx(expected, rel=rtol)
    np.testing.assert_allclose(delta, expected_delta, rtol=rtol, atol=rtol / 9)


def test_softmax_cross_entropy_out_of_range_label_is_nan_not_a_crash():
    Z = np.zeros((2, 3))
    delta = np.empty_like(Z)
    loss = losses.softmax_cross_entropy_kernel.get()(Z, np.array([0, 7]), delta, 0.5, 0.0, 1.0)
    assert np.isnan(loss)


def _model(dtype):
    bp.manual_seed(0)
    return nn.Sequential(nn.Dense(6, 8, activation="relu", dtype=dtype), nn.Dense(8, 8, activation="relu", dtype=dtype),
                         nn.Dropout(0.0), nn.Dense(8, 3, dtype=dtype))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_train_step_with_and_without_kernels(dtype, rtol, monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((10, 6)).astype(dtype)
    y = rng.integers(0, 3, 10)
    calls = []
    for kernel in (ReLU.add_bias_relu_in_place, ReLU.relu_delta_and_bias_grad, losses.softmax_cross_entropy_kernel):
        compiled = kernel.get()
        monkeypatch.setattr(kernel, "_compiled",
                            lambda *args, _f=compiled, _k=kernel: calls.append(_k) or _f(*args))
    results = []
    for disabled in (False, True):
        model = _model(dtype)
        net = fastpath.compile_model(model, losses.cross_entropy)
        if disabled:
            with jit.disabled():
                cost, outputs = net.train_step(X, y, None)
        else:
            cost, outputs = net.train_step(X, y, None)
        results.append((cost, outputs.copy(), [p.grad.copy() for p in model.parameters()]))
    # (training computes ReLU in place on the layer's output: backward reads 1[a > 0] = 1[z > 0])
    assert {k.py_func.__name__ for k in calls} == {"add_bias_relu_in_place", "relu_delta_and_bias_grad",
                                                   "softmax_cross_entropy_kernel"}
    (cost, outputs, grads), (cost0, outputs0, grads0) = results
    assert cost == pytest.approx(cost0, rel=rtol)
    np.testing.assert_array_equal(outputs, outputs0)  # the forward pass is bit-identical
    for g, g0 in zip(grads, grads0):
        np.testing.assert_allclose(g, g0, rtol=rtol, atol=rtol)


# ------------------------------------------------------------ one-row predict
def _row_model(dtype, activation="relu"):
    bp.manual_seed(1)
    return nn.Sequential(nn.Dense(7, 9, activation=activation, dtype=dtype), nn.Dropout(0.5),
                         nn.Dense(9, 6, dtype=dtype), nn.ReLU(), nn.Dense(6, 3, dtype=dtype))


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_one_row_predict_runs_the_kernel_and_matches_numpy(dtype, rtol, monkeypatch):
    model = _row_model(dtype)
    X = np.random.default_rng(5).standard_normal((4, 7)).astype(dtype)
    with jit.disabled():
        expected = model.predict(X)
    compiled = dense_stack_row.get()
    calls = []
    monkeypatch.setattr(dense_stack_row, "_compiled", lambda *a: calls.append(1) or compiled(*a))
    for i in range(4):
        row = model.predict(X[i:i + 1])
        assert row.shape == (1, 3) and row.dtype == dtype
        np.testing.assert_allclose(row[0], expected[i], rtol=rtol, atol=rtol)
    assert len(calls) == 4


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_one_row_predict_of_column_major_weights_runs_the_column_kernel_and_matches_numpy(dtype, rtol, monkeypatch):
    """fit packs every Dense W column-major; one row then runs dense_stack_row_columns."""
    from backprop.layers.dense import dense_stack_row_columns
    from backprop.optim import pack_parameters

    model = _row_model(dtype)
    pack_parameters(model.parameters(), column_major=[layer.W for layer in model if isinstance(layer, nn.Dense)])
    X = np.random.default_rng(12).standard_normal((4, 7)).astype(dtype)
    with jit.disabled():
        expected = model.predict(X)
    compiled = dense_stack_row_columns.get()
    calls = []
    monkeypatch.setattr(dense_stack_row_columns, "_compiled", lambda *a: calls.append(1) or compiled(*a))
    for i in range(4):
        np.testing.assert_allclose(model.predict(X[i:i + 1])[0], expected[i], rtol=rtol, atol=rtol)
    assert len(calls) == 4
    wide = nn.Sequential(nn.Dense(37, 19, activation="relu", dtype=dtype), nn.Dense(19, 2, dtype=dtype))
    pack_parameters(wide.parameters(), column_major=[wide[0].W, wide[1].W])  # widths not a multiple of 8
    x = np.random.default_rng(13).standard_normal((1, 37)).astype(dtype)
    with jit.disabled():
        np.testing.assert_allclose(wide.predict(x), wide.predict(np.repeat(x, 2, axis=0))[:1], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(wide.predict(x), wide.predict(np.repeat(x, 2, axis=0))[:1], rtol=rtol, atol=rtol)
    assert len(calls) == 5


def test_one_row_predict_refuses_nan_and_inf_even_where_relu_would_hide_them():
    model = nn.Sequential(nn.Dense(2, 2, activation="relu"), nn.Dense(2, 1))
    model[0].W.data[...] = -1.0  # +inf in → −inf before ReLU → 0 after: the outputs stay finite
    for bad in (np.inf, np.nan):
        with pytest.raises(ValueError, match="NaN|infinite"):
            model.predict(np.array([[bad, 1.0]], np.float32))


@pytest.mark.parametrize("change", ["sigmoid", "no_bias", "fortran_weights", "float64_input"])
def test_one_row_predict_falls_back_to_numpy_when_the_kernel_does_not_apply(change):
    model = _row_model(np.float32, activation="sigmoid" if change == "sigmoid" else "relu")
    if change == "no_bias":
        model[2].b = None
    if change == "fortran_weights":
        model[0].W.data = np.asfortranarray(model[0].W.data)
    X = np.random.default_rng(6).standard_normal((3, 7)).astype(np.float64 if change == "float64_input" else np.float32)
    net = fastpath.compile_model(model)
    assert net.predict_row(X[:1]) is None
    with bp.no_grad():
        model.eval()
        expected = model(bp.Tensor(X)).data
        model.train()
    np.testing.assert_allclose(model.predict(X[:1])[0], expected[0], rtol=1e-5, atol=1e-6)


def test_a_changed_layer_is_recompiled_before_the_next_one_row_predict():
    from backprop.layers.activations import resolve_activation

    model = _row_model(np.float64)
    row = np.random.default_rng(7).standard_normal((1, 7))
    assert model.predict(row).shape == (1, 3)
    model[0].activation = resolve_activation("tanh")
    model.append(nn.Dense(3, 2, dtype="float64"))
    with bp.no_grad():
        model.eval()
        expected = model(bp.Tensor(row)).data
    np.testing.assert_allclose(model.predict(row), expected, rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_batch_predict_with_kernels_equals_numpy_and_leaves_x_alone(activation):
    model = _row_model(np.float32, activation=activation)
    X = np.random.default_rng(8).standard_normal((50, 7)).astype(np.float32)
    X_before = X.copy()
    got = model.predict(X)
    with jit.disabled():
        expected = model.predict(X)
    np.testing.assert_array_equal(got, expected)  # the same matmuls, then the same ops in the same order
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("first", ["relu", "sigmoid", None, "batchnorm"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("jit_on", [True, False])
def test_batch_predict_refuses_nan_and_inf_wherever_they_are_with_the_message_of_the_input_check(first, bad, jit_on):
    """The first Dense layer vouches for X in its bias pass (a NaN or ±inf x_j makes every z of
    its row non-finite), so predict skips its own pass over X; a bad X is still refused, with the
    check's message, also where a ReLU would hide it (−∞ · W → −∞ → 0) and where no layer vouches."""
    layers = [nn.BatchNorm(3)] if first == "batchnorm" else []
    layers += [nn.Dense(3, 4, activation=None if first == "batchnorm" else first), nn.Dense(4, 2)]
    model = nn.Sequential(*layers)
    dense = model[len(layers) - 2]
    dense.W.data[...] = -1.0  # +inf in → −inf before ReLU → 0 after: the outputs alone would look fine
    X = np.random.default_rng(10).standard_normal((9, 3)).astype(np.float32)
    for row, column in ((0, 0), (4, 2), (8, 1)):
        bad_X = X.copy()
        bad_X[row, column] = bad
        with jit.disabled() if not jit_on else np.errstate():
            with pytest.raises(ValueError, match=rf"X contains .*(NaN|infinite).* \(first rows: \[{row}\]\)"):
                model.predict(bad_X)
        np.testing.assert_array_equal(bad_X[row, column], bad)  # (the caller's array is left alone)


def test_batch_predict_of_a_huge_but_finite_x_is_not_refused():
    """Where z overflows (x finite, W x beyond float32), the layer cannot vouch; the check of X
    then finds it finite and the prediction stands, as it did before the check moved."""
    model = nn.Sequential(nn.Dense(2, 3, activation="relu"), nn.Dense(3, 1))
    model[0].W.data[...] = 1.0
    X = np.full((5, 2), 3e38, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = model.predict(X)
    assert out.shape == (5, 1)


def test_batch_predict_checks_x_once_and_only_when_the_first_layer_cannot_vouch(monkeypatch):
    from backprop.training import data as data_module

    calls = []
    check = data_module.check_finite
    monkeypatch.setattr(data_module, "check_finite", lambda X, name="X": calls.append(X.shape) or check(X, name))
    X = np.random.default_rng(11).standard_normal((20, 3)).astype(np.float32)
    nn.Sequential(nn.Dense(3, 4, activation="relu"), nn.Dense(4, 2)).predict(X)
    assert calls == []  # vouched for by the first layer's bias pass
    nn.Sequential(nn.BatchNorm(3), nn.Dense(3, 2)).predict(X)
    assert calls == [(20, 3)]


def test_fit_with_and_without_kernels_follows_the_same_trajectory():
    from backprop import optim

    rng = np.random.default_rng(9)
    X = rng.standard_normal((96, 7))
    y = rng.integers(0, 3, 96)
    weights, histories = [], []
    for disabled in (False, True):
        model = _row_model(np.float64)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        if disabled:
            with jit.disabled():
                history = model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=16, seed=0,
                                    verbose=0)
        else:
            history = model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=16, seed=0, verbose=0)
        weights.append([p.data.copy() for p in model.parameters()])
        histories.append(history.history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-12)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ robustness
def test_a_replaced_layer_of_another_width_is_an_error_not_a_crash():
    from backprop.layers.parameter import Parameter

    model = nn.Sequential(nn.Dense(4, 8, activation="relu"), nn.Dense(8, 2))
    X = np.ones((3, 4), np.float32)
    model.predict(X[:1])
    model[1].W.data = np.ones((2, 4000), np.float32)  # the kernels do not check indices themselves
    for rows in (X[:1], X):
        with pytest.raises(ValueError):
            model.predict(rows)
    model[1].W = Parameter(np.ones((2, 4000000), np.float32))
    with pytest.raises(ValueError):
        model.predict(X[:1])


def test_kernels_refuse_mismatched_shapes_themselves():
    Z = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError):
        losses.softmax_cross_entropy_kernel.get()(Z, np.zeros(7, np.int64), Z, np.float32(0.5), np.float32(0), np.float32(1))
    with pytest.raises(ValueError):
        dense_stack_row.get()((np.zeros((3, 9), np.float32),), (np.zeros(3, np.float32),), (True,),
                                      np.zeros(4, np.float32), np.float32(0))


def test_predict_follows_module_to():
    model = nn.Sequential(nn.Dense(4, 8, activation="relu"), nn.Dense(8, 2))
    model.predict(np.ones((1, 4), np.float32))
    model.to("float64")
    X = np.array([[0.1234567890123, 1.0000000001, -0.3, 2.0]])
    with bp.no_grad():
        expected = model(bp.Tensor(X)).data
    row = model.predict(X)
    assert row.dtype == np.float64
    np.testing.assert_allclose(row, expected, rtol=1e-13)
    model.to("float32")
    assert model.predict(X).dtype == np.float32


def test_float16_models_train_and_predict_without_kernels():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((32, 4)).astype(np.float16)
    y = rng.integers(0, 3, 32)
    model = nn.Sequential(nn.Dense(4, 8, activation="relu", dtype="float16"), nn.Dense(8, 3, dtype="float16"))
    model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=1, batch_size=8, verbose=0)
    assert model.predict(X[:1]).dtype == np.float16
    assert model.predict(X).shape == (32, 3)


def test_a_single_row_with_more_dimensions_gets_a_value_error():
    model = nn.Sequential(nn.Dense(3, 8, activation="relu"), nn.Dense(8, 2))
    model.predict(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError):
        model.predict(np.ones((1, 3, 5), np.float32))


def test_the_compiled_network_cache_does_not_keep_a_bare_layer_alive():
    import gc
    import weakref

    layer = nn.Dense(3, 2)
    fastpath.compile_model(layer).predict(np.ones((1, 3), np.float32))
    alive = weakref.ref(layer)
    del layer
    gc.collect()
    assert alive() is None
