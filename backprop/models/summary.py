"""The table ``Model.summary`` prints: one row per layer, its output shape and parameter counts.

Rows follow the data: a chain of layers (a Sequential, a Model wrapping one, nested ones)
is walked through :meth:`~backprop.nn.Module.sequential_layers` down to its layers, named
by their state-dict prefix (``0``, ``2.1``, ``module.0``). A module that computes its output
itself (a subclass with its own ``forward``) lists its direct submodules, whose order need
not be the data's, so their output shapes are not shown; inside a chain, such a module (a
Concat of branches) has its own layers listed, indented, under its row.

Output shapes come from a forward pass of one example of zeros (in evaluation mode, without
a graph; integer code 0 for an Embedding) when the input shape is known: given, or rows of
the fit record's ``n_features_in`` (else the first layer's inputs) for a network of feature
layers. A network that starts with a Concat takes one shape per branch (a dict by name, or a
tuple in branch order); by default each branch's own: one code per example, ``()``, for a
branch that is an Embedding, the first layer's inputs for a branch of feature layers. Codes of
shape (L,) give an Embedding's output (L, D); the Concat's output is its branches' joined.
Otherwise each layer's :meth:`~backprop.nn.Module.output_features` gives ``(None, n)``
where it can, and "?" where it cannot (image and sequence layers).
"""

from __future__ import annotations

import numpy as np

from backprop.engine.tensor import Tensor, eval_mode, no_grad
from backprop.layers.embedding import Embedding
from backprop.training.fitted import fit_record_of
from backprop.training.inputs import entry_layer, input_kind
from backprop.training.inference import parameter_dtype

__all__ = ["summary_rows", "format_summary", "parameter_counts"]

UNKNOWN = "?"
_COLUMNS = (("layer", "Layer"), ("type", "Type"), ("output_shape", "Output shape"),
            ("trainable", "Trainable"), ("non_trainable", "Non-trainable"))
_RIGHT_ALIGNED = ("trainable", "non_trainable")


def parameter_counts(module) -> tuple:
    """``(trainable, non_trainable)`` numbers of ``module`` and its submodules, each array counted once.

    Trainable: the Parameters gradient descent updates. Non-trainable: Parameters with
    ``requires_grad`` off and the float buffers (BatchNorm's running mean and variance); the
    integer counters (``num_batches_tracked``) are not parameters.
    """
    trainable = sum(int(p.size) for p in module.parameters() if p.requires_grad)
    frozen = sum(int(p.size) for p in module.parameters() if not p.requires_grad)
    buffers = sum(int(b.size) for _, b in module.named_buffers() if b.dtype.kind == "f")
    return trainable, frozen + buffers


def _steps(model) -> tuple:
    """``([(name, module)], in data order?)``: the chain's layers, or a module's direct submodules."""
    names = {id(module): name for name, module in model.named_modules()}

    def expand(module):
        layers = module.sequential_layers()
        if layers is None:
            return [(names.get(id(module), ""), module)]
        return [step for layer in layers for step in expand(layer)]

    if model.sequential_layers() is not None:
        return expand(model), True
    children = [(names[id(child)], child) for child in model.children()]
    return (children or [("", model)]), not children


def _checked_shape(shape, allow_empty: bool, where: str) -> tuple:
    """One input's shape without the batch axis: an int n is (n,); () only for one code per example."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or (not shape and not allow_empty) or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in shape):
        allowed = "positive ints, or () for one category code per example" if allow_empty else "positive ints"
        raise ValueError(f"summary: {where} must be {allowed} (one example, without the batch axis), got {shape!r}")
    return tuple(int(n) for n in shape)


def _input_shape(model, input_shape):
    """One example's input shape: a tuple, or for a Concat model ``{branch: shape}`` / a tuple of
    shapes in branch order; None when it is unknown."""
    entry = entry_layer(model)
    kind = getattr(entry, "input_kind", "features")
    if kind == "branches":
        return _branch_shapes(entry, input_shape)
    if input_shape is not None:
        return _checked_shape(input_shape, kind == "codes", "input_shape")
    if any(module.takes_spatial_input for module in model.modules()):
        return None
    record = fit_record_of(model)
    n = record.n_features_in if record is not None and record.n_features_in is not None else \
        model.expected_in_features()
    return None if n is None else (int(n),)


def _branch_shapes(concat, input_shape):
    """``{name: shape}`` of a Concat's inputs: given (a dict by name or a tuple in branch order), or
    each branch's own when every branch fixes it, else None."""
    if input_shape is None:
        shapes = {name: _default_branch_shape(branch) for name, branch in concat.branches()}
        return None if any(shape is None for shape in shapes.values()) else shapes
    if not isinstance(input_shape, (dict, tuple, list)) or (
            not isinstance(input_shape, dict) and all(isinstance(n, (int, np.integer)) for n in input_shape)):
        raise ValueError(f"summary: the model starts with a Concat of the inputs {list(concat.branch_names)}: "
                         f"input_shape must be a dict {{branch: shape}} or a tuple of shapes, got {input_shape!r}")
    try:
        given = concat.branch_inputs(input_shape)
    except ValueError as error:
        raise ValueError(f"summary: input_shape: {error}") from None
    return {name: _checked_shape(shape, input_kind(branch) == "codes", f"input_shape[{name!r}]")
            for (name, branch), shape in zip(concat.branches(), given)}


def _default_branch_shape(branch):
    """A branch's input shape when the branch fixes it: an Embedding alone takes one code per example
    (a Concat's branches output rows), a branch of feature layers its first layer's inputs."""
    if isinstance(branch, Embedding):
        return ()
    if input_kind(branch) != "features" or any(m.takes_spatial_input for m in branch.modules()):
        return None
    n = branch.expected_in_features()
    return None if n is None else (int(n),)


def _example(model, shape):
    """One example of zeros of ``shape`` as the model's first layer takes it: float features (a
    Tensor), integer codes (code 0), or a dict / tuple of those per branch."""
    entry = entry_layer(model)
    if isinstance(shape, dict):
        inputs = {name: _example(branch, shape[name]) for name, branch in entry.branches()}
        return inputs if entry.named_branches else tuple(inputs.values())
    if getattr(entry, "input_kind", "features") == "codes":
        return np.zeros((1, *shape), dtype=np.int64)
    return Tensor(np.zeros((1, *shape), dtype=parameter_dtype(model)))


def _shape_text(shape) -> str:
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{name!r}: {_shown(s)}" for name, s in shape.items()) + "}"
    return _shown(shape)


def _type_name(module) -> str:
    activation = getattr(getattr(module, "activation", None), "name", None)
    return type(module).__name__ + (f"({activation})" if activation else "")


def _shown(shape) -> str:
    return "(" + ", ".join(["None", *(str(n) for n in shape)]) + ")"


def summary_rows(model, input_shape=None) -> list:
    """One dict per row: ``layer`` (dotted name), ``type``, ``output_shape`` (text), ``trainable``,
    ``non_trainable`` (parameter counts).

    Raises:
        ValueError: a bad ``input_shape``, or a layer that cannot take the shape it is given.
    """
    steps, in_order = _steps(model)
    shape = _input_shape(model, input_shape) if in_order else None
    x = None if shape is None else _example(model, shape)
    features = None if not isinstance(shape, tuple) or len(shape) != 1 else shape[0]
    rows = []
    for name, module in steps:
        inputs = x
        if x is not None:
            try:
                with eval_mode(), no_grad(), np.errstate(all="ignore"):
                    out = np.asarray(module(x).data)
            except (TypeError, ValueError, IndexError, ArithmeticError) as error:
                raise ValueError(f"summary: layer {name or type(module).__name__} ({type(module).__name__}) cannot "
                                 f"take inputs of shape {_shape_text(shape)}: {error}") from None
            x, shape = Tensor(out), out.shape[1:]
            shown = _shown(shape)
        elif in_order and not module.takes_spatial_input:
            features = module.output_features(features)
            shown = UNKNOWN if features is None else _shown((features,))
        else:
            features, shown = None, UNKNOWN
        trainable, non_trainable = parameter_counts(module)
        rows.append({"layer": name or "-", "type": _type_name(module), "output_shape": shown,
                     "trainable": trainable, "non_trainable": non_trainable})
        rows += _nested_rows(model, name, module, inputs)
    return rows


def _nested_rows(model, name: str, module, inputs=None) -> list:
    """Rows of the layers inside a container that is not a chain (Concat's branches), indented under
    its row; their counts are part of the container's. Their output shapes are shown when the
    container is a Concat given ``inputs`` (its example input): each branch's chain run on its own."""
    if module is model or module.sequential_layers() is not None or not module.children():
        return []
    shapes = {}
    if inputs is not None and hasattr(module, "branch_inputs"):
        with eval_mode(), no_grad(), np.errstate(all="ignore"):
            for (_, branch), x in zip(module.branches(), module.branch_inputs(inputs)):
                for layer in _leaves(branch):
                    x = layer(x)
                    shapes[id(layer)] = _shown(x.shape[1:])
    rows = []
    for inner_name, inner in module.named_modules():
        if inner is module or inner.children():
            continue
        trainable, non_trainable = parameter_counts(inner)
        rows.append({"layer": "  " + (f"{name}.{inner_name}" if name else inner_name), "type": _type_name(inner),
                     "output_shape": shapes.get(id(inner), ""), "trainable": trainable,
                     "non_trainable": non_trainable})
    return rows


def _leaves(module) -> list:
    """The layers a chain applies in order, nested chains walked down; the module itself otherwise."""
    layers = module.sequential_layers()
    return [module] if layers is None else [leaf for layer in layers for leaf in _leaves(layer)]


def format_summary(model, rows: list) -> str:
    """The table of ``rows`` (:func:`summary_rows`) under the model's name, then the totals and the fit record."""
    texts = [[str(row[key]) for key, _ in _COLUMNS] for row in rows]
    widths = [max([len(title)] + [len(text[i]) for text in texts]) for i, (_, title) in enumerate(_COLUMNS)]

    def line(cells) -> str:
        return "  ".join(cell.rjust(width) if key in _RIGHT_ALIGNED else cell.ljust(width)
                         for (key, _), cell, width in zip(_COLUMNS, cells, widths)).rstrip()

    rule = "=" * len(line(["x" * width for width in widths]))
    trainable, non_trainable = parameter_counts(model)
    lines = [f"Model: {type(model).__name__}", line([title for _, title in _COLUMNS]), rule]
    lines += [line(text) for text in texts]
    lines += [rule, f"Total parameters: {trainable + non_trainable:,}",
              f"Trainable parameters: {trainable:,}", f"Non-trainable parameters: {non_trainable:,}"]
    record = fit_record_of(model)
    if record is not None:
        loss = record.loss or getattr(record.loss_function, "__name__", "a custom loss")
        facts = [f"loss {loss}"]
        if record.n_features_in is not None:
            facts.append(f"{record.n_features_in} input features")
        if record.classes is not None:
            shown = ", ".join(repr(c) for c in record.classes.tolist()[:10])
            facts.append(f"{len(record.classes)} classes [{shown}{', ...' if len(record.classes) > 10 else ''}]")
        lines.append("Fit with: " + ", ".join(facts))
    return "\n".join(lines)
