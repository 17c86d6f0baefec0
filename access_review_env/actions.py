"""Checks on actions handed to the environments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


class InvalidActionError(ValueError):
    """An action outside the valid set of the current state, under ``"raise"``."""


def check_action(action: object, n_actions: int) -> int:
    """Return ``action`` as a Python int if it is an integer in ``[0, n_actions)``.

    Accepts what ``Discrete(n_actions).contains`` accepts: a Python int, a NumPy
    integer scalar, or a 0-d NumPy integer array. Booleans are refused.

    Raises:
        TypeError: If ``action`` is not an integer.
        ValueError: If it is an array of another shape or lies out of range.
    """
    if isinstance(action, np.ndarray):
        if action.shape != ():
            raise ValueError(
                f"action must be a scalar integer in [0, {n_actions - 1}], "
                f"got an array of shape {action.shape}"
            )
        action = action[()]
    if isinstance(action, bool | np.bool_) or not isinstance(action, int | np.integer):
        raise TypeError(
            f"action must be an integer in [0, {n_actions - 1}], got {action!r} "
            f"of type {type(action).__name__}"
        )
    if not 0 <= action < n_actions:
        raise ValueError(
            f"action {int(action)} is out of range; allowed actions are integers "
            f"in [0, {n_actions - 1}]"
        )
    return int(action)


def invalid_action_message(
    state: int,
    action: int,
    mask: NDArray[Any],
    state_label: str,
    action_names: Sequence[str],
) -> str:
    """Say which action was refused in which state, and what is allowed there."""
    allowed = [f"{a} ({action_names[int(a)]})" for a in np.flatnonzero(mask)]
    return (
        f"action {action} ({action_names[action]}) is not valid in state {state} "
        f"({state_label}); valid actions there: {', '.join(allowed) or 'none'}"
    )
