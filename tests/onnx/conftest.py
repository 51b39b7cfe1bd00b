"""The ONNX tests need onnx and onnxruntime; they use tests/io/model_examples.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))  # model_examples
