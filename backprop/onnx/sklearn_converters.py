"""skl2onnx converters for :class:`backprop.sklearn.MLPClassifier` and :class:`~backprop.sklearn.MLPRegressor`.

With them, ``skl2onnx.to_onnx(clf, X[:1])`` converts the drop-in as it converts scikit-learn's
MLP: a classifier's outputs are ``label`` and ``probabilities`` (a ZipMap of dicts by default;
``options={"zipmap": False}`` gives the array), a regressor's ``variable`` (N, n_outputs). The
network (``model_``: Dense, and Dropout and BatchNorm when asked for) writes its own nodes
(``Module.onnx_nodes``), then the output activation ``out_activation_`` (identity, logistic,
softmax, exp) and scikit-learn's label rule: ``classes_[argmax]``, ``classes_[p > 0.5]`` for a
binary target, a 0/1 matrix for a multi-label one.

They are registered when :mod:`backprop.onnx` is imported (``import backprop.onnx``), as
onnxmltools registers LightGBM's and XGBoost's with ``update_registered_converter``; nothing is
registered by ``import backprop``. The converters need an opset ≥ 13 (skl2onnx's default is newer).
"""

from __future__ import annotations

import importlib.util

import numpy as np

from backprop.engine.ops.activation import ACTIVATIONS
from backprop.onnx.graph import GraphBuilder

__all__ = ["register", "register_if_available", "ALIASES"]

ALIASES = {"MLPClassifier": "BackpropMLPClassifier", "MLPRegressor": "BackpropMLPRegressor"}


def register_if_available() -> bool:
    """:func:`register` when skl2onnx and scikit-learn are installed; whether it did."""
    if importlib.util.find_spec("skl2onnx") is None or importlib.util.find_spec("sklearn") is None:
        return False
    register()
    return True


def register() -> None:
    """Register the two estimators' converters, shape calculators and (classifier) parser with skl2onnx."""
    from skl2onnx import update_registered_converter

    from backprop.sklearn import MLPClassifier, MLPRegressor

    update_registered_converter(MLPClassifier, ALIASES["MLPClassifier"], _classifier_shapes, convert_classifier,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False],
                                         "output_class_labels": [False, True]})
    update_registered_converter(MLPRegressor, ALIASES["MLPRegressor"], _regressor_shapes, convert_regressor)


def _classifier_shapes(operator) -> None:
    """skl2onnx's classifier shapes, with a multi-label target's label as an (N, K) matrix."""
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    estimator = operator.raw_operator
    if _multilabel(estimator):
        operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(), len(estimator.classes_)]


def _regressor_shapes(operator) -> None:
    """skl2onnx's regressor shapes, with the (N, n_outputs) of several outputs."""
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes

    calculate_linear_regressor_output_shapes(operator)
    operator.outputs[0].type.shape = [operator.inputs[0].get_first_dimension(), operator.raw_operator.n_outputs_]


def _multilabel(estimator) -> bool:
    return estimator._label_binarizer.y_type_.startswith("multilabel")


def _builder(scope, operator) -> GraphBuilder:
    from onnx import TensorProto
    from skl2onnx.common.data_types import guess_proto_type

    dtype = np.float64 if guess_proto_type(operator.inputs[0].type) == TensorProto.DOUBLE else np.float32
    return GraphBuilder(dtype, unique_name=scope.get_unique_variable_name)


def _activations(graph, estimator, x: str) -> str:
    """scikit-learn's ``activations[-1]``: the network, then ``out_activation_``."""
    z = estimator.model_.onnx_nodes(graph, x)
    if estimator.out_activation_ == "exp":
        return graph.node("Exp", [z], "exp")
    return ACTIVATIONS.get(estimator.out_activation_)().onnx_nodes(graph, z)  # identity, logistic, softmax


def convert_classifier(scope, operator, container) -> None:
    """label and probabilities of :class:`backprop.sklearn.MLPClassifier`, as scikit-learn's converter gives."""
    estimator = operator.raw_operator
    graph = _builder(scope, operator)
    p = _activations(graph, estimator, operator.inputs[0].full_name)
    classes = np.asarray(estimator.classes_)
    if estimator.n_outputs_ == 1:
        probabilities = graph.node("Concat", [graph.node("Sub", [graph.constant(1.0, "one"), p]), p], axis=1)
    else:
        probabilities = p
    if _multilabel(estimator):
        label = graph.cast(graph.node("Greater", [p, graph.constant(0.5, "half")]), np.int64)
    else:
        index = graph.node("ArgMax", [probabilities], "argmax", axis=1, keepdims=0)
        labels = classes if classes.dtype.kind in "US" else classes.astype(np.int64)  # ints, as skl2onnx's
        label = graph.node("Gather", [graph.constant(labels, "classes", dtype=labels.dtype), index], "label", axis=0)
    _copy_into(graph, container, {label: operator.outputs[0].full_name, probabilities: operator.outputs[1].full_name})


def convert_regressor(scope, operator, container) -> None:
    """``variable`` (N, n_outputs) of :class:`backprop.sklearn.MLPRegressor`."""
    estimator = operator.raw_operator
    graph = _builder(scope, operator)
    y = _activations(graph, estimator, operator.inputs[0].full_name)
    _copy_into(graph, container, {y: operator.outputs[0].full_name})


def _copy_into(graph: GraphBuilder, container, outputs: dict) -> None:
    """Move the builder's initialisers and nodes into skl2onnx's container; Identity to each output."""
    from onnx import TensorProto, helper

    for tensor in graph.initializers:
        content = list(tensor.string_data) if tensor.data_type == TensorProto.STRING else tensor
        container.add_initializer(tensor.name, tensor.data_type, list(tensor.dims), content)
    for node in graph.nodes:
        attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
        container.add_node(node.op_type, list(node.input), list(node.output), op_domain=node.domain, name=node.name,
                           **attributes)
    for source, target in outputs.items():
        container.add_node("Identity", [source], [target], name=graph.fresh("output_identity"))
