"""Dense arrays of a finite MDP, the form planners read.

The arrays describe any finite MDP, not only the access-review tasks, so that
the planners in :mod:`agents` can be tested on random MDPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_integer, check_unit_interval


def _real_array(name: str, value: Any) -> NDArray[np.float64]:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be an array of real numbers, got dtype {array.dtype}"
        )
    result = np.array(array, dtype=np.float64)
    if not np.all(np.isfinite(result)):
        raise ValueError(f"{name} must be finite")
    return result


def _bool_array(name: str, value: Any) -> NDArray[np.bool_]:
    array = np.asarray(value)
    if array.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean array, got dtype {array.dtype}; "
            f"pass {name}.astype(bool) if its nonzero entries mean True"
        )
    return np.array(array, dtype=bool)


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP as arrays.

    The arrays are copied and frozen: the caller's arrays stay writable and
    later changes to them do not reach the MDP.

    Attributes:
        transitions: ``(S, A, S)`` probabilities ``P[s, a, s']``. Rows of
            available actions in non-terminal states sum to 1; other rows are
            ignored by planners.
        rewards: ``(S, A)`` expected immediate reward ``R[s, a]``.
        terminal: ``(S,)`` boolean, True where an episode has ended; the value of
            a terminal state is 0 and no return is bootstrapped past it.
        available_actions: ``(S, A)`` boolean, the actions a policy may take
            (for an env: those ``step`` accepts).
        gamma: The task's discount factor in [0, 1].
        initial_distribution: ``(S,)`` probabilities of the start state.
        state_names: Optional names of the states, for display.
        action_names: Optional names of the actions, for display.
        horizon: Steps after which an episode is cut (a time limit), or None
            for no limit; planners plan for this many steps when it is set.

    Raises:
        TypeError: If an array has the wrong dtype (masks must be boolean).
        ValueError: If shapes disagree, an array is not finite, a row of an
            available action in a non-terminal state is not a probability
            vector, or ``gamma`` or ``horizon`` is out of range.
    """

    transitions: NDArray[np.float64]
    rewards: NDArray[np.float64]
    terminal: NDArray[np.bool_]
    available_actions: NDArray[np.bool_]
    gamma: float
    initial_distribution: NDArray[np.float64]
    state_names: tuple[str, ...] = field(default=())
    action_names: tuple[str, ...] = field(default=())
    horizon: int | None = None

    def __post_init__(self) -> None:
        """Check dtypes, shapes and probabilities, then copy and freeze the arrays."""
        arrays: dict[str, NDArray[Any]] = {
            "transitions": _real_array("transitions", self.transitions),
            "rewards": _real_array("rewards", self.rewards),
            "terminal": _bool_array("terminal", self.terminal),
            "available_actions": _bool_array(
                "available_actions", self.available_actions
            ),
            "initial_distribution": _real_array(
                "initial_distribution", self.initial_distribution
            ),
        }
        if arrays["rewards"].ndim != 2:
            raise ValueError(
                f"rewards must have shape (S, A), got {arrays['rewards'].shape}"
            )
        n_states, n_actions = arrays["rewards"].shape
        expected = {
            "transitions": (n_states, n_actions, n_states),
            "terminal": (n_states,),
            "available_actions": (n_states, n_actions),
            "initial_distribution": (n_states,),
        }
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise ValueError(
                    f"{name} has shape {arrays[name].shape}; expected {shape}"
                )
        object.__setattr__(self, "gamma", check_unit_interval("gamma", self.gamma))
        if self.horizon is not None:
            object.__setattr__(
                self, "horizon", check_integer("horizon", self.horizon, low=1)
            )
        transitions, terminal = arrays["transitions"], arrays["terminal"]
        live = arrays["available_actions"] & ~terminal[:, None]
        if np.any(transitions < 0) or not np.allclose(
            transitions[live].sum(axis=-1), 1.0
        ):
            raise ValueError(
                "transitions[s, a] must be a probability vector for every "
                "available action of every non-terminal state"
            )
        if not np.all(live.any(axis=1) | terminal):
            raise ValueError("every non-terminal state needs an available action")
        start = arrays["initial_distribution"]
        if np.any(start < 0) or not np.isclose(start.sum(), 1.0):
            raise ValueError("initial_distribution must be a probability vector")
        for name in ("state_names", "action_names"):
            names = getattr(self, name)
            size = n_states if name == "state_names" else n_actions
            if names and len(names) != size:
                raise ValueError(f"{name} must have {size} entries, got {len(names)}")
        for name, array in arrays.items():
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.rewards.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return int(self.rewards.shape[1])
