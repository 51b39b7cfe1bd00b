"""The outputs of an exported classifier beyond ``predict``: ``probabilities`` and ``label``.

A network fit with a classification loss outputs raw scores z (``predict``); what they mean
is the loss's: its ``output_activation`` (softmax for ``cross_entropy``, σ for
``binary_cross_entropy_with_logits``, none for ``binary_cross_entropy``) turns them into
the probabilities of ``predict_proba``, and the classes of the fit record name them, as
``predict_classes`` does. Here the same facts become ONNX nodes: the activation's own
export (:data:`~backprop.engine.ops.activation.ACTIVATIONS`), then the layout of
:mod:`backprop.training.inference`:

* ``probabilities``: float64, as ``predict_proba``: (N, K) for K classes, [1 − p, p] for
  one binary output, p per output for several (multi-label);
* ``label``: as ``predict_classes``: ``classes_[argmax]`` (strings, ints, floats or bools as
  fit saw them; the index when fit saw none), ``classes_[p > 0.5]`` for one binary output,
  a 0/1 int64 matrix for several.
"""

from __future__ import annotations

import numpy as np

from backprop.engine.ops.activation import ACTIVATIONS

__all__ = ["probability_nodes", "label_nodes"]


def probability_nodes(graph, outputs: str, loss, n_outputs: int) -> str:
    """``predict_proba``'s array, in float64, from the network's outputs (the name ``outputs``)."""
    z = graph.node("Flatten", [graph.cast(outputs, np.float64)], "scores", axis=1)  # (N, K), as probabilities()
    if loss.output_activation is not None:
        p = ACTIVATIONS.get(loss.output_activation)().onnx_nodes(graph, z)
    else:  # the outputs are probabilities already, clipped to [0, 1] as Loss.probabilities clips them
        p = graph.node("Clip", [z, graph.constant(0.0, "zero", np.float64), graph.constant(1.0, "one", np.float64)])
    if loss.kind != "multiclass" and n_outputs == 1:
        complement = graph.node("Sub", [graph.constant(1.0, "one", np.float64), p])
        p = graph.node("Concat", [complement, p], "two_columns", axis=1)
    return p


def label_nodes(graph, probabilities: str, loss, n_outputs: int, classes) -> str:
    """``predict_classes``'s array from :func:`probability_nodes`'s (the first maximum wins, as argmax)."""
    if loss.kind != "multiclass" and n_outputs > 1:
        return graph.cast(graph.node("Greater", [probabilities, graph.constant(0.5, "half", np.float64)]), np.int64)
    index = graph.node("ArgMax", [probabilities], "class_index", axis=1, keepdims=0, select_last_index=0)
    if classes is None:
        return index
    classes = np.asarray(classes)
    return graph.node("Gather", [graph.constant(classes, "classes", dtype=classes.dtype), index], "label", axis=0)
