"""fit(distributed=True) on 2 ranks under mpiexec follows the one-process trajectory.

One ``mpiexec -n 2`` run trains every case of ``data_parallel_cases.py``; each case is then
trained here in one process with ``distributed=False`` and compared: the same weights and
history to rounding (the ranks' partial GEMMs add in another order than one GEMM over
the whole batch), and the two ranks bit for bit equal. Skipped without mpi4py or mpiexec,
except where ``BACKPROP_REQUIRE_MPI_TEST=1`` (CI, ``.ci/run``), where that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data_parallel_cases as cases

RANKS = 2
CASES_FILE = Path(__file__).with_name("data_parallel_cases.py")
# float32 (the default): rounding of 1e-7 per step compounds over five epochs of Adam.
TOLERANCE = {"float32": dict(rtol=1e-4, atol=1e-5)}
FLOAT64 = dict(rtol=1e-9, atol=1e-11)


def _mpiexec():
    """The mpiexec next to this interpreter (the MPICH wheel's), or on PATH; None if missing or no mpi4py."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _skip_or_fail(reason: str):
    if os.environ.get("BACKPROP_REQUIRE_MPI_TEST") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def ranks_out(tmp_path_factory):
    mpiexec = _mpiexec()
    if mpiexec is None:
        _skip_or_fail("mpi4py and mpiexec are not installed (pip install \"backprop-nn[mpi]\"; CI installs them)")
    out = tmp_path_factory.mktemp("ranks")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(cases.__file__).parent)] + sys.path),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    run = subprocess.run([mpiexec, "-n", str(RANKS), sys.executable, str(CASES_FILE), str(out)],
                         capture_output=True, text=True, timeout=180, env=env)
    assert run.returncode == 0, f"mpiexec failed:\n{run.stdout}\n{run.stderr}"
    return out


def _rank_results(out: Path, name: str) -> list:
    results = []
    for rank in range(RANKS):
        with np.load(out / f"{name}-rank{rank}.npz") as stored:
            assert int(stored["world"]) == RANKS
            results.append((stored["weights"], json.loads(str(stored["history"])), stored["raw"]))
    return results


@pytest.mark.parametrize("name", sorted(set(cases.CASES) - cases.RANDOM_PER_RANK - set(cases.FAILING)))
def test_two_ranks_follow_one_process_and_agree_bit_for_bit(ranks_out, name, tmp_path):
    ranks = _rank_results(ranks_out, name)
    model, history = cases.CASES[name](False, str(tmp_path))
    expected_weights = cases.weights_of(model)
    tolerance = TOLERANCE.get(model.parameters()[0].data.dtype.name, FLOAT64)
    for weights, logs, raw in ranks:
        assert raw.tobytes() == ranks[0][2].tobytes(), "the ranks' weights differ"
        assert logs == ranks[0][1], "the ranks' histories differ"
        np.testing.assert_allclose(weights, expected_weights, **tolerance)
        assert logs.keys() == history.history.keys()
        for key, values in history.history.items():
            np.testing.assert_allclose(logs[key], values, **tolerance, err_msg=key)
    assert not np.array_equal(expected_weights, cases.weights_of(cases._mlp("float64"))), "nothing was trained"


@pytest.mark.parametrize("name", sorted(cases.RANDOM_PER_RANK))
def test_ranks_that_draw_their_own_dropout_masks_still_agree_and_learn(ranks_out, name):
    ranks = _rank_results(ranks_out, name)
    for weights, logs, raw in ranks:
        assert raw.tobytes() == ranks[0][2].tobytes() and logs == ranks[0][1]
    losses = ranks[0][1]["loss"]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", sorted(cases.FAILING))
def test_ranks_whose_weights_drift_apart_fail_alike(ranks_out, name):
    for rank in range(RANKS):
        error = (ranks_out / f"{name}-rank{rank}.error").read_text()
        assert error.startswith(cases.FAILING[name]) and "the ranks' weights differ" in error, error


def test_only_rank_zero_writes_files_and_a_resumed_run_continues(ranks_out, tmp_path):
    lines = (ranks_out / "resume-dp.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss" and [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2", "3"]
    # the resumed run's epochs 3 and 4 follow the uninterrupted one-process run
    uninterrupted_model = cases._mlp("float64")
    X, y = cases._data(128)
    uninterrupted = uninterrupted_model.fit(X, y, loss="cross_entropy", epochs=4, batch_size=32, seed=0, verbose=0)
    logs = _rank_results(ranks_out, "resume")[0][1]
    np.testing.assert_allclose(logs["loss"], uninterrupted.history["loss"], **FLOAT64)


def test_the_command_line_trains_distributed_and_only_rank_zero_reports(ranks_out, tmp_path):
    command = ["-m", "backprop", "train", "--epochs", "2", "--json"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    ranks = subprocess.run([_mpiexec(), "-n", str(RANKS), sys.executable, *command, "--distributed",
                            "--out", "model.safetensors"],
                           capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert ranks.returncode == 0, ranks.stderr
    single = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    reported, expected = ranks.stdout.strip().splitlines(), json.loads(single.stdout)
    assert len(reported) == 1, "more than one rank reported"
    reported = json.loads(reported[0])
    assert reported["model_file"] == "model.safetensors" and (tmp_path / "model.safetensors").exists()
    for key in ("final_loss", "test_accuracy"):
        np.testing.assert_allclose(reported[key], expected[key], rtol=1e-3)
