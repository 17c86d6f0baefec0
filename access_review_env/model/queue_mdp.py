"""The queue task's model for one configuration: a level, overrides, a reward spec.

:class:`QueueMDP` resolves a level of the ladder and keyword overrides into
checked parameter values, and builds (once, on first use) the sparse model
``step`` samples from and planners read. Models are cached per configuration:
every env made with the same arguments shares one read-only model, so making
the largest level a second time costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.queue import QueueShape, build_queue_model
from access_review_env.model.sparse import SparseMDP
from access_review_env.tasks.access_review_queue import (
    DEFAULT_LEVEL,
    ENV_ID,
    LEVELS,
    OUTCOMES,
    PARAMETERS,
    REWARD_TERMS,
    STAGES,
    QueueAction,
)
from access_review_env.validation import check_choice, check_real

_BAR_WIDTH, _BAR_GAP, _HEIGHT, _MARGIN = 24, 8, 64, 8


def resolve_queue_rewards(rewards: object) -> dict[str, float]:
    """Every reward term's value under a reward specification.

    Args:
        rewards: ``"outcome_aware"`` (the default terms) or a mapping from term
            names to values overriding single terms.

    Raises:
        TypeError: For a specification that is neither, or a non-numeric value.
        ValueError: For an unknown preset or term, or a value that is not finite.
    """
    resolved = dict(REWARD_TERMS)
    if isinstance(rewards, str):
        check_choice("rewards", rewards, ("outcome_aware",))
        return resolved
    if not isinstance(rewards, Mapping):
        raise TypeError(
            'rewards must be "outcome_aware" or a mapping from reward terms to '
            f"values, got {type(rewards).__name__}"
        )
    unknown = sorted(str(key) for key in rewards if key not in REWARD_TERMS)
    if unknown:
        raise ValueError(
            f"unknown reward term(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(REWARD_TERMS)}"
        )
    for term, value in rewards.items():
        resolved[term] = check_real(f"rewards[{term!r}]", value)
    return resolved


def resolve_queue_parameters(
    level: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The checked value of every parameter: the level's, then ``overrides``.

    Raises:
        TypeError, ValueError: For an unknown level or parameter, or a value
            outside what its declaration allows.
    """
    check_choice("level", level, tuple(LEVELS))
    declared = {parameter.name: parameter for parameter in PARAMETERS}
    unknown = sorted(str(name) for name in overrides if name not in declared)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} of {ENV_ID}; allowed: "
            f"{', '.join(declared)}"
        )
    values = {name: parameter.default for name, parameter in declared.items()}
    values.update(LEVELS[level].parameters)
    values.update(overrides)
    return {name: declared[name].check(value) for name, value in values.items()}


@cache
def _cached_model(
    parameters: tuple[tuple[str, Any], ...],
    rewards: tuple[tuple[str, float], ...],
    invalid_action: str,
    invalid_action_reward: float,
) -> SparseMDP:
    return build_queue_model(
        dict(parameters), dict(rewards), invalid_action, invalid_action_reward
    )


@dataclass(frozen=True, eq=False)
class QueueMDP:
    """The MDP of ``AccessReviewQueue-v0`` for one configuration.

    Args:
        level: A level of the ladder (``access_review_env.QUEUE_LEVELS``).
        parameters: Values overriding the level's (names in
            ``access_review_env.tasks.access_review_queue.PARAMETERS``).
        rewards: ``"outcome_aware"`` or a mapping overriding reward terms.
        invalid_action: ``"penalize"`` (the state stays, the penalty is paid,
            the step's event still happens) or ``"raise"``.
        invalid_action_reward: What a penalized invalid action pays.

    Raises:
        TypeError, ValueError: For any argument outside what it allows.
    """

    level: str = DEFAULT_LEVEL
    parameters: Mapping[str, Any] = field(default_factory=dict)
    rewards: object = "outcome_aware"
    invalid_action: str = "penalize"
    invalid_action_reward: float = -10.0

    def __post_init__(self) -> None:
        """Check every argument and resolve the parameter values."""
        if not isinstance(self.parameters, Mapping):
            raise TypeError(
                f"parameters must be a mapping, got {type(self.parameters).__name__}"
            )
        object.__setattr__(
            self,
            "parameters",
            resolve_queue_parameters(self.level, self.parameters),
        )
        object.__setattr__(self, "_reward_terms", resolve_queue_rewards(self.rewards))
        check_choice("invalid_action", self.invalid_action, ("penalize", "raise"))
        object.__setattr__(
            self,
            "invalid_action_reward",
            check_real("invalid_action_reward", self.invalid_action_reward),
        )

    @property
    def name(self) -> str:
        """The task's registered id."""
        return ENV_ID

    @property
    def reward_terms(self) -> dict[str, float]:
        """Every reward term's value under this configuration."""
        return dict(self.__dict__["_reward_terms"])

    @cached_property
    def shape(self) -> QueueShape:
        """The capacities and the state encoding."""
        p = self.parameters
        return QueueShape(
            p["required_capacity"],
            p["clear_capacity"],
            p["evidence_capacity"],
            p["reviewers"],
        )

    @property
    def n_states(self) -> int:
        """Number of states."""
        return self.shape.n_states

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return len(QueueAction)

    @cached_property
    def sparse(self) -> SparseMDP:
        """The model ``step`` samples from, built once per configuration."""
        return _cached_model(
            tuple(sorted(self.parameters.items())),
            tuple(sorted(self.reward_terms.items())),
            self.invalid_action,
            self.invalid_action_reward,
        )

    @property
    def gamma(self) -> float:
        """The task's recommended discount."""
        return self.sparse.gamma

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Names of the outcome indices ``info`` reports."""
        return OUTCOMES

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Each stage's count over its capacity, then the free places.

        The free reviewers and free evidence places, each over its capacity.
        """
        return (*STAGES, "free_reviewers", "free_evidence_places")

    @cached_property
    def _scales(self) -> NDArray[np.float32]:
        p = self.parameters
        capacity = [
            p["required_capacity"],
            p["clear_capacity"],
            p["evidence_capacity"],
            p["evidence_capacity"],
            *[p["reviewers"]] * 4,
            p["reviewers"],
            p["evidence_capacity"],
        ]
        return np.array([1.0 / max(1, c) for c in capacity], dtype=np.float32)

    def features(self, states: NDArray[np.int64]) -> NDArray[np.float32]:
        """``(..., 10)`` each state's counts per stage and free places, in [0, 1]."""
        counts = self.shape.counts(states)
        p = self.parameters
        free_reviewers = p["reviewers"] - counts[..., 4:].sum(axis=-1)
        free_evidence = p["evidence_capacity"] - counts[..., 2] - counts[..., 3]
        raw = np.concatenate(
            [counts, free_reviewers[..., None], free_evidence[..., None]], axis=-1
        )
        return raw.astype(np.float32) * self._scales

    def state_label(self, state: int) -> str:
        """The state's nonzero counts per stage, e.g. ``"new_required=2"``."""
        return self.shape.describe(state)

    def render_text(
        self,
        state: int,
        last_action: int | None,
        last_reward: float | None,
        outcome: int,
    ) -> str:
        """Each stage's count as a bar, the last action and the valid actions."""
        counts = self.shape.counts(np.asarray(state)).tolist()
        width = max(len(stage) for stage in STAGES)
        bars = "\n".join(
            f"{stage:<{width}} {'#' * count:<6} {count}"
            for stage, count in zip(STAGES, counts, strict=True)
        )
        if last_action is None:
            last = "last: (shift start)"
        else:
            last = (
                f"last: {QueueAction(last_action).name.lower()} "
                f"(reward {last_reward:+.1f}, outcome {OUTCOMES[outcome]})"
            )
        valid = self.sparse.valid_action_mask[state]
        choices = ", ".join(a.name.lower() for a in QueueAction if valid[a])
        return f"{bars}\n{last}\nvalid: {choices}\n"

    def render_rgb(self, state: int, outcome: int) -> NDArray[np.uint8]:
        """One bar per stage, its height the stage's share of its capacity.

        Returns:
            ``(64, 8 * 24 + 7 * 8 + 16, 3)`` uint8, like the table tasks' height.
        """
        del outcome
        shares = self.features(np.asarray(state))[: len(STAGES)]
        width = len(STAGES) * _BAR_WIDTH + (len(STAGES) - 1) * _BAR_GAP + 2 * _MARGIN
        image = np.full((_HEIGHT, width, 3), 255, dtype=np.uint8)
        inner = _HEIGHT - 2 * _MARGIN
        for index, share in enumerate(shares.tolist()):
            left = _MARGIN + index * (_BAR_WIDTH + _BAR_GAP)
            image[_HEIGHT - _MARGIN - 1, left : left + _BAR_WIDTH] = (150, 150, 150)
            top = _HEIGHT - _MARGIN - round(share * inner)
            image[top : _HEIGHT - _MARGIN, left : left + _BAR_WIDTH] = (66, 133, 244)
        return image
