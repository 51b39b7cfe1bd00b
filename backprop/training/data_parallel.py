"""Data-parallel training: K ranks train one model, each on its share of every mini-batch.

``fit(..., distributed=True)`` under ``mpiexec -n K`` (see :mod:`backprop.distributed`).
Every rank holds the whole dataset and the same model; the global batch of B rows
(``batch_size`` stays the global batch) is split into K contiguous shares of m_r rows.
The cost of the global batch is the (weighted) mean over all its rows, so it decomposes
over the ranks' shares:

    J = Σ_r c_r J_r,   c_r = m_r / B   (with sample weights: c_r = W_r / W, W = Σ w_i)

where J_r is rank r's cost on its own rows (its loss's mean and the regularisation
penalty, which is the same on every rank: Σ_r c_r = 1 counts it once). So
∂J/∂W = Σ_r c_r ∂J_r/∂W: each rank runs its ordinary training step on its rows, then
:class:`GradientReducer` adds up the c_r-weighted gradients with one ``MPI_Allreduce`` of
one flat buffer, in place (the fast path's packed gradient, :mod:`backprop.optim.packing`),
and the costs (and, when metrics are asked for, the batch's outputs) with one small one;
every rank then applies the same optimiser step to the same numbers. The trajectory is that of one process with
batch B up to rounding (a GEMM over B rows adds in another order than two over B/2 and
one addition); every rank holds the same bits, which :meth:`GradientReducer.check_in_sync`
verifies at each epoch's end.

Around the step:

* rank 0 draws each epoch's example order and broadcasts it (:class:`BroadcastOrder`);
  the other ranks' generators are split off by rank, so dropout masks differ per rank;
* rank 0's initial weights and buffers are broadcast at the start of the fit;
* batch normalisation averages its statistics over all ranks (:class:`BatchSync`);
* validation: each rank predicts its share of the validation rows, the outputs are
  gathered in order, and every rank computes the same loss and metrics;
* only rank 0 prints progress, writes the training-state checkpoint and runs the
  callbacks that write files (``main_rank_only``); every rank reads a checkpoint to resume.
"""

from __future__ import annotations

import zlib
from typing import Optional

import numpy as np

from backprop import distributed
from backprop import random as bp_random
from backprop.distributed import BatchSync, shard_bounds
from backprop.optim.packing import flat_base

__all__ = ["GradientReducer", "BroadcastOrder", "OutOfSyncError", "check_distributed", "start"]


class OutOfSyncError(RuntimeError):
    """The ranks' weights differ: their updates were not the same (another optimiser or model on some rank)."""


def check_distributed(distributed_flag) -> bool:
    """``distributed`` validated: a bool; True requires mpi4py (ModuleNotFoundError naming the extra)."""
    if not isinstance(distributed_flag, bool):
        raise TypeError(f"distributed must be True or False, got {distributed_flag!r}")
    if distributed_flag:
        distributed.require_mpi("fit(distributed=True)")
    return distributed_flag


def start(trainer) -> Optional["GradientReducer"]:
    """The reducer of a trainer's distributed fit, started; None unless it is one on K > 1 ranks.

    Raises (on every rank alike) a ValueError for a loss whose penalty depends on the
    batch's size (scikit-learn's α/(2n) Σ‖W‖², which one rank cannot compute for the
    global batch), and an :class:`OutOfSyncError` when the ranks resume from different
    epochs (a checkpoint that not every rank can read).
    """
    if not trainer.distributed or distributed.world_size() == 1:
        return None
    fused_loss = getattr(trainer.loss_fn, "fused_loss", None)
    if callable(fused_loss) and fused_loss().l2_coefficient is not None:
        raise ValueError("distributed=True: this loss's penalty depends on the batch size; use one of the "
                         "library's losses (with the layers' regularisers) for a distributed fit")
    reducer = GradientReducer(trainer.model)
    epochs = np.empty(reducer.size, dtype=np.int64)
    reducer.comm.Allgather(np.array([trainer.epoch], dtype=np.int64), epochs)
    if len(set(epochs.tolist())) != 1:
        raise OutOfSyncError(f"the ranks start from different epochs {epochs.tolist()}: the checkpoint must be "
                             "on a file system every rank reads (or on none)")
    reducer.order_rng = reducer.start(trainer.order_rng)
    reducer.with_outputs = bool(trainer.metrics)
    return reducer


class BroadcastOrder:
    """An ``order_rng`` whose ``permutation(n)`` is rank 0's draw, broadcast to every rank.

    Args:
        source: where rank 0 draws from (None: :mod:`backprop.random`'s generator at each draw).
    """

    def __init__(self, comm, source=None):
        self.comm, self.source = comm, source

    def permutation(self, n: int) -> np.ndarray:
        order = np.empty(n, dtype=np.int64)
        if self.comm.Get_rank() == 0:
            order[...] = (bp_random.get_rng() if self.source is None else self.source).permutation(n)
        self.comm.Bcast(order, root=0)
        return order


class GradientReducer:
    """One rank's side of data-parallel training; the trainer calls it around each step.

    The calls, per global batch [start, stop):

    1. :meth:`shard` → the rows this rank runs (its share, or a stand-in row when the
       share is empty) and the weights to run them with; sets c_r;
    2. the rank's ordinary forward, loss and backward on those rows (under
       :attr:`sync`, for batch normalisation);
    3. :meth:`reduce` after backward, before the optimiser step: every parameter's
       ``.grad`` becomes Σ_r c_r ∂J_r/∂W, and it returns the global cost J (and keeps
       the batch's outputs in :attr:`outputs`).
    """

    def __init__(self, model, comm=None):
        self.comm = distributed.require_mpi() if comm is None else comm
        self.size, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.model = model
        self.sync = BatchSync(self.comm)
        self.with_outputs = False
        self.outputs: Optional[np.ndarray] = None
        self._row = (0, 0, 0)  # (first row of the share in the batch, rows of the share, rows of the batch)
        self._buffers = {}     # name -> a reused flat array (see _buffer)
        self.order_rng: Optional[BroadcastOrder] = None  # set by start()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def batch_statistics(self):
        """The block in which batch normalisation averages over all ranks (the training epochs)."""
        return distributed.batch_statistics_sync(self.sync)

    # ------------------------------------------------------------ start
    def start(self, order_source=None) -> BroadcastOrder:
        """At the start of a fit: broadcast rank 0's weights and buffers, split the random streams.

        Returns the ``order_rng`` the epochs must draw their example order from.
        """
        for p in self.model.parameters():
            distributed.broadcast(_owned(p, "data"))
        for module in self.model.modules():
            for name, value in list(module._buffers.items()):  # (this module's own: each once)
                if isinstance(value, np.ndarray):
                    array = np.array(value, order="C")  # (a copy; 0-d stays 0-d)
                    distributed.broadcast(array)
                    setattr(module, name, array)
        if self.rank:  # a stream of its own for dropout and the like, derived from the seeded one
            words = np.frombuffer(zlib.crc32(repr(bp_random.get_state()).encode()).to_bytes(4, "little"),
                                  dtype=np.uint32)
            generator = np.random.default_rng([int(words[0]), self.rank])
            bp_random.set_state(generator.bit_generator.state)
        return BroadcastOrder(self.comm, order_source)

    def finish(self) -> None:
        """At the end of a fit: wait until rank 0 has written its files."""
        self.comm.Barrier()

    # ------------------------------------------------------------ a step
    def shard(self, start: int, stop: int, weight: Optional[np.ndarray]) -> tuple:
        """``(lo, hi, weights)``: the rows of [start, stop) this rank runs, and their weights.

        ``weights`` is the slice of ``weight`` (or None), except where the share weighs 0
        (it then runs with ones: its gradient is multiplied by c_r = 0, and the loss must
        not divide by Σw = 0). An empty share runs a stand-in row, not counted in batch
        statistics.
        """
        b = stop - start
        lo, hi = shard_bounds(b, self.size, self.rank)
        self._row = (lo, hi - lo, b)
        lo, hi = start + lo, start + hi
        if weight is None:
            share = (hi - lo) / b
            weights = None
        else:
            total = float(weight[start:stop].sum(dtype=np.float64))
            own = float(weight[lo:hi].sum(dtype=np.float64))
            share = own / total if total > 0 else 0.0
            weights = weight[lo:hi]
        counted = hi > lo
        if not counted:
            lo, hi = start, start + 1
            weights = None if weight is None else np.ones(1, dtype=weight.dtype)
        elif weight is not None and share == 0.0:
            weights = np.ones(hi - lo, dtype=weight.dtype)
        self.sync.weight, self.sync.counted = share, counted
        return lo, hi, weights

    def reduce(self, cost: float, outputs: Optional[np.ndarray]) -> float:
        """Sum the ranks' c_r-weighted gradients into every ``.grad``; return the global cost J.

        The gradient: one ``MPI_Allreduce`` of c_r g, in place in the fast path's flat
        gradient array (else through one packed copy of the parameters' gradients). Then
        one small one of [c_r J_r, this rank's outputs in its rows of the batch and zeros
        elsewhere]: J and the whole batch's outputs (x + 0 = x exactly), which
        :attr:`outputs` then holds.
        """
        params = self._trained_params()
        c = self.sync.weight
        grads = [p.grad for p in params]
        flat = flat_base(params, lambda p: p.grad) if params else None
        if flat is None and grads:  # (the engine's gradients: separate arrays)
            flat = self._buffer("gradient", sum(g.size for g in grads), grads[0].dtype)
            offset = 0
            for g in grads:
                flat[offset:offset + g.size] = g.reshape(-1)
                offset += g.size
        if flat is not None:
            if c == 0:
                flat.fill(0)  # (0 × a stand-in's finite gradient is ±0; no NaN can pass)
            elif c != 1:
                np.multiply(flat, c, out=flat)
            distributed.allreduce_sum(flat, flat)
            if flat.base is not None and flat.base is self._buffers.get("gradient"):
                offset = 0
                for g in grads:
                    np.copyto(g, flat[offset:offset + g.size].reshape(g.shape))
                    offset += g.size
        first, rows, batch = self._row
        row_size = 0
        if self.with_outputs and outputs is not None:
            row_size = int(np.prod(outputs.shape[1:], dtype=np.int64))
        # float64: the cost as precise as one process's; float32 outputs pass through it exactly
        tail = self._buffer("tail", 1 + batch * row_size, np.float64)
        tail[0] = c * cost if c else 0.0
        if row_size:
            block = tail[1:].reshape((batch,) + outputs.shape[1:])
            block.fill(0)
            if self.sync.counted:
                block[first:first + rows] = outputs
        distributed.allreduce_sum(tail, tail)
        if row_size:
            shape = (batch,) + outputs.shape[1:]
            kept = self.outputs
            if kept is None or kept.shape != shape or kept.dtype != outputs.dtype:
                kept = self.outputs = np.empty(shape, outputs.dtype)
            kept[...] = tail[1:].reshape(shape)
        return float(tail[0])

    def gather_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The batch's outputs from each rank's share (a step without a gradient: all weights 0)."""
        first, rows, batch = self._row
        block = np.zeros((batch,) + outputs.shape[1:], dtype=outputs.dtype)
        if self.sync.counted:
            block[first:first + rows] = outputs
        return distributed.allreduce_sum(block)

    def _trained_params(self) -> list:
        """The parameters with a gradient this step (the same on every rank: the same model)."""
        return [p for p in self.model.parameters() if p.grad is not None]

    def _buffer(self, name: str, size: int, dtype) -> np.ndarray:
        """A reused flat array of ``size`` elements (a prefix of one kept under ``name``, grown as needed)."""
        kept = self._buffers.get(name)
        if kept is None or kept.size < size or kept.dtype != dtype:
            kept = self._buffers[name] = np.empty(size, dtype)
        return kept[:size]

    # ----------------------------------------------------- evaluation
    def predict_rows(self, predict, X: np.ndarray) -> np.ndarray:
        """``predict(X)`` computed as each rank's share of the rows, gathered in order on every rank."""
        n = X.shape[0]
        if n < self.size:
            return predict(X)
        lo, hi = shard_bounds(n, self.size, self.rank)
        return distributed.allgather_rows(np.ascontiguousarray(predict(X[lo:hi])))

    # ------------------------------------------------- consistency check
    def check_in_sync(self, epoch: int) -> None:
        """Raise :class:`OutOfSyncError` on every rank unless all ranks hold the same weights (bit for bit)."""
        digest = 0
        for p in self.model.parameters():
            digest = zlib.crc32(np.ascontiguousarray(p.data).view(np.uint8), digest)
        digests = np.empty(self.size, dtype=np.int64)
        self.comm.Allgather(np.array([digest], dtype=np.int64), digests)
        digests = digests.tolist()
        if len(set(digests)) != 1:
            raise OutOfSyncError(
                f"after epoch {epoch + 1} the ranks' weights differ (checksums {digests}): every rank must "
                "run the same script: the same model, optimiser and hyper-parameters, and the same data")


def _owned(p, attribute: str) -> np.ndarray:
    """``p.data``, made C-contiguous in place if it is not (a broadcast writes into it)."""
    array = getattr(p, attribute)
    if not array.flags.c_contiguous or not array.flags.writeable:
        array = np.ascontiguousarray(array).copy()
        setattr(p, attribute, array)
    return array
