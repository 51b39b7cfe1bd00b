"""backprop's ``fit`` against the strongest CPU anchors, as ratios and as shares of the GEMM peak.

The work: a ReLU MLP (784-256-128-10 by default) with softmax cross-entropy and Adam
(lr 1e-3), float32, 2 threads, trained on the same data in one process by

* backprop's ``fit`` (the fused fast path);
* PyTorch eager (an idiomatic manual loop) and torch.compile (inductor: the loss with its
  backward, and ``opt.step``, compiled; it needs a C++ compiler — a failure is reported in
  the table, not raised);
* Keras 3 ``fit`` on JAX (``KERAS_BACKEND=jax``);
* a JAX-jitted whole step (gather, loss, grad and a hand-written Adam in one ``jax.jit``);
* scikit-learn's ``MLPClassifier`` (adam);
* a bare NumPy loop: three GEMMs forward, five backward, one in-place Adam over a flat buffer.

Every figure is samples/s, its ratio to the best anchor (the fastest of all but backprop)
and its share of the machine's float32 GEMM peak, measured in the same run (a square
SGEMM of 2048 with 2 threads; where ``OPENBLAS_CORETYPE`` forces NumPy's kernels, as on these
machines, also with OpenBLAS's own choice for the CPU, in a child process without it, and the
larger is the machine's peak). Each trainer runs once untimed before each timed run, so that
the previous one's spinning threads do not slow it. FLOPs per sample come from the layer shapes:
2·n_in·n_out per layer forward and twice that backward, less the first layer's δ of its
input, which nobody computes (see :func:`flops_per_sample`).

Then prediction (one row, and 4,096 rows) against PyTorch in inference mode, and a scaling
table (width, depth, batch) against the same anchors (torch.compile and scikit-learn only
without ``--quick``: a compile per configuration takes ~15 s).

Usage:
    python -m benchmarks.anchors [--quick] [--no-scaling] [--json PATH]

``--quick`` prints every table in about 3 minutes on 2 cores. The anchors are optional
(the ``bench`` extra): an anchor whose library is missing is left out of the tables.
Writes JSON to benchmarks/results/anchors.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before anything imports keras
# XLA on the CPU: the same 2 threads as the others (its Eigen pool takes every core otherwise).
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.blas import blas_kernels  # noqa: E402
from benchmarks.timing import interleaved  # noqa: E402

SIZES = (784, 256, 128, 10)
BATCH_SIZES = (32, 128, 1024)
THREADS = 2
LR = 1e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
RESULTS = Path(__file__).parent / "results"

ANCHORS = ("torch eager", "torch.compile", "keras/jax fit", "jax jit step", "sklearn", "numpy loop")


class Unavailable(Exception):
    """An anchor that cannot run here (library missing, compiler failure): reported, not raised."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def flops_per_sample(sizes) -> int:
    """The matrix multiplies' FLOPs for one example of a training step, from the layer shapes.

    Per layer 2·n_in·n_out forward (z = W a) and twice that backward (∂J/∂W = δ aᵀ and
    δ of the input = Wᵀ δ), except that the first layer needs no δ for its input (the
    data): 6·Σ n_in·n_out − 2·n₀·n₁. (Counting that product too would credit every
    framework with work none of them does; at B=1024 the shares would pass 100%.)
    """
    pairs = [a * b for a, b in zip(sizes, sizes[1:])]
    return 6 * sum(pairs) - 2 * pairs[0]


def forward_flops_per_sample(sizes) -> int:
    """2·Σ n_in·n_out: one example's forward pass (predicting)."""
    return 2 * sum(a * b for a, b in zip(sizes, sizes[1:]))


def make_data(n_samples: int, n_features: int, n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    y = rng.integers(0, n_classes, n_samples).astype(np.int64)
    return X, y


def he_weights(sizes, seed=0):
    """(W of shape (n_out, n_in), b) per layer, He-normal, the same for the hand-written anchors."""
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((b, a)) * np.sqrt(2.0 / a)).astype(np.float32), np.zeros(b, np.float32))
            for a, b in zip(sizes, sizes[1:])]


def set_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


# ------------------------------------------------------------------ trainers
# Each returns fit(): `epochs` epochs over (X, y) in shuffled batches; len(X) is a multiple of
# batch_size, so that no framework compiles a second shape for a last, partial batch.
def backprop_fit(X, y, sizes, batch_size, epochs):
    import backprop as bp
    from backprop import nn, optim

    bp.manual_seed(0)
    layers = [nn.Dense(a, b, activation="relu" if k < len(sizes) - 2 else None)
              for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    model = nn.Sequential(*layers)
    opt = optim.Adam(model.parameters(), lr=LR)
    return lambda: model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=epochs,
                             batch_size=batch_size, shuffle=True, verbose=0)


def _torch_mlp(sizes):
    import torch

    torch.manual_seed(0)
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_eager_fit(X, y, sizes, batch_size, epochs, compiled=False):
    try:
        import torch
    except ImportError:
        raise Unavailable("torch not installed") from None
    torch.set_num_threads(THREADS)
    model = _torch_mlp(sizes)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def loss_of(xb, yb):
        return torch.nn.functional.cross_entropy(model(xb), yb)

    opt_step = opt.step
    if compiled:
        loss_of = torch.compile(loss_of, dynamic=False)
        opt_step = torch.compile(opt.step)  # (PyTorch's recipe: the optimiser compiled apart)

    def fit():
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for start in range(0, len(Xt), batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad(set_to_none=True)
                loss_of(Xt[idx], yt[idx]).backward()
                opt_step()

    return fit


def torch_compile_fit(X, y, sizes, batch_size, epochs):
    return torch_eager_fit(X, y, sizes, batch_size, epochs, compiled=True)


def keras_fit(X, y, sizes, batch_size, epochs):
    try:
        import keras
    except ImportError:
        raise Unavailable("keras not installed") from None
    if keras.backend.backend() != "jax":
        raise Unavailable(f"keras runs on {keras.backend.backend()}, not jax (KERAS_BACKEND was set elsewhere)")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((sizes[0],))] + [
        keras.layers.Dense(b, activation="relu" if k < len(sizes) - 2 else None)
        for k, b in enumerate(sizes[1:])])
    model.compile(optimizer=keras.optimizers.Adam(LR, beta_1=BETAS[0], beta_2=BETAS[1], epsilon=EPS),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.fit(X, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)


def jax_step_fit(X, y, sizes, batch_size, epochs):
    """One jax.jit of the whole step: gather the batch, loss, grad, Adam (written out: no optax)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise Unavailable("jax not installed") from None
    n_layers = len(sizes) - 1
    params = [(jnp.asarray(W.T), jnp.asarray(b)) for W, b in he_weights(sizes)]
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = [params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.float32)]

    def loss(params, xb, yb):
        a = xb
        for k, (W, b) in enumerate(params):
            a = a @ W + b
            if k < n_layers - 1:
                a = jax.nn.relu(a)
        logp = jax.nn.log_softmax(a)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def step(params, m, v, t, Xd, yd, order, k):
        idx = jax.lax.dynamic_slice(order, (k * batch_size,), (batch_size,))
        g = jax.grad(loss)(params, Xd[idx], yd[idx])
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: BETAS[0] * m + (1 - BETAS[0]) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: BETAS[1] * v + (1 - BETAS[1]) * g * g, v, g)
        c1, c2 = 1 - BETAS[0] ** t, 1 - BETAS[1] ** t
        params = jax.tree_util.tree_map(lambda w, m, v: w - LR * (m / c1) / (jnp.sqrt(v / c2) + EPS), params, m, v)
        return params, m, v, t

    step = jax.jit(step, donate_argnums=(0, 1, 2))
    Xd, yd = jnp.asarray(X), jnp.asarray(y.astype(np.int32))
    rng = np.random.default_rng(0)
    steps = len(X) // batch_size

    def fit():
        for _ in range(epochs):
            order = jnp.asarray(rng.permutation(len(X)).astype(np.int32))
            for k in range(steps):
                state[:4] = step(*state[:4], Xd, yd, order, k)
        jax.block_until_ready(state[0])

    return fit


def sklearn_fit(X, y, sizes, batch_size, epochs):
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        raise Unavailable("scikit-learn not installed") from None

    def fit():
        clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), solver="adam", batch_size=batch_size,
                            learning_rate_init=LR, max_iter=epochs, tol=0.0, n_iter_no_change=10**9,
                            random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    return fit


def numpy_loop_fit(X, y, sizes, batch_size, epochs):
    """The bare NumPy loop: reused buffers, GEMMs with out=, softmax − y, in-place Adam over one flat array."""
    L = len(sizes) - 1
    shapes = [(b, a) for a, b in zip(sizes, sizes[1:])]
    total = sum(o * i + o for o, i in shapes)
    W_flat, g_flat = np.empty(total, np.float32), np.empty(total, np.float32)
    exp_avg, exp_avg_sq, scratch = (np.zeros(total, np.float32) for _ in range(3))
    W, b, dW, db, offset = [], [], [], [], 0
    for (o, i), (W0, b0) in zip(shapes, he_weights(sizes)):
        for arrays, grads, shape, init in ((W, dW, (o, i), W0), (b, db, (o,), b0)):
            size = int(np.prod(shape))
            arrays.append(W_flat[offset:offset + size].reshape(shape))
            grads.append(g_flat[offset:offset + size].reshape(shape))
            arrays[-1][...] = init
            offset += size
    A = [np.empty((batch_size, n), np.float32) for n in sizes]
    D = [np.empty((batch_size, n), np.float32) for n in sizes]
    rows = np.arange(batch_size)
    rng = np.random.default_rng(0)
    t = [0]

    def step(xb, yb):
        A[0][...] = xb
        for k in range(L):
            np.matmul(A[k], W[k].T, out=A[k + 1])
            A[k + 1] += b[k]
            if k < L - 1:
                np.maximum(A[k + 1], 0, out=A[k + 1])
        Z = A[L]
        np.subtract(Z, Z.max(axis=1, keepdims=True), out=D[L])
        np.exp(D[L], out=D[L])
        D[L] /= D[L].sum(axis=1, keepdims=True)
        D[L][rows, yb] -= 1
        D[L] *= np.float32(1 / batch_size)
        for k in reversed(range(L)):
            np.matmul(D[k + 1].T, A[k], out=dW[k])
            np.add.reduce(D[k + 1], axis=0, out=db[k])
            if k:
                np.matmul(D[k + 1], W[k], out=D[k])
                D[k] *= A[k] > 0
        t[0] += 1
        np.multiply(exp_avg, BETAS[0], out=exp_avg)
        np.multiply(g_flat, 1 - BETAS[0], out=scratch)
        np.add(exp_avg, scratch, out=exp_avg)
        np.multiply(exp_avg_sq, BETAS[1], out=exp_avg_sq)
        np.multiply(g_flat, g_flat, out=scratch)
        np.multiply(scratch, 1 - BETAS[1], out=scratch)
        np.add(exp_avg_sq, scratch, out=exp_avg_sq)
        step_size = LR / (1 - BETAS[0] ** t[0])
        np.sqrt(exp_avg_sq, out=scratch)
        np.divide(scratch, (1 - BETAS[1] ** t[0]) ** 0.5, out=scratch)
        np.add(scratch, EPS, out=scratch)
        np.divide(exp_avg, scratch, out=scratch)
        np.multiply(scratch, step_size, out=scratch)
        np.subtract(W_flat, scratch, out=W_flat)

    def fit():
        for _ in range(epochs):
            order = rng.permutation(len(X))
            for start in range(0, len(X), batch_size):
                idx = order[start:start + batch_size]
                step(X[idx], y[idx])

    return fit


def gemm_only_fit(X, y, sizes, batch_size, epochs):
    """Not a trainer: the matrix multiplies of the same steps alone, NumPy's BLAS on the same
    shapes and layouts as backprop's fit (per layer z = a Wᵀ, ∂J/∂Wᵀ = aᵀ δ, and δ W but for
    the first layer; each W column-major, as fit packs it). Its samples/s is the ceiling of
    backprop's NumPy-BLAS steps: the rest of a step (Adam, the loss, bias and f, Python) only
    adds to it."""
    L = len(sizes) - 1
    rng = np.random.default_rng(0)
    A = [rng.standard_normal((batch_size, n), dtype=np.float32) for n in sizes]
    W = [np.asfortranarray(w) for w, _ in he_weights(sizes)]
    Z = [np.empty((batch_size, n), np.float32) for n in sizes[1:]]
    dW = [np.empty_like(w) for w in W]  # (column-major too: dW.T is row-major)
    dA = [np.empty((batch_size, n), np.float32) for n in sizes[:-1]]
    steps = epochs * (len(X) // batch_size)

    def fit():
        for _ in range(steps):
            for k in range(L):
                np.matmul(A[k], W[k].T, out=Z[k])
            for k in reversed(range(L)):
                np.matmul(A[k].T, Z[k], out=dW[k].T)
                if k:
                    np.matmul(Z[k], W[k], out=dA[k])

    return fit


GEMM_ONLY = "GEMMs alone (ceiling)"

TRAINERS = {
    "backprop": backprop_fit,
    "torch eager": torch_eager_fit,
    "torch.compile": torch_compile_fit,
    "keras/jax fit": keras_fit,
    "jax jit step": jax_step_fit,
    "sklearn": sklearn_fit,
    "numpy loop": numpy_loop_fit,
    GEMM_ONLY: gemm_only_fit,
}


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:100] if text else ''}"


def measure(names, X, y, sizes, batch_size, epochs, repeats) -> dict:
    """samples/s of each trainer (best of ``repeats``, run in turns), or the reason it could not run."""
    fits, out = {}, {}
    for name in names:
        try:
            fit = TRAINERS[name](X, y, sizes, batch_size, epochs)
            fit()  # warm-up: compilation, buffers, thread pools
            fits[name] = fit
        except Unavailable as error:
            out[name] = str(error)
        except Exception as error:  # noqa: BLE001 (an anchor's failure, e.g. inductor without a compiler)
            out[name] = "failed: " + _short(error)
    best = interleaved(fits, repeats, warm_up=False)
    for name in fits:
        out[name] = len(X) * epochs / best[name]
    return out


# ------------------------------------------------------------------ GEMM peak, predict
def gemm_peak_gflops(repeats: int, n: int = 2048) -> float:
    """The machine's float32 matrix-multiply speed: a square SGEMM of n, NumPy's BLAS, 2 threads."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def own_choice_gemm_peak(repeats: int) -> dict | None:
    """The GEMM peak with OpenBLAS's own kernels for this CPU, where the environment forces a set.

    Measured in a child process without ``OPENBLAS_CORETYPE`` (OpenBLAS reads it once, when it
    loads): the machine's float32 peak, against which every share is reported. None where
    nothing is forced (the peak measured in this process is then the machine's)."""
    if not os.environ.get("OPENBLAS_CORETYPE"):
        return None
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    command = [sys.executable, "-m", "benchmarks.anchors", "--gemm-peak", "--repeats", str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_predict(X, repeats) -> dict:
    import backprop as bp
    from backprop import nn

    bp.manual_seed(0)
    model = nn.Sequential(nn.Dense(784, 256, activation="relu"), nn.Dense(256, 128, activation="relu"),
                          nn.Dense(128, 10))
    # Fit first (one short epoch), as a model is used: fit stores each W column-major.
    model.fit(X[:512], np.arange(512) % SIZES[-1], loss="cross_entropy", optimizer="adam", epochs=1,
              batch_size=128, verbose=0)
    row, big = X[:1], X[:4096]
    n = 2000
    out = {"backprop": {}}
    model.predict(row), model.predict(big)
    out["backprop"]["one_row_s"] = _best(lambda: [model.predict(row) for _ in range(n)], repeats) / n
    out["backprop"]["rows_per_s"] = len(big) / _best(lambda: model.predict(big), repeats)
    # The ceiling: the forward pass's three GEMMs alone (NumPy's BLAS, into reused buffers).
    weights = [layer.W.data for layer in model.sequential_layers()]
    buffers = [np.empty((len(big), w.shape[0]), np.float32) for w in weights]

    def gemms():
        a = big
        for w, z in zip(weights, buffers):
            np.matmul(a, w.T, out=z)
            a = z

    gemms()
    out["gemm_only_rows_per_s"] = len(big) / _best(gemms, repeats)
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(THREADS)
    tmodel = _torch_mlp(SIZES).eval()

    def torch_predict(a):
        with torch.inference_mode():
            return tmodel(torch.from_numpy(a)).numpy()

    torch_predict(row), torch_predict(big)
    out["torch"] = {"one_row_s": _best(lambda: [torch_predict(row) for _ in range(n)], repeats) / n,
                    "rows_per_s": len(big) / _best(lambda: torch_predict(big), repeats)}
    return out


# ------------------------------------------------------------------ scaling
def scaling_configs(quick: bool):
    widths = (64, 256, 1024, 4096) if quick else (64, 128, 256, 512, 1024, 2048, 4096)
    depths = (2, 8, 32) if quick else (2, 4, 8, 16, 32)
    batches = (1, 16, 256, 4096) if quick else (1, 4, 16, 64, 256, 1024, 4096)
    for w in widths:
        yield "width", w, (784, w, w, 10), 128
    for d in depths:
        yield "depth", d, (784,) + (256,) * (d - 1) + (10,), 128
    for batch in batches:
        yield "batch", batch, SIZES, batch


def scaling_steps(sizes, batch_size, quick: bool) -> int:
    """Steps per timed fit: about the same FLOPs for every configuration, within [4, 128] (quick) or [8, 512]."""
    budget, low, high = (3e9, 4, 128) if quick else (2e10, 8, 512)
    return int(min(high, max(low, budget // (flops_per_sample(sizes) * batch_size))))


def run_scaling(quick: bool, repeats: int) -> list:
    names = ["backprop", "torch eager", "keras/jax fit", "jax jit step", "numpy loop", GEMM_ONLY]
    if not quick:
        names += ["torch.compile", "sklearn"]
    rows = []
    for axis, value, sizes, batch_size in scaling_configs(quick):
        steps = scaling_steps(sizes, batch_size, quick)
        X, y = make_data(steps * batch_size, sizes[0], sizes[-1])
        result = measure(names, X, y, sizes, batch_size, 1, repeats)
        rows.append({"axis": axis, "value": value, "sizes": sizes, "batch": batch_size, "samples_per_s": result,
                     "flops_per_sample": flops_per_sample(sizes)})
        print(f"scaling {axis}={value}: " + ", ".join(
            f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} ({v})" for k, v in result.items()), file=sys.stderr)
    return rows


# ------------------------------------------------------------------ tables
def _best_anchor(row: dict):
    numbers = {k: v for k, v in row.items() if k not in ("backprop", GEMM_ONLY) and isinstance(v, float)}
    return max(numbers.items(), key=lambda kv: kv[1]) if numbers else (None, None)


def _cell(value, best, flops, peak) -> str:
    if not isinstance(value, float):
        return value
    return f"{value:,.0f} · {value / best:.2f}× · {value * flops / (peak * 1e9):.0%}" if best else f"{value:,.0f}"


def _blas_note(results: dict) -> str:
    blas = results.get("blas")
    if not blas:
        return ""
    own = blas.get("own_choice")
    if own is None:
        return f" (NumPy's OpenBLAS runs its {blas['kernels']} kernels, its own choice for this CPU)"
    return (f" (NumPy's OpenBLAS runs {blas['kernels']} kernels, forced by OPENBLAS_CORETYPE="
            f"{blas['OPENBLAS_CORETYPE']}: {results['gemm_peak_gflops_numpy']:.0f} GFLOP/s; the peak is that of "
            f"its own choice for this CPU, {own['kernels']}: {own['gemm_peak_gflops']:.0f})")


def format_tables(results: dict) -> str:
    peak = results["gemm_peak_gflops"]
    flops = flops_per_sample(SIZES)
    m = results["machine"]
    lines = [
        f"{results['date']}, {m['cpu']}, {m['cpus']} CPUs, {THREADS} threads, load average {m['load_before']} "
        f"before / {m['load_after']} after; float32 GEMM peak (SGEMM 2048², 2 threads, the better of "
        f"{results.get('gemm_peak_gflops_before', peak):.0f} before and {results.get('gemm_peak_gflops_after', peak):.0f} after): "
        f"{peak:.0f} GFLOP/s{_blas_note(results)}; "
        f"{results['n_samples']} samples, {results['epochs']} epochs per timed fit, best of {results['repeats']}",
        "",
        "Training a 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam, float32. "
        "Each cell: samples/s · ratio to the best anchor · share of the GEMM peak "
        f"({flops / 1e6:.2f} MFLOP per sample).",
        "",
        "| | " + " | ".join(f"B={b}" for b in results["train"]) + " |",
        "|---|" + "---|" * len(results["train"]),
    ]
    names = ["backprop"] + [n for n in ANCHORS + (GEMM_ONLY,) if any(n in row for row in results["train"].values())]
    best = {b: _best_anchor(row) for b, row in results["train"].items()}
    for name in names:
        cells = [_cell(row.get(name, ""), best[b][1], flops, peak) for b, row in results["train"].items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **best anchor** | " + " | ".join(f"{best[b][0]}" for b in results["train"]) + " |")
    lines.append("| **backprop ÷ best anchor** | " + " | ".join(
        f"**{row['backprop'] / best[b][1]:.2f}×**" if best[b][1] and isinstance(row.get("backprop"), float) else ""
        for b, row in results["train"].items()) + " |")
    if not results["train"]:  # (--scaling-only)
        lines = lines[:1]
    p = results.get("predict")
    if p:
        fwd = forward_flops_per_sample(SIZES)
        lines += ["", "Predicting (backprop's `predict`, PyTorch eager in `inference_mode`):", "",
                  "| | backprop | PyTorch | backprop's speed ÷ PyTorch's |", "|---|---|---|---|"]
        bp_, th = p["backprop"], p.get("torch")
        lines.append(f"| one row | {bp_['one_row_s'] * 1e6:.1f} µs | "
                     + (f"{th['one_row_s'] * 1e6:.1f} µs | {th['one_row_s'] / bp_['one_row_s']:.2f}× |" if th else "| |"))
        share = bp_["rows_per_s"] * fwd / (peak * 1e9)
        lines.append(f"| 4,096 rows | {bp_['rows_per_s'] / 1e3:,.0f}k rows/s ({share:.0%} of peak) | "
                     + (f"{th['rows_per_s'] / 1e3:,.0f}k rows/s ({th['rows_per_s'] * fwd / (peak * 1e9):.0%}) | "
                        f"{bp_['rows_per_s'] / th['rows_per_s']:.2f}× |" if th else "| |"))
        ceiling = p.get("gemm_only_rows_per_s")
        if ceiling:
            lines.append(f"| 4,096 rows, the three GEMMs alone (NumPy's BLAS: backprop's ceiling) | "
                         f"{ceiling / 1e3:,.0f}k rows/s ({ceiling * fwd / (peak * 1e9):.0%}) | | "
                         + (f"{ceiling / th['rows_per_s']:.2f}× |" if th else "|"))
    scaling = results.get("scaling")
    if scaling:
        names = ["backprop"] + [n for n in ANCHORS + (GEMM_ONLY,) if any(n in r["samples_per_s"] for r in scaling)]
        lines += ["", "Scaling (samples/s; width: 784-w-w-10 at B=128; depth: layers of 256 at B=128; "
                  "batch: 784-256-128-10). Each cell: samples/s · share of the GEMM peak.", "",
                  "| axis | value | " + " | ".join(names) + " | backprop ÷ best anchor | backprop ÷ its GEMMs alone |",
                  "|---|---|" + "---|" * (len(names) + 2)]
        for r in scaling:
            row = r["samples_per_s"]
            cells = []
            for name in names:
                v = row.get(name, "")
                cells.append(f"{v:,.0f} · {v * r['flops_per_sample'] / (peak * 1e9):.0%}"
                             if isinstance(v, float) else v)
            _, best_value = _best_anchor(row)
            ratio = f"{row['backprop'] / best_value:.2f}×" if best_value and isinstance(row.get("backprop"), float) else ""
            gemm = row.get(GEMM_ONLY)
            own = f"{row['backprop'] / gemm:.0%}" if isinstance(gemm, float) and isinstance(row.get("backprop"), float) else ""
            lines.append(f"| {r['axis']} | {r['value']} | " + " | ".join(cells) + f" | {ratio} | {own} |")
    return "\n".join(lines)


def summarize(paths) -> str:
    """The spread of the key ratios over several runs' JSON files (one column per run)."""
    runs = [json.loads(Path(path).read_text()) for path in paths]
    partial = [path for path, r in zip(paths, runs) if not r.get("train") or "predict" not in r]
    if partial:  # (a --scaling-only run has neither table)
        raise SystemExit(f"--summarize needs runs with the training and prediction tables; {partial[0]} has "
                         "none (written with --scaling-only?)")
    header = "| ratio | " + " | ".join(f"{r['date']} (load {r['machine']['load_before'].split()[0]}→"
                                       f"{r['machine']['load_after'].split()[0]})" for r in runs) + " |"
    lines = [header, "|---|" + "---|" * len(runs)]
    flops = flops_per_sample(SIZES)
    for b in runs[0]["train"]:
        cells = []
        for r in runs:
            row = r["train"][b]
            name, best = _best_anchor(row)
            bp_ = row.get("backprop")
            cells.append(f"{bp_ / best:.2f}× ({name}); {bp_ * flops / (r['gemm_peak_gflops'] * 1e9):.0%} of peak"
                         if isinstance(bp_, float) and best else "")
        lines.append(f"| B={b}: backprop ÷ best anchor; share of peak | " + " | ".join(cells) + " |")
    for b in runs[0]["train"]:
        cells = []
        for r in runs:
            row = r["train"][b]
            _, best = _best_anchor(row)
            gemm = row.get(GEMM_ONLY)
            cells.append(f"{gemm / best:.2f}×" if isinstance(gemm, float) and best else "")
        lines.append(f"| B={b}: GEMMs alone ÷ best anchor | " + " | ".join(cells) + " |")
    cells = []
    for r in runs:
        p, t = r["predict"]["backprop"], r["predict"].get("torch")
        cells.append(f"{t['one_row_s'] / p['one_row_s']:.2f}× ({p['one_row_s'] * 1e6:.1f} vs {t['one_row_s'] * 1e6:.1f} µs)"
                     if t else "")
    lines.append("| one row, faster than PyTorch | " + " | ".join(cells) + " |")
    cells = []
    for r in runs:
        p, t = r["predict"]["backprop"], r["predict"].get("torch")
        cells.append(f"{p['rows_per_s'] / t['rows_per_s']:.2f}× (GEMMs alone {r['predict']['gemm_only_rows_per_s'] / t['rows_per_s']:.2f}×)"
                     if t else "")
    lines.append("| 4,096 rows, backprop ÷ PyTorch | " + " | ".join(cells) + " |")
    lines.append("| GEMM peak (GFLOP/s) | " + " | ".join(f"{r['gemm_peak_gflops']:.0f}" for r in runs) + " |")
    lines.append("| NumPy's OpenBLAS kernels; their GEMM peak | " + " | ".join(
        f"{r.get('blas', {}).get('kernels')} (OPENBLAS_CORETYPE={r.get('blas', {}).get('OPENBLAS_CORETYPE')}); "
        f"{r.get('gemm_peak_gflops_numpy', r['gemm_peak_gflops']):.0f}" for r in runs) + " |")
    return "\n".join(lines)


def _versions() -> dict:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("torch", "jax", "keras", "sklearn", "numba"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    return versions


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples, repeats and scaling points (~3 min)")
    parser.add_argument("--no-scaling", action="store_true", help="leave the scaling table out")
    parser.add_argument("--scaling-only", action="store_true", help="the GEMM peak and the scaling table alone")
    parser.add_argument("--anchors", default=",".join(ANCHORS), help="comma-separated subset of: " + ", ".join(ANCHORS))
    parser.add_argument("--json", default=str(RESULTS / "anchors.json"))
    parser.add_argument("--summarize", nargs="+", metavar="JSON", help="print the spread of several runs' ratios, run nothing")
    parser.add_argument("--gemm-peak", action="store_true", help=argparse.SUPPRESS)  # own_choice_gemm_peak's child
    parser.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gemm_peak:
        set_threads(THREADS)
        print(json.dumps({"gemm_peak_gflops": gemm_peak_gflops(args.repeats), **blas_kernels()}))
        return 0
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    anchors = [a.strip() for a in args.anchors.split(",") if a.strip()]
    unknown = [a for a in anchors if a not in ANCHORS]
    if unknown:
        parser.error(f"unknown anchors {unknown}; choose from {', '.join(ANCHORS)}")

    set_threads(THREADS)
    n_samples, repeats, epochs = (4096, 3, 2) if args.quick else (16384, 5, 2)
    X, y = make_data(n_samples, SIZES[0], SIZES[-1])
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "n_samples": n_samples, "repeats": repeats,
               "epochs": epochs,
               "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform(),
                           "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()), **_versions()}}
    results["gemm_peak_gflops"] = gemm_peak_gflops(repeats)
    results["train"] = {}
    for batch_size in () if args.scaling_only else BATCH_SIZES:
        row = measure(["backprop"] + anchors + [GEMM_ONLY], X, y, SIZES, batch_size, epochs, repeats)
        results["train"][batch_size] = row
        print(f"B={batch_size}: " + ", ".join(f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} ({v})"
                                              for k, v in row.items()), file=sys.stderr)
    if not args.scaling_only:
        results["predict"] = measure_predict(X, repeats)
    if not args.no_scaling:
        results["scaling"] = run_scaling(args.quick, 2 if args.quick else 3)
    # The peak is the machine's best: measured before and after, the larger kept (a busy spell lowers one).
    results["gemm_peak_gflops_before"] = results["gemm_peak_gflops"]
    results["gemm_peak_gflops_after"] = gemm_peak_gflops(repeats)
    results["gemm_peak_gflops"] = max(results["gemm_peak_gflops_before"], results["gemm_peak_gflops_after"])
    # Every share is of the machine's peak; where the environment forces NumPy's kernels, that
    # peak is OpenBLAS's own choice's, and NumPy's (backprop's ceiling) is kept beside it.
    results["blas"] = blas_kernels()
    results["gemm_peak_gflops_numpy"] = results["gemm_peak_gflops"]
    own = own_choice_gemm_peak(repeats)
    if own is not None:
        results["blas"]["own_choice"] = own
        results["gemm_peak_gflops"] = max(results["gemm_peak_gflops"], own["gemm_peak_gflops"])
    results["machine"]["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(format_tables(results))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
