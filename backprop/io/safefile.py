"""Safe, atomic reading and writing of tensor files in the safetensors format.

This is the lowest layer of persistence: it knows about named NumPy arrays and
string metadata, never about models. A file written here is a plain safetensors
file (readable by any safetensors tool) whose metadata also carries

    {"format": "backprop", "format_version": "2", "kind": <kind>}

so that we can tell our files from anybody else's, refuse files written by a
newer version, and refuse to load, say, a training checkpoint as a model.
Callers store anything structured (architecture config, optimiser state,
history...) as JSON strings under other metadata keys; see
:func:`read_json_metadata`.

Why so much validation: a model file is untrusted input. We never unpickle,
``eval`` or import anything from a file. The safetensors layout is

    [8 bytes: little-endian u64 header length N][N bytes: UTF-8 JSON header][data]

and :func:`read_safetensors` reads it in that order with bounded reads,
checking each part before trusting the next, so that a pickle, a PyTorch
``.pt`` archive, random bytes or a truncated file fail fast with one clear
:class:`ModelFileError` instead of a large allocation or a cryptic error from
deep inside a library.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> write_safetensors(path, {"W": np.eye(2)}, {"config": "{}"}, kind="model")
    >>> tensors, metadata = read_safetensors(path, kind="model")
    >>> tensors["W"].tolist(), metadata["kind"]
    ([[1.0, 0.0], [0.0, 1.0]], 'model')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import struct
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "atomic_write_bytes",
    "read_json_metadata",
    "read_safetensors",
    "write_safetensors",
]

FORMAT_NAME = "backprop"
"""Value of the ``"format"`` metadata key that marks a file as ours."""

FORMAT_VERSION = 2
"""Newest ``"format_version"`` this code writes and can read."""

DEFAULT_MAX_HEADER_BYTES = 100 * 2**20

# The keys every file we write carries; callers may not set them themselves,
# because silently overwriting a caller's value would hide a bug.
_RESERVED_METADATA_KEYS = ("format", "format_version", "kind")

_HEADER_LENGTH_BYTES = 8  # the u64 that prefixes every safetensors file
_METADATA_ENTRY = "__metadata__"
_TENSOR_ENTRY_KEYS = frozenset({"dtype", "shape", "data_offsets"})

# safetensors dtype tag -> NumPy dtype, restricted to what
# ``safetensors.numpy`` can both write and read back (NumPy has no bfloat16 or
# float8), stored little-endian as the format requires.
_DTYPE_BY_TAG = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
}
_WRITABLE_DTYPES = frozenset(dtype.newbyteorder("=") for dtype in _DTYPE_BY_TAG.values())

# New files get ordinary read-for-all permissions instead of mkstemp's 0o600.
# (Reading the umask would mean briefly changing it, which races with other
# threads creating files, so we do not.)
_NEW_FILE_MODE = 0o644


MAX_PROBLEM_CHARS = 400
"""The longest problem a :class:`ModelFileError` states; longer texts are cut."""


class ModelFileError(ValueError):
    """A file is not a valid backprop safetensors file, or not the expected kind.

    The message is a single line naming the file and the problem.

    Attributes:
        path: The offending file as a string, or None when not known.
        problem: What is wrong, without the path.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        problem = str(problem)
        if len(problem) > MAX_PROBLEM_CHARS:  # never echo a huge value from a crafted file
            problem = problem[:MAX_PROBLEM_CHARS] + "..."
        self.problem = " ".join(problem.split())  # keep it to one line
        message = self.problem if self.path is None else f"{self.path}: {self.problem}"
        super().__init__(message)


# --------------------------------------------------------------------------- writing


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file ``.NAME.XXXXXXXX.tmp`` in the same directory (so
    the final rename stays on one filesystem), are flushed and fsynced, and the
    temporary file is then renamed over ``path`` with :func:`os.replace`, which is
    atomic. The directory is fsynced last so the rename itself survives a power loss.
    On any error the temporary file is removed and an existing ``path`` is left
    untouched. Temporary files of earlier writes to the same path that were killed
    before they could clean up (SIGKILL, power loss) are removed first; a writer
    holds a lock on its temporary file, so one still being written is left alone.

    Args:
        path: Destination file (str or os.PathLike). Its directory must exist.
        data: The complete new contents.

    Raises:
        TypeError: If ``data`` is not bytes-like.
        OSError: If the file cannot be written; ``path`` is then unchanged.
    """
    path = os.fspath(path)
    data = memoryview(data)  # TypeError for str and other non-bytes early
    directory = os.path.dirname(os.path.abspath(path))
    mode = _NEW_FILE_MODE
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode & 0o7777  # overwriting keeps the old permissions
    _remove_stale_temporaries(directory, os.path.basename(path))
    for attempt in range(3):
        try:
            _write_and_replace(path, directory, data, mode)
            break
        except _TemporaryVanished:
            # Another writer's cleanup took our file in the instant between its creation
            # and its lock (see _remove_stale_temporaries): write it again.
            if attempt == 2:
                raise OSError(f"cannot write {path}: its temporary file kept disappearing") from None
    _fsync_directory(directory)


class _TemporaryVanished(Exception):
    pass


def _write_and_replace(path: str, directory: str, data, mode: int) -> None:
    fd, temp_path = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        _lock(fd)  # held until the file is closed: tells other writers this one is alive
        with os.fdopen(fd, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        try:
            os.chmod(temp_path, mode)
            os.replace(temp_path, path)
        except FileNotFoundError:
            if os.path.isdir(directory) and not os.path.exists(temp_path):
                raise _TemporaryVanished from None  # removed by a cleanup once our lock was gone
            raise
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave litter.
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise


try:
    import fcntl
except ImportError:  # Windows: no advisory locks; stale files are recognised by age instead
    fcntl = None

# A temporary file older than this is stale where locks are not available.
_STALE_SECONDS = 3600.0


def _lock(fd: int) -> None:
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Remove ``.NAME.XXXXXXXX.tmp`` files left by killed writes to ``directory/NAME``."""
    pattern = re.compile(re.escape(f".{name}.") + r"[A-Za-z0-9_]{6,16}\.tmp")
    try:
        candidates = [entry for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for entry in candidates:
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False):
                continue
            if fcntl is None:
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_SECONDS:
                    os.unlink(entry.path)
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its writer is alive
                except OSError:
                    continue
                os.unlink(entry.path)
            finally:
                os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Persist a rename in ``directory``; best effort, as not every OS/filesystem allows it."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_safetensors(
    path: str | os.PathLike,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
    *,
    kind: str,
) -> None:
    """Atomically write named arrays and string metadata as a backprop safetensors file.

    Args:
        path: Destination file (str or os.PathLike); replaced atomically.
        tensors: Name -> NumPy array. Arrays are copied to C-contiguous
            little-endian buffers, so views and transposes are fine.
        metadata: Extra string -> string metadata, e.g. JSON-encoded configs.
            Must not use the reserved keys ``format``, ``format_version`` or
            ``kind``.
        kind: What the file holds, e.g. ``"model"`` or ``"checkpoint"``;
            :func:`read_safetensors` can insist on it.

    Raises:
        TypeError: If a name or metadata entry is not a string, a value is not a
            NumPy array, or an array's dtype cannot be stored (object, string,
            complex128...).
        ValueError: If ``kind`` is empty or a reserved metadata key is used.
        OSError: If writing fails; an existing file at ``path`` is then intact.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    header_metadata = _checked_metadata(metadata)
    header_metadata.update(
        {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "kind": kind}
    )
    arrays = {name: _storable_array(name, value) for name, value in _items(tensors)}
    data = safetensors.numpy.save(arrays, metadata=header_metadata)
    atomic_write_bytes(path, data)


def _items(tensors: Mapping[str, np.ndarray]):
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a mapping of name -> array, got {type(tensors).__name__}")
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {name!r}")
        if name == _METADATA_ENTRY:
            raise ValueError(f"{_METADATA_ENTRY!r} is reserved by safetensors and cannot name a tensor")
        yield name, value


def _checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping of str -> str, got {type(metadata).__name__}")
    checked = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"metadata must map str -> str (JSON-encode structured values), "
                f"got {key!r}: {type(value).__name__}"
            )
        if key in _RESERVED_METADATA_KEYS:
            raise ValueError(f"metadata key {key!r} is reserved and set by write_safetensors")
        checked[key] = value
    return checked


def _storable_array(name: str, value: Any) -> np.ndarray:
    """A C-contiguous, native-order copy of ``value``, or TypeError if it cannot be stored."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"tensor {name!r} must be a numpy.ndarray, got {type(value).__name__}")
    native = value.dtype.newbyteorder("=") if value.dtype.byteorder != "|" else value.dtype
    if value.dtype.hasobject or native not in _WRITABLE_DTYPES:
        raise TypeError(
            f"tensor {name!r} has dtype {value.dtype}, which cannot be stored; "
            f"supported: {', '.join(sorted(str(d) for d in _WRITABLE_DTYPES))}"
        )
    # A fresh copy: safetensors reads the raw buffer, which must be dense, and
    # the caller's array may be a strided view or change while we serialise.
    return np.array(value, dtype=native, order="C", copy=True)


# --------------------------------------------------------------------------- reading


def read_safetensors(
    path: str | os.PathLike,
    *,
    kind: str | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_header_tokens: int | None = None,
    check_header: Callable[[dict[str, tuple[str, tuple]], dict[str, str]], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read and validate a backprop safetensors file.

    Nothing in the file is trusted until it has been checked: the header length
    is bounded before the header is read, the header is parsed as plain JSON
    and every tensor entry is checked (dtype, shape, byte length, offsets that
    tile the data section exactly) before the data is read and handed to the
    safetensors library, which checks it again.

    Args:
        path: File to read (str or os.PathLike).
        kind: If given, the file's ``"kind"`` metadata must equal it (so a
            checkpoint is not loaded as a model).
        max_header_bytes: Largest JSON header accepted, in bytes.
        max_header_tokens: If given, the most JSON values the header (with the JSON
            strings inside its metadata) may hold, counted as its ``[ { , :`` bytes
            before anything is parsed, so that parsing it into Python objects takes at
            most about 64 bytes per token.
        check_header: If given, called as ``check_header(entries, metadata)`` with
            ``entries`` = {name: (dtype tag, shape)} once the header is validated and
            before the data is read: it raises ModelFileError to refuse the file.

    Returns:
        ``(tensors, metadata)``: name -> writable NumPy array, and the file's
        string metadata (including ``format``, ``format_version`` and ``kind``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ModelFileError: If the file is not a valid safetensors file, not a
            backprop file, written by a newer format version, or not of the
            requested ``kind``. The message names the path and the problem.
    """
    path = os.fspath(path)
    if kind is not None and not isinstance(kind, str):
        raise TypeError(f"kind must be a string or None, got {type(kind).__name__}")
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        if file_size < _HEADER_LENGTH_BYTES:
            problem = "file is empty" if file_size == 0 else f"file is only {file_size} bytes"
            raise ModelFileError(path, f"{problem}; a safetensors file starts with an 8-byte header length")
        prefix = _read_exactly(file, _HEADER_LENGTH_BYTES, path, "the 8-byte header length")
        header_length = _checked_header_length(prefix, file_size, max_header_bytes, path)
        header_bytes = _read_exactly(file, header_length, path, "the header")
        if max_header_tokens is not None:
            tokens = 1 + sum(header_bytes.count(byte) for byte in (b"[", b"{", b",", b":"))
            if tokens > max_header_tokens:
                raise ModelFileError(path, f"header holds up to {tokens} JSON values, more than the limit {max_header_tokens}")
        header = _parse_header(header_bytes, path)
        metadata = _checked_file_metadata(header.pop(_METADATA_ENTRY, {}), path)
        data_length = file_size - _HEADER_LENGTH_BYTES - header_length
        _check_tensor_entries(header, data_length, path)
        # Before reading the data: a foreign or wrong-kind file fails without a big read.
        _check_is_ours(metadata, kind, path)
        if check_header is not None:
            check_header({name: (entry["dtype"], tuple(entry["shape"])) for name, entry in header.items()}, metadata)
        # The whole file in one buffer, as the library parses it: one copy of the data, not two.
        header_digest = hashlib.sha256(header_bytes).digest()
        del header_bytes
        file.seek(0)
        blob = _read_exactly(file, file_size, path, "the tensor data")
        if file.read(1):
            raise ModelFileError(path, "file grew while being read")
        with memoryview(blob) as view:
            if hashlib.sha256(view[_HEADER_LENGTH_BYTES:_HEADER_LENGTH_BYTES + header_length]).digest() != header_digest:
                raise ModelFileError(path, "file changed while being read")

    tensors = _parse_with_library(blob, header, path)
    return tensors, metadata


def read_json_metadata(
    metadata: Mapping[str, str], key: str, *, path: str | os.PathLike | None = None
) -> Any:
    """Decode the JSON string stored under ``key`` in a file's metadata.

    Args:
        metadata: Metadata as returned by :func:`read_safetensors`.
        key: The metadata key, e.g. ``"config"``.
        path: The file the metadata came from, used only in error messages.

    Returns:
        The decoded JSON value.

    Raises:
        ModelFileError: If ``key`` is missing or its value is not valid JSON.
    """
    if key not in metadata:
        raise ModelFileError(path, f"metadata key {key!r} is missing")
    try:
        return json.loads(metadata[key])
    except (TypeError, ValueError, RecursionError) as error:  # deep nesting too
        raise ModelFileError(path, f"metadata key {key!r} is not valid JSON ({error})") from None


def _read_exactly(file, size: int, path: str, what: str) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ModelFileError(
            path, f"file is truncated: expected {size} bytes for {what}, found {len(data)}"
        )
    return data


def _checked_header_length(prefix: bytes, file_size: int, max_header_bytes: int, path: str) -> int:
    (header_length,) = struct.unpack("<Q", prefix)
    room = file_size - _HEADER_LENGTH_BYTES
    if header_length == 0:
        problem = "header length is 0"
    elif header_length > max_header_bytes:
        problem = f"header length {header_length} exceeds the limit max_header_bytes={max_header_bytes}"
    elif header_length > room:
        problem = (
            f"header length {header_length} is larger than the {room} bytes that follow it "
            "(truncated file?)"
        )
    else:
        return header_length
    # Only now sniff for foreign formats: a valid header length can start with
    # the same bytes as a pickle, so the sniff must never reject a file alone.
    raise ModelFileError(path, f"not a safetensors file{_foreign_format_hint(prefix)}: {problem}")


def _foreign_format_hint(prefix: bytes) -> str:
    """Name a common non-safetensors format from its first bytes, to make the error useful."""
    if prefix.startswith(b"PK\x03\x04"):
        return " (it looks like a zip archive, e.g. a PyTorch .pt file; refusing to unpickle it)"
    if prefix[:1] == b"\x80" and 2 <= prefix[1] <= 5:
        return " (it looks like a Python pickle; refusing to unpickle it)"
    return ""


def _parse_header(header_bytes: bytes, path: str) -> dict[str, Any]:
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFileError(path, f"header is not valid UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        header = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise ModelFileError(path, f"header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, f"header is JSON {type(header).__name__}, not an object")
    return header


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Plain json.loads keeps the last duplicate silently, so two readers could
    # disagree on what a file contains.
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _checked_file_metadata(metadata: Any, path: str) -> dict[str, str]:
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise ModelFileError(path, f"{_METADATA_ENTRY!r} must be an object of string -> string")
    return metadata


def _check_tensor_entries(header: dict[str, Any], data_length: int, path: str) -> None:
    """Check every entry, and that the entries tile ``[0, data_length)`` with no gap or overlap."""
    extents = []
    for name, entry in header.items():
        where = f"tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) != _TENSOR_ENTRY_KEYS:
            raise ModelFileError(
                path, f"{where}: entry must be an object with keys dtype, shape, data_offsets"
            )
        dtype_tag, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype_tag, str) or dtype_tag not in _DTYPE_BY_TAG:
            raise ModelFileError(
                path, f"{where}: unsupported dtype {dtype_tag!r} (supported: {', '.join(_DTYPE_BY_TAG)})"
            )
        if not isinstance(shape, list) or not all(_is_count(dim) for dim in shape):
            raise ModelFileError(path, f"{where}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
            raise ModelFileError(path, f"{where}: data_offsets {offsets!r} must be [begin, end]")
        begin, end = offsets
        if begin > end:
            raise ModelFileError(path, f"{where}: data_offsets {offsets!r} has begin after end")
        expected = math.prod(shape) * _DTYPE_BY_TAG[dtype_tag].itemsize
        if end - begin != expected:
            raise ModelFileError(
                path,
                f"{where}: shape {shape} of {dtype_tag} needs {expected} bytes "
                f"but data_offsets {offsets} span {end - begin}",
            )
        if end > data_length:
            raise ModelFileError(
                path,
                f"{where}: data_offsets {offsets} point past the end of the data section "
                f"({data_length} bytes; is the file truncated?)",
            )
        extents.append((begin, end, name))

    position = 0
    for begin, end, name in sorted(extents):
        if begin < position:
            raise ModelFileError(path, f"tensor {name!r}: data_offsets overlap another tensor's at byte {begin}")
        if begin > position:
            raise ModelFileError(path, f"tensor {name!r}: hole in the data section at bytes {position}..{begin}")
        position = end
    if position != data_length:
        raise ModelFileError(
            path, f"data section has {data_length - position} trailing bytes not used by any tensor"
        )


def _is_count(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not a valid size.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_is_ours(metadata: dict[str, str], kind: str | None, path: str) -> None:
    if metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            path, f"not a backprop file (safetensors metadata has no \"format\": \"{FORMAT_NAME}\")"
        )
    version_text = metadata.get("format_version", "")
    if not version_text.isdecimal() or int(version_text) < 1:
        raise ModelFileError(path, f"invalid format_version {version_text!r}")
    if int(version_text) > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"format_version {version_text} is newer than this backprop supports "
            f"({FORMAT_VERSION}); upgrade backprop to read it",
        )
    if kind is not None and metadata.get("kind") != kind:
        raise ModelFileError(path, f"file kind is {metadata.get('kind')!r}, expected {kind!r}")


def _parse_with_library(blob: bytes, header: dict[str, Any], path: str) -> dict[str, np.ndarray]:
    """Let safetensors parse the validated bytes too, and check it agrees with our reading."""
    try:
        loaded = safetensors.numpy.load(blob)
    except Exception as error:  # SafetensorError and anything else from the parser
        raise ModelFileError(path, f"safetensors could not parse the file ({error})") from None
    if set(loaded) != set(header):
        raise ModelFileError(path, "safetensors found different tensors than the header lists")
    tensors = {}
    for name, entry in header.items():
        array = loaded[name]
        if array.dtype != _DTYPE_BY_TAG[entry["dtype"]] or list(array.shape) != entry["shape"]:
            raise ModelFileError(path, f"tensor {name!r}: safetensors disagrees with the header")
        # The library's arrays are views on its parse buffer; give callers
        # independent, writable arrays they can load into parameters in place.
        tensors[name] = array.copy()
    return tensors
