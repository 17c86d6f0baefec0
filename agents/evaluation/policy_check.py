"""A trained model's greedy policy and critic against the exact optimum, per state.

For learners whose policy and value function are networks, read state by state
(RLlib's PPO in :mod:`agents.integrations.rllib`): which states the greedy
action is optimal in, how far the critic is from ``V*``, the exact regret of
the greedy policy, and how close a call the start state's decision is. Exact
values are those of the env as ``gym.make`` registers it (its time limit as a
finite horizon); margins are taken over the valid actions. Needs no optional
library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.evaluation.exact import optimal_action_mask
from agents.planning import (
    as_tabular,
    start_value,
    suboptimality_gaps,
    value_iteration,
)
from agents.policies import deterministic_table


@dataclass(frozen=True)
class PolicyCheck:
    """A greedy policy and a critic against value iteration, state by state.

    Plain lists and numbers, so that it travels in Ray results and JSON
    (``PolicyCheck(**dataclasses.asdict(check))`` rebuilds it). Lists have one
    entry per state; terminal states are compared nowhere.

    Attributes:
        env_id: The task.
        env_kwargs: Its ``gym.make`` kwargs, as trained (exploring starts included).
        state_names: Names of the states.
        action_names: Names of the actions.
        greedy: The policy's most probable action per state.
        optimal_actions: Per state, every action whose ``Q*`` is within
            :data:`~agents.evaluation.exact.TIE_TOLERANCE` of ``V*`` (several
            at a tie); empty for terminal states.
        values: The critic's value per state, in the task's units.
        exact_values: ``V*`` per state.
        terminal: True for terminal states.
        initial_distribution: Probability of starting in each state (without
            exploring starts).
        start_margin: The smallest margin of a start state: how much its best
            valid action beats the next best
            (:attr:`~agents.planning.SuboptimalityGaps.margins`).
        regret: ``V*`` minus the greedy policy's exact value, from the start
            distribution; None when the greedy policy takes an action the env
            refuses in a state it reaches (``invalid_action="raise"``).
    """

    env_id: str
    env_kwargs: dict[str, Any]
    state_names: list[str]
    action_names: list[str]
    greedy: list[int]
    optimal_actions: list[list[int]]
    values: list[float]
    exact_values: list[float]
    terminal: list[bool]
    initial_distribution: list[float]
    start_margin: float
    regret: float | None

    @property
    def agrees(self) -> bool:
        """The greedy action is optimal in every non-terminal state."""
        return all(
            terminal or action in optimal
            for action, optimal, terminal in zip(
                self.greedy, self.optimal_actions, self.terminal, strict=True
            )
        )

    @property
    def start_value(self) -> float:
        """The critic's value of the start distribution."""
        return float(np.dot(self.initial_distribution, self.values))

    @property
    def exact_start_value(self) -> float:
        """``V*`` of the start distribution."""
        return float(np.dot(self.initial_distribution, self.exact_values))

    @property
    def max_value_error(self) -> float:
        """The largest ``|V - V*|`` over non-terminal states."""
        return max(
            abs(value - exact)
            for value, exact, terminal in zip(
                self.values, self.exact_values, self.terminal, strict=True
            )
            if not terminal
        )


def check_against_optimum(
    greedy: NDArray[np.integer[Any]],
    values: NDArray[np.floating[Any]],
    env_id: str,
    env_kwargs: Mapping[str, Any] | None = None,
) -> PolicyCheck:
    """Compare ``(S,)`` greedy actions and ``(S,)`` values with the exact optimum.

    Args:
        greedy: The policy's action per state.
        values: The critic's value per state, in the task's units (divide a
            value learned on scaled rewards by the scale first).
        env_id: A registered task whose env exposes ``unwrapped.mdp``.
        env_kwargs: Its ``gym.make`` kwargs.

    Raises:
        TypeError: If the env exposes no planning arrays.
        ValueError: If ``greedy`` or ``values`` is not of shape ``(S,)``.
    """
    kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, **kwargs)
    arrays = as_tabular(env)
    valid = env.unwrapped.mdp.valid_action_mask.astype(bool)  # type: ignore[attr-defined]
    env.close()  # type: ignore[no-untyped-call]
    shape = (arrays.n_states,)
    if np.shape(greedy) != shape or np.shape(values) != shape:
        raise ValueError(
            f"expected greedy actions and values of shape {shape}, got "
            f"{np.shape(greedy)} and {np.shape(values)}"
        )
    exact = value_iteration(arrays)
    is_optimal = optimal_action_mask(exact.Q, exact.V, arrays.terminal)
    optimal_actions = [np.flatnonzero(row).tolist() for row in is_optimal]
    margins = suboptimality_gaps(
        dataclasses.replace(arrays, available_actions=valid)
    ).margins
    starts = arrays.initial_distribution > 0
    achieved = start_value(
        arrays, deterministic_table(np.asarray(greedy), arrays.n_actions)
    )
    optimal = float(arrays.initial_distribution @ exact.V)
    return PolicyCheck(
        env_id=env_id,
        env_kwargs=kwargs,
        state_names=list(arrays.state_names),
        action_names=list(arrays.action_names),
        greedy=[int(action) for action in greedy],
        optimal_actions=optimal_actions,
        values=[float(value) for value in values],
        exact_values=exact.V.tolist(),
        terminal=arrays.terminal.tolist(),
        initial_distribution=arrays.initial_distribution.tolist(),
        start_margin=float(np.nanmin(margins[starts])),
        # Rounded as training traces are, so that a tie reads 0, not -1e-15.
        regret=None if achieved is None else round(optimal - achieved, 9) + 0.0,
    )
