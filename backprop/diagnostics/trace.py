"""``trace``: see every quantity of the four equations, layer by layer.

For one example (or a batch) the trace records, for each layer m = 1..L of a
Sequential network of Dense (or Conv1d/Conv2d) layers,

* from the forward pass: a^(m−1) (the layer's input), z^m = W^m a^(m−1) + b^m,
  a^m = f(z^m) and f′(z^m);
* from the engine's backward pass (``retain_grad`` on z^m): δ^m = ∂J/∂z^m,
  ∂J/∂W^m and ∂J/∂b^m, and for the output layer ∂J/∂a^L.

It then evaluates the notes' four equations from its own records and compares
them with the engine's gradients, an independent check of backpropagation::

    (1) δ^L = f′(z^L) ∘ ∂J/∂a^L
    (2) δ^m = f′(z^m) ∘ (W^(m+1))ᵀ δ^(m+1)
    (3) ∂J/∂W^m = δ^m (a^(m−1))ᵀ
    (4) ∂J/∂b^m = δ^m

Column form (the notes, one example): z = W a + b with W of shape (n_out, n_in).
A batch has its examples in rows, Z = A Wᵀ + b; equations (1) and (2) then hold
row by row, (3) becomes ∂J/∂W = Σ_i δ_i a_iᵀ = Δᵀ A and (4) ∂J/∂b = Σ_i δ_i:
the gradients of a batch are summed over its examples (a mean loss has already
put its 1/N into δ).

A softmax is not elementwise: its f′(z) is the Jacobian diag(a) − a aᵀ, and (1)
becomes δ^L = (diag(a) − a aᵀ) ∂J/∂a^L, which for cross-entropy simplifies to the
famous δ^L = a^L − y.

A convolution (Conv2d, Conv1d) is traced the same way: z = W ⋆ a + b uses one small W
at every position, so (3) and (4) sum over the positions as well as the examples (the
sum rule across paths), ∂J/∂W[o,k,i,j] = Σ_{n,r,c} δ[n,o,r,c] a[n,k,r·s+i·d,c·s+j·d], and
in (2) each input element collects δ · W from every window it is in. Each layer brings
these formulas in its :meth:`~backprop.nn.Module.traced_form`; pools and Flatten between
two layers (no weights) are passed back through with the engine's backward.

With ``loss="cross_entropy"`` the network's last Dense
layer outputs logits z^L and the loss applies the softmax; the trace shows that
softmax as the output activation. ``binary_cross_entropy_with_logits`` likewise
applies σ, where δ^L = σ(z^L) − y.

Example:
    >>> import numpy as np, backprop as bp                           # doctest: +SKIP
    >>> t = bp.trace(model, np.array([0.05, 0.10]), np.array([0.01, 0.99]), loss="rss")
    >>> t.layers[0].delta, t.layers[-1].dW, t.residuals["weight_gradient"]
    >>> print(t)              # the table, 80 columns wide
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from backprop.engine.ops.activation import Sigmoid
from backprop.engine.tensor import Tensor, enable_grad, eval_mode, no_grad

__all__ = ["trace", "check_traceable", "Trace", "LayerTrace", "EQUATIONS"]

#: The residual keys of :attr:`Trace.residuals` and the equation each one checks.
EQUATIONS = {
    "output_delta": "(1) δ^L = f′(z^L) ∘ ∂J/∂a^L",
    "hidden_delta": "(2) δ^m = f′(z^m) ∘ (W^(m+1))ᵀ δ^(m+1)",
    "weight_gradient": "(3) ∂J/∂W^m = δ^m (a^(m-1))ᵀ",
    "bias_gradient": "(4) ∂J/∂b^m = δ^m",
}

# Losses whose first argument is a logit; the trace shows the activation they apply.


@dataclass
class LayerTrace:
    """The records of one layer m (examples in rows for a batch; 1-D for one example).

    Attributes:
        index: m, counting the layers with weights (Dense, Conv) from 1 (the input is a^0 = x).
        description: e.g. ``"Dense 2 → 3, f = sigmoid"`` or ``"MaxPool2d, then Conv2d 3 → 4, 2×2 kernel, f = relu"``.
        activation: the name of f (``"identity"`` when there is none).
        W: weights, shape (n_out, n_in); a conv layer's shared kernels (out_channels, in_channels, kh, kw).
        b: bias, shape (n_out,) (zeros without bias).
        a_prev: a^(m−1), the layer's input (after the weightless layers before it, e.g. a pool).
        z: z^m = W^m a^(m−1) + b^m.  a: a^m = f(z^m).
        df: f′(z^m), shaped like z; for a softmax the Jacobian ∂a/∂z, shape (n, n)
            for one example or (N, n, n) for a batch, entry [k, j] = ∂a_k/∂z_j.
        jacobian: True when ``df`` is a Jacobian (softmax).
        delta: δ^m = ∂J/∂z^m (the engine's, read with ``retain_grad``).
        dW: ∂J/∂W^m (the engine's; for a conv layer summed over every position sharing W).
        db: ∂J/∂b^m (the engine's; zeros without bias).
        dJ_da: ∂J/∂a^m (the engine's; for a softmax or sigmoid applied by the loss,
            the derivative of the loss written on the probabilities).
    """

    index: int
    description: str
    activation: str
    W: np.ndarray
    b: np.ndarray
    a_prev: np.ndarray
    z: np.ndarray
    a: np.ndarray
    df: np.ndarray
    jacobian: bool
    delta: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    dJ_da: Optional[np.ndarray]
    has_bias: bool = True
    form: object = field(default=None, repr=False, compare=False)  # the layer's TracedForm
    name: str = ""  # the layer as the table names it, e.g. "Conv2d 1 → 3, 3×3 kernel"

    @property
    def n_in(self) -> int:
        return self.W.shape[1]

    @property
    def n_out(self) -> int:
        return self.W.shape[0]


@dataclass
class Trace:
    """What :func:`trace` recorded; ``print(trace)`` shows it as a table.

    Attributes:
        layers: one :class:`LayerTrace` per layer with weights (Dense, Conv), input to output.
        x: the input a^0 (one example: 1-D; a batch: rows).
        y: the target as the loss uses it (class labels become one-hot rows).
        loss: J, the data loss (without any weight penalty).
        loss_name: the loss's name.
        single: True when one example was traced (records are 1-D, column form).
        residuals: ``{equation: {m: max |residual|}}`` for the keys of :data:`EQUATIONS`.
        notes: remarks shown under the table (e.g. softmax applied twice).
    """

    layers: list
    x: np.ndarray
    y: np.ndarray
    loss: float
    loss_name: str
    single: bool
    residuals: dict
    notes: list = field(default_factory=list)
    output_in_loss: Optional[str] = None
    dtype: np.dtype = np.dtype(np.float64)

    @property
    def dJ_da(self) -> np.ndarray:
        """∂J/∂a^L, the loss's derivative with respect to the network's output activation."""
        return self.layers[-1].dJ_da

    @property
    def output(self) -> np.ndarray:
        """a^L."""
        return self.layers[-1].a

    @property
    def max_residual(self) -> float:
        """The largest residual of all four equations over all layers."""
        values = [r for per_layer in self.residuals.values() for r in per_layer.values()]
        return max(values) if values else 0.0

    def table(self, max_items: int = 6, max_rows: int = 4) -> str:
        """The trace as text, every line at most 80 characters.

        Args:
            max_items: vectors longer than this show their first ``max_items − 1``
                entries and their length.
            max_rows: matrices (and batches) taller than this show their first
                ``max_rows − 1`` rows and their number of rows.
        """
        from backprop.diagnostics.report import trace_table

        return trace_table(self, max_items=max_items, max_rows=max_rows)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.layers[0].n_in] + [layer.n_out for layer in self.layers])
        what = "1 example" if self.single else f"{self.x.shape[0]} examples"
        return f"<Trace {sizes} network, {what}, {self.loss_name} J={self.loss:.6g}, max residual {self.max_residual:.1e}>"


# ======================================================================= trace
def trace(model, x, y, *, loss, dtype=None) -> Trace:
    """Trace one example (x of shape (n_in,)) or a batch (rows) through ``model``.

    Args:
        model: a Sequential of Dense or Conv layers (any layer with a
            :meth:`~backprop.nn.Module.traced_form`), each optionally followed by activation
            layers (ReLU, Sigmoid, Softmax...), which the trace groups with it; Dropout (the
            identity in evaluation mode) is passed over, and layers without weights (pools,
            Flatten) between them are kept as the connections from a^(m−1) to the next layer's
            input. A single Dense layer works too.
        x: one example (1-D; (C, H, W) for a Conv2d network) or a batch (2-D, examples in
            rows; (N, C, H, W)).
        y: its target(s): values for regression losses, class labels or one-hot rows
            for ``cross_entropy``, 0/1 for the binary cross-entropies. Labels are
            encoded as ``fit`` encodes them (with the fit record's classes when it has some).
        loss: a loss name (``"mse"``, ``"half_mse"``, ``"rss"``, ``"cross_entropy"``,
            ``"binary_cross_entropy"``, ``"binary_cross_entropy_with_logits"``...) or
            one of :mod:`backprop.losses`.
        dtype: compute in this float dtype (e.g. ``"float64"`` for a float32 model);
            default: the dtype of the model's weights.

    Returns:
        A :class:`Trace`. The model is not changed (its gradients included): the
        trace runs on copies of W and b, in evaluation mode.

    Raises:
        TypeError: for a layer the trace does not know (e.g. BatchNorm), or a model of several
            inputs (a Concat) or of category codes (an Embedding), checked before any work.
        ValueError: for inputs that do not fit the model.
    """
    from backprop.backend import resolve_dtype
    from backprop.losses import Loss, get_loss

    loss_fn = get_loss(loss)
    loss_name = getattr(loss_fn, "__name__", "loss")
    # A loss on logits applies its output activation (softmax, σ) itself: the trace shows it as f^L.
    logit_activation = loss_fn.output_activation if isinstance(loss_fn, Loss) else None
    multiclass = isinstance(loss_fn, Loss) and loss_fn.kind == "multiclass"
    groups = _group_layers(model)
    if dtype is None:
        dtype = groups[0].layer.W.data.dtype
    dtype = resolve_dtype(dtype)

    example_ndim = groups[0].form.example_ndim
    single = (np.ndim(x) if not isinstance(x, Tensor) else x.ndim) == example_ndim
    X, target = _prepare(model, x, y, loss, single, dtype, example_ndim)

    notes = []
    last_acts = groups[-1].acts
    in_loss = None
    if logit_activation is not None:
        if all(act.name == "identity" for act in last_acts):
            in_loss = logit_activation
        elif last_acts and last_acts[-1].name == logit_activation:
            applied = logit_activation
            notes.append(
                f"Warning: {loss_name} expects logits and applies {applied} itself, but the last layer "
                f"already applies {applied}, so it is applied twice. Remove the last activation."
            )

    with enable_grad():
        records = _forward_backward(groups, X, target, loss_fn, dtype)
    J, output, layer_tensors = records

    with no_grad():
        _check_output(model, X, output, dtype)

    layers = []
    for m, (group, rec) in enumerate(zip(groups, layer_tensors), start=1):
        layers.append(_layer_record(m, group, rec, single))

    if in_loss is not None:
        _fill_output_in_loss(layers[-1], in_loss, target, single)

    residuals = _residuals(layers, groups, single)
    for note in dict.fromkeys(group.form.note for group in groups if group.form.note):
        notes.append(note)
    for m, group in enumerate(groups[1:], start=2):
        if group.between:
            notes.append(f"Between layers {m - 1} and {m}: {_names(group.between)}, without weights; "
                         f"equation (2) takes (W^{m})ᵀ δ^{m} back through them with the engine's backward.")
    if any(getattr(group.layer, "weight_regularizer", None) is not None for group in groups):
        notes.append("J is the data loss: the weight penalty of the model is not included.")
    y_rows = np.asarray(target)
    if multiclass:
        y_rows = _one_hot(target, layers[-1].n_out, dtype)
    elif y_rows.ndim == 1:
        y_rows = y_rows.reshape(-1, 1) if layers[-1].n_out == 1 else y_rows[None]
    y_shown = y_rows[0] if single else y_rows
    x_shown = X[0] if single else X
    return Trace(layers=layers, x=x_shown, y=y_shown, loss=float(J.data), loss_name=loss_name,
                 single=single, residuals=residuals, notes=notes, output_in_loss=in_loss, dtype=dtype)


# --------------------------------------------------------------- the layers
@dataclass
class _Group:
    """One traced layer m: the layer, its TracedForm, the activations applied to its z (its own f,
    then activation layers right after it), and the layers without weights between a^(m−1) and
    its input (pools, Flatten; ``after``: those after the last layer)."""

    layer: object
    form: object
    acts: list
    between: list
    after: list = field(default_factory=list)


def _group_layers(model) -> list:
    """``[_Group]``: the layers with a traced form (Dense, Conv...), each with its activations and the
    layers without weights that lead to it."""
    from backprop.layers import Dropout
    from backprop.layers.activations import ActivationLayer

    def flatten(module):
        layers = module.sequential_layers()
        if layers is None:
            yield module
        else:
            for child in layers:
                yield from flatten(child)

    groups, pending = [], []
    for layer in flatten(model):
        form = layer.traced_form()
        if form is not None:
            acts = [] if form.activation is None else [form.activation]
            groups.append(_Group(layer, form, acts, pending))
            pending = []
        elif layer.input_kind != "features":
            # The notes' equations chain a^(m−1) → z^m along one path; branches joined by a Concat,
            # and a lookup of codes, are not of that form.
            what = (f"a {type(layer).__name__} of the inputs {list(getattr(layer, 'branch_names', ()))[:10]}" if layer.input_kind == "branches"
                    else f"an {type(layer).__name__}, which takes category codes")
            raise TypeError(
                f"trace: the model has {what}; trace supports one array of features through a chain of "
                f"layers with a traced form (Dense, Conv1d, Conv2d), activation layers and layers without "
                f"weights (pools, Flatten), not models of several inputs or of category codes"
            )
        elif isinstance(layer, Dropout):
            continue  # the identity in evaluation mode
        elif isinstance(layer, ActivationLayer) and not pending:
            if not groups:
                raise TypeError(f"trace: the activation layer {layer!r} comes before any Dense or Conv layer")
            groups[-1].acts.append(layer.activation)
        elif not layer.parameters() and not layer.named_buffers():
            pending.append(layer)  # a pool, Flatten, or an activation after one: no weights to trace
        else:
            raise TypeError(
                f"trace supports Sequential models of layers with a traced form (Dense, Conv1d, Conv2d), "
                f"activation layers and layers without weights (pools, Flatten); found {type(layer).__name__}"
            )
    if not groups:
        raise TypeError("trace: the model has no Dense or Conv layer")
    groups[-1].after = pending
    for index, group in enumerate(groups):
        for position, act in enumerate(group.acts):
            if act.name == "softmax" and position != len(group.acts) - 1:
                raise TypeError(f"trace: layer {index + 1} applies an activation after softmax")
    return groups


def check_traceable(model) -> None:
    """Raise the TypeError :func:`trace` raises for a model it cannot trace, before any data are read."""
    _group_layers(model)


def _names(layers) -> str:
    names = [type(layer).__name__ for layer in layers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _prepare(model, x, y, loss, single: bool, dtype, example_ndim: int = 1):
    """(X as rows, target as the loss takes it), encoded exactly as ``fit`` encodes them."""
    from backprop.training.loop import Trainer

    X = np.asarray(x.data if isinstance(x, Tensor) else x)
    if single:
        X = X[None]
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        y = y.reshape(1, -1) if y.ndim >= 1 and y.size > 1 else y.reshape(1)
    elif X.ndim != example_ndim + 1:
        raise ValueError(f"trace: x must be one example ({example_ndim}-D) or a batch ({example_ndim + 1}-D), "
                         f"got shape {X.shape}")
    prepared = Trainer(model, loss=loss, optimizer=None, verbose=0).prepare(X, y)
    return prepared.X.astype(dtype, copy=False), prepared.target


def _forward_backward(groups, X, target, loss_fn, dtype):
    """Forward with engine ops on copies of W and b, then J.backward(); keeps z, a, W, b tensors."""
    kept, output = _forward(groups, X, dtype, copies=True)
    J = loss_fn(output, target)
    J.backward()
    return J, output, kept


def _forward(groups, X, dtype, *, copies: bool):
    """(records, output): each layer's input a_prev, W, b, z and a as Tensors, in evaluation mode.

    With ``copies`` (the trace) W and b are fresh Tensors that require grad and z and a keep their
    gradients; otherwise (the monitor's probe) the layer's own Parameters are used as they are.
    """
    a_prev = Tensor(X)
    kept = []
    with eval_mode():
        for group in groups:
            for layer in group.between:
                a_prev = layer(a_prev)
            W, b = group.layer.W, group.layer.b
            if copies:
                W = Tensor(np.array(W.data, dtype=dtype), requires_grad=True)
                b = None if b is None else Tensor(np.array(b.data, dtype=dtype), requires_grad=True)
            z = group.form.z(a_prev, W, b)
            a = z.retain_grad() if copies else z
            for act in group.acts:
                a = act(a)
            if copies and a is not z:
                a.retain_grad()
            kept.append({"a_prev": a_prev, "W": W, "b": b, "z": z, "a": a})
            a_prev = a
        for layer in groups[-1].after:
            a_prev = layer(a_prev)
    return kept, a_prev


def _check_output(model, X, output, dtype) -> None:
    """The layer-by-layer recomputation must reproduce the model's own forward pass."""
    model_dtype = _model_dtype(model)
    with eval_mode():
        expected = np.asarray(model(Tensor(X.astype(model_dtype, copy=False))).data, dtype=np.float64)
    got = np.asarray(output.data, dtype=np.float64).reshape(expected.shape)
    exact = model_dtype == dtype == np.float64
    tolerance = (1e-9 if exact else 1e-4) * (1 + np.abs(expected))
    if not np.all((np.abs(got - expected) <= tolerance) | ~np.isfinite(expected)):
        raise ValueError(
            "trace: recomputing the model layer by layer (z = W a + b, a = f(z)) does not give the "
            "model's output; the trace supports plain Dense, Conv, activation and weightless layers only"
        )


def _model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _derivative(acts, z: np.ndarray):
    """(a, f′(z), is_jacobian) for the composition of ``acts`` applied to z (rows = examples)."""
    u, d = z, np.ones_like(z)
    for act in acts:
        if act.name == "softmax":
            a = act.f(u)
            jac = _softmax_jacobian(a) * d[:, None, :]  # ∂a_k/∂z_j = (diag(a) − a aᵀ)_kj · d_j
            return a, jac, True
        a = act.f(u)
        d = d * act.df(u, a)
        u = a
    return u, d, False


def _softmax_jacobian(a: np.ndarray) -> np.ndarray:
    """diag(a) − a aᵀ for each row of a: shape (N, K, K)."""
    return a[:, :, None] * np.eye(a.shape[1], dtype=a.dtype)[None] - a[:, :, None] * a[:, None, :]


def _activation_name(acts) -> str:
    names = [act.name for act in acts if act.name != "identity"]
    return " then ".join(names) if names else "identity"


def _layer_record(m, group, rec, single) -> LayerTrace:
    z = rec["z"].data
    W, b = rec["W"], rec["b"]
    _, df, jacobian = _derivative(group.acts, z)
    name = _activation_name(group.acts)
    delta = _grad_or_zeros(rec["z"])
    no_activation = rec["a"] is rec["z"]
    layer_name = group.form.description
    if group.between:
        layer_name = f"{_names(group.between)}, then {layer_name}"
    record = LayerTrace(
        index=m, description=f"{layer_name}, f = {name}", activation=name, form=group.form, name=layer_name,
        W=W.data, b=np.zeros(W.shape[0], dtype=W.data.dtype) if b is None else b.data,
        a_prev=rec["a_prev"].data, z=z, a=rec["a"].data, df=df, jacobian=jacobian, delta=delta,
        dW=_grad_or_zeros(W), db=np.zeros(W.shape[0], dtype=W.data.dtype) if b is None else _grad_or_zeros(b),
        dJ_da=delta.copy() if no_activation else _grad_or_zeros(rec["a"]), has_bias=b is not None,
    )
    if single:
        for key in ("a_prev", "z", "a", "df", "delta", "dJ_da"):
            setattr(record, key, getattr(record, key)[0])
    return record


def _grad_or_zeros(t: Tensor) -> np.ndarray:
    return np.zeros_like(t.data) if t.grad is None else t.grad


def _fill_output_in_loss(layer: LayerTrace, activation: str, target, single: bool) -> None:
    """Show the softmax (or σ) that a logit loss applies as the output activation.

    The network's output is z^L; the loss computes a^L = softmax(z^L) and
    J = −(1/N) Σ_i Σ_k y_ik ln a_ik, so ∂J/∂a^L = −y/(N a^L) and, through the
    Jacobian, δ^L = (a^L − y)/N. For σ with binary cross-entropy (a mean over the n
    outputs): ∂J/∂a = (a − y)/(n a(1 − a)) and δ = (a − y)/n.
    """
    z = layer.z[None] if single else layer.z
    if activation == "softmax":
        from backprop.layers.activations import SoftmaxActivation

        a = SoftmaxActivation().f(z)
        y = _one_hot(target, a.shape[1], a.dtype)
        df = _softmax_jacobian(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            dJ_da = np.where(y == 0, 0.0, -y / (a.shape[0] * a)).astype(a.dtype)
        layer.description = f"{layer.name}, logits; the loss applies f = softmax"
        layer.activation, layer.jacobian = "softmax", True
    else:
        sigmoid = Sigmoid()
        a = sigmoid.f(z)
        y = np.asarray(target, dtype=a.dtype).reshape(a.shape)
        df = sigmoid.df(z, a)
        with np.errstate(divide="ignore", invalid="ignore"):
            dJ_da = ((a - y) / (a.size * a * (1 - a))).astype(a.dtype)
        layer.description = f"{layer.name}, logits; the loss applies f = sigmoid"
        layer.activation, layer.jacobian = "sigmoid", False
    if single:
        a, df, dJ_da = a[0], df[0], dJ_da[0]
    layer.a, layer.df, layer.dJ_da = a, df, dJ_da


def _one_hot(target, k: int, dtype) -> np.ndarray:
    target = np.asarray(target)
    if target.ndim == 2:
        return target.astype(dtype)
    one_hot = np.zeros((target.shape[0], k), dtype=dtype)
    one_hot[np.arange(target.shape[0]), target.astype(np.intp)] = 1
    return one_hot


# ------------------------------------------------------------ the equations
def _rows(value, single):
    return value[None] if single else value


def _apply_df(df, g, jacobian: bool, single: bool) -> np.ndarray:
    """f′(z) ∘ g, or the Jacobian's transpose times g for a softmax (rows = examples)."""
    g = _rows(g, single)
    if jacobian:
        jac = df[None] if single else df
        return np.einsum("nk,nkj->nj", g, jac)
    return _rows(df, single) * g


def _residuals(layers, groups, single: bool) -> dict:
    """Evaluate the four equations from the records; max |equation − engine| per layer.

    Each layer's form computes its own part: (W^(m+1))ᵀ δ^(m+1) in (2), and (3) and (4), the
    sums over the examples (and, for a convolution, over the positions that share W).
    """
    residuals = {key: {} for key in EQUATIONS}
    L = len(layers)
    for position, layer in enumerate(layers):
        m = layer.index
        delta = _rows(layer.delta, single)
        if position == L - 1:
            rhs = _apply_df(layer.df, layer.dJ_da, layer.jacobian, single)
            residuals["output_delta"][m] = _max_abs(delta - rhs)
        else:
            above = layers[position + 1]
            a_above = _rows(above.a_prev, single)
            back = above.form.input_gradient(_rows(above.delta, single), above.W, a_above.shape)
            if groups[position + 1].between:
                back = _back_through(groups[position + 1].between, _rows(layer.a, single), back)
            rhs = _apply_df(layer.df, back[0] if single else back, layer.jacobian, single)
            residuals["hidden_delta"][m] = _max_abs(delta - rhs)
        a_prev = _rows(layer.a_prev, single)
        residuals["weight_gradient"][m] = _max_abs(layer.dW - layer.form.weight_gradient(delta, a_prev))
        if layer.has_bias:
            residuals["bias_gradient"][m] = _max_abs(layer.db - layer.form.bias_gradient(delta))
    return residuals


def _back_through(layers, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """∂J/∂a from ∂J/∂(layers(a)) = ``grad``, through weightless layers (pools, Flatten) with the engine."""
    with enable_grad(), eval_mode():
        start = Tensor(np.array(a), requires_grad=True)
        out = start
        for layer in layers:
            out = layer(out)
        out.backward(np.asarray(grad, dtype=out.data.dtype).reshape(out.shape))
    return start.grad


def _max_abs(difference: np.ndarray) -> float:
    if difference.size == 0:
        return 0.0
    value = float(np.max(np.abs(difference)))
    return value if not math.isnan(value) else math.inf
