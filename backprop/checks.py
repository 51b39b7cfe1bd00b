"""Argument checks: the one place that decides what a valid number, int or flag is.

Every check has the same signature, value first, as scikit-learn's ``check_scalar(x, name, ...)``::

    check_xxx(value, name, owner=None, ...)

and returns the value in its plain Python type (``int``, ``float``, ``bool``), so a config
holding it serialises to JSON. A refused value raises ValueError with one message form,

    "{owner}: {name} must be <what is allowed>, got <short repr of value>"

(without the ``"{owner}: "`` prefix when ``owner`` is None), so the user learns which
argument of which layer, optimiser or function was wrong, and what it may be.

Bools are refused where a number is expected (``True`` is an int to Python, but
``Dense(True, 3)`` is a mistake), and NaN and ±inf are refused everywhere: one NaN
hyper-parameter makes every weight NaN.

These checks are for *arguments*. Checks of data arrays (``X``, ``y``, ``sample_weight``)
live with the data they check, in ``training/data.py``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from backprop.naming import short_repr

__all__ = [
    "check_bool", "check_int", "check_positive_int", "check_int_tuple",
    "check_real", "check_positive", "check_non_negative", "check_in_unit_interval", "check_betas",
]


def _refuse(value, name: str, owner: str | None, allowed: str) -> ValueError:
    prefix = f"{owner}: " if owner else ""
    return ValueError(f"{prefix}{name} must be {allowed}, got {short_repr(value)}")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400): no float can hold it
        return False


def _number_text(x) -> str:
    return str(x) if _is_int(x) else f"{x:g}"


# ------------------------------------------------------------------ flags
def check_bool(value, name: str, owner: str | None = None) -> bool:
    """``value`` as a ``bool``; True or False only (NumPy's ``np.True_`` too), never 1 or "yes"."""
    if not isinstance(value, (bool, np.bool_)):
        raise _refuse(value, name, owner, "True or False")
    return bool(value)


# ------------------------------------------------------------------ integers
def _int_text(low, high) -> str:
    if high is not None:
        return f"an int in [{low}, {high}]" if low is not None else f"an int <= {high}"
    if low == 1:
        return "a positive int"
    if low == 0:
        return "a non-negative int"
    return "an int" if low is None else f"an int >= {low}"


def check_int(value, name: str, owner: str | None = None, *, low: int | None = None, high: int | None = None,
              allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` with low <= value <= high (each bound optional, both inclusive).

    NumPy integers are accepted; bools and floats (even 3.0) are not. With ``allow_none``,
    None is returned as None (a seed, an optional limit).
    """
    if allow_none and value is None:
        return None
    if not (_is_int(value) and (low is None or value >= low) and (high is None or value <= high)):
        allowed = _int_text(low, high)
        raise _refuse(value, name, owner, f"None or {allowed}" if allow_none else allowed)
    return int(value)


def check_positive_int(value, name: str, owner: str | None = None) -> int:
    """``value`` as an ``int`` >= 1: a size, a count of units or channels."""
    return check_int(value, name, owner, low=1)


def check_int_tuple(value, name: str, owner: str | None = None, *, length: int = 2, low: int = 1) -> tuple:
    """``value`` as a ``length``-tuple of ints >= ``low``; an int is repeated (a kernel size 3 is (3, 3))."""
    values = (value,) * length if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or len(values) != length or not all(_is_int(v) and v >= low for v in values):
        raise _refuse(value, name, owner, f"{_int_text(low, None)} or a tuple of {length} of them")
    return tuple(int(v) for v in values)


# ------------------------------------------------------------------ real numbers
def _real_text(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_number_text(low)}, {_number_text(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_number_text(low)} and finite"
    if high is not None:
        return f"{'<' if high_open else '<='} {_number_text(high)} and finite"
    return "a finite number"


def check_real(value, name: str, owner: str | None = None, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, allow_none: bool = False) -> float | None:
    """``value`` as a finite ``float`` in the range the bounds give (each optional; ``*_open`` excludes it).

    The message states the range: "a finite number", ">= 0 and finite", "in [0, 1)". With
    ``allow_none``, None is returned as None (BatchNorm's momentum=None: a cumulative average).
    """
    if allow_none and value is None:
        return None
    ok = _is_real(value) and _is_finite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        allowed = _real_text(low, high, low_open, high_open)
        raise _refuse(value, name, owner, f"None or {allowed}" if allow_none else allowed)
    return float(value)


def check_positive(value, name: str, owner: str | None = None) -> float:
    """``value`` > 0 and finite, as a ``float``: a learning rate, an eps that divides."""
    return check_real(value, name, owner, low=0, low_open=True)


def check_non_negative(value, name: str, owner: str | None = None) -> float:
    """``value`` >= 0 and finite, as a ``float``: a weight decay, a momentum, a noise level."""
    return check_real(value, name, owner, low=0)


def check_in_unit_interval(value, name: str, owner: str | None = None, *, closed_right: bool = False) -> float:
    """``value`` in [0, 1) (or [0, 1] with ``closed_right``), as a ``float``: a decay rate β or ρ."""
    return check_real(value, name, owner, low=0, high=1, high_open=not closed_right)


def check_betas(value, name: str = "betas", owner: str | None = None) -> tuple:
    """Adam's (β₁, β₂) as a tuple of two floats, each in [0, 1): β = 1 would never forget, and never move."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_real(b) for b in value):
        raise _refuse(value, name, owner, "a pair (beta1, beta2), each in [0, 1)")
    return tuple(check_in_unit_interval(b, f"{name}[{i}]", owner) for i, b in enumerate(value))
