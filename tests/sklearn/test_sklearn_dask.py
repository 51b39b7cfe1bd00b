"""GridSearchCV over the drop-in MLPClassifier on a Dask cluster, through joblib's "dask" backend.

Dask (``dask.distributed``, the ``cluster`` extra) runs the search's fits as tasks on its
workers; here a LocalCluster of two in-process workers. The search must find what the
same search finds in this process, and the tasks must have run on the cluster. Skipped
without Dask, except where ``BACKPROP_REQUIRE_DASK_TEST=1`` (CI, ``.ci/run``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from backprop.datasets import load_digits
from backprop.sklearn import MLPClassifier


def _dask():
    try:
        import distributed
    except ImportError:
        reason = 'dask.distributed is not installed (pip install "backprop-nn[cluster]"; CI installs it)'
        if os.environ.get("BACKPROP_REQUIRE_DASK_TEST") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return distributed


def _search():
    from sklearn.model_selection import GridSearchCV

    estimator = MLPClassifier(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
    return GridSearchCV(estimator, {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1]}, cv=2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # (15 epochs, on purpose)
def test_grid_search_runs_on_a_dask_cluster_and_finds_what_it_finds_locally():
    distributed = _dask()
    from joblib import parallel_backend

    X, y = load_digits()
    X, y = X[:400] / 16.0, y[:400]
    local = _search().fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks, parallel_backend("dask"):
            on_dask = _search().fit(X, y)
    assert tasks.data, "the search's fits did not run as Dask tasks"  # (joblib sends them in batches)
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert on_dask.score(X, y) == local.score(X, y)
