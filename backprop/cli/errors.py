"""How the ``backprop`` command fails: one line on stderr, a meaningful exit status, no traceback.

Exit status:

* 0: success.
* 2: the user's input is wrong — a bad option value or usage (Click's own
  errors), a missing or unreadable file, a missing column, a file that is not a
  backprop model, bad data (``ValueError``, ``OSError``, :class:`CLIError`).
* 1: anything unexpected (a bug): still one line, ``error: <Type>: <message>``.
* 130: interrupted with Ctrl-C.

Set the environment variable ``BACKPROP_DEBUG=1`` to let exceptions propagate
with their full traceback instead.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

__all__ = ["CLIError", "USAGE_ERROR", "UNEXPECTED_ERROR", "one_line", "run_command"]

USAGE_ERROR = 2
UNEXPECTED_ERROR = 1
INTERRUPTED = 130

# Click >= 8.2 raises this for a bare ``backprop``; older versions print the help themselves.
_NoArgsIsHelpError = getattr(click.exceptions, "NoArgsIsHelpError", ())


class CLIError(click.ClickException):
    """A problem with the user's input that a command detected itself; exit status 2."""

    exit_code = USAGE_ERROR


def one_line(message) -> str:
    """Collapse a message, however many lines it spans, into one line."""
    return " ".join(str(message).split())


def _describe(error: BaseException) -> tuple[str, int]:
    """The one-line message and the exit status for an exception out of a command."""
    if isinstance(error, click.UsageError):
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        return error.format_message() + hint, error.exit_code
    if isinstance(error, click.ClickException):
        return error.format_message(), error.exit_code
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        # "[Errno 2] No such file or directory: 'x.csv'" -> "No such file or directory: x.csv"
        return f"{error.strerror}: {error.filename}", USAGE_ERROR
    if isinstance(error, (ValueError, OSError, ImportError)):  # ModelFileError is a ValueError;
        # ImportError: an optional dependency the input needs (pyarrow for Parquet)
        return str(error) or type(error).__name__, USAGE_ERROR
    return f"{type(error).__name__}: {error}", UNEXPECTED_ERROR


def _show_warning_on_one_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {one_line(message)}", file=sys.stderr if file is None else file)


def run_command(command: click.Command, argv: list[str] | None = None) -> int:
    """Run a Click command the way the console script does and return its exit status.

    Click's standalone mode prints multi-line usage errors and lets other
    exceptions escape with a traceback; here every failure becomes the single
    line ``error: <message>`` on stderr (see the module docstring for the exit
    status). Warnings are shown as one ``warning: ...`` line each.
    """
    debug = os.environ.get("BACKPROP_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning_on_one_line
            result = command.main(args=argv, prog_name="backprop", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except _NoArgsIsHelpError as error:  # plain ``backprop``: show the help
        click.echo(error.ctx.get_help())
        return 0
    except click.exceptions.Exit as error:  # --help, --version
        return error.exit_code
    except click.Abort:
        click.echo("error: aborted", err=True)
        return UNEXPECTED_ERROR
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return INTERRUPTED
    except BrokenPipeError:
        # stdout was closed early (``backprop predict ... | head``): not an error of ours.
        # Point stdout at /dev/null so that flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return UNEXPECTED_ERROR
    except Exception as error:
        if debug:
            raise
        message, status = _describe(error)
        click.echo(f"error: {one_line(message)}", err=True)
        return status
