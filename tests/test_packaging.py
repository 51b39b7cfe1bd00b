"""Packaging: the distribution name, ``python -m backprop``, missing extras, the wheel's contents.

The missing-extra tests hide a module the way an environment without it would:
``sys.modules[name] = None`` makes ``import name`` raise ImportError and
``importlib.util.find_spec(name)`` return None. In a child process this is set
by a ``sitecustomize`` module, which Python imports at start-up, so the command
is run exactly as a user runs it (``python -m backprop``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import backprop
from backprop._install import DISTRIBUTION, install_hint
from backprop.cli import entry

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_python(*args, hide=(), cwd=None) -> subprocess.CompletedProcess:
    """``python ARGS`` in a child process, with the modules in ``hide`` made unimportable."""
    environment = {key: value for key, value in os.environ.items() if key != "BACKPROP_DEBUG"}
    paths = [str(ROOT)] + [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    if hide:
        site_dir = Path(cwd) / "site"
        site_dir.mkdir()
        (site_dir / "sitecustomize.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in hide))
        paths.insert(0, str(site_dir))
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=120)


# ----------------------------------------------------------------------------- the name

def test_the_distribution_name_is_the_one_every_install_hint_spells():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert install_hint("cli") == f'pip install "{DISTRIBUTION}[cli]"'


def test_every_extra_the_code_or_readme_names_exists():
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    import re

    named = set()
    for match in re.finditer(rf'{re.escape(DISTRIBUTION)}\[([\w,]+)\]', readme):
        named.update(match[1].split(","))
    for path in (ROOT / "backprop").rglob("*.py"):
        named.update(re.findall(r"install_hint\(['\"](\w+)['\"]\)", path.read_text(encoding="utf-8")))
    assert named and named <= extras, sorted(named - extras)
    assert "pip install \"backprop[" not in readme and "pip install backprop[" not in readme


def test_the_readme_names_every_extra():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Install"):readme.index("## Quickstart")]
    missing = [e for e in PYPROJECT["project"]["optional-dependencies"] if f"`{e}`" not in section]
    assert not missing, f"README's Install section does not name the extras {missing}"


def test_the_extras_that_bundle_others_refer_to_this_distribution():
    for extra in ("all", "dev"):
        bundles = [r for r in PYPROJECT["project"]["optional-dependencies"][extra] if "[" in r]
        assert bundles and all(r.startswith(f"{DISTRIBUTION}[") for r in bundles)


def test_the_console_script_is_the_launcher_that_needs_no_click():
    assert PYPROJECT["project"]["scripts"]["backprop"] == "backprop.cli.entry:main"


# ----------------------------------------------------------------------------- python -m backprop

def test_python_dash_m_backprop_runs_the_command(tmp_path):
    for module in ("backprop", "backprop.cli"):
        result = run_python("-m", module, "--version", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert backprop.__version__ in result.stdout


# ----------------------------------------------------------------------------- missing extras

@pytest.mark.parametrize("hidden", [("click",), ("pandas",), ("click", "pandas")])
def test_without_the_cli_extra_the_command_names_it_in_one_line(tmp_path, hidden):
    result = run_python("-m", "backprop", "train", hide=hidden, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the backprop command needs the cli extra")
    assert line.endswith(install_hint("cli"))
    assert all(name in line for name in hidden)


def test_the_launcher_checks_the_extra_before_importing_click(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "click", None)
    with pytest.raises(SystemExit) as stopped:
        entry.main(["--help"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        f"error: the backprop command needs the cli extra (click is not installed): {install_hint('cli')}\n")


def test_the_launcher_runs_the_command_when_the_extra_is_there(capsys):
    pytest.importorskip("click")
    pytest.importorskip("pandas")
    with pytest.raises(SystemExit) as stopped:
        entry.main(["datasets", "--json"])
    assert stopped.value.code == 0
    assert '"datasets"' in capsys.readouterr().out


def test_the_cli_package_imports_without_click(tmp_path):
    result = run_python("-c", "import backprop, backprop.cli, backprop.cli.entry", hide=("click", "pandas"),
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_without_scikit_learn_importing_backprop_sklearn_names_the_extra(tmp_path):
    result = run_python("-c", "import backprop.sklearn", hide=("sklearn",), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"ImportError: backprop.sklearn needs scikit-learn, which is not installed: {install_hint('sklearn')}")
    assert "ModuleNotFoundError" not in result.stderr  # no chained traceback of the first failure


def test_import_backprop_needs_no_optional_dependency(tmp_path):
    optional = ("click", "pandas", "matplotlib", "sklearn", "scipy", "tqdm", "numba", "pyarrow", "torch")
    result = run_python("-c", "import backprop as bp; bp.plot; print('ok')", hide=optional, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


# ----------------------------------------------------------------------------- bp.plot

def test_bp_plot_is_there_after_import_backprop_and_loaded_on_first_use(tmp_path):
    code = ("import sys, backprop as bp; assert 'backprop.plot' not in sys.modules; "
            "assert 'plot' in dir(bp); f = bp.plot.gradient_norms; "
            "assert sys.modules['backprop.plot'] is bp.plot; print(f.__name__)")
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "gradient_norms\n"


def test_an_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'plott'"):
        backprop.plott  # noqa: B018


# ----------------------------------------------------------------------------- the wheel

def test_licence_and_typing_files_are_there_and_declared():
    project = PYPROJECT["project"]
    assert isinstance(project["license"], str)  # an SPDX expression, not the deprecated table
    for pattern in project["license-files"]:
        assert list(ROOT.glob(pattern)), pattern
    assert (ROOT / "backprop" / "py.typed").is_file()
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["backprop"]
    requires = PYPROJECT["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=") and int(r.split(">=")[1].split(".")[0]) >= 77
               for r in requires)  # 77 is the first setuptools that reads `license` as SPDX


@pytest.mark.slow
def test_the_wheel_holds_the_package_data_licences_and_metadata_and_builds_without_warnings(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} < 77 (the dev extra installs a newer one)")
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "*.safetensors"))
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c",
         "import setuptools.build_meta as b; print(b.build_wheel('wheelhouse'))"],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "deprecat" not in (result.stdout + result.stderr).lower(), result.stderr
    wheel = source / "wheelhouse" / result.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{dist_info}/METADATA").decode()
    assert dist_info.startswith(DISTRIBUTION.replace("-", "_") + "-")
    assert "backprop/py.typed" in names
    assert "backprop/datasets/data/LICENSE-scikit-learn.txt" in names
    assert {"iris.csv.gz", "digits.csv.gz"} <= {n.rsplit("/", 1)[-1] for n in names}
    static = {n.rsplit("/", 1)[-1] for n in names if n.startswith("backprop/playground/static/")}
    assert {"index.html", "playground.js", "playground.css"} <= static  # the playground's page
    assert f"{dist_info}/licenses/LICENSE" in names
    assert f"Name: {DISTRIBUTION}\n" in metadata
    assert f"License-Expression: {PYPROJECT['project']['license']}\n" in metadata
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
