"""bp.distributed in one process: a job of one rank, and the error that names the extra."""

from __future__ import annotations

import numpy as np
import pytest

import backprop as bp
from backprop import distributed, nn


def test_one_process_is_a_job_of_one_rank():
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    distributed.barrier()  # nothing to wait for
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(distributed.allreduce_sum(x), x)
    np.testing.assert_array_equal(distributed.allgather_rows(x), x)
    y = x.copy()
    assert distributed.broadcast(y) is y
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("n", [0, 1, 5, 32, 33])
@pytest.mark.parametrize("ranks", [1, 2, 3, 8])
def test_shard_bounds_cover_the_rows_in_order_with_sizes_differing_by_one_at_most(n, ranks):
    bounds = [distributed.shard_bounds(n, ranks, r) for r in range(ranks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(hi == next_lo for (_, hi), (next_lo, _) in zip(bounds, bounds[1:]))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


def test_distributed_fit_on_one_rank_is_the_ordinary_fit():
    X, y = _data()
    runs = []
    for flag in (False, True):
        bp.manual_seed(0)
        model = nn.Sequential(nn.Dense(3, 4, activation="relu"), nn.Dense(4, 2))
        history = model.fit(X, y, loss="cross_entropy", epochs=2, batch_size=8, seed=0, verbose=0,
                            distributed=flag)
        runs.append((np.concatenate([p.data.ravel() for p in model.parameters()]), history.history))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_without_mpi4py_distributed_fit_names_the_extra(monkeypatch):
    monkeypatch.setattr(distributed, "_comm", None)  # as if `import mpi4py` had failed
    assert distributed.world_size() == 1 and not distributed.available()
    model = nn.Sequential(nn.Dense(3, 2))
    X, y = _data()
    with pytest.raises(ModuleNotFoundError, match=r'pip install "backprop-nn\[mpi\]"'):
        model.fit(X, y, loss="cross_entropy", verbose=0, distributed=True)
    model.fit(X, y, loss="cross_entropy", verbose=0)  # the ordinary fit needs no MPI


def test_distributed_must_be_a_bool():
    model = nn.Sequential(nn.Dense(3, 2))
    X, y = _data()
    with pytest.raises(TypeError, match="distributed must be True or False"):
        model.fit(X, y, loss="cross_entropy", verbose=0, distributed="yes")
