"""Input handling for training: validation, conversion, label encoding and batching.

Everything here runs before the first training step, so that bad input fails
with a ValueError that names the problem while the weights are untouched. The
caller's arrays are never written to: conversions make new arrays, and batches
are gathered into the trainer's own buffers.

Accepted inputs: NumPy arrays, (nested) lists, Tensors, and pandas DataFrames /
Series when pandas is installed (anything with ``to_numpy()``).

Label encoding (for the cross-entropy losses) follows scikit-learn's
``LabelEncoder``: the classes are the sorted unique labels, and label
``classes[k]`` is trained as output k. One refinement keeps the mapping stable
when a batch of data lacks some classes: integer labels that all lie in
0..K−1 for a network with K outputs (K = 2 for a single sigmoid output) give
``classes = [0, 1, ..., K−1]``, i.e. label k is output k.
"""

from __future__ import annotations

import numbers

import numpy as np

from backprop.checks import check_in_unit_interval
from backprop.engine.tensor import Tensor
from backprop.training.input_set import empty_rows, n_rows, take_rows

__all__ = [
    "as_array", "check_features", "check_length", "check_regression_targets",
    "check_sample_weight", "infer_classes", "encode_labels", "normalise_labels", "split_validation",
    "EpochBatches",
]



# ------------------------------------------------------------ conversion
def as_array(data, name: str) -> np.ndarray:
    """``data`` as an ndarray (no copy when it already is one); pandas objects via ``to_numpy()``.

    Raises:
        ValueError: for None, scalars, ragged lists, or a DataFrame with non-numeric columns
            (naming them).
    """
    if data is None:
        raise ValueError(f"{name} is None")
    if isinstance(data, Tensor):
        return data.data
    if hasattr(data, "to_numpy") and hasattr(data, "dtypes") and hasattr(data, "columns"):
        _check_frame_columns(data, name)
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} could not be converted to an array ({error}); is it ragged?") from None
    if array.ndim == 0:
        raise ValueError(f"{name} must be an array of examples, got the scalar {array!r}")
    return array


def _check_frame_columns(frame, name: str) -> None:
    bad = [str(column) for column, dtype in frame.dtypes.items()
           if getattr(dtype, "kind", "O") not in "fiub"]
    if bad:
        raise ValueError(
            f"{name} must be numeric; the DataFrame columns {bad} are not (encode categories "
            "first, e.g. with backprop.cli.preprocessing)"
        )


def check_features(X, *, dtype, n_features: int | None = None, name: str = "X",
                   out_of_core: bool = False, check_values: bool = True) -> np.ndarray:
    """Validate and convert a feature matrix: rows are examples.

    Args:
        X: (N, n_features) data; more dimensions are allowed (features are ``X.shape[1:]``).
        dtype: the float dtype of the model's parameters; X is converted to it.
        n_features: the number of features the model expects, or None if unknown.
        name: used in messages (``"X"``, ``"validation X"``).
        out_of_core: a NumPy memmap is returned as it is, checked a chunk of rows at a
            time (as cast to ``dtype``): converting it would copy the whole file into
            memory. Its batches are then cast one at a time (:class:`EpochBatches`).
        check_values: False leaves NaN and ±inf to the caller, who then calls
            :func:`check_finite` (a prediction does so only when its first layer has not
            already shown every value finite).

    Returns:
        A C-contiguous float array of ``dtype`` (the input itself if it already is one:
        it is only ever read), or with ``out_of_core`` the memmap itself.

    Raises:
        ValueError: empty, 1-D, non-numeric, NaN/inf values, wrong number of features.
    """
    array = as_array(X, name)
    if array.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_examples, n_features), got a 1-D array of shape {array.shape}; "
            "use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single example"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 examples")
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    if n_features is not None and array.shape[1] != n_features:
        what = "features" if array.ndim == 2 else "channels (axis 1 of N, C, ...)"  # images: NCHW
        raise ValueError(f"{name} has {array.shape[1]} {what}, but the model expects {n_features}")
    if out_of_core and is_memory_mapped(array):
        _check_finite_in_chunks(array, dtype, name)
        return array
    converted = np.ascontiguousarray(array, dtype=dtype)
    if check_values:
        check_finite(converted, name)
    return converted


def is_memory_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` views a memory-mapped file (a np.memmap, or a view of one: np.asarray drops the subclass)."""
    import mmap

    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap) or isinstance(array.base, mmap.mmap):
            return True
        array = array.base
    return False


_CHUNK_BYTES = 2**20  # what checking an out-of-core array holds in memory at once


def _check_finite_in_chunks(array: np.ndarray, dtype, name: str) -> None:
    """:func:`check_finite` of ``array`` cast to ``dtype``, a few MiB of rows at a time
    (a float64 value beyond float32's range becomes inf in the cast: refused as well)."""
    row_bytes = max(int(np.prod(array.shape[1:])) * np.dtype(dtype).itemsize, 1)
    rows = max(_CHUNK_BYTES // row_bytes, 1)
    for start in range(0, array.shape[0], rows):
        with np.errstate(over="ignore"):
            chunk = np.asarray(array[start:start + rows], dtype=dtype)
        if chunk.dtype.kind == "f" and not _all_finite(chunk):
            raise ValueError(f"{name} contains NaN or infinite values (as {np.dtype(dtype)}) in rows "
                             f"{start}..{start + chunk.shape[0] - 1}; remove or impute them before training")


def _all_finite(array: np.ndarray) -> bool:
    """True if no NaN or ±inf: a sum propagates both, in one pass without a boolean copy.

    Only when the sum itself overflows (huge but finite values) is the exact check run.
    """
    if array.size <= 4096:
        return bool(np.isfinite(array).all())  # small: the direct check is cheapest
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(array, axis=None)):
            return True
    return bool(np.isfinite(array).all())


def check_finite(array: np.ndarray, name: str = "X") -> None:
    """Raise ValueError, counting them and naming the first rows, if ``array`` holds NaN or ±inf."""
    if array.dtype.kind == "f" and not _all_finite(array):
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        rows = np.unique(np.nonzero(~np.isfinite(array.reshape(array.shape[0], -1)))[0])[:5].tolist()
        raise ValueError(
            f"{name} contains {nan} NaN and {inf} infinite values (first rows: {rows}); "
            "remove or impute them before training"
        )


def check_length(n_examples: int, y: np.ndarray, name: str, x_name: str = "X") -> None:
    """``len(y) == n_examples``, or a ValueError naming both arrays.

    The count comes first here, unlike in the other checks (docs/architecture.md, Conventions).
    """
    if y.shape[0] != n_examples:
        raise ValueError(f"{x_name} and {name} have different lengths: {n_examples} and {y.shape[0]} examples")


def check_regression_targets(y, n_examples: int, *, dtype, n_outputs: int | None, name: str = "y") -> np.ndarray:
    """Targets for a regression (or unknown) loss: numeric, finite, one row per example.

    An (N,) target for an (N, 1) output is kept as (N,); the losses accept both.
    """
    array = as_array(y, name)
    check_length(n_examples, array, name)
    if array.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric for a regression loss, got dtype {array.dtype}")
    if n_outputs is not None:
        per_example = int(np.prod(array.shape[1:])) if array.ndim > 1 else 1
        if per_example != n_outputs:
            raise ValueError(
                f"{name} has {per_example} value(s) per example but the model has {n_outputs} output(s)"
            )
    converted = np.ascontiguousarray(array, dtype=dtype)
    check_finite(converted, name)
    return converted


def check_sample_weight(sample_weight, n_examples: int, *, dtype, name: str = "sample_weight") -> np.ndarray | None:
    """One finite, non-negative weight per example (not all zero), or None."""
    if sample_weight is None:
        return None
    w = as_array(sample_weight, name)
    if w.shape != (n_examples,):
        raise ValueError(f"{name} must have shape ({n_examples},), one weight per example, got {w.shape}")
    if w.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {w.dtype}")
    w = np.ascontiguousarray(w, dtype=dtype)
    check_finite(w, name)
    if (w < 0).any():
        raise ValueError(f"{name} must be non-negative")
    if not (w > 0).any():
        raise ValueError(f"{name} is zero for every example")
    return w


# --------------------------------------------------------------- labels
def normalise_labels(y, name: str = "y") -> np.ndarray:
    """1-D labels as a sortable array: strings as ``str``, whole floats and Python ints as int64.

    Raises:
        ValueError: missing labels (None/NaN), mixed types, or not one label per example.
    """
    array = as_array(y, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must hold one class label per example, got shape {array.shape}")
    if array.dtype.kind == "O":
        values = array.tolist()
        if any(v is None or (isinstance(v, float) and v != v) for v in values):
            raise ValueError(f"{name} contains missing labels (None or NaN)")
        if all(isinstance(v, str) for v in values):
            array = np.array(values, dtype=str)
        elif all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in values):
            array = np.array(values, dtype=np.int64)
        elif all(isinstance(v, (bool, np.bool_)) for v in values):
            array = np.array(values, dtype=bool)
        elif all(isinstance(v, numbers.Real) for v in values):
            array = np.array(values, dtype=np.float64)
        else:
            kinds = sorted({type(v).__name__ for v in values})
            raise ValueError(f"{name} mixes label types {kinds}; use one type for all labels")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinite labels")
        if (array == np.round(array)).all():
            array = array.astype(np.int64)
    elif array.dtype.kind == "u":
        array = array.astype(np.int64)
    elif array.dtype.kind == "S":
        array = array.astype(str)
    if array.dtype.kind not in "biufU":
        raise ValueError(f"{name} has unsupported label dtype {array.dtype}")
    return array


def infer_classes(labels: np.ndarray, kind: str, n_outputs: int | None, name: str = "y") -> np.ndarray:
    """The classes for normalised ``labels`` under a classification loss (see the module docstring).

    Raises:
        ValueError: when the labels cannot be matched to the network's outputs.
    """
    n_codes = 2 if kind != "multiclass" else n_outputs
    if labels.dtype.kind in "iub" and n_codes is not None and labels.size:
        low, high = labels.min(), labels.max()
        if low >= 0 and high < n_codes:
            return np.arange(n_codes, dtype=bool if labels.dtype.kind == "b" else np.int64)
    classes = np.unique(labels)
    if kind == "multiclass":
        if n_outputs is not None and classes.shape[0] != n_outputs:
            raise ValueError(
                f"{name} has {classes.shape[0]} classes {_preview(classes)} but the network has "
                f"{n_outputs} outputs; cross_entropy needs one output per class"
            )
    elif classes.shape[0] != 2:
        raise ValueError(
            f"{name} has {classes.shape[0]} classes {_preview(classes)}; a binary loss needs two "
            "(or labels 0/1)"
        )
    return classes


def encode_labels(labels: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """Indices k with ``classes[k] == label`` (int64).

    Raises:
        ValueError: for labels not in ``classes`` (naming them), e.g. at evaluate time.
    """
    if labels.dtype.kind != classes.dtype.kind and {labels.dtype.kind, classes.dtype.kind} & {"U"}:
        raise ValueError(
            f"{name} contains labels the model never saw: {labels.dtype} labels, but the model was "
            f"trained on {classes.dtype} labels {_preview(classes)}"
        )
    index = np.searchsorted(classes, labels)
    index = np.minimum(index, classes.shape[0] - 1)
    unseen = classes[index] != labels
    if unseen.any():
        raise ValueError(
            f"{name} contains labels the model never saw: {_preview(np.unique(labels[unseen]))}; "
            f"known classes are {_preview(classes)}"
        )
    return index.astype(np.int64)


def _preview(values: np.ndarray, limit: int = 10) -> str:
    items = values.tolist()
    text = ", ".join(repr(v) for v in items[:limit])
    return f"[{text}{', ...' if len(items) > limit else ''}]"


# ------------------------------------------------------------ validation split
def split_validation(n_examples: int, validation_split: float) -> int:
    """Index where the validation part starts: the *last* fraction, before any shuffling (as Keras).

    Raises:
        ValueError: for a fraction outside [0, 1) or one that leaves a part empty.
    """
    validation_split = check_in_unit_interval(validation_split, "validation_split")
    split_at = int(np.floor(n_examples * (1.0 - validation_split)))
    if validation_split > 0 and (split_at == n_examples or split_at == 0):
        raise ValueError(
            f"validation_split={validation_split} of {n_examples} examples leaves an empty "
            f"{'validation' if split_at == n_examples else 'training'} set"
        )
    return split_at


# ---------------------------------------------------------------- batching
class EpochBatches:
    """Mini-batches of one epoch, in the order of a permutation drawn each epoch.

    With shuffling, the features X (the first array, the large one) are gathered batch
    by batch into one reused buffer (``np.take(X, order[start:stop], out=buffer)``): a
    step allocates nothing for its data, the gathered rows are still in cache for the
    first matrix multiply, and no shuffled copy of the whole X is ever made. The small
    arrays (targets, weights) are gathered once per epoch into buffers allocated at
    construction. Without shuffling, or for a full batch, the arrays are sliced directly.

    Args:
        arrays: the arrays to batch together (None entries are passed through); the
            first one is gathered per batch.
        batch_size: examples per batch; None or ≥ N means one full batch. The last
            batch keeps the remainder (it may be smaller).
        shuffle: draw a new order each epoch.
        dtype: the dtype the batches of the first array are delivered in (None: its own);
            a first array of another dtype (an out-of-core memmap) is cast batch by batch
            into a reused buffer, never whole.
    """

    def __init__(self, arrays, batch_size: int | None, shuffle: bool, dtype=None):
        self.arrays = list(arrays)
        self.n = next(n_rows(a) for a in self.arrays if a is not None)
        self.batch_size = self.n if batch_size is None else min(int(batch_size), self.n)
        # A full batch is the same sum in any order, so it is never permuted (no draw, no copy).
        self.shuffle = bool(shuffle) and self.batch_size < self.n
        self.steps = -(-self.n // self.batch_size)
        self.epoch_arrays = list(self.arrays)
        first = self.arrays[0]
        cast = dtype is not None and isinstance(first, np.ndarray) and first.dtype != np.dtype(dtype)
        if cast and not self.shuffle:
            self.epoch_arrays[0] = _CastRows(first, dtype, self.batch_size)
        if self.shuffle:
            self._rows = _GatheredRows(first, self.batch_size, dtype if cast else None)
            # One buffer per distinct small array: the loss target and the metric target are often the same.
            self._buffers = {}
            for a in self.arrays[1:]:
                if a is not None and a is not first and id(a) not in self._buffers:
                    self._buffers[id(a)] = (a, np.empty_like(a, order="C"))
            self.epoch_arrays = [self._rows] + [
                None if a is None else (self._rows if a is first else self._buffers[id(a)][1])
                for a in self.arrays[1:]
            ]

    def start_epoch(self, rng) -> list:
        """Draw this epoch's order from ``rng`` (if shuffling) and return the arrays in that order.

        The first is then a :class:`_GatheredRows`: slice it as ``X[start:stop]``.
        """
        if self.shuffle:
            order = rng.permutation(self.n)
            self._rows.order = order
            for source, buffer in self._buffers.values():
                np.take(source, order, axis=0, out=buffer, mode="clip")  # a permutation: always in range
        return self.epoch_arrays

    def bounds(self):
        """``(start, stop)`` of each batch."""
        size = self.batch_size
        return [(start, min(start + size, self.n)) for start in range(0, self.n, size)]


class _GatheredRows:
    """The rows of ``source`` in the epoch's order, gathered on demand one batch at a time.

    ``rows[start:stop]`` returns a view of a reused buffer holding
    ``source[order[start:stop]]``; it stays valid until the next slice is taken.
    """

    def __init__(self, source: np.ndarray, batch_size: int, dtype=None):
        self.source = source
        self.order = None
        # (an InputSet of buffers for several inputs.) np.take casts into a buffer of another
        # dtype: an out-of-core X is cast batch by batch.
        self._buffer = empty_rows(source, batch_size) if dtype is None else \
            np.empty((batch_size,) + source.shape[1:], dtype=dtype)

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("gathered rows can only be sliced contiguously, as rows[start:stop]")
        index = self.order[rows]
        return take_rows(self.source, index, out=self._buffer[: len(index)])


class _CastRows:
    """The rows of ``source`` in order, cast to ``dtype`` one batch at a time into a reused buffer.

    ``rows[start:stop]`` is valid until the next slice is taken (as :class:`_GatheredRows`).
    """

    def __init__(self, source: np.ndarray, dtype, batch_size: int):
        self.source = source
        self._buffer = np.empty((batch_size,) + source.shape[1:], dtype=dtype)

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("cast rows can only be sliced contiguously, as rows[start:stop]")
        part = self.source[rows]
        out = self._buffer[: part.shape[0]]
        np.copyto(out, part, casting="unsafe")
        return out
