"""The 2-D datasets: every generator of the registry draws labelled points on the plane, reproducibly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backprop.playground.datasets import DATASETS, EXTENT, NOISE_SCALE, RADIUS


@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("n", [20, 401])
def test_every_dataset_draws_n_points_half_of_class_1_inside_the_plane(name, n):
    X, y = DATASETS[name].make(n, noise=0.0, rng=np.random.default_rng(0))
    assert X.shape == (n, 2) and X.dtype == np.float64 and y.shape == (n,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    if name != "xor":  # XOR's classes follow the quadrants, so only about half
        assert int(y.sum()) == n // 2
    assert np.all(np.abs(X) <= EXTENT)


@pytest.mark.parametrize("name", list(DATASETS))
def test_a_seed_gives_the_same_points_and_noise_moves_them(name):
    first = DATASETS[name].make(200, noise=0.3, rng=np.random.default_rng(5))
    again = DATASETS[name].make(200, noise=0.3, rng=np.random.default_rng(5))
    clean = DATASETS[name].make(200, noise=0.0, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], clean[1])  # the label is decided before the noise
    moved = np.linalg.norm(first[0] - clean[0], axis=1)
    # N(0, (0.3 · NOISE_SCALE)²) per coordinate: the mean distance is σ √(π/2).
    assert abs(moved.mean() - 0.3 * NOISE_SCALE * math.sqrt(math.pi / 2)) < 0.1


def test_the_shapes_are_what_their_names_say():
    rng = np.random.default_rng(1)
    X, y = DATASETS["circle"].make(300, 0.0, rng)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 1].max() <= 0.5 * RADIUS and r[y == 0].min() >= 0.7 * RADIUS
    X, y = DATASETS["xor"].make(300, 0.0, rng)
    np.testing.assert_array_equal(y, X[:, 0] * X[:, 1] > 0)
    X, y = DATASETS["gaussians"].make(2000, 0.0, rng)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-2, -2], atol=0.1)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.1)
    X, y = DATASETS["spiral"].make(300, 0.0, rng)
    np.testing.assert_allclose(X[y == 1], -X[y == 0], atol=1e-12)  # the second arm is the first turned by π
    X, y = DATASETS["moons"].make(300, 0.0, rng)
    centre = np.array([0.5, 0.25])
    outer = X[y == 0] / 2.5 + centre
    inner = X[y == 1] / 2.5 + centre
    np.testing.assert_allclose(np.linalg.norm(outer, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(inner - [1.0, 0.5], axis=1), 1.0)
