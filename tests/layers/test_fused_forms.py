"""Every registered layer's fused form computes what the engine computes: values and gradients.

The layers come from the layer registry, each built from the example architectures of
``tests/io/model_examples.py`` (which must hold an instance of every registered layer):
a new layer with a fused form is compared here without anyone editing a list. For each
example whose configuration has a fused form (``fused_ops()`` not None), in float64 and
float32: the training-mode forward, the backward (∂J/∂input and every parameter's
gradient, its penalty's included), the penalty, the state left behind (BatchNorm's
running statistics) and the prediction, against the engine's forward, ``backward`` and
``regularization_loss()``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

import backprop as bp
from backprop.layers.module import Module
from backprop.layers.registry import get_module_class, module_from_config, module_to_config
from backprop.optim import pack_parameters
from backprop.training import fastpath

sys.path.insert(0, str(Path(__file__).parent.parent / "io"))
from model_examples import ARCHITECTURES, builtin_layer_names  # noqa: E402

N = 9           # examples in a batch
WIDTH = 5       # input features of a layer that fixes none (activations, dropout)
IMAGE = (8, 7)  # the height and width of a layer's input images (conv and pool layers), odd on purpose
TOLERANCES = {np.float64: {"rtol": 1e-12, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 2e-6}}

FUSED_CLASSES = [name for name in builtin_layer_names()
                 if get_module_class(name).fused_ops is not Module.fused_ops]


def _examples(class_name: str) -> list:
    """Every instance of the class in the example architectures."""
    found = []
    for build in ARCHITECTURES.values():
        found += [m for m in build().modules() if type(m).__name__ == class_name]
    return found


def _copy(layer, dtype, training):
    """The same layer (config and state) in ``dtype``, in training or evaluation mode."""
    clone = module_from_config(module_to_config(layer))
    clone.load_state_dict(layer.state_dict())
    return clone.to(dtype).train(training)


def _engine(layer, X, G, seed):
    """The engine's output, ∂J/∂X, parameter gradients and penalty for J = Σ G ∘ layer(X) + penalty."""
    bp.manual_seed(seed)
    x = bp.Tensor(X.copy(), requires_grad=True)
    y = layer(x)
    penalty = layer.regularization_loss()
    y.backward(G)
    if penalty is not None:
        penalty.backward()
    return (y.data, x.grad, [p.grad for p in layer.parameters()],
            0.0 if penalty is None else float(penalty.data))


def _fused(layer, X, G, seed):
    """The same from the layer's fused form, run by the fast path's plan."""
    net = fastpath.compile_model(layer)
    assert net is not None and not any(isinstance(step, fastpath.EngineStep) for step in net.steps)
    bp.manual_seed(seed)
    X_before = X.copy()
    y = net.forward(X, input_grad=True).copy()
    grad_x = net.backward(G.copy(), input_grad=True)
    np.testing.assert_array_equal(X, X_before)  # the input is only read
    return y, grad_x, [p.grad for p in layer.parameters()], net.penalty()


def _engine_predict(layer, X):
    with bp.eval_mode(), bp.no_grad():
        return layer(bp.Tensor(X)).data


@pytest.mark.parametrize("packed", [False, True], ids=["as_built", "packed_as_fit_packs"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("class_name", FUSED_CLASSES)
def test_fused_form_equals_the_engine(class_name, dtype, training, packed):
    """packed: the parameters in one flat array, with the ops' column_major_params column-major
    (a Dense W), as fit stores them: the fused form must take either memory order."""
    tolerance = TOLERANCES[dtype]
    compared = 0
    for index, example in enumerate(_examples(class_name)):
        if example.fused_ops() is None:
            continue  # this configuration runs through the engine
        compared += 1
        rng = np.random.default_rng(index)
        n_in = example.expected_in_features() or WIDTH
        spatial = IMAGE if getattr(example, "takes_spatial_input", False) else ()
        X = rng.standard_normal((N, n_in, *spatial)).astype(dtype)
        reference, layer = _copy(example, dtype, training), _copy(example, dtype, training)
        for p, q in zip(reference.parameters(), layer.parameters()):  # weights off their initial values
            p.data[...] = q.data[...] = rng.standard_normal(p.shape) * 0.5 + 0.1
        G = rng.standard_normal(_engine_predict(reference, X).shape).astype(dtype)
        if packed:
            pack_parameters(layer.parameters(), column_major=fastpath.compile_model(layer).column_major_params)

        expected, got = _engine(reference, X, G, seed=index), _fused(layer, X, G, seed=index)
        for what, e, g in zip(["output", "dJ/dX"], expected[:2], got[:2]):
            assert g.dtype == e.dtype and g.shape == e.shape, what
            np.testing.assert_allclose(g, e, **tolerance, err_msg=f"{class_name} #{index}: {what}")
        for (name, _), e, g in zip(layer.named_parameters(), expected[2], got[2]):
            assert g is not None and g.dtype == e.dtype, name
            np.testing.assert_allclose(g, e, **tolerance, err_msg=f"{class_name} #{index}: dJ/d{name}")
        assert got[3] == pytest.approx(expected[3], rel=tolerance["rtol"], abs=tolerance["atol"])
        for (key, e), g in zip(reference.state_dict().items(), layer.state_dict().values()):
            np.testing.assert_allclose(g, e, **tolerance, err_msg=f"{class_name} #{index}: state {key}")

        net = fastpath.compile_model(layer)
        for rows in (X, X[:1]):
            before = rows.copy()
            np.testing.assert_allclose(net.predict(rows), _engine_predict(layer, rows), **tolerance,
                                       err_msg=f"{class_name} #{index}: predict on {rows.shape[0]} rows")
            np.testing.assert_array_equal(rows, before)
    if not compared:
        pytest.skip(f"no example configuration of {class_name} has a fused form")


def test_the_registry_gives_the_test_layers_with_fused_forms():
    assert {"Dense", "Dropout", "BatchNorm", "ReLU", "Sigmoid"} <= set(FUSED_CLASSES)


class _Scale(Module):
    """a = 2z, in a deliberately wrong fused form (backward forgets the factor)."""

    def forward(self, x):
        return 2 * bp.Tensor(x) if not isinstance(x, bp.Tensor) else 2 * x

    def fused_ops(self):
        from backprop.layers.fused import FusedOp

        class WrongOp(FusedOp):
            def forward(self, a, out):
                np.multiply(a, 2, out=out)
                return out

            def backward(self, delta, a_in, out, delta_in, scratch, grads):
                return delta  # should be 2 δ

            def predict(self, a, overwrite):
                return 2 * a

        return (WrongOp(),)


def test_the_comparison_catches_a_wrong_fused_form():
    layer = _Scale()
    X = np.random.default_rng(0).standard_normal((N, WIDTH))
    G = np.ones((N, WIDTH))
    expected, got = _engine(layer, X, G, seed=0), _fused(layer, X, G, seed=0)
    np.testing.assert_allclose(got[0], expected[0])
    assert not np.allclose(got[1], expected[1])
