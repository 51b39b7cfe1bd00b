"""``export_onnx``: a network, or a model file with its command-line preprocessing, as an ONNX file.

What the file computes (opset :data:`~backprop.onnx.graph.OPSET`, checked by ``onnx.checker``):

* the network alone (``include_preprocessing=False``): one input ``"input"``, (N, n_features)
  or (N, C, ...) in the weights' dtype, and the output ``"output"``: what ``predict`` returns
  (for a classifier, the raw scores z). A model fit with a classification loss also gets
  ``"probabilities"`` (float64, as ``predict_proba``) and ``"label"`` (as ``predict_classes``);
  see :mod:`backprop.onnx.outputs`. Keras and tf2onnx export the network's output the same way.
* a file written by ``backprop train`` with ``include_preprocessing=True``: one input per raw
  column, and the outputs of ``backprop predict``; see :mod:`backprop.onnx.preprocessing`.

Every layer writes its own nodes (``Module.onnx_nodes``); a layer without an export is named
in the error. ``onnx`` is imported by this subpackage only, so ``import backprop`` stays NumPy.
"""

from __future__ import annotations

import os

import numpy as np

from backprop.checks import check_bool, check_positive_int
from backprop.io import atomic_write_bytes
from backprop.layers.module import Module
from backprop.onnx import outputs as output_nodes
from backprop.onnx.graph import GraphBuilder
from backprop.training import inputs as inputs_module
from backprop.training.fitted import fit_record_of
from backprop.training.inference import expected_features, parameter_dtype

__all__ = ["export_onnx", "network_model", "INPUT_NAME", "OUTPUT_NAME"]

INPUT_NAME = "input"
OUTPUT_NAME = "output"
OUTPUT_NAMES = (OUTPUT_NAME, "probabilities", "label")
BATCH = "N"  # the name of the free batch dimension


def export_onnx(model, path, include_preprocessing: bool = False, *, input_shape=None):
    """Write ``model`` to ``path`` as an ONNX file that computes what ``predict`` computes.

    Args:
        model: a network (any Module: ``nn.Sequential``, ``bp.Model``, a layer), or the path of a
            model file (``model.save``, ``backprop train``).
        path: the ``.onnx`` file to write (atomically).
        include_preprocessing: put the command line's preprocessing in front (standardisation,
            imputation, one-hot, date features), so that the file takes the raw columns; ``model``
            must then be the path of a file written by ``backprop train``.
        input_shape: one example's shape without the batch axis, e.g. ``(1, 28, 28)`` (``()`` for
            one category code per example); default: rows of ``n_features_in_`` (or the first
            layer's inputs) features; needed for image and sequence layers and for codes. For a
            network that starts with a Concat, a dict ``{branch: shape}`` (branches of features
            default to their first layer's inputs).

    Returns:
        The ``onnx.ModelProto`` written.

    Raises:
        TypeError, ValueError: a bad argument, or ``include_preprocessing`` without a model file
            from ``backprop train``.
        NotImplementedError: a layer without an ONNX export (named).
        ModelFileError: ``model`` names a file that is not a valid model file.
    """
    include_preprocessing = check_bool(include_preprocessing, "include_preprocessing", "export_onnx")
    path = _checked_path(path, "path")
    input_shape = _checked_input_shape(input_shape)
    metadata = {}
    if not isinstance(model, Module):
        from backprop.models import load_with_metadata

        model, metadata = load_with_metadata(_checked_path(model, "model"))
    elif include_preprocessing:
        raise ValueError("export_onnx: include_preprocessing=True needs the path of a model file written by "
                         "'backprop train' (its preprocessing is stored in the file), not a network")
    if include_preprocessing:
        from backprop.onnx.preprocessing import pipeline_model

        proto = pipeline_model(model, metadata)
    else:
        proto = network_model(model, input_shape=input_shape)
    _check(proto)
    atomic_write_bytes(path, proto.SerializeToString())
    return proto


def network_model(model, *, input_shape=None):
    """The ``onnx.ModelProto`` of a network: its inputs → ``"output"`` (+ ``"probabilities"``, ``"label"``).

    One input ``"input"`` for a network of features (the weights' dtype) or of category codes
    (int64, an Embedding first); a network whose first layer is a Concat takes one input per
    branch, named by the branch (``"input_0"``, ... for unnamed branches), each of its own kind.
    """
    graph = GraphBuilder(parameter_dtype(model))
    values, x, example = graph_inputs(graph, model, input_shape)
    outputs = network_outputs(graph, model, x, example)
    return graph.model(values, outputs, doc_string=_doc(model, values, outputs))


def graph_inputs(graph, model, input_shape) -> tuple:
    """(the input ValueInfos, what to pass to ``onnx_nodes``: a name or, for a Concat, the names,
    an example of zeros that ``predict`` takes)."""
    if inputs_module.input_kind(model) != "branches":
        name = graph.reserve(INPUT_NAME)
        shape, dtype, example = _one_input(model, input_shape, model)
        return [graph.value_info(name, dtype, [BATCH, *shape])], name, example
    concat = inputs_module.entry_layer(model)
    if input_shape is not None and not isinstance(input_shape, dict):
        raise TypeError("export_onnx: a network that starts with a Concat takes input_shape as a dict "
                        f"{{branch: one example's shape}} for its branches {list(concat.branch_names)}")
    values, names, examples = [], [], []
    for branch_name, branch in concat.branches():
        name = graph.reserve(branch_name if concat.named_branches else f"{INPUT_NAME}_{branch_name}")
        given = None if input_shape is None else input_shape.get(branch_name)
        shape, dtype, example = _one_input(branch, None if given is None else _checked_input_shape(given), model,
                                           branch_name)
        values.append(graph.value_info(name, dtype, [BATCH, *shape]))
        names.append(name)
        examples.append(example)
    example = dict(zip(concat.branch_names, examples)) if concat.named_branches else tuple(examples)
    return values, names, example


def network_outputs(graph, model, x: str, example) -> list:
    """Add the network's nodes (and a classifier's heads) after ``x``; return the output ValueInfos.

    ``example`` is one example of zeros, run through ``predict`` to learn the output's shape.
    """
    for name in OUTPUT_NAMES:  # before any node, so that no node's output takes one of them
        graph.reserve(name)
    out = model.onnx_nodes(graph, x)
    from backprop.training.inference import predict

    out_shape = [BATCH, *predict(model, example).shape[1:]]
    values = [graph.output(out, OUTPUT_NAME, graph.dtype, out_shape)]
    record = fit_record_of(model)
    loss = None if record is None else record.loss_object
    if loss is None or loss.kind == "regression":
        return values
    n_outputs = int(np.prod(out_shape[1:], dtype=np.int64))
    p = output_nodes.probability_nodes(graph, out, loss, n_outputs)
    n_columns = 2 if loss.kind != "multiclass" and n_outputs == 1 else n_outputs
    values.append(graph.output(p, "probabilities", np.float64, [BATCH, n_columns]))
    label = output_nodes.label_nodes(graph, p, loss, n_outputs, record.classes)
    label_dtype = np.int64 if record.classes is None or (loss.kind != "multiclass" and n_outputs > 1) \
        else np.asarray(record.classes).dtype
    label_shape = [BATCH, n_outputs] if loss.kind != "multiclass" and n_outputs > 1 else [BATCH]
    values.append(graph.output(label, "label", label_dtype, label_shape))
    return values


def _one_input(module, input_shape, model, branch=None) -> tuple:
    """(one example's shape, the input's dtype, a (1, ...) example of zeros) of an input that ``module``
    (the network, or one branch of its Concat) takes."""
    codes = inputs_module.input_kind(module) == "codes"
    dtype = np.int64 if codes else parameter_dtype(model)
    if input_shape is None:
        n = module.expected_in_features() if branch is not None else expected_features(module, fit_record_of(module))
        spatial = any(getattr(layer, "takes_spatial_input", False) for layer in module.modules())
        if codes or spatial or n is None:
            what = ("category codes, (N,) or (N, k)" if codes else "image or sequence layers" if spatial
                    else "its first layer fixes no number of features")
            where = f"input_shape={{{branch!r}: ...}} for this branch" if branch is not None else \
                "input_shape=(one example's shape without the batch axis), e.g. (1, 28, 28), or () for one code"
            raise ValueError(f"export_onnx: the input shape of {type(module).__name__ if branch is None else repr(branch)} "
                             f"is not known from its layers ({what}); pass {where}")
        input_shape = (n,)
    return list(input_shape), dtype, np.zeros((1, *input_shape), dtype=dtype)


def _doc(model, inputs, outputs) -> str:
    names = ", ".join(value.name for value in outputs)
    return (f"backprop {type(model).__name__}: {', '.join(v.name for v in inputs)} -> {names}. 'output' is what predict() "
            "returns (raw scores z for a classifier); 'probabilities' is predict_proba(), 'label' predict_classes().")


def _checked_path(path, name: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export_onnx: {name} must be a file path (str or os.PathLike), got {type(path).__name__}")
    return os.fspath(path)


def _checked_input_shape(input_shape):
    if input_shape is None:
        return None
    if isinstance(input_shape, dict):  # a Concat's branches: {branch name: shape}
        return {key: _checked_input_shape(value) for key, value in input_shape.items()}
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"export_onnx: input_shape must be a tuple of positive ints (one example's shape), "
                        f"got {input_shape!r}")
    return tuple(check_positive_int(size, "input_shape", "export_onnx") for size in input_shape)


def _check(proto) -> None:
    import onnx

    onnx.checker.check_model(proto, full_check=True)

