"""make_ball_images, and the notes' argument for parameter sharing made into a test."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from backprop.datasets import make_ball_images
from backprop.datasets.ball_images import BALL_REGIONS


def ball_pixels(X):
    """Where balls are: every channel light (>= 0.7); the backgrounds stay below that (0.6 + gradient + noise)."""
    return (X >= 0.7).all(axis=1)


def test_shapes_dtypes_range_and_balance():
    X, y = make_ball_images(50, seed=3)
    assert X.shape == (50, 3, 64, 64) and X.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.int64 and y.sum() == 25
    assert X.min() >= 0 and X.max() <= 1
    X64, _ = make_ball_images(3, seed=3, size=32, dtype="float64")
    assert X64.shape == (3, 3, 32, 32) and X64.dtype == np.float64


def test_the_same_seed_gives_the_same_images():
    a, b, c = make_ball_images(6, seed=1), make_ball_images(6, seed=1), make_ball_images(6, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_balls_appear_only_on_positive_images_and_have_the_drawn_size():
    X, y = make_ball_images(40, seed=4, radius=(5, 6), noise=0.0)
    area = ball_pixels(X).sum(axis=(1, 2))
    assert np.all(area[y == 0] == 0)
    assert np.all((area[y == 1] >= np.pi * 4.5 ** 2) & (area[y == 1] <= np.pi * 6.5 ** 2))


@pytest.mark.parametrize("region", sorted(BALL_REGIONS))
def test_balls_stay_inside_their_region(region):
    X, y = make_ball_images(30, seed=5, positions=region, noise=0.0)
    top, bottom, left, right = BALL_REGIONS[region]
    rows, cols = np.nonzero(ball_pixels(X[y == 1]).any(axis=0))
    assert rows.min() >= top * 64 and rows.max() < bottom * 64
    assert cols.min() >= left * 64 and cols.max() < right * 64


def test_a_box_works_like_a_region_name():
    by_name = make_ball_images(8, seed=6, positions="top-right")
    by_box = make_ball_images(8, seed=6, positions=(0, 0.5, 0.5, 1))
    np.testing.assert_array_equal(by_name[0], by_box[0])


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 0}, "n must be a positive int"),
    ({"n": 4, "seed": -1}, "seed must be a non-negative int"),
    ({"n": 4, "positions": "middle"}, "unknown region 'middle'; use one of"),
    ({"n": 4, "positions": (0.5, 0.2, 0, 1)}, "top < bottom and left < right"),
    ({"n": 4, "positions": (0, 1, 0)}, r"a box \(top, bottom, left, right\)"),
    ({"n": 4, "positions": (0, 0.1, 0, 0.1)}, "too small for a ball of radius 8"),
    ({"n": 4, "radius": (6, 3)}, "smallest <= largest"),
    ({"n": 4, "noise": -0.1}, "noise must be >= 0 and finite"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_ball_images(**kwargs)


def accuracy(model, X, y):
    return float((model.predict_classes(X) == y).mean())


@pytest.mark.slow
def test_dense_misses_balls_where_it_never_saw_one_and_a_conv_net_does_not():
    """The notes (seed 001): with one θ per pixel, a model trained on balls in the left half has
    never learned weights for the right half, so it misses balls there; a kernel slid over the
    image (parameter sharing) with a global max pool finds the ball wherever it is.

    Measured with these seeds: Dense 1.00 on held-out left-half balls and 0.50 (chance) on
    right-half balls; the conv net 1.00 and 1.00.
    """
    X_train, y_train = make_ball_images(400, seed=0, positions="left")
    X_left, y_left = make_ball_images(200, seed=1, positions="left")
    X_right, y_right = make_ball_images(200, seed=2, positions="right")

    bp.manual_seed(0)
    dense = nn.Sequential(nn.Flatten(), nn.Dense(3 * 64 * 64, 2))  # the notes' logistic regression, 2 classes
    dense.fit(X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(dense.parameters(), lr=1e-3),
              epochs=30, batch_size=32, verbose=0)

    bp.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2, activation="relu"),   # 64×64 → 30×30
        nn.MaxPool2d(2),                                   # → 15×15
        nn.Conv2d(8, 8, 3, activation="relu"),             # → 13×13
        nn.MaxPool2d(13),                                  # a global max: where the ball is does not matter
        nn.Flatten(),
        nn.Dense(8, 2),
    )
    conv.fit(X_train, y_train, loss="cross_entropy", optimizer=optim.Adam(conv.parameters(), lr=3e-3),
             epochs=8, batch_size=32, verbose=0)

    dense_left, dense_right = accuracy(dense, X_left, y_left), accuracy(dense, X_right, y_right)
    conv_left, conv_right = accuracy(conv, X_left, y_left), accuracy(conv, X_right, y_right)
    print(f"Dense: left {dense_left:.3f}, right {dense_right:.3f}; conv: left {conv_left:.3f}, right {conv_right:.3f}")
    assert dense_left >= 0.85, "the Dense net should learn the balls it was shown"
    assert dense_right <= 0.65, f"the Dense net should be near chance on unseen positions, got {dense_right}"
    assert conv_left >= 0.95 and conv_right >= 0.95, (conv_left, conv_right)
