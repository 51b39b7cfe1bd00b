"""The library's random number generator, seeded with :func:`manual_seed`.

All randomness (weight initialisation, dropout masks, shuffling) draws from one
NumPy ``Generator``, so that one seed reproduces a run bit for bit and a
checkpoint can save and restore the whole random state.
"""

from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "get_rng", "get_state", "set_state"]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator (like ``torch.manual_seed``) and return it."""
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng() -> np.random.Generator:
    """The generator every random draw of the library uses."""
    return _rng


def get_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _rng.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state from :func:`get_state`."""
    global _rng
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    _rng = np.random.Generator(bit_generator)
