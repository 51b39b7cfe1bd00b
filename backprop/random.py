"""The library's random number generator, seeded with :func:`manual_seed`.

All randomness (weight initialisation, dropout masks, shuffling) draws from one
NumPy ``Generator``, so that one seed reproduces a run bit for bit and a
checkpoint can save and restore the whole random state.
"""

from __future__ import annotations

import numpy as np

from backprop.checks import check_int

__all__ = ["manual_seed", "get_rng", "get_state", "set_state", "BIT_GENERATORS"]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator (like ``torch.manual_seed``) and return it."""
    global _rng
    _rng = np.random.default_rng(check_int(seed, "seed", "manual_seed", low=0))
    return _rng


def get_rng() -> np.random.Generator:
    """The generator every random draw of the library uses."""
    return _rng


def get_state() -> dict:
    """The generator's state, a JSON-serialisable dict (for checkpoints)."""
    return _rng.bit_generator.state


# The bit generators a saved state may name. A fixed table, not ``getattr(np.random, name)``:
# a state read from a file must not be able to call ``np.random.seed`` or anything else.
BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                  "Philox": np.random.Philox, "SFC64": np.random.SFC64}


def set_state(state: dict) -> None:
    """Restore a state from :func:`get_state`.

    Raises:
        ValueError: for a state that is not a dict naming one of :data:`BIT_GENERATORS`,
            or that the generator refuses.
    """
    global _rng
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        raise ValueError(f"random state: bit_generator must be one of {sorted(BIT_GENERATORS)}, got {str(name)[:40]!r}")
    bit_generator = BIT_GENERATORS[name]()
    try:
        bit_generator.state = state
    except (TypeError, KeyError, OverflowError) as error:
        raise ValueError(f"random state: not a valid {name} state ({error})") from None
    _rng = np.random.Generator(bit_generator)
