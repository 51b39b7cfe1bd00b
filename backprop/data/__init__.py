"""Data sources for training on data larger than memory.

:class:`ParquetBatches` reads a Parquet file or dataset as a re-iterable stream of
``(X, y)`` batches for ``fit`` (see :mod:`backprop.training.batches` for what a stream
means to ``fit``). The bundled datasets are :mod:`backprop.datasets`.
"""

from backprop.data.parquet import ParquetBatches

__all__ = ["ParquetBatches"]
