"""``backprop.onnx``: export networks to ONNX, and the skl2onnx converters of the scikit-learn front.

* :func:`export_onnx` (also ``bp.export_onnx``): a network, or a model file with the command
  line's preprocessing, as an ONNX file that ONNX Runtime runs to 1e-5 of ``predict``.
* Importing this package registers converters for :class:`backprop.sklearn.MLPClassifier`
  and :class:`~backprop.sklearn.MLPRegressor` with skl2onnx (when skl2onnx is installed), so
  that ``skl2onnx.to_onnx(clf, X[:1])`` works as it does for scikit-learn's MLP.

Needs the ``onnx`` extra (``onnx``, ``onnxruntime``, ``skl2onnx``); ``import backprop`` does not
import any of them.
"""

from backprop._install import install_hint

try:
    import onnx as _onnx  # noqa: F401 (checked here, so that the message names the extra)
except ImportError:
    raise ImportError(f"exporting to ONNX needs the onnx package: {install_hint('onnx')}") from None

from backprop.onnx.graph import GraphBuilder, IR_VERSION, ONNX_ML_OPSET, OPSET
from backprop.onnx.export import INPUT_NAME, OUTPUT_NAME, export_onnx, network_model
from backprop.onnx import sklearn_converters

sklearn_converters.register_if_available()

__all__ = ["export_onnx", "network_model", "GraphBuilder", "OPSET", "ONNX_ML_OPSET", "IR_VERSION",
           "INPUT_NAME", "OUTPUT_NAME", "sklearn_converters"]
