"""A task's table resolved for one configuration, and everything derived from it.

:class:`TaskMDP` resolves a :class:`~access_review_env.tasks.TaskTable` for
parameter values, a reward specification and an invalid-action rule. From its
one list of branches per (state, action) it derives Gymnasium's ``P`` dict and
the dense :class:`~access_review_env.model.tabular.TabularMDP` arrays; both
envs compile their step tables from the same branches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, NamedTuple, TypeAlias, cast

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.declarations import MODEL_PARAMETERS, bind
from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.model.tabular import TabularMDP
from access_review_env.rendering import render_rgb, render_text
from access_review_env.tasks import (
    ACCESS_REVIEW,
    ACCESS_REVIEW_RISK,
    TaskTable,
    probability_value,
)
from access_review_env.validation import check_choice, check_real, check_unit_interval

RewardSpec: TypeAlias = str | Mapping[str, float]
"""A preset name of the task, or a mapping from rule names to rewards that
overrides single rules of the task's default preset."""

InvalidActionRule: TypeAlias = Literal["penalize", "raise"]
INVALID_ACTION_RULES: tuple[InvalidActionRule, ...] = ("penalize", "raise")

GymTransition: TypeAlias = tuple[float, int, float, bool]
"""Gymnasium's toy-text ``(prob, next_state, reward, terminated)``."""


class Branch(NamedTuple):
    """One possible result of taking an action, as ``step`` reports it."""

    probability: float
    next_state: int
    reward: float
    terminated: bool
    cost: float
    outcome: str
    invalid_action: bool


def resolve_rewards(
    rewards: RewardSpec, table: TaskTable = ACCESS_REVIEW
) -> dict[str, float]:
    """Return the reward of every rule of ``table`` for a reward specification.

    Args:
        rewards: A preset name of the table (for AccessReview-v0,
            ``"outcome_aware"`` or ``"speed_only"``) or a mapping from rule names
            to rewards that overrides single rules of the default preset.
        table: The task.

    Raises:
        ValueError: For an unknown preset, an unknown rule name or a reward
            that is not finite.
        TypeError: For a specification that is neither, or a non-numeric reward.
    """
    if isinstance(rewards, str):
        check_choice("rewards", rewards, tuple(table.reward_presets))
        return dict(table.reward_presets[rewards])
    if not isinstance(rewards, Mapping):
        raise TypeError(
            "rewards must be a preset name or a mapping from transition names "
            f"to rewards, got {type(rewards).__name__}"
        )
    unknown = sorted(str(key) for key in rewards if key not in table.rule_names)
    if unknown:
        raise ValueError(
            f"unknown transition name(s) {', '.join(unknown)} in rewards; "
            f"allowed names: {', '.join(table.rule_names)}"
        )
    resolved = dict(table.reward_presets[table.default_preset])
    for name, reward in rewards.items():
        resolved[name] = check_real(f"rewards[{name!r}]", reward)
    return resolved


@dataclass(frozen=True)
class TaskMDP:
    """A task's MDP for one configuration, read-only once built.

    Nothing can be assigned to it, fields or derived tables alike, so ``step``,
    ``P`` and the planning arrays never disagree. (A task's subclass is a
    frozen dataclass too, for the same reason.)

    Args:
        table: The task.
        parameters: Values of the table's probability parameters, each in
            [0, 1]; a parameter left out keeps its default.
        rewards: Reward specification, see :func:`resolve_rewards`; the task's
            default preset when None.
        invalid_action: ``"penalize"``: an action not valid in the current state
            leaves the state unchanged and pays ``invalid_action_reward``;
            ``"raise"``: such an action is an error and has no transition.
        invalid_action_reward: The reward of an invalid action under
            ``"penalize"``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If an argument has a value outside its allowed set.
    """

    table: TaskTable = field(repr=False)
    parameters: Mapping[str, float] = field(default_factory=dict)
    rewards: RewardSpec | None = None
    invalid_action: InvalidActionRule = "penalize"
    invalid_action_reward: float = -10.0

    def __post_init__(self) -> None:
        """Validate the arguments and resolve parameters and rewards."""
        if not isinstance(self.parameters, Mapping):
            raise TypeError(
                f"parameters must be a mapping, got {type(self.parameters).__name__}"
            )
        unknown = sorted(
            str(k) for k in self.parameters if k not in self.table.parameters
        )
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} of {self.table.name}; "
                f"allowed: {', '.join(self.table.parameters)}"
            )
        resolved = dict(self.table.parameters)
        for name, value in self.parameters.items():
            resolved[name] = check_unit_interval(name, value)
        object.__setattr__(self, "parameters", resolved)
        if self.rewards is None:
            object.__setattr__(self, "rewards", self.table.default_preset)
        check_choice("invalid_action", self.invalid_action, INVALID_ACTION_RULES)
        penalty = check_real("invalid_action_reward", self.invalid_action_reward)
        object.__setattr__(self, "invalid_action_reward", penalty)
        reward_spec = cast(RewardSpec, self.rewards)
        object.__setattr__(
            self, "_reward_table", resolve_rewards(reward_spec, self.table)
        )

    @property
    def gamma(self) -> float:
        """The task's recommended discount."""
        return self.table.gamma

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.table.states)

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return len(self.table.actions)

    @property
    def name(self) -> str:
        """The task's registered id."""
        return self.table.name

    @property
    def feature_names(self) -> tuple[str, ...]:
        """One feature per state: the feature observation is one-hot."""
        return self.table.state_names

    def features(self, states: NDArray[np.int64]) -> NDArray[np.float32]:
        """``(..., S)`` the one-hot vector of each of ``states``."""
        identity = np.eye(self.n_states, dtype=np.float32)
        return identity[np.asarray(states, dtype=np.int64)]

    def state_label(self, state: int) -> str:
        """The state's name."""
        return self.table.state_names[state]

    def render_text(
        self,
        state: int,
        last_action: int | None,
        last_reward: float | None,
        outcome: int,
    ) -> str:
        """The workflow, the current state and the last step as text."""
        return render_text(
            self.table,
            state,
            last_action,
            last_reward,
            self.table.outcomes[outcome],
            list(np.flatnonzero(self.valid_action_mask[state])),
        )

    def render_rgb(self, state: int, outcome: int) -> NDArray[np.uint8]:
        """One box per state, the current one filled (see :func:`render_rgb`)."""
        return render_rgb(
            self.n_states,
            self.table.terminal_states,
            state,
            self.table.outcomes[outcome],
        )

    @property
    def reward_table(self) -> dict[str, float]:
        """The reward of every rule name under this configuration."""
        return dict(cast(dict[str, float], self.__dict__["_reward_table"]))

    @cached_property
    def start_distribution(self) -> NDArray[np.float64]:
        """``(S,)`` probability of starting an episode in each state."""
        starts = np.zeros(self.n_states)
        for start in self.table.starts:
            starts[start.state] += probability_value(start.probability, self.parameters)
        starts.flags.writeable = False
        return starts

    @cached_property
    def branches(self) -> tuple[tuple[tuple[Branch, ...], ...], ...]:
        """``branches[s][a]``: every possible result of action ``a`` in state ``s``.

        Zero-probability branches are left out. An invalid action has one
        self-loop branch under ``"penalize"`` and none under ``"raise"``; a
        terminal state absorbs every action with reward 0.
        """
        table = self.table
        grid: list[list[list[Branch]]] = [
            [[] for _ in range(self.n_actions)] for _ in range(self.n_states)
        ]
        reward_of = self.reward_table
        terminal = set(table.terminal_states)
        for rule in table.rules:
            probability = probability_value(rule.probability, self.parameters)
            if probability > 0.0:
                grid[rule.state][rule.action].append(
                    Branch(
                        probability,
                        int(rule.next_state),
                        reward_of[rule.name],
                        rule.next_state in terminal,
                        rule.cost,
                        rule.outcome,
                        False,
                    )
                )
        valid = self.valid_action_mask
        for state in range(self.n_states):
            for action in range(self.n_actions):
                if state in terminal:
                    grid[state][action].append(
                        Branch(1.0, state, 0.0, True, 0.0, "pending", False)
                    )
                elif not valid[state, action] and self.invalid_action == "penalize":
                    grid[state][action].append(
                        Branch(
                            1.0,
                            state,
                            self.invalid_action_reward,
                            False,
                            0.0,
                            "pending",
                            True,
                        )
                    )
        return tuple(tuple(tuple(cell) for cell in row) for row in grid)

    @cached_property
    def valid_action_mask(self) -> NDArray[np.int8]:
        """``(S, A)`` int8 mask of each state's valid actions (none when terminal)."""
        mask = np.zeros((self.n_states, self.n_actions), dtype=np.int8)
        for rule in self.table.rules:
            mask[rule.state, rule.action] = 1
        mask.flags.writeable = False
        return mask

    @cached_property
    def sparse(self) -> SparseMDP:
        """The MDP that ``step`` implements, as a one-stage :class:`SparseMDP`.

        Every action with a transition is available: under ``"penalize"`` an
        invalid action is a real action (the state stays, the penalty is paid),
        so a planner weighs it like any other; under ``"raise"`` it is absent.
        There is no time limit here (``horizon`` is None): the ``TimeLimit``
        wrapper adds one, and :func:`agents.planning.as_tabular` of a made env
        reads it. ``P`` and :attr:`arrays` are views of this model.
        """
        cells = [cell for row in self.branches for cell in row]
        flat = [b for cell in cells for b in cell]
        indptr = np.zeros(len(cells) + 1, dtype=np.int64)
        np.cumsum([len(cell) for cell in cells], out=indptr[1:])
        outcomes = self.table.outcomes
        terminal = np.zeros(self.n_states, dtype=bool)
        terminal[list(self.table.terminal_states)] = True
        return SparseMDP(
            n_actions=self.n_actions,
            decisions=SparseStage(
                indptr,
                np.array([b.next_state for b in flat], dtype=np.int32),
                np.array([b.probability for b in flat], dtype=np.float64),
                np.array([b.reward for b in flat], dtype=np.float64),
                np.array([b.cost for b in flat], dtype=np.float64),
                np.array([outcomes.index(b.outcome) for b in flat], dtype=np.int16),
                np.array([b.invalid_action for b in flat], dtype=bool),
            ),
            events=None,
            terminal=terminal,
            gamma=self.gamma,
            initial_distribution=self.start_distribution,
            valid_actions=self.valid_action_mask.astype(bool),
            outcomes=outcomes,
            state_names=self.table.state_names,
            action_names=self.table.action_names,
        )

    @property
    def P(self) -> dict[int, dict[int, list[GymTransition]]]:
        """Gymnasium's toy-text ``P[s][a] -> [(prob, next_state, reward, terminated)]``.

        Plain Python numbers throughout; a fresh dict on each access, so callers
        cannot corrupt the model. Under ``invalid_action="raise"`` an invalid
        action maps to an empty list (no transition exists).
        """
        return self.sparse.P()

    @cached_property
    def arrays(self) -> TabularMDP:
        """The dense arrays of :attr:`sparse`, the MDP that ``step`` implements."""
        return self.sparse.to_tabular()

    @cached_property
    def workflow_arrays(self) -> TabularMDP:
        """The workflow as the lesson draws it: only valid actions, no time limit.

        Invalid actions are unavailable whatever ``invalid_action`` says, so
        their ``Q`` is ``-inf``; this is the MDP of the lesson's planning labs.
        """
        return dataclasses.replace(
            self.arrays, available_actions=self.valid_action_mask.astype(bool)
        )


def _table_arguments(
    table: TaskTable, owner: str, arguments: Mapping[str, Any]
) -> tuple[TaskTable, dict[str, float], Any, Any, Any]:
    """``TaskMDP``'s arguments from a table task's declared keywords."""
    values = bind(owner, (*table.declared_parameters, *MODEL_PARAMETERS), arguments)
    return (
        table,
        {name: values[name] for name in table.parameters},
        values["rewards"],
        values["invalid_action"],
        values["invalid_action_reward"],
    )


@dataclass(frozen=True, init=False, repr=False, eq=False)
class AccessReviewMDP(TaskMDP):
    """The MDP of ``AccessReview-v0`` for one configuration.

    Takes the env's task keywords (``abandonment_prob``, ``rewards``,
    ``invalid_action``, ``invalid_action_reward``; see ``AccessReviewEnv``).

    Raises:
        TypeError: For an unknown keyword or an argument of the wrong type.
        ValueError: If an argument has a value outside its allowed set.
    """

    def __init__(self, **arguments: Any) -> None:
        """Resolve AccessReview-v0's table for ``arguments``."""
        super().__init__(*_table_arguments(ACCESS_REVIEW, "AccessReviewMDP", arguments))

    @property
    def abandonment_prob(self) -> float:
        """The abandonment probability ``p``."""
        return self.parameters["abandonment_prob"]


@dataclass(frozen=True, init=False, repr=False, eq=False)
class AccessReviewRiskMDP(TaskMDP):
    """The MDP of ``AccessReviewRisk-v0`` for one configuration.

    Takes the env's task keywords (``abandonment_prob``,
    ``clear_evidence_share``, ``unjustified_share``, ``rewards``,
    ``invalid_action``, ``invalid_action_reward``; see ``AccessReviewRiskEnv``).

    Raises:
        TypeError: For an unknown keyword or an argument of the wrong type.
        ValueError: If an argument has a value outside its allowed set.
    """

    def __init__(self, **arguments: Any) -> None:
        """Resolve AccessReviewRisk-v0's table for ``arguments``."""
        super().__init__(
            *_table_arguments(ACCESS_REVIEW_RISK, "AccessReviewRiskMDP", arguments)
        )
