"""backprop.checks: every argument check, its accepted and refused values, and its one message form.

Each check is listed in ``CASES`` with the keyword arguments it is called with, values it
accepts (and what it returns for them), values it refuses, and the text its message gives
for what is allowed. A test requires every name in ``checks.__all__`` to have cases, so a
new check cannot go untested.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from backprop import checks
from backprop.naming import short_repr

NAN, INF = float("nan"), float("inf")

# check name -> list of (keyword arguments, [(accepted value, returned value)], [refused values], allowed text)
CASES = {
    "check_bool": [
        ({}, [(True, True), (False, False), (np.True_, True), (np.False_, False)],
         [1, 0, "yes", None, 1.0, np.array([True, False])], "True or False"),
    ],
    "check_int": [
        ({}, [(0, 0), (-5, -5), (np.int8(7), 7), (10**30, 10**30)],
         [True, False, 2.5, 3.0, NAN, INF, "3", None, np.float64(2.0)], "an int"),
        ({"low": -2, "high": 3}, [(-2, -2), (3, 3), (np.int64(1), 1)], [-3, 4, True, 1.5], "an int in [-2, 3]"),
        ({"low": 0}, [(0, 0), (12, 12)], [-1, True, 0.0], "a non-negative int"),
        ({"low": 2}, [(2, 2)], [1, 2.0], "an int >= 2"),
        ({"high": 5}, [(-9, -9), (5, 5)], [6, 5.0], "an int <= 5"),
        ({"low": 0, "allow_none": True}, [(None, None), (0, 0)], [-1, "0", False], "None or a non-negative int"),
    ],
    "check_positive_int": [
        ({}, [(1, 1), (np.int32(64), 64)], [0, -1, True, 1.5, 2.0, INF, NAN, "3", None], "a positive int"),
    ],
    "check_int_tuple": [
        ({}, [(3, (3, 3)), ((2, 4), (2, 4)), ([1, np.int64(2)], (1, 2))],
         [0, (1, 2, 3), (1,), (0, 1), (True, 1), True, 1.5, (1.0, 2), "ab", None],
         "a positive int or a tuple of 2 of them"),
        ({"length": 1, "low": 0}, [(0, (0,)), ((5,), (5,))], [-1, (1, 1), (-1,)],
         "a non-negative int or a tuple of 1 of them"),
    ],
    "check_real": [
        ({}, [(0, 0.0), (-1.5, -1.5), (np.float32(0.5), 0.5), (np.int64(3), 3.0), (Fraction(1, 4), 0.25)],
         [True, False, NAN, INF, -INF, np.float64("nan"), 10**400, "1", None, 1j, np.True_], "a finite number"),
        ({"low": 0, "high": 1, "high_open": True}, [(0, 0.0), (0.999, 0.999)], [1, 1.0, -0.1, NAN], "in [0, 1)"),
        ({"low": 0, "high": 1, "low_open": True, "high_open": True}, [(0.5, 0.5)], [0, 1, INF], "in (0, 1)"),
        ({"low": -1, "high": 2.5}, [(-1, -1.0), (2.5, 2.5)], [-1.5, 2.6], "in [-1, 2.5]"),
        ({"low": 1, "low_open": True}, [(1.5, 1.5)], [1, INF], "> 1 and finite"),
        ({"high": 1}, [(1, 1.0), (-1e300, -1e300)], [1.5, -INF], "<= 1 and finite"),
        ({"high": 0, "high_open": True}, [(-0.5, -0.5)], [0, -INF], "< 0 and finite"),
        ({"low": 0, "high": 1, "allow_none": True}, [(None, None), (1, 1.0)], [2, NAN, "None"], "None or in [0, 1]"),
    ],
    "check_positive": [
        ({}, [(1e-300, 1e-300), (3, 3.0)], [0, 0.0, -1, NAN, INF, True, "1", None], "> 0 and finite"),
    ],
    "check_non_negative": [
        ({}, [(0, 0.0), (0.0, 0.0), (2, 2.0)], [-1e-300, -1, NAN, INF, True, False, None], ">= 0 and finite"),
    ],
    "check_in_unit_interval": [
        ({}, [(0, 0.0), (0.5, 0.5), (np.float32(0.25), 0.25)], [1, 1.0, -0.1, NAN, INF, True], "in [0, 1)"),
        ({"closed_right": True}, [(1, 1.0), (0, 0.0)], [1.01, -1e-9, NAN, True], "in [0, 1]"),
    ],
    "check_betas": [
        ({}, [((0.9, 0.999), (0.9, 0.999)), ([0, 0.5], (0.0, 0.5)), ((np.float64(0.5), 0), (0.5, 0.0))],
         [0.9, (0.9,), (0.9, 0.99, 0.999), (True, 0.9), ("0.9", 0.9), None, {0.9, 0.99}],
         "a pair (beta1, beta2), each in [0, 1)"),
    ],
}

CALLS = [(name, kwargs, accepted, refused, allowed)
         for name, cases in CASES.items() for kwargs, accepted, refused, allowed in cases]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'default'}" for name, kwargs, *_ in CALLS]


def test_every_check_has_cases():
    assert sorted(CASES) == sorted(checks.__all__)


@pytest.mark.parametrize("name,kwargs,accepted,refused,allowed", CALLS, ids=IDS)
def test_accepted_values_come_back_in_their_plain_type(name, kwargs, accepted, refused, allowed):
    check = getattr(checks, name)
    for value, expected in accepted:
        result = check(value, "x", **kwargs)
        assert result == expected and type(result) is type(expected), (value, result)
        if isinstance(result, tuple):
            assert all(type(r) is type(e) for r, e in zip(result, expected))


@pytest.mark.parametrize("name,kwargs,accepted,refused,allowed", CALLS, ids=IDS)
def test_refused_values_name_the_argument_the_rule_and_the_value(name, kwargs, accepted, refused, allowed):
    check = getattr(checks, name)
    for value in refused:
        with pytest.raises(ValueError) as without_owner:
            check(value, "x", **kwargs)
        assert str(without_owner.value) == f"x must be {allowed}, got {short_repr(value)}"
        with pytest.raises(ValueError) as with_owner:
            check(value, "x", "Owner", **kwargs)
        assert str(with_owner.value) == f"Owner: x must be {allowed}, got {short_repr(value)}"


def test_betas_name_the_element_out_of_range():
    with pytest.raises(ValueError, match=r"^Adam: betas\[0\] must be in \[0, 1\), got 1.0$"):
        checks.check_betas((1.0, 0.9), "betas", "Adam")
    with pytest.raises(ValueError, match=r"^betas\[1\] must be in \[0, 1\), got nan$"):
        checks.check_betas((0.9, NAN))
    with pytest.raises(ValueError, match=r"^b\[1\] must be in \[0, 1\), got -0.1$"):
        checks.check_betas([0.9, -0.1], "b")


def test_a_huge_value_is_not_copied_into_the_message():
    with pytest.raises(ValueError) as error:
        checks.check_positive_int("x" * 10_000, "units", "Dense")
    assert str(error.value).startswith("Dense: units must be a positive int, got 'xxx")
    assert len(str(error.value)) < 200


def test_the_caller_keeps_its_value():
    betas = [0.9, 0.999]
    assert checks.check_betas(betas) == (0.9, 0.999)
    assert betas == [0.9, 0.999]  # a new tuple, the caller's list untouched


def test_bounds_are_shown_as_written():
    with pytest.raises(ValueError, match=r"in \[0.001, 1e\+06\]"):
        checks.check_real(0, "x", low=1e-3, high=1e6)
    with pytest.raises(ValueError, match=r"an int in \[-64, 63\]"):
        checks.check_int(64, "axis", low=-64, high=63)
