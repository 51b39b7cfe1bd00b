"""The proof: training on a table ten times larger than a memory cap stays under the cap.

A child process trains one epoch on a Parquet file through ``bp.data.ParquetBatches`` and
reports its resident memory: after the imports and a one-batch warm-up (the baseline:
Python, NumPy, pyarrow's Parquet reader and backprop's compiled kernels, whose code pages
count in RSS once touched, whatever the data's size) and its peak while training (VmHWM,
reset after the warm-up through /proc/self/clear_refs: ``ru_maxrss`` would keep numba's
compile-time peak, which varies from run to run and is no cost of the data; it is reported too). What training adds, peak − baseline, must stay
under the cap, while the table's features alone (float32) are ten times the cap. RSS is
measured rather than capped with RLIMIT_AS: NumPy, BLAS and pyarrow reserve virtual
memory that they never touch. The figures are printed (``pytest -s``) for the record.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

CAP_BYTES = 40 * 2**20
N_FEATURES = 40
ROWS = 10 * CAP_BYTES // (4 * N_FEATURES) + 1  # float32 features: just over 10 × the cap
ROW_GROUP = 20_000

CHILD = r"""
import json, resource, sys, time

def rss(field="VmRSS"):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) * 1024

import numpy as np
import backprop as bp
from backprop import nn
from backprop.data import ParquetBatches

path, n_features = sys.argv[1], int(sys.argv[2])
batches = ParquetBatches(path, target="y", batch_size=1024, shuffle_buffer=20_000)
bp.manual_seed(0)
model = bp.Model(nn.Sequential(nn.Dense(n_features, 16, activation="relu"), nn.Dense(16, 1)))
# Warm-up, one batch: the reader's and the fast path's code pages and compiled kernels are
# loaded once (a fixed cost, whatever the data's size), so the baseline includes them.
before = rss()
warm = bp.Model(nn.Sequential(nn.Dense(n_features, 16, activation="relu"), nn.Dense(16, 1)))
warm.fit(iter([next(iter(ParquetBatches(path, target="y", batch_size=1024)))]), loss="mse", verbose=0)
baseline = rss()
# The high-water mark from here on: writing 5 to clear_refs resets VmHWM to the current RSS
# (ru_maxrss would keep the warm-up's compiler peak, which is no cost of the data).
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
started = time.perf_counter()
from backprop.training.callbacks import Callback


class Watch(Callback):
    # The RSS every 100 batches: where a peak happens, if one does.

    marks = []

    def on_batch_end(self, batch, logs=None):
        if batch % 100 == 0:
            self.marks.append((batch, rss() >> 20))


history = model.fit(batches, loss="mse", epochs=1, verbose=0, callbacks=[Watch()])
seconds = time.perf_counter() - started
peak = rss("VmHWM")
lifetime_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline": baseline, "peak": peak, "seconds": seconds, "rows": batches.n_rows,
                  "loss": history.history["loss"][-1], "marks": Watch.marks, "before": before, "lifetime_peak": lifetime_peak}))
"""


def write_table(path):
    """ROWS × N_FEATURES float32 features and y = Σ features · w, written a row group at a time."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=N_FEATURES).astype(np.float32)
    schema = pa.schema([(f"x{j}", pa.float32()) for j in range(N_FEATURES)] + [("y", pa.float32())])
    with pq.ParquetWriter(path, schema, use_dictionary=False) as writer:  # random floats: no dictionary
        for start in range(0, ROWS, ROW_GROUP):
            X = rng.normal(size=(min(ROW_GROUP, ROWS - start), N_FEATURES)).astype(np.float32)
            columns = [pa.array(X[:, j]) for j in range(N_FEATURES)] + [pa.array(X @ w)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


@pytest.mark.slow
def test_training_on_a_file_ten_times_the_memory_cap_stays_under_the_cap(tmp_path):
    path = tmp_path / "big.parquet"
    write_table(path)
    assert ROWS * N_FEATURES * 4 >= 10 * CAP_BYTES
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), str(N_FEATURES)], capture_output=True,
                            text=True, timeout=600, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    added = figures["peak"] - figures["baseline"]
    print(f"\nlarger than memory: {figures['rows']} rows x {N_FEATURES} float32 features = "
          f"{ROWS * N_FEATURES * 4 / 2**20:.0f} MiB of features ({path.stat().st_size / 2**20:.0f} MiB file); "
          f"cap {CAP_BYTES / 2**20:.0f} MiB; RSS baseline {figures['baseline'] / 2**20:.0f} MiB, "
          f"peak {figures['peak'] / 2**20:.0f} MiB, added {added / 2**20:.1f} MiB; "
          f"one epoch in {figures['seconds']:.1f} s, loss {figures['loss']:.4f}; RSS after the imports "
          f"{figures['before'] / 2**20:.0f} MiB, lifetime peak {figures['lifetime_peak'] / 2**20:.0f} MiB")
    assert figures["rows"] == ROWS
    assert added < CAP_BYTES, json.dumps(figures)
    assert figures["loss"] < 1.0 * N_FEATURES  # it trained (the target's variance is about Σw² ≈ N_FEATURES)
