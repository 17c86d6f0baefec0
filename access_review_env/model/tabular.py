"""Dense arrays of a finite MDP, the form planners read.

The arrays describe any finite MDP, not only the access-review task, so that the
planners in :mod:`agents` can be tested on random MDPs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP as arrays.

    Attributes:
        transitions: ``(S, A, S)`` probabilities ``P[s, a, s']``. Rows of valid
            actions in non-terminal states sum to 1; other rows are ignored by
            planners.
        rewards: ``(S, A)`` expected immediate reward ``R[s, a]``.
        terminal: ``(S,)`` boolean, True where an episode has ended; the value of
            a terminal state is 0 and no return is bootstrapped past it.
        valid_actions: ``(S, A)`` boolean, the actions a policy may choose.
        gamma: The task's discount factor in [0, 1].
        initial_distribution: ``(S,)`` probabilities of the start state.
        state_names: Optional names of the states, for display.
        action_names: Optional names of the actions, for display.

    Raises:
        ValueError: If shapes disagree, an array is not finite, or a row of a
            valid action in a non-terminal state is not a probability vector.
    """

    transitions: NDArray[np.float64]
    rewards: NDArray[np.float64]
    terminal: NDArray[np.bool_]
    valid_actions: NDArray[np.bool_]
    gamma: float
    initial_distribution: NDArray[np.float64]
    state_names: tuple[str, ...] = field(default=())
    action_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        """Check shapes and probabilities, then freeze the arrays."""
        n_states, n_actions = self.rewards.shape
        expected = {
            "transitions": (n_states, n_actions, n_states),
            "terminal": (n_states,),
            "valid_actions": (n_states, n_actions),
            "initial_distribution": (n_states,),
        }
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"{name} has shape {actual}; expected {shape}")
        for name in ("transitions", "rewards", "initial_distribution"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"{name} must be finite")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        live = self.valid_actions & ~self.terminal[:, None]
        if np.any(self.transitions < 0) or not np.allclose(
            self.transitions[live].sum(axis=-1), 1.0
        ):
            raise ValueError(
                "transitions[s, a] must be a probability vector for every valid "
                "action of every non-terminal state"
            )
        if not np.all(live.any(axis=1) | self.terminal):
            raise ValueError("every non-terminal state needs a valid action")
        for name in ("state_names", "action_names"):
            names = getattr(self, name)
            size = n_states if name == "state_names" else n_actions
            if names and len(names) != size:
                raise ValueError(f"{name} must have {size} entries, got {len(names)}")
        for array in (
            self.transitions,
            self.rewards,
            self.terminal,
            self.valid_actions,
            self.initial_distribution,
        ):
            array.flags.writeable = False

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.rewards.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return int(self.rewards.shape[1])
