"""GraphBuilder: what a layer's ``onnx_nodes(graph, x)`` writes its ONNX nodes into.

A layer exports itself by adding nodes to a builder and returning the name of its output,
so every layer's export sits in the layer's own file and imports nothing from ONNX: it
passes op types, NumPy arrays and attribute values, and the builder (this module, the only
one that turns them into protobuf, through ``onnx.helper`` and ``onnx.numpy_helper``) makes
the names unique and the tensors typed::

    def onnx_nodes(self, graph, x):                     # Dense: z = x Wᵀ + b, then f(z)
        z = graph.node("MatMul", [x, graph.constant(self.W.data.T, "W_T")])
        ...
        return z

The same builder serves a standalone model (:func:`backprop.onnx.export_onnx`) and the
skl2onnx converter, which copies its nodes and initialisers into skl2onnx's container.

ONNX Runtime's CPU kernels cover float64 for most ops, but not for Conv, AveragePool or Atan;
:meth:`GraphBuilder.float32_node` runs such an op in float32 between two Casts when the
network is float64, so that the file runs where users run ONNX (within 1e-5 of ``predict``).
"""

from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["GraphBuilder", "OPSET", "ONNX_ML_OPSET", "IR_VERSION", "onnx_type", "FLOAT_TYPES"]

OPSET = 17
"""The default ONNX opset of exported files: the first with LayerNormalization (ONNX 1.12, 2022),
which ONNX Runtime ≥ 1.12 runs."""
ONNX_ML_OPSET = 2
"""The ``ai.onnx.ml`` opset, for the preprocessing's string categories (LabelEncoder with strings)."""
IR_VERSION = 8
"""The IR version that goes with opset 17, so that runtimes from 2022 on read the files."""

FLOAT_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


def onnx_type(dtype) -> int:
    """The ``TensorProto`` element type of a NumPy dtype (float32/64, int64, bool, str)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "USO":
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


class GraphBuilder:
    """Collects the nodes and initialisers of an ONNX graph, naming each one uniquely.

    Args:
        dtype: the network's float dtype (float32 or float64): what :meth:`constant`
            casts float arrays to and what the graph computes in.
        name_prefix: put before every generated name (the skl2onnx converter passes the
            operator's name, so that two networks in one pipeline do not clash).
        unique_name: a function ``hint -> unused name`` to use instead of the builder's own
            counter (skl2onnx's ``scope.get_unique_variable_name``).
    """

    def __init__(self, dtype=np.float32, *, name_prefix: str = "", unique_name=None):
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_TYPES:
            raise ValueError(f"GraphBuilder: dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        self.nodes: list = []
        self.initializers: list = []
        self._prefix = name_prefix
        self._taken: set = set()
        self._unique_name = unique_name

    def in_dtype(self, dtype) -> "GraphBuilder":
        """A builder adding to the same graph (nodes, initialisers, names) whose floats are ``dtype``:
        a float64 preprocessing in front of a float32 network."""
        other = GraphBuilder(dtype, name_prefix=self._prefix, unique_name=self._unique_name)
        other.nodes, other.initializers, other._taken = self.nodes, self.initializers, self._taken
        return other

    @property
    def uses_onnx_ml(self) -> bool:
        """Whether a node is of the ``ai.onnx.ml`` domain (the model then imports its opset)."""
        return any(node.domain == "ai.onnx.ml" for node in self.nodes)

    @property
    def tensor_type(self) -> int:
        """The ``TensorProto`` type of the network's floats."""
        return FLOAT_TYPES[self.dtype]

    # ----------------------------------------------------------------- names
    def reserve(self, name: str) -> str:
        """Claim ``name`` exactly (a graph input or output), or raise ValueError if it is taken."""
        if name in self._taken:
            raise ValueError(f"GraphBuilder: the name {name!r} is already used")
        self._taken.add(name)
        return name

    def fresh(self, hint: str) -> str:
        """An unused name made from ``hint`` (letters, digits and underscores kept)."""
        base = self._prefix + (re.sub(r"[^0-9A-Za-z_]", "_", hint) or "t")
        if self._unique_name is not None:
            name = self._unique_name(base)
        else:
            name, k = base, 1
            while name in self._taken:
                name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    # ------------------------------------------------------------ contents
    def constant(self, value, hint: str = "const", dtype=None) -> str:
        """An initialiser holding ``value``; floats are cast to ``dtype`` (default: the network's).

        Strings become a string tensor; ints stay int64, bools bool.
        """
        array = np.asarray(value)
        if dtype is not None:
            array = array.astype(dtype)
        elif array.dtype.kind == "f":
            array = array.astype(self.dtype)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
        name = self.fresh(hint)
        if array.dtype.kind in "USO":
            tensor = helper.make_tensor(name, TensorProto.STRING, array.shape,
                                        [str(v).encode("utf-8") for v in array.ravel().tolist()])
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.initializers.append(tensor)
        return name

    def node(self, op_type: str, inputs, hint: str = None, *, domain: str = "", n_outputs: int = 1, **attributes):
        """Add one node; return its output's name (a tuple of names when ``n_outputs`` > 1).

        ``attributes`` are the op's ONNX attributes (ints, floats, strings, lists of them).
        """
        outputs = [self.fresh(hint or op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=self.fresh(f"{op_type}_node"),
                                           domain=domain or None, **attributes))
        return outputs[0] if n_outputs == 1 else tuple(outputs)

    def cast(self, x: str, dtype) -> str:
        """``Cast(x, to=dtype)``."""
        return self.node("Cast", [x], "cast", to=onnx_type(dtype))

    def float32_node(self, op_type: str, inputs, hint: str = None, **attributes) -> str:
        """``op_type`` on ``inputs``, computed in float32 when the network is float64 (Cast in and out).

        For the ops ONNX Runtime's CPU provider implements in float32 only (Conv, AveragePool, Atan):
        inputs are cast to float32, and the result back to float64. In a float32 network it is
        :meth:`node`.
        """
        if self.dtype == np.float32:
            return self.node(op_type, inputs, hint, **attributes)
        cast_in = [self.cast(name, np.float32) if name else name for name in inputs]
        return self.cast(self.node(op_type, cast_in, hint, **attributes), self.dtype)

    # --------------------------------------------------------------- model
    def value_info(self, name: str, dtype, shape) -> "onnx.ValueInfoProto":
        """A graph input or output: ``shape`` lists ints or names of free dimensions; None: any shape."""
        return helper.make_tensor_value_info(name, onnx_type(dtype), None if shape is None else list(shape))

    def output(self, tensor: str, name: str, dtype, shape) -> "onnx.ValueInfoProto":
        """Make ``tensor`` the graph output ``name`` (reserved beforehand) through an Identity node."""
        self.nodes.append(helper.make_node("Identity", [tensor], [name], name=self.fresh(f"{name}_identity")))
        return self.value_info(name, dtype, shape)

    def model(self, inputs: list, outputs: list, *, graph_name: str = "backprop", opset: int = OPSET,
              doc_string: str = "", metadata: dict = None) -> "onnx.ModelProto":
        """The ``ModelProto`` of the collected nodes with these input and output ValueInfos."""
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, self.initializers, doc_string=doc_string)
        opsets = [helper.make_opsetid("", opset)]
        if self.uses_onnx_ml:
            opsets.append(helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="backprop")
        model.ir_version = IR_VERSION
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = str(key), str(value)
        return model
