"""Data-parallel training over MPI: the processes of one job, and what they exchange.

Under ``mpiexec -n K python train.py`` (or ``srun`` under Slurm) K processes, the *ranks*
0..K−1, run the same script. ``fit(..., distributed=True)`` then trains one model on all of
them (:mod:`backprop.training.data_parallel`): each rank computes the gradient on its
share of every mini-batch, and the ranks add their shares up with MPI, so that every
rank applies the same update. This module is the thin layer over `mpi4py
<https://mpi4py.readthedocs.io>`_ that the training loop and users share:

* :func:`rank`, :func:`world_size`, :func:`is_main`, :func:`barrier`: who am I, how many
  are we, am I rank 0 (the one that logs and writes files), wait for everyone;
* :func:`allreduce_sum`, :func:`allgather_rows`, :func:`broadcast`: the collective
  operations the trainer uses, on NumPy arrays (no pickling);
* :func:`shard_bounds`: which rows of a batch of n rows a rank takes;
* :func:`batch_statistics_sync`: the thread-local switch under which
  :class:`~backprop.nn.BatchNorm` computes its batch statistics over all ranks.

mpi4py is imported on first use, never by ``import backprop``. Without it, or in a
process not started by an MPI launcher (MPI then runs as a "singleton" of one), the job
has one rank: ``world_size() == 1``, ``rank() == 0``, ``is_main()`` is True and the
collectives return their input, so a script written for K ranks runs unchanged on one.
Only :func:`require_mpi` (which ``fit(distributed=True)`` calls) insists on mpi4py,
naming the extra that installs it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Optional

import numpy as np

from backprop._install import install_hint

__all__ = ["rank", "world_size", "is_main", "barrier", "available", "require_mpi", "allreduce_sum",
           "allgather_rows", "broadcast", "shard_bounds", "BatchSync", "batch_statistics_sync",
           "current_batch_sync", "MPI_EXTRA"]

MPI_EXTRA = "mpi"  # the optional extra with mpi4py and the MPICH wheel

_UNSET = object()
_comm = _UNSET  # the world communicator, or None without mpi4py (looked up once)


def _world():
    """mpi4py's COMM_WORLD, or None when mpi4py is not installed."""
    global _comm
    if _comm is _UNSET:
        try:
            from mpi4py import MPI  # initialises MPI (a singleton of one outside a launcher)
        except ImportError:
            _comm = None
        else:
            _comm = MPI.COMM_WORLD
    return _comm


def available() -> bool:
    """Whether mpi4py (and so an MPI library) can be imported."""
    return _world() is not None


def require_mpi(what: str = "distributed training"):
    """The world communicator; raises ModuleNotFoundError naming the extra when mpi4py is missing."""
    comm = _world()
    if comm is None:
        raise ModuleNotFoundError(
            f"{what} needs mpi4py and an MPI library: {install_hint(MPI_EXTRA)} "
            "(mpi4py with the MPICH wheel; no system MPI needed)", name="mpi4py")
    return comm


def world_size() -> int:
    """K, the number of ranks in the job (1 without mpi4py or outside an MPI launcher)."""
    comm = _world()
    return 1 if comm is None else comm.Get_size()


def rank() -> int:
    """This process's rank, 0..K−1 (0 without mpi4py or outside an MPI launcher)."""
    comm = _world()
    return 0 if comm is None else comm.Get_rank()


def is_main() -> bool:
    """Whether this is rank 0, the rank that logs, saves and writes checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank has called ``barrier()`` (nothing to wait for with one rank)."""
    comm = _world()
    if comm is not None and comm.Get_size() > 1:
        comm.Barrier()


def _contiguous(array: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
        raise TypeError(f"{name} must be a C-contiguous NumPy array")
    return array


def allreduce_sum(send: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The elementwise sum over ranks of ``send``, on every rank, into ``out`` (a new array by default;
    ``out=send`` sums in place, without a copy: ``MPI_IN_PLACE``).

    One ``MPI_Allreduce``. MPI adds pairs (a + b = b + a exactly in IEEE arithmetic) and
    sends each block's sum to every rank, so every rank receives the same bits, and a run
    repeats bit for bit (the algorithm depends only on K and the array's size).
    """
    _contiguous(send, "send")
    if out is None:
        out = np.empty_like(send)
    comm = _world()
    if comm is None or comm.Get_size() == 1:
        if out is not send:
            np.copyto(out, send)
        return out
    if out is send:
        from mpi4py import MPI

        comm.Allreduce(MPI.IN_PLACE, out)  # (the default op is MPI.SUM)
    else:
        comm.Allreduce(send, out)
    return out


def allgather_rows(local: np.ndarray, row_shape: Optional[tuple] = None) -> np.ndarray:
    """The ranks' arrays stacked along axis 0 in rank order, on every rank (``MPI_Allgatherv``).

    Args:
        local: this rank's rows, (m_r, ...); any m_r, 0 included.
        row_shape: the shape of one row, for a rank with 0 rows whose array has none to
            tell (default: ``local.shape[1:]``).
    """
    local = np.ascontiguousarray(local)
    comm = _world()
    if comm is None or comm.Get_size() == 1:
        return local.copy()
    row_shape = tuple(local.shape[1:] if row_shape is None else row_shape)
    per_row = int(np.prod(row_shape, dtype=np.int64))
    counts = np.empty(comm.Get_size(), dtype=np.int64)
    comm.Allgather(np.array([local.shape[0]], dtype=np.int64), counts)
    out = np.empty((int(counts.sum()),) + row_shape, dtype=local.dtype)
    sizes = counts * per_row
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    comm.Allgatherv(local, [out, (sizes.tolist(), offsets.tolist())])
    return out


def broadcast(array: np.ndarray, root: int = 0) -> np.ndarray:
    """Overwrite ``array`` (in place, on every rank) with rank ``root``'s; returns it."""
    _contiguous(array, "array")
    comm = _world()
    if comm is not None and comm.Get_size() > 1:
        comm.Bcast(array, root=root)
    return array


def shard_bounds(n: int, ranks: int, which: int) -> tuple:
    """``(lo, hi)``: the rows ``which`` takes of n rows split over ``ranks`` ranks.

    Contiguous, in rank order, sizes differing by at most one (⌊n r/K⌋ to ⌊n (r+1)/K⌋);
    a rank's share is empty when n < K.
    """
    return (n * which) // ranks, (n * (which + 1)) // ranks


# ----------------------------------------------------- synchronised batch statistics
class BatchSync:
    """What a layer that normalises over the batch needs to do so over all ranks' rows.

    The training loop holds one for the duration of a distributed fit and updates it at
    each step (:mod:`backprop.training.data_parallel`).

    Attributes:
        comm: the communicator.
        weight: c_r, this rank's share of the global batch's cost: J = Σ_r c_r J_r
            (m_r/B, or W_r/W with sample weights). A layer's backward pass through the
            statistics adds up c_r-weighted sums across ranks.
        counted: False when this rank's rows are a stand-in (its share of the batch is
            empty): they are normalised but not counted in the statistics.
    """

    __slots__ = ("comm", "weight", "counted")

    def __init__(self, comm, weight: float = 1.0, counted: bool = True):
        self.comm, self.weight, self.counted = comm, float(weight), bool(counted)

    def combine_moments(self, m: int, mean: np.ndarray, m2: np.ndarray) -> tuple:
        """(M, μ, Σ(x − μ)²) of all ranks' rows from each rank's (m_r, μ_r, Σ(x − μ_r)²).

        The ranks' values are gathered and combined in rank order (Chan et al.'s parallel
        variance: μ = Σ m_r μ_r / M, M2 = Σ M2_r + m_r (μ_r − μ)²), which is stable where
        sum-of-squares minus squared sum is not, and gives every rank the same bits.
        """
        if not self.counted:
            m, mean, m2 = 0, np.zeros_like(mean), np.zeros_like(m2)
        c = mean.size
        local = np.empty(2 * c + 1, dtype=np.float64)
        local[0], local[1:c + 1], local[c + 1:] = m, mean.reshape(-1), m2.reshape(-1)
        rows = np.empty((self.comm.Get_size(), local.size), dtype=np.float64)
        self.comm.Allgather(local, rows)
        counts, means, m2s = rows[:, 0], rows[:, 1:c + 1], rows[:, c + 1:]
        total = counts.sum()
        if total == 0:
            raise ValueError("BatchNorm: a batch with no rows on any rank")
        mu = (counts[:, None] * means).sum(axis=0) / total
        spread = m2s.sum(axis=0) + (counts[:, None] * (means - mu) ** 2).sum(axis=0)
        return int(total), mu.astype(mean.dtype).reshape(mean.shape), spread.astype(m2.dtype).reshape(m2.shape)

    def sum_scaled(self, *sums: np.ndarray) -> list:
        """Σ_r c_r s_r for each of the arrays s (this rank's s_r), divided by this rank's c_r.

        A layer's backward pass runs in units of this rank's own cost J_r (δ = ∂J_r/∂z);
        ∂J/∂y = c_r ∂J_r/∂y, so the global sums are Σ_r c_r s_r, and back in J_r units
        they are that over c_r. A rank with c_r = 0 contributes nothing and gets zeros
        (its gradient is multiplied by 0 anyway).
        """
        flat = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in sums])
        flat *= self.weight
        total = np.empty_like(flat)
        self.comm.Allreduce(flat, total)
        if self.weight == 0:
            total.fill(0)
        else:
            total /= self.weight
        out, offset = [], 0
        for s in sums:
            out.append(total[offset:offset + s.size].astype(s.dtype).reshape(s.shape))
            offset += s.size
        return out


_local = threading.local()


def current_batch_sync() -> Optional[BatchSync]:
    """The :class:`BatchSync` this thread's training step runs under, or None (statistics of the rank's rows)."""
    return getattr(_local, "sync", None)


@contextmanager
def batch_statistics_sync(sync: Optional[BatchSync]):
    """Within the block, this thread's batch-normalising layers use ``sync`` (None: local statistics)."""
    previous = current_batch_sync()
    _local.sync = sync
    try:
        yield sync
    finally:
        _local.sync = previous
