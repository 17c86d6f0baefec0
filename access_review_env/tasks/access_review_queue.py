"""``AccessReviewQueue-v0`` as data: a reviewer team's queue of access requests.

The second task's requests (``required_review`` and ``clear_evidence``, some
required-review requests unjustified) arrive at random and wait at their stage
while a team of reviewers works; the router acts on one request a step. This
module holds what the task *is*: its stages, actions, outcomes, reward terms,
parameters and the ladder of levels. :mod:`access_review_env.model.queue`
builds the sparse model from it.

Stages of a request:

* ``new_required`` and ``new_clear``: arrived, waiting for the router;
* ``awaiting_evidence``: the router asked the requester for evidence;
* ``evidence_ready``: the evidence arrived, waiting for the router;
* ``in_review_unverified`` / ``in_review_evidenced``: a reviewer is reviewing a
  request without / with evidence (the second kind is always found justified);
* ``reviewed_justified`` / ``reviewed_unjustified``: the reviewer's finding
  waits for the router's decision, and the reviewer stays assigned until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Final

from access_review_env.tasks.access_review_risk import REWARD_TERMS as RISK_TERMS
from access_review_env.tasks.access_review_risk import TABLE as RISK_TABLE
from access_review_env.tasks.format import Parameter, Probability, rest, share


class QueueAction(IntEnum):
    """The router's actions: a verb on the oldest request of one stage, or wait."""

    WAIT = 0
    APPROVE_NEW_REQUIRED = 1
    """Approve a required-review request unchecked: a policy violation."""
    REQUEST_EVIDENCE_NEW_REQUIRED = 2
    REVIEW_NEW_REQUIRED = 3
    DENY_NEW_REQUIRED = 4
    """Deny unchecked: unfair if the request is justified, a guess otherwise."""
    APPROVE_EVIDENCE_READY = 5
    REVIEW_EVIDENCE_READY = 6
    DENY_EVIDENCE_READY = 7
    APPROVE_NEW_CLEAR = 8
    REQUEST_EVIDENCE_NEW_CLEAR = 9
    """Ask again for evidence that already came: costs the requester's time."""
    REVIEW_NEW_CLEAR = 10
    DENY_NEW_CLEAR = 11
    APPROVE_REVIEWED_JUSTIFIED = 12
    DENY_REVIEWED_JUSTIFIED = 13
    APPROVE_REVIEWED_UNJUSTIFIED = 14
    DENY_REVIEWED_UNJUSTIFIED = 15


STAGES: Final = (
    "new_required",
    "new_clear",
    "awaiting_evidence",
    "evidence_ready",
    "in_review_unverified",
    "in_review_evidenced",
    "reviewed_justified",
    "reviewed_unjustified",
)
"""The stages a request waits at, in the order of the feature observation."""

OUTCOMES: Final = (*RISK_TABLE.outcomes, "turned_away")
"""How a request leaves the queue; the second task's outcomes plus
``turned_away`` (an arrival that found its intake queue full)."""

UNJUSTIFIED: Final = "unjustified_share"
CLEAR: Final = "clear_evidence_share"
ABANDON: Final = "abandonment_prob"


@dataclass(frozen=True)
class Move:
    """One branch of an action or an event: how the counts change and what it pays.

    Attributes:
        delta: ``(stage, change)`` pairs, each change -1 or +1.
        probability: The branch's share as a product of factors (empty: 1).
        terms: The reward terms it pays (see :data:`REWARD_TERMS`).
        outcome: How a request leaves the queue on this branch, if it does.
        cost: ``info["cost"]``: 1.0 for a violation or an unfair denial.
    """

    delta: tuple[tuple[str, int], ...]
    probability: Probability = ()
    terms: tuple[str, ...] = ()
    outcome: str = "pending"
    cost: float = 0.0


@dataclass(frozen=True)
class ActionRule:
    """What an action does to the oldest request of its stage.

    Attributes:
        action: The action.
        stage: The stage it picks a request from (valid only if there is one).
        needs: ``"reviewer"`` (a free reviewer) or ``"evidence"`` (a free
            evidence place) for the action to be valid, or None.
        moves: Its branches.
    """

    action: QueueAction
    stage: str
    needs: str | None
    moves: tuple[Move, ...]


@dataclass(frozen=True)
class EventRule:
    """One kind of random event and its per-step weight.

    The weight is ``parameter`` times the factors of ``move.probability``,
    times the count at ``per`` (None: once per step, as an arrival). An
    arrival that finds its intake queue full is turned away (``overflow``).

    Attributes:
        name: The event's name.
        parameter: The per-step probability parameter.
        per: The stage whose requests it can happen to, or None.
        move: What it does.
        overflow: The move instead when ``move`` does not fit (None: never).
    """

    name: str
    parameter: str
    per: str | None
    move: Move
    overflow: Move | None = None


_Q = QueueAction
_TURNED_AWAY = Move((), terms=("turned_away",), outcome="turned_away")

ACTION_RULES: Final = (
    ActionRule(
        _Q.APPROVE_NEW_REQUIRED,
        "new_required",
        None,
        (
            Move(
                (("new_required", -1),),
                terms=("policy_violation",),
                outcome="unsupported_approval",
                cost=1.0,
            ),
        ),
    ),
    # Unjustified requesters withdraw at once; the others wait to answer. The
    # evidence request's cost is paid when the requester answers (or
    # withdraws), as in the second task.
    ActionRule(
        _Q.REQUEST_EVIDENCE_NEW_REQUIRED,
        "new_required",
        "evidence",
        (
            Move(
                (("new_required", -1), ("awaiting_evidence", +1)),
                (rest(UNJUSTIFIED),),
            ),
            Move(
                (("new_required", -1),),
                (share(UNJUSTIFIED),),
                terms=("evidence_request",),
                outcome="withdrawn",
            ),
        ),
    ),
    ActionRule(
        _Q.REVIEW_NEW_REQUIRED,
        "new_required",
        "reviewer",
        (
            Move(
                (("new_required", -1), ("in_review_unverified", +1)),
                terms=("review",),
            ),
        ),
    ),
    ActionRule(
        _Q.DENY_NEW_REQUIRED,
        "new_required",
        None,
        (
            Move(
                (("new_required", -1),),
                (rest(UNJUSTIFIED),),
                terms=("user_harm",),
                outcome="unfair_denial",
                cost=1.0,
            ),
            Move(
                (("new_required", -1),),
                (share(UNJUSTIFIED),),
                outcome="justified_denial",
            ),
        ),
    ),
    ActionRule(
        _Q.APPROVE_EVIDENCE_READY,
        "evidence_ready",
        None,
        (
            Move(
                (("evidence_ready", -1),),
                terms=("correct_resolution", "unreviewed_approval"),
                outcome="evidence_approval",
            ),
        ),
    ),
    ActionRule(
        _Q.REVIEW_EVIDENCE_READY,
        "evidence_ready",
        "reviewer",
        (
            Move(
                (("evidence_ready", -1), ("in_review_evidenced", +1)),
                terms=("review_after_evidence",),
            ),
        ),
    ),
    ActionRule(
        _Q.DENY_EVIDENCE_READY,
        "evidence_ready",
        None,
        (
            Move(
                (("evidence_ready", -1),),
                terms=("user_harm",),
                outcome="unfair_denial",
                cost=1.0,
            ),
        ),
    ),
    ActionRule(
        _Q.APPROVE_NEW_CLEAR,
        "new_clear",
        None,
        (
            Move(
                (("new_clear", -1),),
                terms=("correct_resolution", "unreviewed_approval"),
                outcome="clear_approval",
            ),
        ),
    ),
    ActionRule(
        _Q.REQUEST_EVIDENCE_NEW_CLEAR,
        "new_clear",
        None,
        (Move((), terms=("evidence_request",)),),
    ),
    ActionRule(
        _Q.REVIEW_NEW_CLEAR,
        "new_clear",
        "reviewer",
        (
            Move(
                (("new_clear", -1), ("in_review_evidenced", +1)),
                terms=("review",),
            ),
        ),
    ),
    ActionRule(
        _Q.DENY_NEW_CLEAR,
        "new_clear",
        None,
        (
            Move(
                (("new_clear", -1),),
                terms=("user_harm",),
                outcome="unfair_denial",
                cost=1.0,
            ),
        ),
    ),
    ActionRule(
        _Q.APPROVE_REVIEWED_JUSTIFIED,
        "reviewed_justified",
        None,
        (
            Move(
                (("reviewed_justified", -1),),
                terms=("correct_resolution",),
                outcome="reviewed_approval",
            ),
        ),
    ),
    ActionRule(
        _Q.DENY_REVIEWED_JUSTIFIED,
        "reviewed_justified",
        None,
        (
            Move(
                (("reviewed_justified", -1),),
                terms=("user_harm",),
                outcome="unfair_denial",
                cost=1.0,
            ),
        ),
    ),
    ActionRule(
        _Q.APPROVE_REVIEWED_UNJUSTIFIED,
        "reviewed_unjustified",
        None,
        (
            Move(
                (("reviewed_unjustified", -1),),
                terms=("policy_violation",),
                outcome="unjustified_approval",
                cost=1.0,
            ),
        ),
    ),
    ActionRule(
        _Q.DENY_REVIEWED_UNJUSTIFIED,
        "reviewed_unjustified",
        None,
        (
            Move(
                (("reviewed_unjustified", -1),),
                terms=("correct_resolution",),
                outcome="justified_denial",
            ),
        ),
    ),
)
"""Every action but ``wait``; its terms and outcomes are the second task's, so
that a queue holding one request behaves as that task (the limiting case)."""

EVENT_RULES: Final = (
    EventRule(
        "arrival_required",
        "arrival_prob",
        None,
        Move((("new_required", +1),), (rest(CLEAR),)),
        overflow=_TURNED_AWAY,
    ),
    EventRule(
        "arrival_clear",
        "arrival_prob",
        None,
        Move((("new_clear", +1),), (share(CLEAR),)),
        overflow=_TURNED_AWAY,
    ),
    EventRule(
        "evidence_received",
        "response_prob",
        "awaiting_evidence",
        Move(
            (("awaiting_evidence", -1), ("evidence_ready", +1)),
            (rest(ABANDON),),
            terms=("evidence_request",),
        ),
    ),
    EventRule(
        "abandoned_awaiting_evidence",
        "response_prob",
        "awaiting_evidence",
        Move(
            (("awaiting_evidence", -1),),
            (share(ABANDON),),
            terms=("abandonment",),
            outcome="abandoned",
        ),
    ),
    *(
        EventRule(
            f"left_{stage}",
            "leave_prob",
            stage,
            Move(((stage, -1),), terms=("abandonment",), outcome="abandoned"),
        )
        for stage in ("new_required", "new_clear", "evidence_ready")
    ),
    EventRule(
        "review_found_justified",
        "review_prob",
        "in_review_unverified",
        Move(
            (("in_review_unverified", -1), ("reviewed_justified", +1)),
            (rest(UNJUSTIFIED),),
        ),
    ),
    EventRule(
        "review_found_unjustified",
        "review_prob",
        "in_review_unverified",
        Move(
            (("in_review_unverified", -1), ("reviewed_unjustified", +1)),
            (share(UNJUSTIFIED),),
        ),
    ),
    EventRule(
        "review_of_evidence_done",
        "review_prob",
        "in_review_evidenced",
        Move((("in_review_evidenced", -1), ("reviewed_justified", +1))),
    ),
)
"""Every kind of random event; at most one happens a step (see the model)."""

RESOLVED_OUTCOMES: Final = frozenset(
    {
        "unsupported_approval",
        "evidence_approval",
        "reviewed_approval",
        "clear_approval",
        "withdrawn",
        "unfair_denial",
        "justified_denial",
        "unjustified_approval",
    }
)
"""Outcomes of a request the team resolved (closed by a decision)."""

REWARD_TERMS: Final = MappingProxyType(
    {
        **RISK_TERMS["outcome_aware"],
        "waiting": -1.0,
        "turned_away": -54.0,
    }
)
"""The named reward terms, the second task's ``outcome_aware`` ones plus:

* ``waiting`` (-1): per open request and step, whatever its stage: every step
  a request stays open costs its requester (and the team) time;
* ``turned_away`` (-54): an arrival that finds its intake queue full leaves at
  once, unserved, as bad for the requester as an abandonment.

A reward specification is a mapping overriding single terms, such as
``{"waiting": 0.0}``.
"""


PARAMETERS: Final = (
    Parameter(
        "required_capacity",
        4,
        "count",
        "places in the intake queue of new required-review requests",
    ),
    Parameter(
        "clear_capacity",
        3,
        "count",
        "places in the intake queue of new clear-evidence requests",
    ),
    Parameter(
        "evidence_capacity",
        3,
        "count",
        "requests that can be out for evidence at once (awaiting or ready)",
    ),
    Parameter("reviewers", 2, "count", "reviewers working in parallel", low=1),
    Parameter(
        "arrival_prob", 0.45, "probability", "probability that a request arrives"
    ),
    Parameter(
        "clear_evidence_share",
        0.4,
        "probability",
        "share of arrivals that come with clear evidence",
    ),
    Parameter(
        "unjustified_share",
        0.2,
        "probability",
        "share of required-review requests that are unjustified",
    ),
    Parameter(
        "abandonment_prob",
        0.25,
        "probability",
        "share of justified requesters asked for evidence who abandon "
        "instead of answering (the lesson's p)",
    ),
    Parameter(
        "response_prob",
        0.1,
        "probability",
        "per awaiting requester and step: the requester answers (or abandons)",
    ),
    Parameter(
        "review_prob",
        0.04,
        "probability",
        "per request in review and step: its review finishes",
    ),
    Parameter(
        "leave_prob",
        0.01,
        "probability",
        "per request waiting for the router (new or evidence ready) and step: "
        "its requester gives up",
    ),
    Parameter(
        "start",
        "empty",
        "choice",
        '"empty": a shift starts with an empty queue; "one_request": with one '
        "new request, clear with probability clear_evidence_share",
        choices=("empty", "one_request"),
    ),
)
"""The task's parameters, each declared once: the model, the envs, the
registration and the manual read them from here."""

PARAMETER_NAMES: Final = tuple(parameter.name for parameter in PARAMETERS)


@dataclass(frozen=True)
class Level:
    """One rung of the ladder: a size and hardness of the queue.

    Attributes:
        name: The level's name, ``gym.make(..., level=name)``.
        parameters: Values overriding the defaults of :data:`PARAMETERS`.
        n_states: The states of its model (checked by a test).
        probes: What the level is for.
    """

    name: str
    parameters: MappingProxyType[str, object]
    n_states: int
    probes: str


def _level(name: str, n_states: int, probes: str, **parameters: object) -> Level:
    return Level(name, MappingProxyType(parameters), n_states, probes)


LEVELS: Final = MappingProxyType(
    {
        level.name: level
        for level in (
            _level(
                "tiny",
                90,
                "a queue a person can draw: 2 + 1 intake places, 1 reviewer",
                required_capacity=2,
                clear_capacity=1,
                evidence_capacity=1,
                reviewers=1,
                arrival_prob=0.3,
                review_prob=0.08,
                response_prob=0.15,
            ),
            _level(
                "small",
                3_000,
                "2 reviewers for 0.45 arrivals a step: evidence must carry load",
                required_capacity=4,
                clear_capacity=3,
                evidence_capacity=3,
                reviewers=2,
            ),
            _level(
                "medium",
                46_305,
                "3 reviewers; tabular learning starts to miss states",
                required_capacity=8,
                clear_capacity=6,
                evidence_capacity=5,
                reviewers=3,
                arrival_prob=0.5,
                response_prob=0.08,
            ),
            _level(
                "large",
                368_550,
                "4 reviewers; most states are never visited by a tabular learner",
                required_capacity=12,
                clear_capacity=8,
                evidence_capacity=8,
                reviewers=4,
                arrival_prob=0.55,
                response_prob=0.06,
            ),
            _level(
                "xlarge",
                1_021_020,
                "over a million states, still solved exactly",
                required_capacity=16,
                clear_capacity=12,
                evidence_capacity=10,
                reviewers=4,
                arrival_prob=0.55,
                response_prob=0.06,
            ),
        )
    }
)
"""The ladder, from about 10^2 to over 10^6 states."""

ENV_ID: Final = "AccessReviewQueue-v0"
"""The task's registered id."""

DEFAULT_LEVEL: Final = "small"
"""The level ``gym.make("AccessReviewQueue-v0")`` builds."""

MAX_EPISODE_STEPS: Final = 200
"""A shift: 200 steps, each one event slot."""

GAMMA: Final = 0.95
"""The task's recommended discount per step: the next 20 or so events matter;
over a 200-step shift the discount makes the last steps' end effects small
(0.95 ** 200 is about 3.5e-5)."""
