"""skl2onnx converters for the scikit-learn front: placeholder until written."""


def register_if_available() -> bool:
    return False
