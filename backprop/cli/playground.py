"""``backprop playground``: serve the playground page on this machine and open it in a browser.

The web stack is the ``playground`` extra (Starlette and uvicorn); without it the command
says what to install, in one line. The socket is bound before anything is printed, so a
port in use is one ``error:`` line with exit status 2, like any other bad input.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
import webbrowser

import click

from backprop._install import install_hint
from backprop.cli.errors import CLIError

__all__ = ["playground_command", "PLAYGROUND_MODULES", "DEFAULT_PORT"]

PLAYGROUND_MODULES = ("starlette", "uvicorn")  # what the playground extra installs besides the cli extra
DEFAULT_PORT = 8000
_BROWSER_WAIT_S = 10.0  # open the page once the server accepts connections, or give up


def _missing(names) -> list:
    """The modules among ``names`` that cannot be imported, found without importing them.

    (As :func:`backprop.cli.entry.missing_modules`; importing it would make a cycle, since the
    entry module imports the command group.)
    """
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), IPv4 or IPv6 as the host resolves; CLIError if that fails."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        raise CLIError(f"cannot listen on {host!r}: {getattr(error, 'strerror', None) or error}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise CLIError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose another --port") from None
    return sock


def _open_when_started(server, url: str) -> None:
    deadline = time.monotonic() + _BROWSER_WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.started:
        webbrowser.open(url)


@click.command("playground")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="The port to serve the page on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (the default is this machine only).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a web browser.")
def playground_command(port: int, host: str, no_browser: bool) -> None:
    """Watch the library learn in your browser: data, network, training, and every δ of the four equations.

    Serves a local web page (it loads nothing from the internet) where you pick a 2-D
    dataset or upload a CSV, set up the network and its training, watch the decision
    boundary, every neuron and the loss curves change, step through one example with
    bp.trace, share the setup as a link and download the model for 'backprop predict'.
    Ctrl-C stops the server.
    """
    missing = _missing(PLAYGROUND_MODULES)
    if missing:
        raise CLIError(f"backprop playground needs the playground extra ({', '.join(missing)} "
                       f"{'is' if len(missing) == 1 else 'are'} not installed): {install_hint('playground')}")
    import uvicorn

    from backprop.playground.app import create_app

    sock = _listening_socket(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    click.echo(f"backprop playground: {url} (Ctrl-C stops it)", err=True)
    if not no_browser:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C and then raises the signal again for its caller:
        # stopping the server is what Ctrl-C is for here, not an error.
        pass
    finally:
        sock.close()
    click.echo("backprop playground: stopped", err=True)
