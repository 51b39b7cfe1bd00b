"""Embedding: a = W[c]; gradcheck, PyTorch's values, gradients and Adam steps, the scatter-add, bad codes.

(The generic tests also cover it through tests/io/model_examples.py: saved and loaded, crafted
files refused, predicted from several threads.)
"""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.engine.gradcheck import gradcheck
from backprop.engine.ops.embedding import scatter_add_rows, scatter_add_rows_reference

CODES = np.array([[0, 3, 3, 1], [6, 0, 2, 2]])


def _layer(V=7, D=3, **kwargs):
    bp.manual_seed(0)
    return nn.Embedding(V, D, dtype="float64", **kwargs)


def test_each_code_looks_up_its_row_for_any_shape_of_codes():
    layer = _layer()
    W = layer.W.data
    np.testing.assert_array_equal(layer(CODES).data, W[CODES])
    assert layer(CODES).shape == (2, 4, 3)
    assert layer(np.array([5])).shape == (1, 3)
    assert layer(np.int64(2)).shape == (3,)
    assert layer(np.array([1, 2], dtype=np.uint8)).shape == (2, 3)


def test_it_equals_the_one_hot_product():
    layer = _layer()
    codes = np.array([4, 0, 4, 6])
    np.testing.assert_allclose(layer(codes).data, np.eye(7)[codes] @ layer.W.data, rtol=0, atol=0)


def test_gradcheck_in_float64_with_repeated_and_unused_codes():
    layer = _layer()
    assert gradcheck(lambda W: bp.engine.ops.embedding(W, CODES), layer.W)
    codes = np.array([2, 2, 2, 5])
    assert gradcheck(lambda W: (bp.engine.ops.embedding(W, codes) ** 2).sum(), layer.W)


def test_the_gradient_of_a_row_is_the_sum_of_its_codes_deltas():
    layer = _layer()
    delta = np.random.default_rng(1).normal(size=CODES.shape + (3,))
    layer(CODES).backward(delta)
    for k in range(7):
        np.testing.assert_allclose(layer.W.grad[k], delta[CODES == k].sum(axis=0), atol=1e-14)
    assert not layer.W.grad[[4, 5]].any()  # codes no example has


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_sorted_scatter_add_equals_np_add_at(dtype):
    rng = np.random.default_rng(2)
    for n_codes, V in [(0, 3), (1, 3), (50, 4), (1000, 300), (257, 2000)]:
        codes = rng.integers(0, V, size=n_codes)
        delta = rng.normal(size=(n_codes, 5)).astype(dtype)
        fast = scatter_add_rows(codes, delta, np.full((V, 5), np.nan, dtype))
        reference = scatter_add_rows_reference(codes, delta, np.full((V, 5), np.nan, dtype))
        np.testing.assert_allclose(fast, reference, rtol=1e-6 if dtype is np.float32 else 1e-13, atol=1e-6)
        assert fast.dtype == dtype


def test_equals_pytorch_values_gradients_and_padding():
    torch = pytest.importorskip("torch")
    for padding_idx in (None, 3, -1):
        layer = _layer(padding_idx=padding_idx)
        delta = np.random.default_rng(3).normal(size=CODES.shape + (3,))
        out = layer(CODES)
        out.backward(delta)
        reference = torch.nn.Embedding(7, 3, padding_idx=padding_idx, dtype=torch.float64)
        with torch.no_grad():
            reference.weight.copy_(torch.from_numpy(layer.W.data))
        t_out = reference(torch.from_numpy(CODES))
        t_out.backward(torch.from_numpy(delta))
        np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(layer.W.grad, reference.weight.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_initialised_as_pytorch_normal_0_1_with_the_padding_row_zero():
    torch = pytest.importorskip("torch")
    bp.manual_seed(0)
    W = nn.Embedding(4000, 50, padding_idx=7).W.data
    assert abs(W.mean()) < 0.01 and abs(W.std() - 1) < 0.01
    assert not W[7].any() and W.dtype == np.float32
    reference = torch.nn.Embedding(4000, 50, padding_idx=7).weight.detach().numpy()
    assert abs(reference.std() - W.std()) < 0.01 and not reference[7].any()


def test_a_short_adam_trajectory_equals_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 10, size=(16, 2))
    target = rng.normal(size=(16, 1))
    bp.manual_seed(1)
    model = nn.Sequential(nn.Embedding(10, 4, dtype="float64"), nn.Flatten(), nn.Dense(8, 1, dtype="float64"))
    t_model = torch.nn.Sequential(torch.nn.Embedding(10, 4, dtype=torch.float64), torch.nn.Flatten(),
                                  torch.nn.Linear(8, 1, dtype=torch.float64))
    with torch.no_grad():
        t_model[0].weight.copy_(torch.from_numpy(model[0].W.data))
        t_model[2].weight.copy_(torch.from_numpy(model[2].W.data))
        t_model[2].bias.copy_(torch.from_numpy(model[2].b.data))
    optimizer = bp.optim.Adam(model.parameters(), lr=0.05)
    t_optimizer = torch.optim.Adam(t_model.parameters(), lr=0.05)
    for _ in range(10):
        model.fit(codes, target, loss="mse", optimizer=optimizer, epochs=1, batch_size=None, shuffle=False, verbose=0)
        t_optimizer.zero_grad()
        torch.nn.functional.mse_loss(t_model(torch.from_numpy(codes)), torch.from_numpy(target)).backward()
        t_optimizer.step()
    np.testing.assert_allclose(model[0].W.data, t_model[0].weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model[2].W.data, t_model[2].weight.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("codes, match", [
    (np.array([0, 7]), r"Embedding: .*\[0, 6\].*from 0 to 7"),
    (np.array([-1, 2]), r"Embedding: .*\[0, 6\].*from -1 to 2"),
    (np.array([0.0, 1.0]), r"Embedding: .*integer category codes in \[0, 6\].*float64"),
    (np.array([True, False]), r"Embedding: .*integer.*bool"),
    (np.array(["a", "b"]), r"Embedding: .*integer"),
    (bp.Tensor(np.array([1.0, 2.0])), r"Embedding: .*Tensor"),
], ids=["too large", "negative", "float", "bool", "strings", "Tensor"])
def test_bad_codes_are_refused_naming_the_layer_and_the_range(codes, match):
    layer = _layer()
    with pytest.raises(ValueError, match=match):
        layer(codes)


def test_fit_refuses_bad_codes_before_any_step_and_leaves_the_weights():
    model = nn.Sequential(_layer(), nn.Dense(3, 1, dtype="float64"))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    for X in (np.array([0, 1, 9]), np.array([0.0, 1.0, 2.0])):
        with pytest.raises(ValueError, match=r"Embedding: X .*\[0, 6\]"):
            model.fit(X, np.zeros(3), loss="mse", verbose=0)
    with pytest.raises(ValueError, match=r"Embedding: validation X"):
        model.fit(np.array([0, 1, 2]), np.zeros(3), loss="mse", verbose=0,
                  validation_data=(np.array([7]), np.zeros(1)))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("arguments, match", [
    ((0, 3), "num_embeddings"), ((3, 0), "embedding_dim"), ((2.5, 3), "num_embeddings"),
    ((3, 2, 3), "padding_idx"), ((3, 2, -4), "padding_idx"), ((3, 2, True), "padding_idx"),
])
def test_bad_arguments_are_refused(arguments, match):
    with pytest.raises(ValueError, match=f"Embedding: {match}"):
        nn.Embedding(*arguments)
    with pytest.raises(ValueError, match=match):
        nn.Embedding.state_shapes(dict(zip(("num_embeddings", "embedding_dim", "padding_idx"), arguments)))


def test_learns_a_lookup_and_round_trips_through_a_file(tmp_path):
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 30, size=600)
    labels = rng.integers(0, 3, size=30)[codes]  # each category has its class
    bp.manual_seed(2)
    model = nn.Sequential(nn.Embedding(30, 4), nn.Dense(4, 3))
    model.fit(codes, labels, loss="cross_entropy", optimizer=bp.optim.Adam(model.parameters(), lr=0.05),
              epochs=30, verbose=0)
    assert (model.predict_classes(codes) == labels).mean() > 0.95
    model.save(tmp_path / "m.safetensors")
    loaded = bp.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(codes), model.predict(codes))
    assert loaded[0].get_config() == model[0].get_config()
    assert nn.Embedding.state_shapes(model[0].get_config()) == {"W": (30, 4)}
    assert "Embedding" in model.summary(print_fn=None)


def test_the_fast_path_leaves_a_model_that_starts_with_codes_to_the_engine():
    from backprop.training import fastpath
    assert fastpath.compile_model(nn.Sequential(nn.Embedding(5, 2), nn.Dense(2, 1))) is None
    assert fastpath.compile_model(nn.Sequential(nn.Dense(2, 2), nn.Dense(2, 1))) is not None
