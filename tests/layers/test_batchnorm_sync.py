"""BatchNorm over several ranks' shares of a batch equals BatchNorm over the whole batch.

The ranks are threads here, with a communicator that meets at a barrier (the layer's
synchronisation, :class:`~backprop.distributed.BatchSync`, is thread-local): each runs the
layer on its share of the rows with its share c_r of the cost J = Σ_r c_r J_r; the outputs,
the running statistics, c_r × each share's ∂J_r/∂x and Σ_r c_r ∂J_r/∂γ, ∂J_r/∂β must be the
whole batch's, in float64 to rounding. The test under ``mpiexec``
(tests/training/test_data_parallel.py) trains through it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from backprop import distributed, nn
from backprop.engine.tensor import Tensor


class ThreadComm:
    """The few MPI calls BatchSync makes, between threads: each puts its array, all read all."""

    def __init__(self, rank: int, size: int, shared: dict):
        self.rank, self.size, self.shared = rank, size, shared

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def _exchange(self, send) -> list:
        barrier, slots = self.shared["barrier"], self.shared["slots"]
        slots[self.rank] = np.array(send, copy=True)
        barrier.wait()
        arrays = list(slots)
        barrier.wait()  # (no rank overwrites its slot before all have read it)
        return arrays

    def Allgather(self, send, recv):
        recv[...] = np.stack(self._exchange(send)).reshape(recv.shape)

    def Allreduce(self, send, recv):
        arrays = self._exchange(send)
        total = arrays[0].copy()
        for array in arrays[1:]:
            total += array
        recv[...] = total


def _on_ranks(bounds, work):
    """Run work(rank, comm) on one thread per share; returns their results in rank order."""
    shared = {"barrier": threading.Barrier(len(bounds)), "slots": [None] * len(bounds)}
    results, errors = [None] * len(bounds), []

    def run(rank):
        try:
            results[rank] = work(rank, ThreadComm(rank, len(bounds), shared))
        except BaseException as error:  # noqa: BLE001 (re-raised in the test's thread)
            errors.append(error)
            shared["barrier"].abort()

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(len(bounds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return results


def _cost_weights(rows, n_features, seed=3):
    return np.random.default_rng(seed).normal(size=(rows, n_features))


def _layer(n_features):
    layer = nn.BatchNorm(n_features, dtype="float64")
    layer.gamma.data[...] = np.linspace(0.5, 1.5, n_features)
    layer.beta.data[...] = np.linspace(-1, 1, n_features)
    return layer


def _whole_batch(x, fused: bool):
    """(y, ∂J/∂x, ∂J/∂γ, ∂J/∂β, running mean, running var) for J = mean_i Σ_j R_ij y_ij."""
    layer = _layer(x.shape[1])
    R = _cost_weights(*x.shape)
    return _run(layer, x, R / x.shape[0], fused)


def _run(layer, x, delta, fused: bool):
    if fused:
        op = layer.fused_ops()[0]
        y = op.forward(x, None)
        grads = [np.empty_like(layer.gamma.data), np.empty_like(layer.beta.data)]
        dx = op.backward(delta.copy(), x, y, np.empty_like(x), None, grads)
        return y, dx, grads[0], grads[1], layer.running_mean.copy(), layer.running_var.copy()
    xt = Tensor(x.copy(), requires_grad=True)
    out = layer(xt)
    out.backward(delta)
    return (out.data, xt.grad, layer.gamma.grad, layer.beta.grad, layer.running_mean.copy(),
            layer.running_var.copy())


@pytest.mark.parametrize("fused", [False, True], ids=["engine", "fused"])
@pytest.mark.parametrize("cuts", [(5,), (1,), (4, 4), (0,)], ids=["5+7", "1+11", "4+0+8", "empty+12"])
def test_shares_on_synchronised_ranks_give_the_whole_batchs_normalisation_and_gradients(fused, cuts):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(12, 4))
    y, dx, dgamma, dbeta, mean, var = _whole_batch(x, fused)
    edges = np.cumsum((0,) + cuts + (12 - sum(cuts),))
    bounds = [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]
    R = _cost_weights(*x.shape)

    def work(rank, comm):
        lo, hi = bounds[rank]
        counted = hi > lo
        if not counted:
            lo, hi = 0, 1  # the stand-in row of an empty share
        share = (hi - lo) / 12 if counted else 0.0
        sync = distributed.BatchSync(comm, weight=share, counted=counted)
        with distributed.batch_statistics_sync(sync):
            # J_r = mean over the share's rows: δ = R / m_r
            return _run(_layer(x.shape[1]), x[lo:hi], R[lo:hi] / (hi - lo), fused) + (share, counted)

    results = _on_ranks(bounds, work)
    total_gamma, total_beta = np.zeros_like(dgamma), np.zeros_like(dbeta)
    for (lo, hi), (y_r, dx_r, dgamma_r, dbeta_r, mean_r, var_r, share, counted) in zip(bounds, results):
        np.testing.assert_allclose(mean_r, mean, rtol=1e-12)
        np.testing.assert_allclose(var_r, var, rtol=1e-12)
        if not counted:
            continue
        np.testing.assert_allclose(y_r, y[lo:hi], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(share * dx_r, dx[lo:hi], rtol=1e-10, atol=1e-13)
        total_gamma += share * dgamma_r
        total_beta += share * dbeta_r
    np.testing.assert_allclose(total_gamma, dgamma, rtol=1e-12)
    np.testing.assert_allclose(total_beta, dbeta, rtol=1e-12)


def test_a_batch_of_one_row_over_all_ranks_is_refused_as_in_one_process():
    x = np.ones((1, 3))

    def work(rank, comm):
        sync = distributed.BatchSync(comm, weight=1.0 if rank == 0 else 0.0, counted=rank == 0)
        with distributed.batch_statistics_sync(sync):
            _layer(3)(Tensor(x))

    with pytest.raises(ValueError, match="more than 1 value per feature, got 1 over all ranks"):
        _on_ranks([(0, 1), (1, 1)], work)
