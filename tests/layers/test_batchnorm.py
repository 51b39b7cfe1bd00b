"""BatchNorm against torch.nn.BatchNorm1d in float64: outputs, gradients, running statistics, eval."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.layers.batchnorm import batch_norm

torch = pytest.importorskip("torch")


def pair(num_features, momentum=0.1, eps=1e-5):
    ours = nn.BatchNorm(num_features, momentum=momentum, eps=eps, dtype="float64")
    theirs = torch.nn.BatchNorm1d(num_features, momentum=momentum, eps=eps, dtype=torch.float64)
    rng = np.random.default_rng(5)
    gamma, beta = rng.uniform(0.5, 2.0, num_features), rng.standard_normal(num_features)
    ours.gamma.data[...] = gamma
    ours.beta.data[...] = beta
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    return ours, theirs


def step_both(ours, theirs, x_np, upstream):
    ours.zero_grad()
    theirs.zero_grad()
    x = bp.Tensor(x_np, requires_grad=True)
    out = ours(x)
    out.backward(upstream)
    x_t = torch.tensor(x_np, requires_grad=True)
    out_t = theirs(x_t)
    out_t.backward(torch.from_numpy(upstream))
    close = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), **close)
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), **close)
    np.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), **close)
    np.testing.assert_allclose(ours.beta.grad, theirs.bias.grad.numpy(), **close)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), **close)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), **close)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)


@pytest.mark.parametrize("shape", [(8, 4), (6, 4, 5)], ids=["N,C", "N,C,L"])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_training_steps_then_eval_match_batchnorm1d(shape, momentum):
    ours, theirs = pair(shape[1], momentum=momentum)
    rng = np.random.default_rng(0)
    for step in range(4):  # several steps: the running statistics accumulate
        x_np = 3.0 + 2.0 * rng.standard_normal(shape)
        step_both(ours, theirs, x_np, rng.standard_normal(shape))
    ours.eval()
    theirs.eval()
    step_both(ours, theirs, rng.standard_normal(shape), rng.standard_normal(shape))
    assert int(ours.num_batches_tracked) == 4  # evaluation does not count


def test_running_var_uses_the_unbiased_variance():
    layer = nn.BatchNorm(1, momentum=1.0, dtype="float64")
    x = np.array([[1.0], [2.0], [4.0]])
    out = layer(x)
    np.testing.assert_allclose(layer.running_mean, [x.mean()])
    np.testing.assert_allclose(layer.running_var, [x.var(ddof=1)])
    np.testing.assert_allclose(out.data, (x - x.mean()) / np.sqrt(x.var() + 1e-5))  # biased in the output


def test_gradcheck_training_and_eval():
    rng = np.random.default_rng(1)
    x = bp.Tensor(rng.standard_normal((6, 3)), requires_grad=True)
    gamma = bp.Tensor(rng.uniform(0.5, 2, 3), requires_grad=True)
    beta = bp.Tensor(rng.standard_normal(3), requires_grad=True)
    assert bp.gradcheck(lambda x, g, b: batch_norm(x, g, b), x, gamma, beta)
    x3 = bp.Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    assert bp.gradcheck(lambda x, g, b: batch_norm(x, g, b), x3, gamma, beta)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    assert bp.gradcheck(lambda x, g, b: batch_norm(x, g, b, mean, var), x, gamma, beta)


def test_gradcheck_through_the_module():
    layer = nn.BatchNorm(3, dtype="float64")
    rng = np.random.default_rng(2)
    x = bp.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    gamma = bp.Tensor(rng.uniform(0.5, 2, 3), requires_grad=True)
    beta = bp.Tensor(rng.standard_normal(3), requires_grad=True)

    def run(x, gamma, beta):
        saved = dict(layer._parameters)
        layer._parameters.update(gamma=gamma, beta=beta)
        try:
            return layer(x)
        finally:
            layer._parameters.update(saved)

    assert bp.gradcheck(run, x, gamma, beta)


def test_state_dict_holds_parameters_and_buffers():
    layer = nn.BatchNorm(3)
    layer(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    state = layer.state_dict()
    assert list(state) == ["gamma", "beta", "running_mean", "running_var", "num_batches_tracked"]
    assert state["num_batches_tracked"].dtype == np.int64 and int(state["num_batches_tracked"]) == 1
    fresh = nn.BatchNorm(3)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_mean, layer.running_mean)
    np.testing.assert_array_equal(fresh.running_var, layer.running_var)
    assert int(fresh.num_batches_tracked) == 1
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]


def test_keeps_float32():
    layer = nn.BatchNorm(2)
    out = layer(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32))
    assert out.dtype == np.float32 and layer.running_var.dtype == np.float32


def test_bad_inputs():
    layer = nn.BatchNorm(3)
    with pytest.raises(ValueError, match="more than 1 value"):
        layer(np.ones((1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="3"):
        layer(np.ones((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        layer(np.ones(4, dtype=np.float32))
    layer.eval()
    assert layer(np.ones((1, 3), dtype=np.float32)).shape == (1, 3)  # one example is fine in evaluation


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"num_features": 0}, "num_features"), ({"num_features": 2, "momentum": 1.5}, "momentum"),
     ({"num_features": 2, "momentum": -0.1}, "momentum"), ({"num_features": 2, "eps": 0}, "eps"),
     ({"num_features": 2, "dtype": "int8"}, "dtype")],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        nn.BatchNorm(**kwargs)
