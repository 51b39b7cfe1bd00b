"""Losses: every registered loss (facts, gradcheck, fused form, weights), the notes' δ formulas,
extreme logits and bad input.

The losses PyTorch also has are compared with it through the op table (tests/engine/op_table.py).
"""

import numpy as np
import pytest

import backprop as bp
from backprop import Tensor, losses

LOGITS = np.array([[2.0, -1.0, 0.5], [0.0, 0.3, -0.2], [1.5, 1.5, -3.0], [-0.5, 2.5, 1.0]])
LABELS = np.array([0, 2, 1, 1])


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ registry
# Every test in this section iterates the registry: a new loss is covered without editing a list.
REGISTERED = [name for name, _ in losses.LOSSES.items()]


def example_batch(loss_class, rng, n=5, k=3, dtype=np.float64):
    """A batch the loss is smooth at, by its kind: (prediction, target)."""
    kind = loss_class.kind
    if kind == "multiclass":
        return rng.uniform(-3, 3, (n, k)).astype(dtype), rng.integers(0, k, n)
    if kind == "binary_probabilities":
        return rng.uniform(0.05, 0.95, (n, k)).astype(dtype), rng.integers(0, 2, (n, k)).astype(dtype)
    if kind == "binary_logits":
        return rng.uniform(-4, 4, (n, k)).astype(dtype), rng.integers(0, 2, (n, k)).astype(dtype)
    target = rng.standard_normal((n, k)).astype(dtype)
    # Residuals of size 0.3..0.7 or 1.4..2.5: away from the kinks of |r| (at 0) and of Huber-like losses (at 1).
    size = np.where(rng.random((n, k)) < 0.5, rng.uniform(0.3, 0.7, (n, k)), rng.uniform(1.4, 2.5, (n, k)))
    return (target + np.where(rng.random((n, k)) < 0.5, -1, 1) * size).astype(dtype), target


def test_the_registry_holds_the_builtin_losses():
    assert {"mse", "half_mse", "rss", "mae", "binary_cross_entropy", "binary_cross_entropy_with_logits",
            "cross_entropy"} <= set(losses.LOSSES.names())
    assert bp.losses.LOSSES is losses.LOSSES and bp.nn.losses is losses


@pytest.mark.parametrize("name", REGISTERED)
def test_every_loss_states_its_facts(name):
    cls = losses.LOSSES.get(name)
    loss = cls()
    assert issubclass(cls, losses.Loss) and cls.name == name
    assert cls.kind in losses.KINDS
    assert cls.output_activation in (None, "softmax", "sigmoid")
    if cls.kind == "regression":
        with pytest.raises(ValueError, match="classification loss"):
            loss.probabilities(np.zeros((2, 1)))
    for spelling in (name, name.upper(), *cls.aliases):
        assert losses.get_loss(spelling) == loss
    assert losses.get_loss(loss.describe()) == loss  # what a model file stores
    assert type(cls.from_config(loss.get_config())) is cls
    with pytest.raises(TypeError, match=name):
        cls.from_config({"no_such_option": 1})


@pytest.mark.parametrize("name", REGISTERED)
def test_every_loss_passes_a_float64_gradcheck(name):
    cls = losses.LOSSES.get(name)
    prediction, target = example_batch(cls, np.random.default_rng(0))
    assert bp.gradcheck(lambda p: cls()(p, target), Tensor(prediction, requires_grad=True))


@pytest.mark.parametrize("name", [name for name in REGISTERED if losses.LOSSES.get(name).fused is not None])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_fused_form_equals_its_reference(name, weighted):
    """J and δᴸ = ∂J/∂Z of ``fused`` equal the engine's reference, float64 to 1e-12."""
    cls = losses.LOSSES.get(name)
    rng = np.random.default_rng(1)
    prediction, target = example_batch(cls, rng)
    weight = rng.uniform(0.2, 2.0, prediction.shape[0]) if weighted else None
    z = Tensor(prediction, requires_grad=True)
    expected = cls()(z, target) if weight is None else cls()(z, target, sample_weight=weight)
    expected.backward()
    delta = np.full_like(prediction, np.nan)
    with bp.jit.disabled():
        value = cls().fused(prediction.copy(), target, weight, delta)
    assert value == pytest.approx(float(expected.data), rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(delta, z.grad, rtol=1e-12, atol=1e-15)
    if bp.jit.available():  # a compiled form, where the loss has one, agrees to rounding
        compiled = np.full_like(prediction, np.nan)
        assert cls().fused(prediction.copy(), target, weight, compiled) == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(compiled, delta, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", [name for name in REGISTERED if losses.LOSSES.get(name).accepts_sample_weight])
def test_every_loss_weights_examples_by_their_weight(name):
    """Integer weights act as repeated examples: the weighted mean Σ w_i J_i / Σ w_i."""
    cls = losses.LOSSES.get(name)
    prediction, target = example_batch(cls, np.random.default_rng(2), n=3)
    repeated = [0, 0, 2]
    weighted = cls()(Tensor(prediction), target, sample_weight=np.array([2, 0, 1])).item()
    assert weighted == pytest.approx(cls()(Tensor(prediction[repeated]), target[repeated]).item(), rel=1e-12)


def test_get_loss_suggests_the_closest_name():
    with pytest.raises(ValueError, match="did you mean 'cross_entropy'"):
        losses.get_loss("cross_entropi")
    with pytest.raises(TypeError):
        losses.get_loss(3)
    assert losses.get_loss(losses.mae) is losses.mae
    custom = lambda p, y: (p - y).abs().sum()  # noqa: E731
    assert losses.get_loss(custom) is custom  # a custom callable passes through (no fused form)
    assert losses.get_loss(losses.MSE) == losses.mse


def test_the_loss_objects_are_called_like_the_functions_they_replace():
    assert losses.mse.__name__ == "mse" and repr(losses.cross_entropy) == "CrossEntropy()"
    with pytest.raises(TypeError, match="no sample_weight"):
        losses.rss(Tensor(np.ones(2)), np.zeros(2), sample_weight=np.ones(2))


def test_cross_entropy_delta_is_softmax_minus_one_hot_over_n():
    z = Tensor(LOGITS, requires_grad=True)
    losses.cross_entropy(z, LABELS).backward()
    np.testing.assert_allclose(z.grad, (softmax(LOGITS) - np.eye(3)[LABELS]) / 4, rtol=1e-14, atol=1e-16)


def test_cross_entropy_of_equal_logits_is_log_k():
    assert losses.cross_entropy(Tensor(np.zeros((3, 5))), [0, 1, 4]).item() == pytest.approx(np.log(5), rel=1e-15)


def test_cross_entropy_labels_one_hot_and_bool_one_hot_agree():
    by_label = losses.cross_entropy(Tensor(LOGITS), LABELS).item()
    assert losses.cross_entropy(Tensor(LOGITS), np.eye(3)[LABELS]).item() == pytest.approx(by_label, rel=1e-15)
    assert losses.cross_entropy(Tensor(LOGITS), np.eye(3, dtype=bool)[LABELS]).item() == pytest.approx(by_label, rel=1e-15)
    assert losses.cross_entropy(Tensor(LOGITS), LABELS.astype(float)).item() == pytest.approx(by_label, rel=1e-15)


def test_binary_cross_entropy_with_logits_delta_is_sigmoid_minus_y_over_n():
    z_values = np.array([[-2.0, 0.5], [3.0, -0.1]])
    y = np.array([[0.0, 1.0], [1.0, 0.3]])
    z = Tensor(z_values, requires_grad=True)
    losses.binary_cross_entropy_with_logits(z, y).backward()
    np.testing.assert_allclose(z.grad, (1 / (1 + np.exp(-z_values)) - y) / 4, rtol=1e-14)


def test_half_mse_delta_at_a_linear_output_is_residual_over_n():
    y_hat = Tensor(np.array([[1.0], [2.0], [-1.0]]), requires_grad=True)
    y = np.array([0.5, 2.5, 0.0])
    loss = losses.half_mse(y_hat, y)
    loss.backward()
    assert loss.item() == pytest.approx(0.5 * np.mean((y_hat.data[:, 0] - y) ** 2))
    np.testing.assert_allclose(y_hat.grad[:, 0], (y_hat.data[:, 0] - y) / 3)


def test_half_sse_is_the_notes_half_sum_over_outputs_averaged_over_examples():
    # The notes: J = (1/N) Σᵢ ½ Σₖ (ŷᵢₖ − yᵢₖ)², so δ = (ŷ − y)/N; half_mse divides by N·K instead.
    rng = np.random.default_rng(0)
    values, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    y_hat = Tensor(values, requires_grad=True)
    loss = losses.half_sse(y_hat, y)
    loss.backward()
    assert loss.item() == pytest.approx(np.mean([0.5 * np.sum((values[i] - y[i]) ** 2) for i in range(4)]), rel=1e-14)
    assert loss.item() == pytest.approx(3 * losses.half_mse(Tensor(values), y).item(), rel=1e-14)
    np.testing.assert_allclose(y_hat.grad, (values - y) / 4, rtol=1e-14)
    w = np.array([1.0, 2.0, 0.0, 1.0])
    weighted = losses.half_sse(Tensor(values), y, sample_weight=w).item()
    assert weighted == pytest.approx(np.sum(w * 0.5 * np.sum((values - y) ** 2, axis=1)) / w.sum(), rel=1e-14)
    one_output = rng.normal(size=(5, 1))
    assert losses.half_sse(Tensor(one_output), np.zeros(5)).item() == pytest.approx(
        losses.half_mse(Tensor(one_output), np.zeros(5)).item(), rel=1e-14)
    torch = pytest.importorskip("torch")
    expected = 0.5 * torch.nn.functional.mse_loss(torch.from_numpy(values), torch.from_numpy(y), reduction="sum") / 4
    assert loss.item() == pytest.approx(expected.item(), rel=1e-14)


def test_rss_is_a_sum_and_mse_a_mean():
    p, y = Tensor(np.array([1.0, 2.0, 4.0])), np.array([0.0, 0.0, 0.0])
    assert losses.rss(p, y).item() == 21.0
    assert losses.mse(p, y).item() == 7.0
    assert losses.mae(p, y).item() == pytest.approx(7.0 / 3)


def test_binary_cross_entropy_is_finite_at_zero_and_one():
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    loss = losses.binary_cross_entropy(p, [0.0, 1.0, 1.0, 0.0])
    loss.backward()
    assert loss.item() == pytest.approx(50.0)  # each log is clamped at −100, as in PyTorch
    assert np.all(np.isfinite(p.grad))


# ------------------------------------------------------------------ extreme logits
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_at_extreme_logits(dtype):
    z = Tensor(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype=dtype), requires_grad=True)
    loss = losses.cross_entropy(z, [1, 0])
    loss.backward()
    assert loss.dtype == dtype and z.grad.dtype == dtype
    assert np.isfinite(loss.item())
    assert loss.item() == pytest.approx(2000.0 + np.log(2.0) / 2, rel=float(np.finfo(dtype).eps))  # (2000 + (2000 + ln 2))/2
    expected = np.array([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]], dtype=dtype) / 2
    assert np.array_equal(z.grad, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits_at_extreme_logits(dtype):
    z = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=dtype), requires_grad=True)
    loss = losses.binary_cross_entropy_with_logits(z, [1.0, 0.0, 0.0, 1.0])
    loss.backward()
    assert loss.dtype == dtype and loss.item() == 500.0
    assert np.array_equal(z.grad, np.array([0.0, 0.0, 0.25, -0.25], dtype=dtype))


# ------------------------------------------------------------------ sample_weight
@pytest.mark.parametrize("weights, problem", [
    (np.ones(3), r"shape \(4,\)"), (np.array([1.0, -1.0, 1.0, 1.0]), "non-negative"), (np.zeros(4), "not all zero"),
])
def test_bad_sample_weight_is_refused(weights, problem):
    with pytest.raises(ValueError, match=problem):
        losses.cross_entropy(Tensor(LOGITS), LABELS, sample_weight=weights)
    with pytest.raises(ValueError, match=problem):
        losses.mse(Tensor(LOGITS), LOGITS, sample_weight=weights)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("labels", [[0, 3, 1, 1], [0, -1, 1, 1]])
def test_cross_entropy_labels_out_of_range(labels):
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        losses.cross_entropy(Tensor(LOGITS), labels)


def test_cross_entropy_bad_targets():
    with pytest.raises(ValueError, match="integer"):
        losses.cross_entropy(Tensor(LOGITS), [0.5, 1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="4 rows.*3 labels"):
        losses.cross_entropy(Tensor(LOGITS), [0, 1, 2])
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        losses.cross_entropy(Tensor(LOGITS), np.ones((4, 2)))
    with pytest.raises(TypeError, match="dtype"):
        losses.cross_entropy(Tensor(LOGITS), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        losses.cross_entropy(Tensor(np.zeros((2, 3, 4))), [0, 1])


@pytest.mark.parametrize("p", [[0.5, 1.5], [-0.1, 0.5], [np.nan, 0.5]])
def test_binary_cross_entropy_refuses_values_outside_0_1(p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.binary_cross_entropy(Tensor(np.array(p)), [0.0, 1.0])


@pytest.mark.parametrize("name", ["mse", "half_mse", "half_sse", "rss", "mae", "binary_cross_entropy_with_logits"])
def test_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        losses.LOSSES.get(name)()(Tensor(np.full((4, 3), 0.5)), np.ones((4, 2)))


# ------------------------------------------------------------------ Huber
def test_huber_is_quadratic_near_zero_and_linear_beyond_delta():
    r = np.array([[0.5, -0.5, 3.0, -3.0]])
    J = losses.Huber(delta=2.0)(Tensor(r), np.zeros_like(r))
    assert J.item() == pytest.approx(np.mean([0.125, 0.125, 2 * (3 - 1), 2 * (3 - 1)]))


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_equals_pytorch(delta):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    prediction, target = rng.standard_normal((6, 3)) * 2, rng.standard_normal((6, 3))
    z = Tensor(prediction, requires_grad=True)
    J = losses.Huber(delta)(z, target)
    J.backward()
    t = torch.tensor(prediction, requires_grad=True)
    expected = torch.nn.functional.huber_loss(t, torch.tensor(target), delta=delta)
    expected.backward()
    assert J.item() == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(z.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("delta", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_huber_refuses_a_bad_delta(delta):
    with pytest.raises(ValueError, match="huber: delta must be a finite number > 0"):
        losses.Huber(delta)


def test_huber_keeps_its_delta_through_fit_save_load_and_the_fast_path(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((64, 3)).astype(np.float64)
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(64) * 0.1
    y[:4] += 30  # outliers: where Huber differs from MSE
    histories = []
    for fast_path in (True, False):
        bp.manual_seed(0)
        model = bp.nn.Sequential(bp.nn.Dense(3, 8, activation="tanh", dtype="float64"), bp.nn.Dense(8, 1, dtype="float64"))
        trainer = bp.training.Trainer(model, loss={"name": "huber", "delta": 0.5}, optimizer="adam", batch_size=16,
                                      verbose=0, fast_path=fast_path)
        histories.append(trainer.fit(X, y, epochs=3, seed=0).history["loss"])
        if fast_path:
            assert trainer._fused is not None  # the fused form ran
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-12)
    path = tmp_path / "huber.safetensors"
    model.save(path)
    loaded = bp.load(path)
    assert loaded.evaluate(X, y)["loss"] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-12)
    assert model.evaluate(X, y)["loss"] != pytest.approx(model.evaluate(X, y, loss="huber")["loss"], rel=1e-3)
