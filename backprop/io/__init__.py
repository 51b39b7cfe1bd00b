"""Persistence: safe, atomic files of named arrays plus string metadata, and model files.

:mod:`backprop.io.safefile` knows only named arrays and string metadata;
:mod:`backprop.io.model_file` maps one module (its registered architecture and weights)
plus JSON metadata onto it. What a file means above that (the fit record, a Model) is
for the higher layers: training checkpoints (:mod:`backprop.training.checkpoint`) and
``Model.save`` / ``bp.load`` (:mod:`backprop.models`).
"""

from backprop.io.safefile import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    atomic_write_bytes,
    read_json_metadata,
    read_safetensors,
    write_safetensors,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "atomic_write_bytes",
    "read_json_metadata",
    "read_safetensors",
    "write_safetensors",
]
