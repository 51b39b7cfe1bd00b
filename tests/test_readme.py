"""Every example in README.md runs, and the output it shows is the output it gives.

How README.md's fenced blocks are read (keep to this when you edit the README):

* ``python`` blocks run in document order, as written, in one namespace, in a
  fresh Python process whose current directory is an empty temporary folder.
  A block with no language (or ``text``) right after a python block is what that
  block prints on stdout, and is compared with it.
* ``console``/``sh``/``bash``/``shell`` blocks: each line that starts with ``$ ``
  is a command (a line ending in ``\\`` goes on to the next line). Commands run
  in document order, one ``bash -c`` each, in one shared temporary folder (so a
  file one command writes is there for the next), with ``backprop`` meaning
  ``python -m backprop`` of the interpreter running the tests. Each must exit 0.
  The lines after a command, up to the next ``$ ``, are what it prints, stdout
  and stderr together as a terminal shows them. A command with no lines after it
  is run but its output is not compared. A block without any ``$ `` line is a
  list of commands that is not run (the Quickstart's ``make train``/``make test``,
  which would build a virtual environment and run this very suite).
* Output is compared line by line, trailing spaces ignored, exactly except that:
  - a line ``...`` stands for any number of lines: output shown in part, and the
    README says so where it cuts;
  - durations (``in 1.0 s``, ``12 ms``) are not compared;
  - a decimal number agrees when it is within half a unit of its last shown
    decimal, counting at most 4 decimals: ``0.9697304672890188`` is checked as
    0.9697 ± 0.00005, so a BLAS or compiled kernel that rounds differently passes,
    and a changed result does not. Integers and text must be equal.
* A block in any other language fails the test unless it is listed in
  ``NOT_RUN`` below, so that no new example can go untested by accident.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

PYTHON = ("python", "py")
CONSOLE = ("console", "sh", "bash", "shell")
OUTPUT = ("", "text")  # the output of the python block just before
NOT_RUN = ("toml", "json", "ini")  # shown, not run: file contents
PROMPT = "$ "
ELLIPSIS = "..."
MAX_DECIMALS = 4

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_DURATION = re.compile(r"\b\d+(?:\.\d+)? ?(?:s|ms|µs)(?![\w])")


@dataclass
class Block:
    language: str
    text: str
    line: int  # of the first line inside the fence, 1-based

    def where(self) -> str:
        return f"README.md:{self.line}"


def read_blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        language = opening["info"].strip().split(" ")[0].lower()
        blocks.append(Block(language, "\n".join(body) + "\n", i + 2))
        i = j + 1
    return blocks


# ----------------------------------------------------------------------------- comparing output

def _number_agrees(expected: str, actual: str) -> bool:
    if "." not in expected or "." not in actual or "e" in expected.lower() or "e" in actual.lower():
        return expected == actual
    decimals = min(len(expected.split(".")[1]), MAX_DECIMALS)
    return abs(float(expected) - float(actual)) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9)


def line_agrees(expected: str, actual: str) -> bool:
    """One line of shown output against one printed line, by the rules in the module docstring."""
    expected, actual = (_DURATION.sub("<duration>", s.rstrip()) for s in (expected, actual))
    if _NUMBER.split(expected) != _NUMBER.split(actual):
        return False
    return all(_number_agrees(e, a) for e, a in zip(_NUMBER.findall(expected), _NUMBER.findall(actual)))


def output_agrees(expected: list[str], actual: list[str]) -> bool:
    """Shown lines against printed lines; a shown ``...`` line stands for any number of lines."""
    while actual and not actual[-1].strip():
        actual = actual[:-1]
    while expected and not expected[-1].strip():
        expected = expected[:-1]

    @functools.lru_cache(maxsize=None)
    def agrees(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == ELLIPSIS:
            return any(agrees(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and line_agrees(expected[i], actual[j]) and agrees(i + 1, j + 1)

    return agrees(0, 0)


def assert_output(where: str, what: str, expected: str, actual: str) -> None:
    if not output_agrees(expected.splitlines(), actual.splitlines()):
        pytest.fail(f"{where}: the output of\n{textwrap.indent(what.rstrip(), '    ')}\nis not the one the "
                    f"README shows.\n--- README shows:\n{expected.rstrip()}\n--- it printed:\n{actual.rstrip()}",
                    pytrace=False)


# ----------------------------------------------------------------------------- the blocks

def _blocks() -> list[Block]:
    return read_blocks(README.read_text(encoding="utf-8"))


def python_examples(blocks: list[Block]) -> list[tuple[Block, Block | None]]:
    """Each python block with the output block that follows it (or None)."""
    examples = []
    for k, block in enumerate(blocks):
        if block.language in PYTHON:
            following = blocks[k + 1] if k + 1 < len(blocks) else None
            examples.append((block, following if following and following.language in OUTPUT else None))
    return examples


@dataclass
class Command:
    command: str
    expected: str | None  # None: output not compared
    where: str


def console_commands(blocks: list[Block]) -> list[Command]:
    commands = []
    for block in blocks:
        if block.language not in CONSOLE:
            continue
        lines = block.text.splitlines()
        k = 0
        while k < len(lines):
            if not lines[k].startswith(PROMPT):
                k += 1
                continue
            start, command = k, lines[k][len(PROMPT):]
            while command.endswith("\\") and k + 1 < len(lines):
                k += 1
                command += "\n" + lines[k]
            shown = []
            k += 1
            while k < len(lines) and not lines[k].startswith(PROMPT):
                shown.append(lines[k])
                k += 1
            expected = "\n".join(shown) if any(line.strip() for line in shown) else None
            commands.append(Command(command, expected, f"README.md:{block.line + start}"))
    return commands


def test_every_block_is_in_a_language_the_harness_runs_or_knowingly_skips():
    known = PYTHON + CONSOLE + OUTPUT + NOT_RUN
    unknown = [f"{b.where()} ({b.language!r})" for b in _blocks() if b.language not in known]
    assert not unknown, f"blocks in a language tests/test_readme.py neither runs nor skips: {unknown}"
    assert python_examples(_blocks()) and console_commands(_blocks())


# ----------------------------------------------------------------------------- python

# Runs the blocks in a child process, so that what they change (the default dtype,
# the seed, the current directory) cannot leak into other tests. Each block is
# compiled under its README line numbers, so a traceback points into the README.
_RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
results = []
for block in blocks:
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            exec(compile("\n" * (block["line"] - 1) + block["text"], "README.md", "exec"), namespace)
    except BaseException:
        results.append({"stdout": captured.getvalue(), "error": traceback.format_exc()})
        break
    results.append({"stdout": captured.getvalue(), "error": None})
json.dump(results, open(sys.argv[2], "w", encoding="utf-8"))
"""


@pytest.mark.slow
def test_python_examples_run_in_order_and_print_what_the_readme_shows(tmp_path):
    examples = python_examples(_blocks())
    blocks_file, results_file = tmp_path / "blocks.json", tmp_path / "results.json"
    blocks_file.write_text(json.dumps([{"line": b.line, "text": b.text} for b, _ in examples]))
    workdir = tmp_path / "work"
    workdir.mkdir()
    environment = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    environment["MPLBACKEND"] = "Agg"
    process = subprocess.run([sys.executable, "-c", _RUNNER, str(blocks_file), str(results_file)],
                             cwd=workdir, env=environment, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    results = json.loads(results_file.read_text())
    for (block, output), result in zip(examples, results):
        if result["error"]:
            pytest.fail(f"{block.where()}: the example fails:\n{result['error']}", pytrace=False)
        if output is not None:
            assert_output(block.where(), block.text, output.text, result["stdout"])
    assert len(results) == len(examples)


# ----------------------------------------------------------------------------- console

@pytest.fixture
def shell_environment(tmp_path) -> dict:
    """PATH with a ``backprop`` that is ``python -m backprop`` of this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "backprop"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m backprop "$@"\n')
    launcher.chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
    environment["MPLBACKEND"] = "Agg"
    return environment


@pytest.mark.slow
def test_console_examples_run_in_order_and_print_what_the_readme_shows(tmp_path, shell_environment):
    workdir = tmp_path / "work"
    workdir.mkdir()
    for command in console_commands(_blocks()):
        process = subprocess.run(["bash", "-c", command.command], cwd=workdir, env=shell_environment,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        if process.returncode != 0:
            pytest.fail(f"{command.where}: '{command.command}' exits {process.returncode}:\n{process.stdout}",
                        pytrace=False)
        if command.expected is not None:
            assert_output(command.where, command.command, command.expected, process.stdout)


# ----------------------------------------------------------------------------- the harness itself

def test_blocks_are_read_with_their_language_and_line():
    text = "intro\n\n```python\nx = 1\n```\n\n```\n1\n```\n\n```console\n$ echo hi\nhi\n```\n"
    blocks = read_blocks(text)
    assert [(b.language, b.line) for b in blocks] == [("python", 4), ("", 8), ("console", 12)]
    [(code, output)] = python_examples(blocks)
    assert code.text == "x = 1\n" and output.text == "1\n"


def test_commands_take_continuation_lines_and_their_shown_output():
    block = Block("console", "$ a \\\n    --b\nout 1\nout 2\n$ c   # nothing shown\n", 10)
    first, second = console_commands([block])
    assert first.command == "a \\\n    --b" and first.expected == "out 1\nout 2" and first.where == "README.md:10"
    assert second.command == "c   # nothing shown" and second.expected is None


@pytest.mark.parametrize("expected, actual, agrees", [
    ("test r2: 0.9697", "test r2: 0.9697", True),
    ("test r2: 0.9697", "test r2: 0.9800", False),  # the stale output of issue 16
    ('{"r2": 0.9697304672890188}', '{"r2": 0.9697000000000001}', True),  # 4 decimals checked
    ('{"r2": 0.9697304672890188}', '{"r2": 0.98001}', False),
    ("loss 0.0042", "loss 0.0043", False),
    ("1797 rows", "1798 rows", False),
    ("trained: 20 epochs in 1.0 s", "trained: 20 epochs in 12.3 s", True),
    ("trained: 20 epochs in 1.0 s", "trained: 21 epochs in 1.0 s", False),
    ("(1) < 1e-14", "(1) < 1e-13", False),
    ("saved: a.safetensors", "saved: b.safetensors", False),
    ("value  ", "value", True),
])
def test_a_shown_line_agrees_with_a_printed_line_by_the_documented_rules(expected, actual, agrees):
    assert line_agrees(expected, actual) is agrees


def test_an_ellipsis_line_stands_for_any_number_of_lines():
    assert output_agrees(["a", "...", "z"], ["a", "z"])
    assert output_agrees(["a", "...", "z"], ["a", "b", "c", "z"])
    assert not output_agrees(["a", "...", "z"], ["a", "b"])
    assert not output_agrees(["a", "z"], ["a", "b", "z"])  # no silent cuts
    assert not output_agrees(["a"], ["a", "b"])
