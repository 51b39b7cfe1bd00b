"""The fused fast path computes exactly the general engine's losses, gradients and outputs."""

import numpy as np
import pytest

import backprop as bp
from backprop import losses, nn, optim
from backprop.layers.dense import DenseOp, DenseStack
from backprop.optim.optimizer import Optimizer
from backprop.training import Trainer, fastpath

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "arctan", "step", "identity", None]


def _data(n=12, n_in=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    labels = rng.integers(0, k, n)
    rows = rng.random((n, k))
    rows /= rows.sum(axis=1, keepdims=True)
    weights = rng.random(n) + 0.1
    return X, labels, rows, weights


def _engine(model, loss_fn, X, target, weight):
    """Loss and gradients from the general engine (graph + backward)."""
    for p in model.parameters():
        p.grad = None
    out = model(bp.Tensor(X))
    cost = loss_fn(out, target) if weight is None else loss_fn(out, target, sample_weight=weight)
    penalty = model.regularization_loss()
    if penalty is not None:
        cost = cost + penalty
    cost.backward()
    return float(cost.data), out.data.copy(), [p.grad.copy() for p in model.parameters()]


def _fused(model, loss_fn, X, target, weight):
    net = fastpath.compile_model(model, loss_fn)
    assert net is not None
    for p in model.parameters():
        p.grad = None
    cost, out = net.train_step(X, target, weight)
    return cost, out.copy(), [p.grad.copy() for p in model.parameters()]


def _build(hidden_activation, *, separate=False, dropout=0.0, reg=None, bias=True, k=3):
    bp.manual_seed(1)
    layers = []
    if separate:
        layers += [nn.Dense(5, 7, use_bias=bias, dtype="float64", weight_regularizer=reg)]
        act = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), None: nn.Identity()}[hidden_activation]
        layers.append(act)
    else:
        layers += [nn.Dense(5, 7, activation=hidden_activation, use_bias=bias, dtype="float64",
                            weight_regularizer=reg)]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Dense(7, 7, activation="tanh", dtype="float64"), nn.Dense(7, k, dtype="float64")]
    return nn.Sequential(*layers)


def _compare(model, loss_fn, X, target, weight, seed=3):
    bp.manual_seed(seed)
    expected = _engine(model, loss_fn, X, target, weight)
    bp.manual_seed(seed)
    got = _fused(model, loss_fn, X, target, weight)
    assert got[0] == pytest.approx(expected[0], rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12, atol=1e-14)
    for g, e in zip(got[2], expected[2]):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_labels_match_engine(activation, weighted):
    X, labels, _, weights = _data()
    _compare(_build(activation), losses.cross_entropy, X, labels, weights if weighted else None)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_rows_match_engine(weighted):
    X, _, rows, weights = _data()
    _compare(_build("relu"), losses.cross_entropy, X, rows, weights if weighted else None)


@pytest.mark.parametrize("loss_fn", [losses.mse, losses.half_mse])
@pytest.mark.parametrize("weighted", [False, True])
def test_squared_losses_match_engine(loss_fn, weighted):
    X, _, rows, weights = _data()
    _compare(_build("tanh", k=3), loss_fn, X, rows * 5 - 1, weights if weighted else None)
    _compare(_build("relu", k=1), loss_fn, X, rows[:, 0] * 3, weights if weighted else None)


@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_matches_engine(weighted):
    X, labels, rows, weights = _data()
    w = weights if weighted else None
    _compare(_build("relu", k=1), losses.binary_cross_entropy_with_logits, X, (labels > 0).astype(float), w)
    _compare(_build("sigmoid", k=3), losses.binary_cross_entropy_with_logits, X, (rows > 0.3).astype(float), w)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", None])
def test_separate_activation_layers_and_no_bias(activation):
    X, labels, _, _ = _data()
    _compare(_build(activation, separate=True, bias=False), losses.cross_entropy, X, labels, None)


@pytest.mark.parametrize("reg", [nn.L1(0.01), nn.L2(0.02), nn.L1L2(0.01, 0.03)])
def test_regularisers_match_engine(reg):
    X, labels, _, _ = _data()
    _compare(_build("relu", reg=reg), losses.cross_entropy, X, labels, None)


def test_a_regulariser_changed_in_place_is_followed():
    X, labels, _, _ = _data()
    reg = nn.L2(0.02)
    model = _build("relu", reg=reg)
    _compare(model, losses.cross_entropy, X, labels, None)  # compiles (and caches) the network
    reg.l2 = 0.5
    _compare(model, losses.cross_entropy, X, labels, None)


def test_dropout_draws_the_same_masks_as_the_layer():
    X, labels, _, _ = _data(n=40)
    model = _build("relu", dropout=0.4)
    model.train()
    _compare(model, losses.cross_entropy, X, labels, None)


def test_same_width_layers_keep_separate_delta_buffers():
    bp.manual_seed(0)
    model = nn.Sequential(*[nn.Dense(4, 4, activation="tanh", dtype="float64") for _ in range(4)])
    X, labels, _, _ = _data(n_in=4, k=4)
    _compare(model, losses.cross_entropy, X, labels, None)


def test_float32_gradients_close_to_engine():
    X, labels, _, _ = _data()
    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(5, 8, activation="relu"), nn.Dense(8, 3))
    X32 = X.astype(np.float32)
    expected = _engine(model, losses.cross_entropy, X32, labels, None)
    got = _fused(model, losses.cross_entropy, X32, labels, None)
    for g, e in zip(got[2], expected[2]):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_unsupported_losses_and_models_without_any_fused_layer_use_the_engine():
    dense = nn.Sequential(nn.Dense(5, 3))
    assert fastpath.compile_model(dense, losses.mae) is None
    assert fastpath.compile_model(dense, lambda out, y: losses.mse(out, y)) is None
    assert fastpath.compile_model(dense, losses.cross_entropy) is not None
    assert fastpath.compile_model(nn.Sequential(nn.Softmax())) is None  # nothing to fuse
    assert fastpath.compile_model(Shift(3)) is None


def test_a_layer_without_a_fused_form_runs_in_the_engine_inside_the_plan():
    model = nn.Sequential(nn.Dense(5, 3), nn.Softmax(), nn.Dense(3, 3, activation="softmax"), nn.Dense(3, 2))
    steps = fastpath.compile_model(model).steps
    assert [type(step) for step in steps] == [DenseOp, fastpath.EngineStep, fastpath.EngineStep, DenseOp]
    assert [step.layer for step in steps[1:3]] == [model[1], model[2]]


def test_nested_sequentials_are_flattened_and_activations_fold_into_dense():
    model = nn.Sequential(nn.Sequential(nn.Dense(5, 4), nn.ReLU()),
                          nn.Sequential(nn.Sequential(nn.Dense(4, 2), nn.Identity())))
    net = fastpath.compile_model(model)
    assert [type(step) for step in net.steps] == [DenseOp, DenseOp]
    assert net.steps[0].activation is model[0][1].activation and net.steps[1].activation is None
    assert [type(step) for step in net.predict_steps] == [DenseStack]  # one-row predict: one compiled call


def test_predict_matches_engine_forward():
    X, _, _, _ = _data()
    model = _build("sigmoid", dropout=0.5)
    model.eval()
    with bp.no_grad():
        expected = model(bp.Tensor(X)).data
    np.testing.assert_allclose(fastpath.compile_model(model).predict(X), expected, rtol=1e-13)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-13)


@pytest.mark.parametrize("loss", ["cross_entropy", "half_mse"])
def test_training_with_and_without_fast_path_follows_the_same_trajectory(loss):
    X, labels, rows, _ = _data(n=50)
    y = labels if loss == "cross_entropy" else rows
    histories, weights = [], []
    for fast in (True, False):
        model = _build("relu", dropout=0.2)
        trainer = Trainer(model, loss=loss, optimizer="adam", batch_size=8, verbose=0, fast_path=fast)
        histories.append(trainer.fit(X, y, epochs=3, seed=5).history["loss"])
        weights.append([p.data.copy() for p in model.parameters()])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-10)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_replacing_a_parameter_recompiles_the_network():
    from backprop.nn import Parameter

    X, labels, _, _ = _data()
    model = _build("relu")
    Trainer(model, loss="cross_entropy", optimizer="sgd", verbose=0).fit(X, labels)
    model[-1].W = Parameter(np.zeros_like(model[-1].W.data))
    with bp.no_grad():
        expected = model(bp.Tensor(X)).data
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12)
    Trainer(model, loss="cross_entropy", optimizer="sgd", verbose=0).fit(X, labels, epochs=2)
    assert np.abs(model[-1].W.data).sum() > 0  # the new parameter is trained


def test_tied_weights_use_the_engine():
    bp.manual_seed(0)
    a, b = nn.Dense(4, 4, dtype="float64"), nn.Dense(4, 4, dtype="float64")
    b.W = a.W
    assert fastpath.compile_model(nn.Sequential(a, b, nn.Dense(4, 3, dtype="float64")), losses.cross_entropy) is None


def test_the_plan_is_kept_per_model_and_rebuilt_when_one_of_its_modules_changes():
    a, b = _build("relu"), _build("relu")
    net_a = fastpath.compile_model(a)
    assert fastpath.compile_model(a) is net_a
    b[0].activation = None  # another model's change is not this one's
    assert fastpath.compile_model(a) is net_a
    a[1].activation = None  # a change deep inside the model is
    rebuilt = fastpath.compile_model(a)
    assert rebuilt is not net_a and rebuilt.steps[1].activation is None



def test_fit_keeps_its_plan_and_gradients_from_one_fit_to_the_next():
    """train()/eval() and fit's record do not rebuild the plan; a second fit reuses the first one's
    gradient arrays (the optimiser's packed state kept) and trains as one longer fit. No batch's
    arrays are held between fits."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    twice, once = _build("relu").to("float32"), _build("relu").to("float32")
    once.load_state_dict(twice.state_dict())
    opt_twice, opt_once = optim.Adam(twice.parameters(), lr=0.01), optim.Adam(once.parameters(), lr=0.01)
    kw = dict(loss="cross_entropy", batch_size=16, verbose=0)
    twice.fit(X, y, optimizer=opt_twice, epochs=1, seed=5, **kw)
    grads = [p.grad for p in twice.parameters()]
    predictor = fastpath.compile_model(twice)
    twice.eval()
    twice.train()
    assert fastpath.compile_model(twice) is predictor
    trainer = fastpath.compile_model(twice, losses.get_loss("cross_entropy"))
    assert all(g is p.grad for g, p in zip(grads, twice.parameters()))
    assert not trainer._by_input and all(a is None for a in trainer._inputs + trainer._results)
    twice.fit(X, y, optimizer=opt_twice, epochs=1, seed=6, **kw)
    assert fastpath.compile_model(twice, losses.get_loss("cross_entropy")) is trainer
    assert all(g is p.grad for g, p in zip(grads, twice.parameters()))
    # The same two epochs from another model, its plan built afresh for each fit
    once.fit(X, y, optimizer=opt_once, epochs=1, seed=5, **kw)
    once.__dict__.pop("_fused_plan")
    once.fit(X, y, optimizer=opt_once, epochs=1, seed=6, **kw)
    for a, b in zip(twice.parameters(), once.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_kept_gradients_follow_a_parameter_replaced_between_fits():
    X, y = np.random.default_rng(1).standard_normal((32, 5)), np.arange(32) % 3
    model = _build("relu")
    model.fit(X, y, loss="cross_entropy", epochs=1, batch_size=8, verbose=0)
    model.load_state_dict({k: np.ascontiguousarray(v) for k, v in model.state_dict().items()})
    model.fit(X, y, loss="cross_entropy", epochs=1, batch_size=8, verbose=0)
    for p in model.parameters():
        assert p.grad.shape == p.data.shape and np.isfinite(p.data).all()
        assert np.isfortran(p.grad) == np.isfortran(p.data) or p.data.ndim == 1

# ------------------------------------------------ fit: the fused plan and the packed update
class Shift(nn.Module):
    """a = z + c with a learned c and its own penalty 0.1 Σc²: a layer without a fused form."""

    def __init__(self, n):
        super().__init__()
        self.c = nn.Parameter(np.linspace(-0.5, 0.5, n))

    def forward(self, x):
        return x + self.c

    def own_regularization_loss(self):
        return 0.1 * (self.c * self.c).sum()


def _models():
    bp.manual_seed(2)
    d = dict(dtype="float64")
    return {
        "mlp": nn.Sequential(nn.Dense(5, 8, activation="relu", **d), nn.Dropout(0.2), nn.Dense(8, 3, **d)),
        # (no bias before BatchNorm: its gradient is 0 up to rounding, which Adam would amplify)
        "batchnorm": nn.Sequential(nn.Dense(5, 8, use_bias=False, **d), nn.BatchNorm(8, **d), nn.ReLU(),
                                   nn.Dense(8, 3, **d)),
        "custom in the middle": nn.Sequential(nn.Dense(5, 8, weight_regularizer=nn.L2(0.01), **d), Shift(8),
                                              nn.Tanh(), nn.Dense(8, 3, **d)),
        "custom first": nn.Sequential(Shift(5), nn.Dense(5, 8, activation="relu", **d), nn.Dense(8, 3, **d)),
        "softmax in the middle": nn.Sequential(nn.Dense(5, 4, activation="softmax", **d), nn.Dense(4, 3, **d)),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_fit_takes_the_fused_plan_and_the_packed_update_with_the_engine_s_trajectory(name, monkeypatch):
    X, labels, _, _ = _data(n=40)
    counts = {"fused steps": 0, "packed updates": 0}

    def count(key, method):
        def counted(self, *args):
            counts[key] += 1
            return method(self, *args)
        return counted

    monkeypatch.setattr(fastpath.FusedNetwork, "train_step", count("fused steps", fastpath.FusedNetwork.train_step))
    monkeypatch.setattr(Optimizer, "_step_packed", count("packed updates", Optimizer._step_packed))
    runs = []
    for fast in (True, False):
        model = _models()[name]
        opt = optim.Adam(model.parameters(), lr=0.01)
        before = dict(counts)
        history = Trainer(model, loss="cross_entropy", optimizer=opt, batch_size=8, verbose=0,
                          fast_path=fast).fit(X, labels, epochs=2, seed=4).history["loss"]
        steps = {key: counts[key] - before[key] for key in counts}
        runs.append((history, [p.data.copy() for p in model.parameters()], model.state_dict()))
        if fast:
            assert steps == {"fused steps": 10, "packed updates": 10}, steps
        else:
            assert steps == {"fused steps": 0, "packed updates": 0}, steps
    (fused_loss, fused_weights, fused_state), (engine_loss, engine_weights, engine_state) = runs
    np.testing.assert_allclose(fused_loss, engine_loss, rtol=1e-12)
    for a, b in zip(fused_weights, engine_weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for key in engine_state:  # BatchNorm's running statistics too
        np.testing.assert_allclose(fused_state[key], engine_state[key], rtol=1e-12, atol=1e-12)


def test_an_engine_run_layer_s_penalty_counts_once():
    X, labels, _, _ = _data()
    model = _models()["custom in the middle"]
    model.train()
    expected = _engine(model, losses.cross_entropy, X, labels, None)
    got = _fused(model, losses.cross_entropy, X, labels, None)
    penalty = float(model.regularization_loss().data)
    assert penalty > 0.01
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    for g, e in zip(got[2], expected[2]):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def _conv_net(dtype="float64"):
    """The notes' ball classifier's shape on small images: a stride-2 conv, a 2×2 pool, a conv, a global pool."""
    bp.manual_seed(4)
    return nn.Sequential(
        nn.Conv2d(3, 4, 5, stride=2, activation="relu", dtype=dtype), nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 3, padding=1, activation="tanh", dtype=dtype), nn.MaxPool2d(5),
        nn.Flatten(), nn.Dense(3, 2, dtype=dtype),
    )


def test_conv_networks_run_fused_with_the_engine_s_losses_gradients_and_outputs():
    from backprop.layers.conv import ConvOp
    from backprop.layers.flatten import FlattenOp
    from backprop.layers.pooling import MaxPoolOp

    rng = np.random.default_rng(8)
    X, labels = rng.standard_normal((6, 3, 23, 24)), rng.integers(0, 2, 6)
    model = _conv_net()
    steps = fastpath.compile_model(model, losses.cross_entropy).steps
    assert [type(s) for s in steps] == [ConvOp, MaxPoolOp, ConvOp, MaxPoolOp, FlattenOp, DenseOp]
    _compare(model, losses.cross_entropy, X, labels, None)
    _compare(model, losses.cross_entropy, X, labels, rng.random(6) + 0.1)
    model.eval()
    with bp.no_grad():
        expected = model(bp.Tensor(X)).data
    np.testing.assert_allclose(fastpath.compile_model(model).predict(X), expected, rtol=1e-12, atol=1e-14)


def test_the_first_conv_layer_computes_no_gradient_for_the_image(monkeypatch):
    """δ for the input image is never needed: the first layer with parameters gets no δ buffer, so
    its backward asks the conv op for ∂J/∂W and ∂J/∂b only (neither col2im nor the δ GEMM runs)."""
    from backprop.engine.ops import conv as conv_ops
    from backprop.layers import conv as conv_layers

    asked = []
    original = conv_ops._conv2d_backward

    def recording(delta, x, W, *args):
        asked.append((x.shape, args[4]))  # (input shape, want_x)
        return original(delta, x, W, *args)

    monkeypatch.setattr(conv_layers, "_conv2d_backward", recording)
    rng = np.random.default_rng(9)
    X, labels = rng.standard_normal((4, 3, 23, 24)), rng.integers(0, 2, 4)
    net = fastpath.compile_model(_conv_net(), losses.cross_entropy)
    net.train_step(X, labels, None)
    assert asked == [((4, 4, 5, 5), True), ((4, 3, 23, 24), False)]
    asked.clear()
    delta = net.output_delta(net.forward(X, input_grad=True))
    delta.fill(1.0)
    assert net.backward(delta, input_grad=True).shape == X.shape  # asked for: then it is computed
    assert asked[-1] == ((4, 3, 23, 24), True)


def test_conv_networks_train_in_float32_close_to_the_engine():
    rng = np.random.default_rng(10)
    X, labels = rng.standard_normal((40, 3, 23, 24)).astype(np.float32), rng.integers(0, 2, 40)
    weights = []
    for fast in (True, False):
        model = _conv_net("float32")
        Trainer(model, loss="cross_entropy", optimizer="adam", batch_size=8, verbose=0, fast_path=fast).fit(
            X, labels, epochs=2, seed=5)
        weights.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*weights):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_conv_networks_run_fused_without_compiled_kernels_too():
    """The NumPy paths of the conv and pool ops (numba absent) in the fused forms: the engine's numbers."""
    from backprop import jit

    rng = np.random.default_rng(11)
    X, labels = rng.standard_normal((5, 3, 23, 24)), rng.integers(0, 2, 5)
    with jit.disabled():
        _compare(_conv_net(), losses.cross_entropy, X, labels, None)
        model = _conv_net().eval()
        with bp.no_grad():
            expected = model(bp.Tensor(X)).data
        np.testing.assert_allclose(fastpath.compile_model(model).predict(X), expected, rtol=1e-12, atol=1e-14)
