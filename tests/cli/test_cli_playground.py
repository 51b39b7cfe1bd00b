"""``backprop playground``: bad options are one line and exit 2; the server serves the page and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from backprop.cli import playground as playground_module
from backprop.cli.errors import run_command
from backprop.cli.main import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_line_error(capsys, argv) -> str:
    assert run_command(cli, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize("argv, fragment", [
    (["--port", "0"], "--port"), (["--port", "65536"], "--port"), (["--port", "eighty"], "--port"),
    (["--colour"], "--colour"), (["--host"], "--host"),
])
def test_bad_options_are_one_line_and_exit_2(capsys, argv, fragment):
    assert fragment in one_line_error(capsys, ["playground", *argv])


def test_a_port_in_use_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = one_line_error(capsys, ["playground", "--port", str(port), "--no-browser"])
    assert f"127.0.0.1:{port}" in err and "choose another --port" in err


def test_an_unknown_host_is_one_line(capsys):
    assert "cannot listen on 'no-such-host.invalid'" in one_line_error(
        capsys, ["playground", "--host", "no-such-host.invalid", "--no-browser"])


def test_without_the_extra_it_names_what_to_install(capsys, monkeypatch):
    monkeypatch.setattr(playground_module, "_missing", lambda names: ["uvicorn"])
    err = one_line_error(capsys, ["playground", "--no-browser"])
    assert "playground extra" in err and 'pip install "backprop-nn[playground]"' in err


def test_it_opens_the_page_once_the_server_has_started(capsys, monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    opened, port = [], free_port()

    def fake_run(server, sockets=None):
        assert sockets[0].getsockname()[1] == port  # bound before the server runs
        server.started = True
        time.sleep(0.3)  # the opener polls server.started

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    monkeypatch.setattr(playground_module.webbrowser, "open", opened.append)
    assert run_command(cli, ["playground", "--port", str(port)]) == 0
    assert opened == [f"http://127.0.0.1:{port}/"]
    assert f"http://127.0.0.1:{port}/" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_serves_the_api_and_stops_on_ctrl_c(tmp_path):
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environment["PYTHONPATH"] = os.pathsep.join([root, environment.get("PYTHONPATH", "")])
    process = subprocess.Popen([sys.executable, "-m", "backprop", "playground", "--port", str(port), "--no-browser"],
                               cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        deadline, options = time.monotonic() + 60, None
        while options is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/options", timeout=2) as response:
                    options = json.load(response)
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.2)
        assert options is not None and "datasets" in options
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert f"http://127.0.0.1:{port}/" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
