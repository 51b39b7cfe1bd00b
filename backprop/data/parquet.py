"""Mini-batches from a Parquet file or dataset, in constant memory, shuffled within a buffer.

pyarrow (the ``parquet`` extra) is imported when a :class:`ParquetBatches` is made.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

__all__ = ["ParquetBatches", "shuffled", "in_batches", "parquet_files", "row_groups"]

_SUFFIXES = (".parquet", ".pq")


def _import_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("ParquetBatches needs pyarrow, an optional dependency: pip install backprop-nn[parquet]") \
            from None
    return pyarrow


def parquet_files(path: Path) -> list:
    """The Parquet files of a file or a folder (a dataset), in sorted path order."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)
                       and not p.name.startswith((".", "_")))
        if not files:
            raise ValueError(f"the folder {path} holds no Parquet file (*.parquet, *.pq)")
        return files
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return [path]


def row_groups(files) -> list:
    """``(file index, row group, rows)`` of every non-empty row group, in file order.

    Raises:
        ValueError: a file that is not Parquet.
    """
    pa = _import_pyarrow()
    groups = []
    for k, file in enumerate(files):
        try:
            metadata = pa.parquet.ParquetFile(file).metadata
        except Exception as error:  # pyarrow raises several types for a file that is not Parquet
            raise ValueError(f"could not read {file} as Parquet: {str(error).splitlines()[0]}") from None
        groups += [(k, g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
                   if metadata.row_group(g).num_rows]
    return groups


def _positive(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class ParquetBatches:
    """``(X, y)`` float32 NumPy batches read from Parquet by row groups; iterate once per epoch.

    Memory is bounded by one row group, the shuffle buffer and one batch, whatever the
    size of the data. Each ``iter()`` is one epoch: with ``shuffle_buffer`` > 0 it visits
    the row groups in a new random order and shuffles the rows within a buffer of
    ``shuffle_buffer`` rows (as ``tf.data``'s ``shuffle``: each row leaves the buffer at a
    random slot, which the next row read takes), from a generator seeded by
    ``(seed, epoch)``: the same seed and epoch give the same batches. ``fit`` tells it the
    epoch (:meth:`set_epoch`), so a resumed run reads what an uninterrupted one would;
    iterated by hand, each ``iter()`` moves to the next epoch. The larger the buffer, the
    closer to a full shuffle (the whole file: a uniform permutation).

    Args:
        path: a Parquet file, or a folder of them (a dataset; read in sorted path order).
        target: the target column (or a list of columns, for several outputs).
        batch_size: rows per batch; the last batch of an epoch keeps the remainder.
        shuffle_buffer: rows in the shuffle buffer; 0 reads the rows in file order.
        columns: the feature columns, in this order (default: every column but the target).
        seed: the seed of the shuffling.

    Yields:
        ``(X, y)``: X float32 of shape (batch, n_features); y float32 for a float target,
        int64 for an integer or boolean target (class labels).

    Raises:
        ValueError: no such column, a non-numeric column (strings, dates: encode them
            first, or let ``backprop train FILE --stream`` preprocess the table), no rows,
            bad arguments; while reading, a missing value.
        ImportError: pyarrow is not installed.

    Example:
        >>> import numpy as np, pyarrow as pa, pyarrow.parquet as pq, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
        >>> pq.write_table(pa.table({"a": np.arange(10.0), "y": np.arange(10) % 2}), path, row_group_size=4)
        >>> batches = ParquetBatches(path, target="y", batch_size=4, shuffle_buffer=0)
        >>> [X.shape for X, y in batches], len(batches)
        ([(4, 1), (4, 1), (2, 1)], 3)
    """

    def __init__(self, path, *, target, batch_size: int = 32, shuffle_buffer: int = 0, columns=None,
                 seed: int = 0):
        pa = _import_pyarrow()
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a string or os.PathLike, got {type(path).__name__}")
        self.path = Path(path)
        self.batch_size = _positive(batch_size, "batch_size", 1)
        self.shuffle_buffer = _positive(shuffle_buffer, "shuffle_buffer", 0)
        self.seed = _positive(seed, "seed", 0)
        targets = [target] if isinstance(target, str) else list(target)
        if not targets or not all(isinstance(t, str) for t in targets):
            raise TypeError(f"target must be a column name or a list of them, got {target!r}")
        self.target = target
        self._targets = targets
        self._files = parquet_files(self.path)
        groups = []  # (file index, row group index, rows)
        for k, file in enumerate(self._files):
            try:
                handle = pa.parquet.ParquetFile(file)
            except Exception as error:  # pyarrow raises several types for a file that is not Parquet
                raise ValueError(f"could not read {file} as Parquet: {str(error).splitlines()[0]}") from None
            schema = handle.schema_arrow
            if k == 0:
                names = list(schema.names)
                missing = [t for t in targets if t not in names]
                if missing:
                    raise ValueError(f"target column(s) {missing} not in {file}; its columns are {names}")
                if columns is None:
                    features = [n for n in names if n not in targets]
                else:
                    features = [columns] if isinstance(columns, str) else list(columns)
                    unknown = [c for c in features if c not in names]
                    if unknown:
                        raise ValueError(f"columns {unknown} not in {file}; its columns are {names}")
                    both = [c for c in features if c in targets]
                    if both:
                        raise ValueError(f"columns {both} are also the target")
                if not features:
                    raise ValueError(f"{file} has no feature column besides the target {target!r}")
                self.columns = features
                self._check_numeric(schema, file)
            else:
                absent = [c for c in (*self.columns, *targets) if c not in schema.names]
                if absent:
                    raise ValueError(f"{file} lacks the column(s) {absent} that {self._files[0]} has")
                self._check_numeric(schema, file)
            metadata = handle.metadata
            groups += [(k, g, metadata.row_group(g).num_rows) for g in range(metadata.num_row_groups)
                       if metadata.row_group(g).num_rows]
        self._groups = groups
        self.n_rows = sum(rows for _, _, rows in groups)
        if not self.n_rows:
            raise ValueError(f"{self.path} has no rows")
        self.n_features = len(self.columns)
        self._epoch = 0

    def _check_numeric(self, schema, file) -> None:
        pa = _import_pyarrow()
        types = pa.types
        bad = [f"{name} ({schema.field(name).type})" for name in (*self.columns, *self._targets)
               if not (types.is_integer(schema.field(name).type) or types.is_floating(schema.field(name).type)
                       or types.is_boolean(schema.field(name).type))]
        if bad:
            raise ValueError(
                f"ParquetBatches reads numbers only, but in {file} the column(s) {', '.join(bad)} are not numeric: "
                "encode them first, pass columns= without them, or train with 'backprop train FILE --target COL "
                "--stream', which standardises numbers and one-hot encodes text in a streaming pass")

    def __len__(self) -> int:
        """Batches per epoch."""
        return -(-self.n_rows // self.batch_size)

    def __repr__(self) -> str:
        return (f"ParquetBatches({os.fspath(self.path)!r}, target={self.target!r}, batch_size={self.batch_size}, "
                f"shuffle_buffer={self.shuffle_buffer}: {self.n_rows} rows, {self.n_features} features)")

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next ``iter()`` reads: its shuffle comes from ``(seed, epoch)``."""
        self._epoch = _positive(epoch, "epoch", 0)

    def __iter__(self):
        epoch = self._epoch
        self._epoch += 1
        return self._batches(epoch)

    # ------------------------------------------------------------------ reading
    def _row_groups(self, rng):
        """``(X, y)`` of each row group, as float32 / the target's dtype, in the epoch's order."""
        pa = _import_pyarrow()
        order = range(len(self._groups)) if rng is None else rng.permutation(len(self._groups))
        handles = {}
        for index in order:
            k, group, _ = self._groups[index]
            handle = handles.get(k)
            if handle is None:
                handles.clear()  # one file open at a time
                handle = handles[k] = pa.parquet.ParquetFile(self._files[k])
            # One thread: decoding the columns in parallel holds several of them at once (memory is the point).
            table = handle.read_row_group(group, columns=[*self.columns, *self._targets], use_threads=False)
            nulls = [name for name in (*self.columns, *self._targets) if table.column(name).null_count]
            if nulls:
                raise ValueError(f"{self._files[k]}, row group {group}: the column(s) {nulls} have missing values; "
                                 "impute them first ('backprop train FILE --stream' imputes the mean)")
            X = np.empty((table.num_rows, self.n_features), dtype=np.float32)
            for j, name in enumerate(self.columns):
                X[:, j] = table.column(name).to_numpy()
            ys = [table.column(name).to_numpy() for name in self._targets]
            if all(y.dtype.kind == "f" for y in ys):
                ys = [y.astype(np.float32, copy=False) for y in ys]
            else:
                ys = [y.astype(np.int64 if y.dtype.kind in "iub" else np.float32, copy=False) for y in ys]
            y = ys[0] if len(ys) == 1 else np.column_stack(ys)
            del table
            yield X, y

    def _batches(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch]) if self.shuffle_buffer > 0 else None
        yield from in_batches(shuffled(self._row_groups(rng), self.shuffle_buffer, rng), self.batch_size)


def shuffled(pieces, size: int, rng):
    """The rows of ``(X, y)`` pieces through a shuffle buffer of ``size`` rows (``rng`` None: as they come).

    Each incoming row takes the slot of a row that leaves, chosen at random (distinct
    slots for the rows of one piece); at the end the buffer leaves in a random order.
    """
    if rng is None or size == 0:
        yield from pieces
        return
    buffer_X = buffer_y = None
    filled = 0
    for X, y in pieces:
        if buffer_X is None:
            buffer_X = np.empty((size,) + X.shape[1:], dtype=X.dtype)
            buffer_y = np.empty((size,) + y.shape[1:], dtype=y.dtype)
        start = 0
        if filled < size:  # filling: nothing leaves yet
            take = min(size - filled, X.shape[0])
            buffer_X[filled:filled + take], buffer_y[filled:filled + take] = X[:take], y[:take]
            filled += take
            start = take
        while start < X.shape[0]:
            stop = min(start + size, X.shape[0])
            slots = rng.choice(size, size=stop - start, replace=False)
            yield buffer_X[slots], buffer_y[slots]  # (fancy indexing copies: the buffer changes next)
            buffer_X[slots], buffer_y[slots] = X[start:stop], y[start:stop]
            start = stop
    if filled:
        rest = rng.permutation(filled)
        yield buffer_X[rest], buffer_y[rest]


def in_batches(pieces, size: int):
    """``(X, y)`` pieces of any lengths regrouped into batches of ``size`` rows (the last keeps the rest)."""
    carry_X, carry_y, waiting = [], [], 0  # rows waiting for a full batch
    for X, y in pieces:
        start = 0
        if waiting:
            take = min(size - waiting, X.shape[0])
            carry_X.append(X[:take])
            carry_y.append(y[:take])
            waiting += take
            start = take
            if waiting < size:
                continue
            yield np.concatenate(carry_X), np.concatenate(carry_y)
            carry_X, carry_y, waiting = [], [], 0
        full = start + (X.shape[0] - start) // size * size
        for begin in range(start, full, size):
            yield X[begin:begin + size], y[begin:begin + size]
        if full < X.shape[0]:
            carry_X, carry_y, waiting = [X[full:]], [y[full:]], X.shape[0] - full
    if waiting:
        yield np.concatenate(carry_X), np.concatenate(carry_y)
