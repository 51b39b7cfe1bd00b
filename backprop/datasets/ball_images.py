"""The notes' image task: is there a (soccer) ball in this 64×64×3 picture?

Seed 001 of the notes uses it twice: a flattened image has 12,288 inputs, and logistic
regression gives each pixel its own θ, so "θ₁ always looks at the top left pixel"; if the
training balls were never in the top left, a ball there is missed. A 4×4 θ slid over the
image sees every pixel. :func:`make_ball_images` makes that experiment runnable:
``positions`` restricts where the balls of a sample may be, so a model can be trained on
balls in one region and tested on balls in another.
"""

from __future__ import annotations

import numbers

import numpy as np

from backprop.checks import check_int, check_non_negative, check_positive_int
from backprop.datasets.dataset import resolve_float_dtype

__all__ = ["make_ball_images", "BALL_REGIONS"]

# Named regions, as (top, bottom, left, right) fractions of the image's height and width.
BALL_REGIONS = {
    "any": (0.0, 1.0, 0.0, 1.0),
    "left": (0.0, 1.0, 0.0, 0.5),
    "right": (0.0, 1.0, 0.5, 1.0),
    "top": (0.0, 0.5, 0.0, 1.0),
    "bottom": (0.5, 1.0, 0.0, 1.0),
    "top-left": (0.0, 0.5, 0.0, 0.5),
    "top-right": (0.0, 0.5, 0.5, 1.0),
    "bottom-left": (0.5, 1.0, 0.0, 0.5),
    "bottom-right": (0.5, 1.0, 0.5, 1.0),
    "center": (0.25, 0.75, 0.25, 0.75),
}


def make_ball_images(n: int, seed: int = 0, positions=None, *, size: int = 64, radius=(4, 8),
                     noise: float = 0.04, dtype="float32"):
    """Images with (y = 1) or without (y = 0) a ball, NCHW, values in [0, 1].

    Every image has a background of a random dark colour (each channel in [0.05, 0.6]),
    a gentle brightness gradient in a random direction and pixel noise N(0, noise²).
    Half of the images (exactly ⌊n/2⌋, in random order) get a ball: a filled disc of a
    random light colour (each channel in [0.75, 1]) and a random radius, lying wholly
    inside the region ``positions`` allows, at a uniformly random place there.

    Args:
        n: the number of images, a positive int.
        seed: a non-negative int; the same seed gives the same images.
        positions: where balls may be: None or "any" (anywhere), one of "left", "right",
            "top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right",
            "center" (see :data:`BALL_REGIONS`), or a box ``(top, bottom, left, right)``
            of fractions of the height and width (e.g. ``(0, 0.5, 0, 0.5)`` is "top-left").
        size: the height and width in pixels (64 in the notes).
        radius: ``(smallest, largest)`` radius in pixels, ints, drawn uniformly.
        noise: the standard deviation of the pixel noise, >= 0.
        dtype: the float dtype of X.

    Returns:
        ``(X, y)``: X of shape (n, 3, size, size) and ``dtype``, y of shape (n,), int64.

    Raises:
        ValueError: for a bad argument, or a region too small to hold the largest ball.

    Example:
        >>> X, y = make_ball_images(4, seed=0, positions="left")
        >>> X.shape, X.dtype, y.tolist()
        ((4, 3, 64, 64), dtype('float32'), [0, 0, 1, 1])
    """
    n = check_positive_int(n, "n", "make_ball_images")
    size = check_positive_int(size, "size", "make_ball_images")
    seed = check_int(seed, "seed", "make_ball_images", low=0)
    noise = check_non_negative(noise, "noise", "make_ball_images")
    smallest, largest = _radius_range(radius)
    dtype = resolve_float_dtype(dtype)
    top, bottom, left, right = _region(positions)
    row_low, row_high = top * size + largest, bottom * size - largest
    col_low, col_high = left * size + largest, right * size - largest
    if row_low > row_high or col_low > col_high:
        raise ValueError(
            f"make_ball_images: the region {positions!r} of a {size}×{size} image is too small for a ball "
            f"of radius {largest}; use a larger region or image, or a smaller radius"
        )

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    rows = np.arange(size, dtype=np.float64).reshape(1, size, 1)
    cols = np.arange(size, dtype=np.float64).reshape(1, 1, size)

    background = rng.uniform(0.05, 0.6, (n, 3, 1, 1))
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    gradient = 0.1 * (np.cos(angle) * rows + np.sin(angle) * cols) / size
    X = background + gradient[:, None] + rng.normal(0.0, noise, (n, 3, size, size))

    centre_row = rng.uniform(row_low, row_high, n).reshape(n, 1, 1)
    centre_col = rng.uniform(col_low, col_high, n).reshape(n, 1, 1)
    ball_radius = rng.integers(smallest, largest + 1, n).reshape(n, 1, 1)
    colour = rng.uniform(0.75, 1.0, (n, 3, 1, 1))
    disc = ((rows - centre_row) ** 2 + (cols - centre_col) ** 2 <= ball_radius ** 2) & (y.reshape(n, 1, 1) == 1)
    X = np.where(disc[:, None], colour + rng.normal(0.0, noise, X.shape), X)
    return np.clip(X, 0.0, 1.0).astype(dtype), y


def _radius_range(radius) -> tuple:
    try:
        smallest, largest = radius
    except (TypeError, ValueError):
        raise ValueError(f"make_ball_images: radius must be a pair (smallest, largest), got {radius!r}") from None
    if any(isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1 for r in (smallest, largest)) \
            or smallest > largest:
        raise ValueError(
            f"make_ball_images: radius must be two positive ints with smallest <= largest, got {radius!r}"
        )
    return int(smallest), int(largest)


def _region(positions) -> tuple:
    if positions is None:
        return BALL_REGIONS["any"]
    if isinstance(positions, str):
        if positions not in BALL_REGIONS:
            raise ValueError(
                f"make_ball_images: unknown region {positions!r}; use one of {sorted(BALL_REGIONS)} "
                "or a box (top, bottom, left, right) of fractions"
            )
        return BALL_REGIONS[positions]
    try:
        box = tuple(float(v) for v in positions)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(0.0 <= v <= 1.0 for v in box) or not (box[0] < box[1] and box[2] < box[3]):
        raise ValueError(
            "make_ball_images: positions must be None, a region name or a box (top, bottom, left, right) "
            f"of fractions in [0, 1] with top < bottom and left < right, got {positions!r}"
        )
    return box
