"""Inference is safe from several threads: grad mode is per thread, predict changes no flag.

Each registered layer type (the registry is iterated, so a new layer is covered) sits in
a small classifier; 8 threads then run 500 calls each of predict / predict_proba /
evaluate over all those models at once, and every result must equal the sequential one,
while grad mode and every module's ``training`` flag stay as they were.
"""

import inspect
import sys
import threading

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.engine import eval_mode, in_eval_mode, is_grad_enabled, no_grad
from backprop.training import evaluate, predict, predict_proba

N_THREADS = 8
CALLS_PER_THREAD = 500
WIDTH = 6

# Values for the constructor arguments that have no default; a new layer with another
# required argument fails here with its name, rather than being skipped silently.
_REQUIRED = {"in_features": WIDTH, "out_features": WIDTH, "num_features": WIDTH, "normalized_shape": WIDTH,
             "in_channels": 2, "out_channels": 2, "kernel_size": 2, "num_embeddings": WIDTH, "embedding_dim": WIDTH}
# A container of branches (Concat) takes its branches as *args: these.
_BRANCHES = {"rows": lambda: nn.Dense(4, WIDTH, activation="tanh"), "codes": lambda: nn.Embedding(WIDTH, 2)}


def _library_layer_classes():
    classes = []
    for name in nn.registered_modules():
        klass = nn.get_module_class(name)
        if klass.__module__.startswith("backprop.") and not issubclass(klass, nn.Model):
            classes.append(klass)
    return classes


def _instance(klass):
    if klass.input_kind == "branches":
        return klass({name: build() for name, build in _BRANCHES.items()})
    arguments = {}
    for parameter in inspect.signature(klass.__init__).parameters.values():
        if parameter.name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is inspect.Parameter.empty:
            assert parameter.name in _REQUIRED, f"{klass.__name__}: add a test value for {parameter.name!r}"
            arguments[parameter.name] = _REQUIRED[parameter.name]
    layer = klass(**arguments)
    if isinstance(layer, nn.Dropout):
        layer.rate = 0.5  # a dropout that would show if it ran in training mode
    return layer


def _models():
    """``[(name, model)]`` and ``{name: (X, y)}``: one model per library layer class."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, 4)).astype(np.float32)
    codes = rng.integers(0, WIDTH, size=40)
    y = rng.integers(0, 3, size=40)
    models, data = [], {}
    for index, klass in enumerate(_library_layer_classes()):
        bp.manual_seed(index)
        # Every model holds a Dropout and the layer under test; Sequential nests one more.
        inner = nn.Sequential(_instance(klass), nn.Dropout(0.5))
        if klass.takes_spatial_input:  # images (N, 2, 6, 6) or sequences (N, 2, 6) in and out
            dims = 1 if klass.__name__.endswith("1d") else 2
            X = rng.normal(size=(40, 2) + (6,) * dims).astype(np.float32)
            front = (nn.Conv1d if dims == 1 else nn.Conv2d)(2, 2, 1, activation="tanh")
            model = nn.Sequential(front, inner, nn.Flatten())
            width = int(np.prod(model(bp.Tensor(X[:1])).shape[1:]))
            model = nn.Sequential(front, inner, nn.Flatten(), nn.Dense(width, 3))
        elif klass.input_kind == "codes":  # category codes in, (N, WIDTH) out
            X = codes
            model = nn.Sequential(inner, nn.Dense(WIDTH, 3))
        elif klass.input_kind == "branches":  # one input per branch, (N, WIDTH + 2) out
            X = {"rows": rows, "codes": codes}
            model = nn.Sequential(inner, nn.Dense(WIDTH + 2, 3))
        else:
            X = rows
            model = nn.Sequential(nn.Dense(4, WIDTH, activation="tanh"), inner, nn.Dense(WIDTH, 3))
        model.fit(X, y, loss="cross_entropy", optimizer="adam", epochs=2, batch_size=10, verbose=0, seed=index)
        if index % 2:
            model.eval()  # half the models are left in evaluation mode, half in training mode
        models.append((klass.__name__, model))
        data[klass.__name__] = (X, y)
    return models, data


def _model_input(X, n):
    """The first n rows of X as a model's forward takes them: Tensors of features, arrays of codes."""
    if isinstance(X, dict):
        return {key: _model_input(value, n) for key, value in X.items()}
    return bp.Tensor(X[:n]) if X.dtype.kind == "f" else X[:n]


def _call(kind, model, X, y):
    if kind == "predict":
        return predict(model, X)
    if kind == "predict_proba":
        return predict_proba(model, X)
    return np.array(sorted(evaluate(model, X, y).items()), dtype=object)[:, 1].astype(np.float64)


def test_every_library_layer_is_covered():
    names = {klass.__name__ for klass in _library_layer_classes()}
    assert {"Dense", "BatchNorm", "Dropout", "Flatten", "Softmax", "ReLU"} <= names


def test_parallel_inference_gives_the_sequential_results_and_changes_no_state():
    models, data = _models()
    kinds = ("predict", "predict_proba", "evaluate")
    jobs = [(kind, name, model) for name, model in models for kind in kinds]
    flags = {name: [m.training for m in model.modules()] for name, model in models}
    expected = {(kind, name): _call(kind, model, *data[name]) for kind, name, model in jobs}
    assert all(np.all(np.isfinite(value)) for value in expected.values())

    failures = []
    start = threading.Barrier(N_THREADS)

    def work(offset):
        try:
            start.wait()
            for call in range(CALLS_PER_THREAD):
                kind, name, model = jobs[(offset * 7 + call) % len(jobs)]
                got = _call(kind, model, *data[name])
                if not np.array_equal(got, expected[kind, name]):
                    failures.append(f"{kind} on the {name} model differs in a thread")
                if not is_grad_enabled() or in_eval_mode():
                    failures.append("grad mode or eval mode leaked out of a call")
        except Exception as error:  # noqa: BLE001 (reported below with its type)
            failures.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(N_THREADS)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that calls really interleave
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[:5]
    assert is_grad_enabled() and not in_eval_mode()
    assert {name: [m.training for m in model.modules()] for name, model in models} == flags
    # backward still works, here and for every model
    for name, model in models:
        out = model(_model_input(data[name][0], 8))
        out.sum().backward()
        assert model.parameters()[0].grad is not None


def test_grad_mode_is_per_thread():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def hold_no_grad():
        with no_grad():
            seen["worker"] = is_grad_enabled()
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold_no_grad)
    worker.start()
    assert inside.wait(5)
    try:
        assert seen["worker"] is False
        assert is_grad_enabled()  # this thread is untouched while the other is in no_grad
        x = bp.Tensor(np.ones(3), requires_grad=True)
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad, 2 * np.ones(3))
    finally:
        release.set()
        worker.join()


def test_a_new_thread_starts_with_grad_on_and_no_eval_mode():
    seen = []
    with no_grad(), eval_mode():
        thread = threading.Thread(target=lambda: seen.append((is_grad_enabled(), in_eval_mode())))
        thread.start()
        thread.join()
    assert seen == [(True, False)]


def test_a_decorated_function_keeps_a_stack_per_thread():
    @no_grad()
    def inner(barrier):
        barrier.wait(5)
        return is_grad_enabled()

    barrier = threading.Barrier(4)
    results = []
    threads = [threading.Thread(target=lambda: results.append(inner(barrier))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [False] * 4 and is_grad_enabled()


@pytest.mark.parametrize("layer", [nn.Dropout(0.9), nn.BatchNorm(3)])
def test_eval_mode_computes_as_evaluation_without_touching_the_flag(layer):
    x = bp.Tensor(np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32))
    layer.train()
    reference = layer.eval()(x).data.copy()
    layer.train()
    state = {k: v.copy() for k, v in layer.state_dict().items()}
    with eval_mode():
        np.testing.assert_array_equal(layer(x).data, reference)
    assert layer.training
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, state[key])  # BatchNorm's running statistics unchanged
