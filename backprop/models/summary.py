"""The table ``Model.summary`` prints: one row per layer, its output shape and parameter counts.

Rows follow the data: a chain of layers (a Sequential, a Model wrapping one, nested ones)
is walked through :meth:`~backprop.nn.Module.sequential_layers` down to its layers, named
by their state-dict prefix (``0``, ``2.1``, ``module.0``). A module that computes its output
itself (a subclass with its own ``forward``) lists its direct submodules, whose order need
not be the data's, so their output shapes are not shown; inside a chain, such a module (a
Concat of branches) has its own layers listed, indented, under its row.

Output shapes come from a forward pass of one example of zeros (in evaluation mode, without
a graph) when the input shape is known: given, or rows of the fit record's
``n_features_in`` (else the first layer's inputs) for a network of feature layers.
Otherwise each layer's :meth:`~backprop.nn.Module.output_features` gives ``(None, n)``
where it can, and "?" where it cannot (image and sequence layers).
"""

from __future__ import annotations

import numpy as np

from backprop.engine.tensor import Tensor, eval_mode, no_grad
from backprop.training.fitted import fit_record_of
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


def _input_shape(model, input_shape):
    if input_shape is not None:
        if isinstance(input_shape, int):
            input_shape = (input_shape,)
        shape = tuple(input_shape)
        if not shape or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in shape):
            raise ValueError(f"summary: input_shape must be positive ints (one example, without the batch axis), "
                             f"got {input_shape!r}")
        return tuple(int(n) for n in shape)
    if any(module.takes_spatial_input for module in model.modules()):
        return None
    record = fit_record_of(model)
    n = record.n_features_in if record is not None and record.n_features_in is not None else \
        model.expected_in_features()
    return None if n is None else (int(n),)


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
    x = None if shape is None else np.zeros((1, *shape), dtype=parameter_dtype(model))
    features = None if shape is None or len(shape) != 1 else shape[0]
    rows = []
    for name, module in steps:
        if x is not None:
            try:
                with eval_mode(), no_grad(), np.errstate(all="ignore"):
                    x = np.asarray(module(Tensor(x)).data)
            except (TypeError, ValueError, IndexError, ArithmeticError) as error:
                raise ValueError(f"summary: layer {name or type(module).__name__} ({type(module).__name__}) cannot "
                                 f"take inputs of shape {_shown(x.shape[1:])}: {error}") from None
            shown = _shown(x.shape[1:])
        elif in_order and not module.takes_spatial_input:
            features = module.output_features(features)
            shown = UNKNOWN if features is None else _shown((features,))
        else:
            features, shown = None, UNKNOWN
        trainable, non_trainable = parameter_counts(module)
        rows.append({"layer": name or "-", "type": _type_name(module), "output_shape": shown,
                     "trainable": trainable, "non_trainable": non_trainable})
        rows += _nested_rows(model, name, module)
    return rows


def _nested_rows(model, name: str, module) -> list:
    """Rows of the layers inside a container that is not a chain (Concat's branches), indented under
    its row; their counts are part of the container's, and their output shapes are not shown."""
    if module is model or module.sequential_layers() is not None or not module.children():
        return []
    rows = []
    for inner_name, inner in module.named_modules():
        if inner is module or inner.children():
            continue
        trainable, non_trainable = parameter_counts(inner)
        rows.append({"layer": "  " + (f"{name}.{inner_name}" if name else inner_name), "type": _type_name(inner),
                     "output_shape": "", "trainable": trainable, "non_trainable": non_trainable})
    return rows


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
