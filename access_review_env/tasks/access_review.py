"""``AccessReview-v0`` as data: the lesson's access-review workflow.

The single source of truth for the MDP of the lesson "Reinforcement Learning
Basics": the env samples from this table, ``P`` and the planning arrays are
derived from it. ``p`` is the abandonment probability.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from access_review_env.tasks.format import (
    StartRule,
    TaskTable,
    TransitionRule,
    rest,
    share,
)


class State(IntEnum):
    """The workflow's states; a state's value is its observation."""

    NEW_REQUEST = 0
    """A stale request; policy P-7 requires review unless strong evidence arrives."""
    EVIDENCE_READY = 1
    """The requester supplied evidence."""
    REVIEW_QUEUE = 2
    """Waiting for the reviewer."""
    CLOSED = 3
    """Terminal: the request is resolved."""


class Action(IntEnum):
    """The router's actions; an action's value is its integer action."""

    AUTO_APPROVE = 0
    REQUEST_EVIDENCE = 1
    HUMAN_REVIEW = 2
    APPROVE_ROTATION = 3
    """Approve after review."""


ABANDONMENT: Final = "abandonment_prob"

RULES: Final = (
    TransitionRule(
        "unsupported_approval",
        State.NEW_REQUEST,
        Action.AUTO_APPROVE,
        State.CLOSED,
        outcome="unsupported_approval",
        cost=1.0,
    ),
    TransitionRule(
        "evidence_requested",
        State.NEW_REQUEST,
        Action.REQUEST_EVIDENCE,
        State.EVIDENCE_READY,
        (rest(ABANDONMENT),),
    ),
    TransitionRule(
        "abandoned",
        State.NEW_REQUEST,
        Action.REQUEST_EVIDENCE,
        State.CLOSED,
        (share(ABANDONMENT),),
        outcome="abandoned",
    ),
    TransitionRule(
        "review_requested", State.NEW_REQUEST, Action.HUMAN_REVIEW, State.REVIEW_QUEUE
    ),
    TransitionRule(
        "evidence_approval",
        State.EVIDENCE_READY,
        Action.AUTO_APPROVE,
        State.CLOSED,
        outcome="evidence_approval",
    ),
    TransitionRule(
        "review_after_evidence",
        State.EVIDENCE_READY,
        Action.HUMAN_REVIEW,
        State.REVIEW_QUEUE,
    ),
    TransitionRule(
        "reviewed_approval",
        State.REVIEW_QUEUE,
        Action.APPROVE_ROTATION,
        State.CLOSED,
        outcome="reviewed_approval",
    ),
)
"""Every valid transition of the lesson's MDP; any other (state, action) is invalid."""

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
"""Named reward specifications, each giving a reward to every rule name."""

DIAGRAM: Final = (
    "new_request --request_evidence--> evidence_ready --auto_approve--> closed\n"
    "     |                                  |\n"
    "     +--human_review--> review_queue <--+--approve_rotation--> closed\n"
    "     +--auto_approve (policy violation) --------------------> closed\n"
)

TABLE: Final = TaskTable(
    name="AccessReview-v0",
    states=State,
    actions=Action,
    terminal_states=(State.CLOSED,),
    outcomes=(
        "pending",
        "unsupported_approval",
        "evidence_approval",
        "reviewed_approval",
        "abandoned",
    ),
    parameters={ABANDONMENT: 0.25},
    parameter_docs={
        ABANDONMENT: "probability that a requester asked for evidence abandons"
    },
    starts=(StartRule(State.NEW_REQUEST),),
    rules=RULES,
    reward_presets=REWARD_PRESETS,
    gamma=0.9,
    diagram=DIAGRAM,
)
"""The task's table, read by the model, ``P``, the planners and both envs."""

STATES: Final = TABLE.state_names
"""State names; a state's index in this tuple is its observation."""
ACTIONS: Final = TABLE.action_names
"""Action names; an action's index in this tuple is its integer action."""
OUTCOMES: Final = TABLE.outcomes
"""Values of ``info["outcome"]``: ``"pending"`` until the request closes."""
TRANSITION_NAMES: Final = TABLE.rule_names
"""The names reward specifications give rewards to."""
START_STATE: Final = State.NEW_REQUEST
TERMINAL_STATE: Final = State.CLOSED
NON_TERMINAL_STATES: Final = TABLE.non_terminal_states
RECOMMENDED_GAMMA: Final = TABLE.gamma
"""The task's discount, the one the lesson uses; agents default to it."""
