"""The access-review workflow as data: states, actions, transitions and rewards.

This module is the single source of truth for the MDP of SPEC section 1. The
environment samples from it, ``P`` is derived from it, and planners read the dense
arrays derived from it. Nothing here runs an episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

STATES: Final = ("new_request", "evidence_ready", "review_queue", "closed")
"""State names; a state's index in this tuple is its observation."""

ACTIONS: Final = (
    "auto_approve",
    "request_evidence",
    "human_review",
    "approve_rotation",
)
"""Action names; an action's index in this tuple is its integer action."""

START_STATE: Final = 0
TERMINAL_STATE: Final = 3
NON_TERMINAL_STATES: Final = (0, 1, 2)

RECOMMENDED_GAMMA: Final = 0.9
"""The task's discount, the one the lesson uses; agents default to it."""

OUTCOMES: Final = (
    "pending",
    "unsupported_approval",
    "evidence_approval",
    "reviewed_approval",
    "abandoned",
)
"""Values of ``info["outcome"]``: ``"pending"`` until the request closes."""


@dataclass(frozen=True)
class TransitionRule:
    """One branch of a valid (state, action) pair.

    Attributes:
        name: Key under which reward specifications name this branch.
        state: Index of the state the action is taken in.
        action: Index of the action.
        probability: ``"1"``, ``"1 - p"`` or ``"p"``, where ``p`` is the
            abandonment probability.
        next_state: Index of the state the branch leads to.
        outcome: How the request closed, for branches that close it.
        cost: 1.0 for a policy violation (an unsupported approval), else 0.0.
    """

    name: str
    state: int
    action: int
    probability: str
    next_state: int
    outcome: str = "pending"
    cost: float = 0.0


RULES: Final = (
    TransitionRule("unsupported_approval", 0, 0, "1", 3, "unsupported_approval", 1.0),
    TransitionRule("evidence_requested", 0, 1, "1 - p", 1),
    TransitionRule("abandoned", 0, 1, "p", 3, "abandoned"),
    TransitionRule("review_requested", 0, 2, "1", 2),
    TransitionRule("evidence_approval", 1, 0, "1", 3, "evidence_approval"),
    TransitionRule("review_after_evidence", 1, 2, "1", 2),
    TransitionRule("reviewed_approval", 2, 3, "1", 3, "reviewed_approval"),
)
"""Every valid transition of SPEC section 1; any other (state, action) is invalid."""

TRANSITION_NAMES: Final = tuple(rule.name for rule in RULES)

REWARD_PRESETS: Final[dict[str, dict[str, float]]] = {
    # The lesson's teaching scores.
    "outcome_aware": {
        "unsupported_approval": -120.0,
        "evidence_requested": -4.0,
        "abandoned": -54.0,
        "review_requested": -18.0,
        "evidence_approval": 70.0,
        "review_after_evidence": -10.0,
        "reviewed_approval": 80.0,
    },
    # The lesson's misspecified score, which only rewards short handling time.
    # Chosen so that the routes from new_request are worth exactly 100 / 45 / 15
    # at gamma = 0.9 whatever the abandonment probability (an abandoned request
    # also leaves the queue fast), so that planning picks the unsupported approval.
    "speed_only": {
        "unsupported_approval": 100.0,
        "evidence_requested": 0.0,
        "abandoned": 45.0,
        "review_requested": -30.0,
        "evidence_approval": 50.0,
        "review_after_evidence": -30.0,
        "reviewed_approval": 50.0,
    },
}
"""Named reward specifications, each giving a reward to every transition name."""
