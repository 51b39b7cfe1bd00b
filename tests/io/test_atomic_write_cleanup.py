"""Temporary files left by killed writes are removed by the next write to the same path."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from backprop.io.safefile import atomic_write_bytes


def _temporaries(directory, name):
    return sorted(p for p in os.listdir(directory) if p.startswith(f".{name}.") and p.endswith(".tmp"))


def test_leftovers_of_earlier_writes_are_removed(tmp_path):
    target = tmp_path / "model.safetensors"
    for i in range(5):  # what a SIGKILL between mkstemp and os.replace leaves
        (tmp_path / f".model.safetensors.abc{i}def1.tmp").write_bytes(b"x" * 1000)
    (tmp_path / ".other.safetensors.abcdef12.tmp").write_bytes(b"keep")  # another file's: not ours
    (tmp_path / ".model.safetensors.notes.txt").write_bytes(b"keep")  # not a temporary
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert _temporaries(tmp_path, "model.safetensors") == []
    assert (tmp_path / ".other.safetensors.abcdef12.tmp").read_bytes() == b"keep"
    assert (tmp_path / ".model.safetensors.notes.txt").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks (fcntl) are POSIX")
def test_a_temporary_file_being_written_by_a_live_writer_is_left_alone(tmp_path):
    import fcntl

    live = tmp_path / ".model.safetensors.live1234.tmp"
    live.write_bytes(b"in progress")
    with open(live, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # as the writer holds it
        atomic_write_bytes(tmp_path / "model.safetensors", b"new")
        assert live.exists()
    atomic_write_bytes(tmp_path / "model.safetensors", b"newer")  # its writer is gone now
    assert not live.exists()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_writes_killed_mid_way_leave_at_most_one_temporary_file(tmp_path):
    """A child writes 8 MB files in a loop and is SIGKILLed; after each kill the next write cleans up."""
    target = tmp_path / "big.bin"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.getcwd()!r})
        from backprop.io.safefile import atomic_write_bytes
        data = b"z" * (8 << 20)
        print("ready", flush=True)
        while True:
            atomic_write_bytes({str(target)!r}, data)
    """)
    delays = [0.01 * (i % 7) for i in range(15)]  # land the kill at various points of a write
    for delay in delays:
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        child.stdout.readline()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert len(_temporaries(tmp_path, "big.bin")) <= 1
    atomic_write_bytes(target, b"final")
    assert _temporaries(tmp_path, "big.bin") == []
    assert target.read_bytes() == b"final"
