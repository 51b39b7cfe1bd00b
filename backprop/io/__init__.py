"""Persistence: safe, atomic files of named arrays plus string metadata.

This package knows nothing about models; higher layers map models and training
checkpoints onto :func:`write_safetensors` / :func:`read_safetensors`.
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
