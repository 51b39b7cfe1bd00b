"""Persistence: model files, on top of safe, atomic files of named arrays plus string metadata.

Two modules, the lower one knowing nothing of the upper:

* :mod:`backprop.io.safefile` reads and writes safetensors files of named arrays and
  string metadata, atomically, treating every file as untrusted; it knows nothing about
  models, and training checkpoints (:mod:`backprop.training.checkpoint`) use it too;
* :mod:`backprop.io.model_file` stores a model in such a file (the architecture from the
  layer registry, the weights, what ``fit`` learnt) and rebuilds it, checking everything
  before anything is built: ``save``, ``load`` and ``load_with_metadata``, which
  :mod:`backprop` exports.

This package exports the file layer (below); import the model functions from
:mod:`backprop.io.model_file` or use ``bp.save`` / ``bp.load``.
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
