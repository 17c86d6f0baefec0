"""The validated access-review MDP for one configuration, and what derives from it.

:class:`AccessReviewMDP` resolves the table of :mod:`access_review_env.table` for
an abandonment probability, a reward specification and an invalid-action rule.
From its one list of outcomes per (state, action) it derives Gymnasium's ``P``
dict and the dense :class:`~access_review_env.tabular.TabularMDP` arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from numbers import Real
from typing import Literal, NamedTuple, TypeAlias, cast

import numpy as np
from numpy.typing import NDArray

from access_review_env.table import (
    ACTIONS,
    NON_TERMINAL_STATES,
    RECOMMENDED_GAMMA,
    REWARD_PRESETS,
    RULES,
    START_STATE,
    STATES,
    TERMINAL_STATE,
    TRANSITION_NAMES,
)
from access_review_env.tabular import TabularMDP

RewardSpec: TypeAlias = str | Mapping[str, float]
"""A preset name from ``REWARD_PRESETS``, or a mapping from transition names to
rewards that overrides single transitions of the ``"outcome_aware"`` preset."""

InvalidActionRule: TypeAlias = Literal["penalize", "raise"]
INVALID_ACTION_RULES: tuple[InvalidActionRule, ...] = ("penalize", "raise")

GymTransition: TypeAlias = tuple[float, int, float, bool]
"""Gymnasium's toy-text ``(prob, next_state, reward, terminated)``."""


class Outcome(NamedTuple):
    """One possible result of taking an action, as ``step`` reports it."""

    probability: float
    next_state: int
    reward: float
    terminated: bool
    cost: float
    outcome: str
    invalid_action: bool


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def check_probability(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a probability.

    Raises:
        TypeError: If ``value`` is not a real number.
        ValueError: If it is not finite or lies outside [0, 1].
    """
    result = _check_real(name, value)
    if not 0.0 <= result <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return result


def resolve_rewards(rewards: RewardSpec) -> dict[str, float]:
    """Return the reward of every transition name for a reward specification.

    Args:
        rewards: A preset name (``"outcome_aware"`` or ``"speed_only"``) or a
            mapping from transition names to rewards that overrides single
            transitions of ``"outcome_aware"``.

    Raises:
        ValueError: For an unknown preset, an unknown transition name or a
            reward that is not finite.
        TypeError: For a specification that is neither, or a non-numeric reward.
    """
    if isinstance(rewards, str):
        if rewards not in REWARD_PRESETS:
            raise ValueError(
                f"unknown reward preset {rewards!r}; "
                f"allowed presets: {', '.join(REWARD_PRESETS)}"
            )
        return dict(REWARD_PRESETS[rewards])
    if not isinstance(rewards, Mapping):
        raise TypeError(
            "rewards must be a preset name or a mapping from transition names "
            f"to rewards, got {type(rewards).__name__}"
        )
    unknown = sorted(str(key) for key in rewards if key not in TRANSITION_NAMES)
    if unknown:
        raise ValueError(
            f"unknown transition name(s) {', '.join(unknown)} in rewards; "
            f"allowed names: {', '.join(TRANSITION_NAMES)}"
        )
    resolved = dict(REWARD_PRESETS["outcome_aware"])
    for name, reward in rewards.items():
        resolved[name] = _check_real(f"rewards[{name!r}]", reward)
    return resolved


@dataclass(frozen=True)
class AccessReviewMDP:
    """The access-review MDP for one configuration.

    Args:
        abandonment_prob: Probability ``p`` that a requester asked for evidence
            abandons the request.
        rewards: Reward specification, see :func:`resolve_rewards`.
        invalid_action: ``"penalize"``: an action not valid in the current state
            leaves the state unchanged and pays ``invalid_action_reward``;
            ``"raise"``: such an action is an error and has no transition.
        invalid_action_reward: The reward of an invalid action under
            ``"penalize"``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument has a value outside its allowed set.
    """

    abandonment_prob: float = 0.25
    rewards: RewardSpec = "outcome_aware"
    invalid_action: InvalidActionRule = "penalize"
    invalid_action_reward: float = -10.0

    def __post_init__(self) -> None:
        """Validate the arguments and resolve the reward specification."""
        prob = check_probability("abandonment_prob", self.abandonment_prob)
        object.__setattr__(self, "abandonment_prob", prob)
        if self.invalid_action not in INVALID_ACTION_RULES:
            raise ValueError(
                f"invalid_action must be one of {', '.join(INVALID_ACTION_RULES)}, "
                f"got {self.invalid_action!r}"
            )
        penalty = _check_real("invalid_action_reward", self.invalid_action_reward)
        object.__setattr__(self, "invalid_action_reward", penalty)
        object.__setattr__(self, "_reward_table", resolve_rewards(self.rewards))

    @property
    def gamma(self) -> float:
        """The task's recommended discount."""
        return RECOMMENDED_GAMMA

    @property
    def reward_table(self) -> dict[str, float]:
        """The reward of every transition name under this configuration."""
        return dict(cast(dict[str, float], self.__dict__["_reward_table"]))

    @cached_property
    def outcomes(self) -> tuple[tuple[tuple[Outcome, ...], ...], ...]:
        """``outcomes[s][a]``: every possible result of action ``a`` in state ``s``.

        Zero-probability branches are left out. An invalid action has one
        self-loop outcome under ``"penalize"`` and none under ``"raise"``; the
        terminal state absorbs every action with reward 0.
        """
        probability_of = {
            "1": 1.0,
            "1 - p": 1.0 - self.abandonment_prob,
            "p": self.abandonment_prob,
        }
        table: list[list[list[Outcome]]] = [[[] for _ in ACTIONS] for _ in STATES]
        reward_of = self.reward_table
        for rule in RULES:
            probability = probability_of[rule.probability]
            if probability > 0.0:
                table[rule.state][rule.action].append(
                    Outcome(
                        probability,
                        rule.next_state,
                        reward_of[rule.name],
                        rule.next_state == TERMINAL_STATE,
                        rule.cost,
                        rule.outcome,
                        False,
                    )
                )
        for action in range(len(ACTIONS)):
            table[TERMINAL_STATE][action].append(
                Outcome(1.0, TERMINAL_STATE, 0.0, True, 0.0, "pending", False)
            )
            for state in NON_TERMINAL_STATES:
                if self._is_rule(state, action) or self.invalid_action == "raise":
                    continue
                table[state][action].append(
                    Outcome(
                        1.0,
                        state,
                        self.invalid_action_reward,
                        False,
                        0.0,
                        "pending",
                        True,
                    )
                )
        return tuple(tuple(tuple(branches) for branches in row) for row in table)

    @staticmethod
    def _is_rule(state: int, action: int) -> bool:
        return any(rule.state == state and rule.action == action for rule in RULES)

    @cached_property
    def valid_action_mask(self) -> NDArray[np.int8]:
        """``(S, A)`` int8 mask of each state's valid actions (none in ``closed``)."""
        mask = np.zeros((len(STATES), len(ACTIONS)), dtype=np.int8)
        for rule in RULES:
            mask[rule.state, rule.action] = 1
        mask.flags.writeable = False
        return mask

    @property
    def P(self) -> dict[int, dict[int, list[GymTransition]]]:
        """Gymnasium's toy-text ``P[s][a] -> [(prob, next_state, reward, terminated)]``.

        Plain Python numbers throughout; a fresh dict on each access, so callers
        cannot corrupt the model. Under ``invalid_action="raise"`` an invalid
        action maps to an empty list (no transition exists).
        """
        return {
            state: {
                action: [
                    (o.probability, o.next_state, o.reward, o.terminated)
                    for o in self.outcomes[state][action]
                ]
                for action in range(len(ACTIONS))
            }
            for state in range(len(STATES))
        }

    @cached_property
    def arrays(self) -> TabularMDP:
        """The dense planning arrays derived from :attr:`outcomes`."""
        n_states, n_actions = len(STATES), len(ACTIONS)
        transitions = np.zeros((n_states, n_actions, n_states))
        rewards = np.zeros((n_states, n_actions))
        for state in range(n_states):
            for action in range(n_actions):
                for o in self.outcomes[state][action]:
                    transitions[state, action, o.next_state] += o.probability
                    rewards[state, action] += o.probability * o.reward
        terminal = np.zeros(n_states, dtype=bool)
        terminal[TERMINAL_STATE] = True
        initial = np.zeros(n_states)
        initial[START_STATE] = 1.0
        return TabularMDP(
            transitions=transitions,
            rewards=rewards,
            terminal=terminal,
            valid_actions=self.valid_action_mask.astype(bool),
            gamma=self.gamma,
            initial_distribution=initial,
            state_names=STATES,
            action_names=ACTIONS,
        )
