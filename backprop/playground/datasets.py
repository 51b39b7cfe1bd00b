"""The playground's 2-D datasets: two features (x1, x2) on the plane [−6, 6]² and a class 0 or 1.

Each generator draws ``n`` points from its own ``numpy.random.Generator`` (so a seed in a
shared URL gives the same points) and adds Gaussian noise of standard deviation
``noise × NOISE_SCALE`` to both coordinates, after the label is decided: noise moves
points across the boundary, as in TensorFlow Playground. Half the points (rounded down)
are class 1.

    >>> import numpy as np
    >>> X, y = DATASETS["xor"].make(100, noise=0.0, rng=np.random.default_rng(0))
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["PlaneDataset", "DATASETS", "EXTENT", "NOISE_SCALE", "FEATURE_NAMES", "TARGET_NAME"]

EXTENT = 6.0  # the plane is [−EXTENT, EXTENT]² (TensorFlow Playground's)
RADIUS = 5.0  # the data sit within this radius, so that noise keeps most points on the plane
NOISE_SCALE = 1.5  # noise 1 is a standard deviation of 1.5 plane units
FEATURE_NAMES = ("x1", "x2")
TARGET_NAME = "label"


@dataclass(frozen=True)
class PlaneDataset:
    """A named generator ``draw(n, rng) -> (X (n, 2) float64, y (n,) int64)`` of noise-free points."""

    name: str
    description: str
    draw: Callable

    def make(self, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points with their labels, the coordinates moved by N(0, (noise · NOISE_SCALE)²)."""
        X, y = self.draw(n, rng)
        if noise > 0:
            X = X + rng.normal(0.0, noise * NOISE_SCALE, size=X.shape)
        return X.astype(np.float64), y.astype(np.int64)


def _counts(n: int) -> tuple[int, int]:
    """(class 0, class 1) sizes: class 1 gets half, rounded down."""
    return n - n // 2, n // 2


def _circle(n, rng):
    """Class 1 inside radius R/2, class 0 on the ring from 0.7 R to R."""
    n0, n1 = _counts(n)
    r = np.concatenate([rng.uniform(0.7 * RADIUS, RADIUS, n0), rng.uniform(0.0, 0.5 * RADIUS, n1)])
    angle = rng.uniform(0.0, 2 * math.pi, n)
    X = np.column_stack([r * np.cos(angle), r * np.sin(angle)])
    return X, np.repeat([0, 1], [n0, n1])


def _xor(n, rng):
    """Uniform on the square, kept a little away from the axes; class 1 where x1·x2 > 0."""
    X = rng.uniform(0.3, RADIUS, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def _gaussians(n, rng):
    """Two round clusters of standard deviation 1, centred at (−2, −2) (class 0) and (2, 2)."""
    n0, n1 = _counts(n)
    X = np.concatenate([rng.normal(-2.0, 1.0, size=(n0, 2)), rng.normal(2.0, 1.0, size=(n1, 2))])
    return X, np.repeat([0, 1], [n0, n1])


def _spiral(n, rng):
    """Two interleaved arms of 1.75 turns, r from 0 to R; class 1 is the arm turned by π."""
    n0, n1 = _counts(n)
    parts = []
    for count, turn in ((n0, 0.0), (n1, math.pi)):
        t = np.arange(count) / max(count, 1)
        r, angle = RADIUS * t, 1.75 * 2 * math.pi * t + turn
        parts.append(np.column_stack([r * np.sin(angle), r * np.cos(angle)]))
    return np.concatenate(parts), np.repeat([0, 1], [n0, n1])


def _moons(n, rng):
    """scikit-learn's two half circles, (cos t, sin t) and (1 − cos t, ½ − sin t), centred and scaled by 2.5."""
    n0, n1 = _counts(n)
    t0, t1 = rng.uniform(0.0, math.pi, n0), rng.uniform(0.0, math.pi, n1)
    X = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])])
    return 2.5 * (X - [0.5, 0.25]), np.repeat([0, 1], [n0, n1])


DATASETS = {d.name: d for d in (
    PlaneDataset("circle", "a disc of class 1 inside a ring of class 0", _circle),
    PlaneDataset("xor", "the four quadrants, class 1 where x1 and x2 have the same sign", _xor),
    PlaneDataset("gaussians", "two Gaussian clusters", _gaussians),
    PlaneDataset("spiral", "two interleaved spirals", _spiral),
    PlaneDataset("moons", "two interleaved half circles", _moons),
)}
"""The 2-D datasets by name, in the order the page shows them."""
