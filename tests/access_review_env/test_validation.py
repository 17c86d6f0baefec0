"""The shared argument checks: a clear error naming the value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from access_review_env.validation import (
    check_bool,
    check_choice,
    check_integer,
    check_real,
    check_unit_interval,
)

pytestmark = pytest.mark.env


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_of_any_integer_type_are_accepted_as_int(value: Any) -> None:
    """Python and NumPy integers come back as a plain int."""
    result = check_integer("n", value, low=1, high=5)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize("value", [True, 2.0, "2", None, np.bool_(True)])
def test_non_integers_are_a_type_error_quoting_the_value(value: Any) -> None:
    """Booleans, floats and strings are refused, never coerced."""
    with pytest.raises(TypeError, match=rf"n must be an integer >= 1, got {value!r}"):
        check_integer("n", value, low=1)


def test_integers_out_of_bounds_name_the_bounds() -> None:
    """Below low or above high: ValueError with the interval."""
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 5\], got 6"):
        check_integer("n", 6, low=1, high=5)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_reals_are_refused(value: float) -> None:
    """NaN and infinities are never a valid setting."""
    with pytest.raises(ValueError, match="x must be a finite real number"):
        check_real("x", value)


def test_open_interval_ends_are_excluded() -> None:
    """(0, 1] refuses 0 and accepts 1; [0, 1) refuses 1."""
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        check_unit_interval("alpha", 0.0, low_open=True)
    assert check_unit_interval("alpha", 1.0, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        check_unit_interval("u", 1.0, high_open=True)


@pytest.mark.parametrize("value", ["False", 0, 1, None])
def test_flags_must_be_bools(value: Any) -> None:
    """A string "False" is not False: flags accept True or False only."""
    with pytest.raises(TypeError, match="flag must be True or False"):
        check_bool("flag", value)


def test_choices_list_the_allowed_values() -> None:
    """An unknown choice names every allowed one; unhashable values are refused."""
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b', got 'c'"):
        check_choice("mode", "c", ("a", "b"))
    with pytest.raises(ValueError, match="mode must be one of"):
        check_choice("mode", ["a"], ("a", "b"))
