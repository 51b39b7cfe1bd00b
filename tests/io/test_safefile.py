"""Tests for backprop.io.safefile: round trips, hostile files, and atomic writes.

Every refusal case is crafted as a real file on disk and read back through
``read_safetensors``, because the point is how the reader treats untrusted bytes.
"""

import json
import os
import pathlib
import pickle
import struct

import numpy as np
import pytest
import safetensors.numpy

from backprop.io.safefile import (
    FORMAT_VERSION,
    ModelFileError,
    atomic_write_bytes,
    read_json_metadata,
    read_safetensors,
    write_safetensors,
)

OUR_METADATA = {"format": "backprop", "format_version": str(FORMAT_VERSION), "kind": "model"}


# --------------------------------------------------------------------------- helpers


def raw_safetensors(header, data=b"", *, metadata=OUR_METADATA, header_length=None):
    """Bytes of a hand-made safetensors file: u64 length, JSON header, data.

    ``header`` is the tensor part of the header (name -> entry) or any JSON
    value / raw bytes when testing malformed headers.
    """
    if isinstance(header, bytes):
        header_bytes = header
    else:
        if isinstance(header, dict) and metadata is not None:
            header = {"__metadata__": metadata, **header}
        header_bytes = json.dumps(header).encode("utf-8")
    length = len(header_bytes) if header_length is None else header_length
    return struct.pack("<Q", length) + header_bytes + data


def write_file(tmp_path, data, name="model.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_refused(path, *fragments, **read_kwargs):
    """read_safetensors(path) raises a one-line ModelFileError naming path and the problem."""
    with pytest.raises(ModelFileError) as caught:
        read_safetensors(path, **read_kwargs)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def good_file(tmp_path, name="model.safetensors", kind="model"):
    path = tmp_path / name
    write_safetensors(
        path,
        {"W": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2, dtype=np.float64)},
        {"config": json.dumps({"layers": [3, 2]})},
        kind=kind,
    )
    return path


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.linspace(-1, 1, 12, dtype=np.float64).reshape(2, 2, 3),
        np.arange(-5, 5, dtype=np.int64),
        np.arange(256, dtype=np.uint8),
        np.array([True, False, True]),
        np.array(3.5, dtype=np.float32),  # 0-d
        np.array(7, dtype=np.int64),  # 0-d
        np.zeros((0,), dtype=np.float32),  # empty
        np.zeros((3, 0, 2), dtype=np.float64),  # empty with other dims
        np.array([1, 2], dtype=np.float16),
        np.array([1 + 2j], dtype=np.complex64),
    ],
    ids=lambda a: f"{a.dtype}{list(a.shape)}",
)
def test_round_trip_preserves_dtype_shape_and_values(tmp_path, array):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"x": array}, kind="model")
    tensors, _ = read_safetensors(path)
    assert tensors["x"].dtype == array.dtype
    assert tensors["x"].shape == array.shape
    np.testing.assert_array_equal(tensors["x"], array)


def test_round_trip_of_many_tensors_and_metadata(tmp_path):
    tensors = {
        "layers.0.W": np.random.default_rng(0).normal(size=(4, 3)),
        "layers.0.b": np.zeros(4, dtype=np.float32),
        "step": np.array(12, dtype=np.int64),
        "empty": np.zeros((0, 5), dtype=np.float32),
    }
    config = {"layers": [{"type": "Dense", "units": 4}], "lr": 0.1}
    path = tmp_path / "model.safetensors"
    write_safetensors(path, tensors, {"config": json.dumps(config), "note": "héllo ✓"}, kind="model")

    loaded, metadata = read_safetensors(path, kind="model")

    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype
    assert metadata["format"] == "backprop"
    assert metadata["format_version"] == str(FORMAT_VERSION)
    assert metadata["kind"] == "model"
    assert metadata["note"] == "héllo ✓"
    assert read_json_metadata(metadata, "config") == config


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    path = good_file(tmp_path)
    tensors, _ = read_safetensors(path)
    tensors["W"][0, 0] = 100.0  # must not raise "assignment destination is read-only"
    again, _ = read_safetensors(path)
    assert again["W"][0, 0] == 0.0


def test_write_copies_non_contiguous_and_big_endian_arrays(tmp_path):
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    big_endian = np.arange(4, dtype=">i4")
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"T": base.T, "strided": base[:, ::2], "be": big_endian}, kind="model")
    tensors, _ = read_safetensors(path)
    np.testing.assert_array_equal(tensors["T"], base.T)
    np.testing.assert_array_equal(tensors["strided"], base[:, ::2])
    np.testing.assert_array_equal(tensors["be"], big_endian)


def test_written_file_is_readable_by_plain_safetensors(tmp_path):
    path = good_file(tmp_path)
    tensors = safetensors.numpy.load_file(path)
    np.testing.assert_array_equal(tensors["b"], np.ones(2))


def test_accepts_str_and_pathlike_paths(tmp_path):
    as_str = str(tmp_path / "a.safetensors")
    write_safetensors(as_str, {"x": np.ones(2)}, kind="model")
    read_safetensors(as_str)
    as_path = pathlib.Path(tmp_path / "b.safetensors")
    write_safetensors(as_path, {"x": np.ones(2)}, kind="model")
    read_safetensors(as_path)


def test_no_tensors_is_a_valid_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    write_safetensors(path, {}, {"history": "[]"}, kind="checkpoint")
    tensors, metadata = read_safetensors(path, kind="checkpoint")
    assert tensors == {}
    assert metadata["history"] == "[]"


# --------------------------------------------------------------------------- write refusals


@pytest.mark.parametrize(
    "value",
    [np.array([object(), 1], dtype=object), np.array(["a", "b"]), np.zeros(2, dtype=np.complex128)],
    ids=["object", "str", "complex128"],
)
def test_write_refuses_unstorable_dtypes(tmp_path, value):
    path = tmp_path / "t.safetensors"
    with pytest.raises(TypeError, match="dtype"):
        write_safetensors(path, {"x": value}, kind="model")
    assert not path.exists()


def test_write_refuses_non_arrays_and_bad_metadata(tmp_path):
    path = tmp_path / "t.safetensors"
    with pytest.raises(TypeError):
        write_safetensors(path, {"x": [1.0, 2.0]}, kind="model")
    with pytest.raises(TypeError):
        write_safetensors(path, {1: np.ones(1)}, kind="model")
    with pytest.raises(TypeError):
        write_safetensors(path, {"x": np.ones(1)}, {"config": {"not": "a string"}}, kind="model")
    with pytest.raises(ValueError, match="reserved"):
        write_safetensors(path, {"x": np.ones(1)}, {"kind": "other"}, kind="model")
    with pytest.raises(ValueError, match="reserved"):
        write_safetensors(path, {"__metadata__": np.ones(1)}, kind="model")
    with pytest.raises(ValueError, match="kind"):
        write_safetensors(path, {"x": np.ones(1)}, kind="")
    assert not path.exists()


# --------------------------------------------------------------------------- hostile and broken files


def test_missing_file_raises_file_not_found_naming_path(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError) as caught:
        read_safetensors(path)
    assert str(path) in str(caught.value)


class _WritesMarkerWhenUnpickled:
    """A classic malicious pickle: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_payload_is_refused_and_never_executed(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_WritesMarkerWhenUnpickled(marker), protocol=protocol)
    assert b"system" in payload  # the payload really would call os.system
    path = write_file(tmp_path, payload, "evil.safetensors")

    assert_refused(path, "not a safetensors file")
    assert not marker.exists()


def test_torch_pt_file_is_refused_and_never_executed(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"W": torch.zeros(2, 3), "evil": _WritesMarkerWhenUnpickled(marker)}, path)

    assert_refused(path, "not a safetensors file", "PyTorch")
    assert not marker.exists()


def test_random_bytes_are_refused(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    assert_refused(write_file(tmp_path, data))


def test_empty_file_is_refused(tmp_path):
    assert_refused(write_file(tmp_path, b""), "file is empty")


def test_file_shorter_than_8_bytes_is_refused(tmp_path):
    assert_refused(write_file(tmp_path, b"\x10\x00\x00"), "only 3 bytes")


def test_header_length_larger_than_file_is_refused(tmp_path):
    data = raw_safetensors({}, header_length=10_000)
    assert_refused(write_file(tmp_path, data), "header length 10000", "truncated")


def test_huge_header_length_is_refused_without_allocating(tmp_path):
    data = struct.pack("<Q", 2**63) + b"{}"
    assert_refused(write_file(tmp_path, data), "header length")


def test_header_larger_than_max_header_bytes_is_refused(tmp_path):
    path = good_file(tmp_path)
    assert_refused(path, "max_header_bytes=64", max_header_bytes=64)


def test_zero_header_length_is_refused(tmp_path):
    assert_refused(write_file(tmp_path, struct.pack("<Q", 0) + b"{}"), "header length is 0")


def test_header_not_utf8_is_refused(tmp_path):
    assert_refused(write_file(tmp_path, raw_safetensors(b'{"a": "\xff\xfe"}')), "UTF-8")


@pytest.mark.parametrize("header", [b"{not json", b'{"a": 1', b""], ids=["garbage", "unclosed", "blank"])
def test_header_not_json_is_refused(tmp_path, header):
    data = raw_safetensors(header) if header else struct.pack("<Q", 2) + b"  "
    assert_refused(write_file(tmp_path, data), "JSON")


@pytest.mark.parametrize("header", [[1, 2], "text", 3, None], ids=["list", "str", "int", "null"])
def test_header_json_that_is_not_an_object_is_refused(tmp_path, header):
    assert_refused(write_file(tmp_path, raw_safetensors(header)), "not an object")


def test_duplicate_keys_in_header_are_refused(tmp_path):
    header = b'{"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, ' \
             b'"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}'
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00")), "duplicate key")


@pytest.mark.parametrize("dtype", ["F128", "float32", "object", "BF16", "", 4])
def test_bad_dtype_is_refused(tmp_path, dtype):
    data = raw_safetensors({"x": entry(dtype, [2], 0, 8)}, b"\x00" * 8)
    assert_refused(write_file(tmp_path, data), "tensor 'x'", "dtype")


@pytest.mark.parametrize(
    "shape", [[3], [2, 2], [-2], [2.0], "2", [True, 2], None], ids=str
)
def test_shape_that_does_not_match_byte_length_is_refused(tmp_path, shape):
    data = raw_safetensors({"x": entry("F32", shape, 0, 8)}, b"\x00" * 8)
    assert_refused(write_file(tmp_path, data), "tensor 'x'", "shape")


def test_overlapping_data_offsets_are_refused(tmp_path):
    header = {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 12)), "overlap")


def test_duplicate_data_offsets_are_refused(tmp_path):
    header = {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 0, 8)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 8)), "overlap")


def test_hole_in_data_section_is_refused(tmp_path):
    header = {"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 12)), "hole")


def test_hole_at_start_of_data_section_is_refused(tmp_path):
    header = {"a": entry("F32", [1], 4, 8)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 8)), "hole")


def test_data_offsets_past_end_of_file_are_refused(tmp_path):
    header = {"a": entry("F32", [4], 0, 16)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 8)), "past the end")


def test_trailing_bytes_after_last_tensor_are_refused(tmp_path):
    header = {"a": entry("F32", [1], 0, 4)}
    assert_refused(write_file(tmp_path, raw_safetensors(header, b"\x00" * 8)), "trailing")


@pytest.mark.parametrize(
    "bad_entry",
    [
        {"dtype": "F32", "shape": [1]},  # no data_offsets
        {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1},
        {"dtype": "F32", "shape": [1], "data_offsets": [0]},
        {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]},
        {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]},
        [1, 2, 3],
    ],
    ids=str,
)
def test_malformed_tensor_entries_are_refused(tmp_path, bad_entry):
    data = raw_safetensors({"x": bad_entry}, b"\x00" * 4)
    assert_refused(write_file(tmp_path, data), "tensor 'x'")


@pytest.mark.parametrize("metadata", [{"format": 1}, ["format", "backprop"], "backprop"], ids=str)
def test_metadata_that_is_not_string_to_string_is_refused(tmp_path, metadata):
    assert_refused(write_file(tmp_path, raw_safetensors({}, metadata=metadata)), "__metadata__")


def test_valid_safetensors_file_that_is_not_ours_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({"weight": np.ones((2, 2), dtype=np.float32)}, path)
    assert_refused(path, "not a backprop file")

    other = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"weight": np.ones(2)}, other, metadata={"format": "pt"})
    assert_refused(other, "not a backprop file")


@pytest.mark.parametrize("keep", [4, 12, 0.5, -1], ids=["4B", "12B", "half", "minus1B"])
def test_truncated_file_is_refused(tmp_path, keep):
    path = good_file(tmp_path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    truncated = write_file(tmp_path, data[:cut], "truncated.safetensors")
    assert_refused(truncated)


def test_truncated_data_section_says_truncated(tmp_path):
    path = good_file(tmp_path)
    truncated = write_file(tmp_path, path.read_bytes()[:-5], "cut.safetensors")
    assert_refused(truncated, "truncated")


def test_wrong_kind_is_refused(tmp_path):
    path = good_file(tmp_path, kind="checkpoint")
    assert_refused(path, "kind is 'checkpoint', expected 'model'", kind="model")
    read_safetensors(path, kind="checkpoint")  # the right kind loads
    read_safetensors(path)  # and no kind means any kind


def test_newer_format_version_is_refused(tmp_path):
    metadata = {**OUR_METADATA, "format_version": str(FORMAT_VERSION + 1)}
    data = raw_safetensors({"x": entry("U8", [1], 0, 1)}, b"\x07", metadata=metadata)
    assert_refused(write_file(tmp_path, data), "newer")


@pytest.mark.parametrize("version", ["abc", "0", "", "1.0", "-1"])
def test_invalid_format_version_is_refused(tmp_path, version):
    metadata = {**OUR_METADATA, "format_version": version}
    assert_refused(write_file(tmp_path, raw_safetensors({}, metadata=metadata)), "format_version")


def test_hand_made_valid_file_is_accepted(tmp_path):
    """The crafting helper itself produces files the reader accepts, so the refusals above are meaningful."""
    values = np.array([1.5, -2.0], dtype=np.float32)
    header = {"x": entry("F32", [2], 0, 8), "n": entry("U8", [], 8, 9)}
    path = write_file(tmp_path, raw_safetensors(header, values.tobytes() + b"\x05"))
    tensors, metadata = read_safetensors(path, kind="model")
    np.testing.assert_array_equal(tensors["x"], values)
    assert tensors["n"] == 5 and tensors["n"].shape == ()
    assert metadata == OUR_METADATA


# --------------------------------------------------------------------------- read_json_metadata


def test_read_json_metadata_decodes_and_names_bad_keys(tmp_path):
    metadata = {"config": '{"units": 3}', "broken": "{nope"}
    assert read_json_metadata(metadata, "config") == {"units": 3}
    with pytest.raises(ModelFileError, match="'missing'") as caught:
        read_json_metadata(metadata, "missing", path=tmp_path / "m.safetensors")
    assert str(tmp_path / "m.safetensors") in str(caught.value)
    with pytest.raises(ModelFileError, match="'broken'.*not valid JSON"):
        read_json_metadata(metadata, "broken")


def test_model_file_error_is_a_value_error():
    error = ModelFileError("some/file", "bad\nthing")
    assert isinstance(error, ValueError)
    assert str(error) == "some/file: bad thing"
    assert error.path == "some/file" and error.problem == "bad thing"


# --------------------------------------------------------------------------- atomicity


def leftover_temp_files(directory, target_name):
    return [p.name for p in directory.iterdir() if p.name != target_name]


class SimulatedCrash(Exception):
    pass


def _crash(*args, **kwargs):
    raise SimulatedCrash("simulated crash")


@pytest.mark.parametrize("crash_point", ["os.replace", "os.fsync", "os.chmod", "serialise"])
def test_crash_during_save_keeps_previous_file_and_leaves_no_temp_files(
    tmp_path, monkeypatch, crash_point
):
    path = good_file(tmp_path)
    before = path.read_bytes()
    if crash_point == "serialise":
        monkeypatch.setattr(safetensors.numpy, "save", _crash)
    else:
        module, name = crash_point.split(".")
        monkeypatch.setattr(os, name, _crash)

    with pytest.raises(SimulatedCrash):
        write_safetensors(path, {"W": np.full((50, 50), 9.0)}, kind="model")

    monkeypatch.undo()
    assert path.read_bytes() == before
    assert leftover_temp_files(tmp_path, path.name) == []
    tensors, _ = read_safetensors(path, kind="model")
    np.testing.assert_array_equal(tensors["W"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_crash_mid_write_keeps_previous_file(tmp_path, monkeypatch):
    """Fail after part of the bytes reached the temporary file, like a full disk."""
    path = tmp_path / "blob.bin"
    atomic_write_bytes(path, b"old contents")
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(bytes(data[: len(data) // 2]))
            self.handle.flush()
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(path, b"new contents that will not fit")
    monkeypatch.undo()

    assert path.read_bytes() == b"old contents"
    assert leftover_temp_files(tmp_path, path.name) == []


def test_interrupt_during_save_of_new_file_leaves_nothing(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_safetensors(tmp_path / "new.safetensors", {"x": np.ones(3)}, kind="model")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"first")
    assert path.read_bytes() == b"first"
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0o600
    os.chmod(path, 0o600)
    atomic_write_bytes(str(path), bytearray(b"second"))
    assert path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o777 == 0o600
    assert leftover_temp_files(tmp_path, path.name) == []


def test_atomic_write_bytes_refuses_text(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "x", "not bytes")
    assert list(tmp_path.iterdir()) == []


def test_valid_file_whose_length_bytes_look_like_a_pickle_is_accepted(tmp_path):
    """Sniffing for pickles only explains errors; it must never reject a valid file."""
    header = json.dumps(
        {"__metadata__": OUR_METADATA, "x": entry("U8", [1], 0, 1)}
    ).encode().ljust(0x0280)  # length bytes 80 02 00..., the same as a protocol-2 pickle
    data = struct.pack("<Q", len(header)) + header + b"\x09"
    assert data[:2] == b"\x80\x02"
    tensors, _ = read_safetensors(write_file(tmp_path, data))
    assert tensors["x"].tolist() == [9]
