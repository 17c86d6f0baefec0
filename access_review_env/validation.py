"""Argument checks shared by the tasks, the envs and the agents.

Every check returns the value as a plain Python type, or raises an error that
names the argument, repeats the value as the caller wrote it, and says what is
allowed. Booleans are never accepted as numbers.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Real
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def _interval(
    low: float | None, high: float | None, low_open: bool, high_open: bool
) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f" {'<' if high_open else '<='} {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _outside(
    value: float,
    low: float | None,
    high: float | None,
    low_open: bool,
    high_open: bool,
) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return True
    return high is not None and (value > high or (high_open and value == high))


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number in the interval.

    Args:
        name: How the error names the argument.
        value: The value to check.
        low: Lower bound, or None for none.
        high: Upper bound, or None for none.
        low_open: Exclude ``low`` itself.
        high_open: Exclude ``high`` itself.

    Raises:
        TypeError: If ``value`` is not a real number (booleans included).
        ValueError: If it is not finite or lies outside the interval.
    """
    allowed = f"a finite real number{_interval(low, high, low_open, high_open)}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or _outside(result, low, high, low_open, high_open):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return result


def check_unit_interval(
    name: str, value: object, *, low_open: bool = False, high_open: bool = False
) -> float:
    """Return ``value`` as a float if it lies in [0, 1] (ends open as asked).

    Raises:
        TypeError: If ``value`` is not a real number.
        ValueError: If it lies outside the interval.
    """
    return check_real(
        name, value, low=0.0, high=1.0, low_open=low_open, high_open=high_open
    )


def check_integer(
    name: str, value: object, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an int if it is an integer in ``[low, high]``.

    Python and NumPy integers are accepted; booleans, floats (even ``2.0``)
    and strings are not.

    Raises:
        TypeError: If ``value`` is not an integer.
        ValueError: If it lies outside the bounds.
    """
    allowed = f"an integer{_interval(low, high, False, False)}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    result = int(value)
    if _outside(result, low, high, False, False):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return result


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool (``"False"`` and 0 are not).

    Raises:
        TypeError: If ``value`` is not a bool.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value: T, allowed: Collection[T]) -> T:
    """Return ``value`` if it is one of ``allowed``.

    Raises:
        ValueError: If it is not, listing the allowed values.
    """
    try:
        known = value in allowed
    except TypeError:
        known = False
    if not known:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        )
    return value
