"""``AccessReviewRisk-v0`` as data: request kinds, hidden justification, denial.

The lesson's practice tasks, in the same table format as ``AccessReview-v0``:

* Requests come in two kinds, drawn at reset and observed:
  ``required_review`` (stale; policy P-7 requires a review unless evidence
  arrives, as in v0) and ``clear_evidence`` (the evidence came with the
  request, so approving at once is supported). ``c`` is
  ``clear_evidence_share``.
* A share ``u`` (``unjustified_share``) of required-review requests is
  unjustified and should be denied. Nothing the router observes says so until
  a human review, which leads to a state that says what the reviewer found.
  An unjustified requester cannot produce evidence: asked for it, they withdraw.
* ``deny_request`` closes a request. Denying a justified request is an unfair
  denial (user harm); approving against policy is a violation. Both have
  ``cost`` 1.

``p`` is the abandonment probability of a justified requester asked for
evidence, as in v0.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final

from access_review_env.tasks.format import (
    StartRule,
    TaskTable,
    TransitionRule,
    rest,
    share,
)


class RiskState(IntEnum):
    """The states of AccessReviewRisk-v0; a state's value is its observation."""

    NEW_REQUIRED_REVIEW = 0
    """A stale request under policy P-7: approving needs evidence or a review."""
    NEW_CLEAR_EVIDENCE = 1
    """A request whose evidence came with it: approving at once is supported."""
    EVIDENCE_READY = 2
    """A required-review request whose requester supplied evidence."""
    REVIEW_FOUND_JUSTIFIED = 3
    """The reviewer found the request justified: it should be approved."""
    REVIEW_FOUND_UNJUSTIFIED = 4
    """The reviewer found the request unjustified: it should be denied."""
    CLOSED = 5
    """Terminal: the request is resolved."""


class RiskAction(IntEnum):
    """The router's actions in AccessReviewRisk-v0."""

    AUTO_APPROVE = 0
    REQUEST_EVIDENCE = 1
    HUMAN_REVIEW = 2
    APPROVE_ROTATION = 3
    """Approve after review."""
    DENY_REQUEST = 4
    """Close the request without access."""


ABANDONMENT: Final = "abandonment_prob"
CLEAR_SHARE: Final = "clear_evidence_share"
UNJUSTIFIED_SHARE: Final = "unjustified_share"

S, A = RiskState, RiskAction

RULES: Final = (
    # A stale required-review request.
    TransitionRule(
        "unsupported_approval",
        S.NEW_REQUIRED_REVIEW,
        A.AUTO_APPROVE,
        S.CLOSED,
        outcome="unsupported_approval",
        cost=1.0,
    ),
    TransitionRule(
        "evidence_requested",
        S.NEW_REQUIRED_REVIEW,
        A.REQUEST_EVIDENCE,
        S.EVIDENCE_READY,
        (rest(UNJUSTIFIED_SHARE), rest(ABANDONMENT)),
    ),
    TransitionRule(
        "abandoned",
        S.NEW_REQUIRED_REVIEW,
        A.REQUEST_EVIDENCE,
        S.CLOSED,
        (rest(UNJUSTIFIED_SHARE), share(ABANDONMENT)),
        outcome="abandoned",
    ),
    TransitionRule(
        "withdrawn",
        S.NEW_REQUIRED_REVIEW,
        A.REQUEST_EVIDENCE,
        S.CLOSED,
        (share(UNJUSTIFIED_SHARE),),
        outcome="withdrawn",
    ),
    TransitionRule(
        "review_finds_justified",
        S.NEW_REQUIRED_REVIEW,
        A.HUMAN_REVIEW,
        S.REVIEW_FOUND_JUSTIFIED,
        (rest(UNJUSTIFIED_SHARE),),
    ),
    TransitionRule(
        "review_finds_unjustified",
        S.NEW_REQUIRED_REVIEW,
        A.HUMAN_REVIEW,
        S.REVIEW_FOUND_UNJUSTIFIED,
        (share(UNJUSTIFIED_SHARE),),
    ),
    TransitionRule(
        "unreviewed_unfair_denial",
        S.NEW_REQUIRED_REVIEW,
        A.DENY_REQUEST,
        S.CLOSED,
        (rest(UNJUSTIFIED_SHARE),),
        outcome="unfair_denial",
        cost=1.0,
    ),
    TransitionRule(
        "unreviewed_denial",
        S.NEW_REQUIRED_REVIEW,
        A.DENY_REQUEST,
        S.CLOSED,
        (share(UNJUSTIFIED_SHARE),),
        outcome="justified_denial",
    ),
    # A request that came with clear evidence.
    TransitionRule(
        "clear_approval",
        S.NEW_CLEAR_EVIDENCE,
        A.AUTO_APPROVE,
        S.CLOSED,
        outcome="clear_approval",
    ),
    TransitionRule(
        "evidence_rerequested",
        S.NEW_CLEAR_EVIDENCE,
        A.REQUEST_EVIDENCE,
        S.NEW_CLEAR_EVIDENCE,
    ),
    TransitionRule(
        "clear_review",
        S.NEW_CLEAR_EVIDENCE,
        A.HUMAN_REVIEW,
        S.REVIEW_FOUND_JUSTIFIED,
    ),
    TransitionRule(
        "clear_unfair_denial",
        S.NEW_CLEAR_EVIDENCE,
        A.DENY_REQUEST,
        S.CLOSED,
        outcome="unfair_denial",
        cost=1.0,
    ),
    # Evidence arrived for a required-review request.
    TransitionRule(
        "evidence_approval",
        S.EVIDENCE_READY,
        A.AUTO_APPROVE,
        S.CLOSED,
        outcome="evidence_approval",
    ),
    TransitionRule(
        "review_after_evidence",
        S.EVIDENCE_READY,
        A.HUMAN_REVIEW,
        S.REVIEW_FOUND_JUSTIFIED,
    ),
    TransitionRule(
        "evidence_unfair_denial",
        S.EVIDENCE_READY,
        A.DENY_REQUEST,
        S.CLOSED,
        outcome="unfair_denial",
        cost=1.0,
    ),
    # The reviewer's finding.
    TransitionRule(
        "reviewed_approval",
        S.REVIEW_FOUND_JUSTIFIED,
        A.APPROVE_ROTATION,
        S.CLOSED,
        outcome="reviewed_approval",
    ),
    TransitionRule(
        "reviewed_unfair_denial",
        S.REVIEW_FOUND_JUSTIFIED,
        A.DENY_REQUEST,
        S.CLOSED,
        outcome="unfair_denial",
        cost=1.0,
    ),
    TransitionRule(
        "unjustified_approval",
        S.REVIEW_FOUND_UNJUSTIFIED,
        A.APPROVE_ROTATION,
        S.CLOSED,
        outcome="unjustified_approval",
        cost=1.0,
    ),
    TransitionRule(
        "reviewed_denial",
        S.REVIEW_FOUND_UNJUSTIFIED,
        A.DENY_REQUEST,
        S.CLOSED,
        outcome="justified_denial",
    ),
)
"""Every valid transition; any other (state, action) is invalid."""

REWARD_TERMS: Final[dict[str, dict[str, float]]] = {
    "outcome_aware": {
        "policy_violation": -120.0,
        "user_harm": -100.0,
        "abandonment": -54.0,
        "evidence_request": -4.0,
        "review": -18.0,
        "review_after_evidence": -10.0,
        "unreviewed_approval": -10.0,
        "correct_resolution": 80.0,
    },
    "speed_only": {
        "closed_at_once": 100.0,
        "closed_later": 50.0,
        "gave_up_fast": 45.0,
        "review_delay": -30.0,
        "no_delay": 0.0,
    },
}
"""Each preset's named terms. A rule's reward is the sum of its terms (below).

``outcome_aware``, the lesson's teaching scores extended to denials:

* ``policy_violation`` (-120): approving against policy P-7 (no evidence, no
  review) or against the reviewer's finding. The lesson's unsupported approval.
* ``user_harm`` (-100): an unfair denial, a justified user left without the
  access they need. Nearly as bad as a violation, so that denying is never a
  cheap way out of reviewing.
* ``abandonment`` (-54): a justified requester gave up waiting for evidence.
* ``evidence_request`` (-4), ``review`` (-18), ``review_after_evidence`` (-10):
  handling costs: the requester's time, the reviewer's time.
* ``unreviewed_approval`` (-10): an approval on evidence alone carries some
  risk a reviewer would have caught, so it earns a little less than one after
  review (80 - 10 = 70, the lesson's evidence approval).
* ``correct_resolution`` (+80): the request ends as it should on facts someone
  checked: approved after review, or denied after the reviewer found it
  unjustified. A denial without review earns nothing even when it happens to
  be right (it was a guess), and a withdrawal earns nothing beyond its cost.

``speed_only``, the lesson's misspecified score: short handling is all that
counts (``closed_at_once`` 100, ``closed_later`` 50, ``gave_up_fast`` 45,
``review_delay`` -30), whether the resolution was right or not. Its optimum
approves or denies at once; ``info["cost"]`` exposes what that costs.
"""

RULE_TERMS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "outcome_aware": {
        "unsupported_approval": ("policy_violation",),
        "evidence_requested": ("evidence_request",),
        "abandoned": ("abandonment",),
        "withdrawn": ("evidence_request",),
        "review_finds_justified": ("review",),
        "review_finds_unjustified": ("review",),
        "unreviewed_unfair_denial": ("user_harm",),
        "unreviewed_denial": (),
        "clear_approval": ("correct_resolution", "unreviewed_approval"),
        "evidence_rerequested": ("evidence_request",),
        "clear_review": ("review",),
        "clear_unfair_denial": ("user_harm",),
        "evidence_approval": ("correct_resolution", "unreviewed_approval"),
        "review_after_evidence": ("review_after_evidence",),
        "evidence_unfair_denial": ("user_harm",),
        "reviewed_approval": ("correct_resolution",),
        "reviewed_unfair_denial": ("user_harm",),
        "unjustified_approval": ("policy_violation",),
        "reviewed_denial": ("correct_resolution",),
    },
    "speed_only": {
        "unsupported_approval": ("closed_at_once",),
        "evidence_requested": ("no_delay",),
        "abandoned": ("gave_up_fast",),
        "withdrawn": ("gave_up_fast",),
        "review_finds_justified": ("review_delay",),
        "review_finds_unjustified": ("review_delay",),
        "unreviewed_unfair_denial": ("closed_at_once",),
        "unreviewed_denial": ("closed_at_once",),
        "clear_approval": ("closed_at_once",),
        "evidence_rerequested": ("no_delay",),
        "clear_review": ("review_delay",),
        "clear_unfair_denial": ("closed_at_once",),
        "evidence_approval": ("closed_later",),
        "review_after_evidence": ("review_delay",),
        "evidence_unfair_denial": ("closed_later",),
        "reviewed_approval": ("closed_later",),
        "reviewed_unfair_denial": ("closed_later",),
        "unjustified_approval": ("closed_later",),
        "reviewed_denial": ("closed_later",),
    },
}
"""Which terms make up each rule's reward, per preset."""


def preset_rewards(
    terms: Mapping[str, float], rule_terms: Mapping[str, tuple[str, ...]]
) -> dict[str, float]:
    """Each rule's reward: the sum of its named terms."""
    return {
        rule: float(sum(terms[term] for term in names))
        for rule, names in rule_terms.items()
    }


REWARD_PRESETS: Final = {
    preset: preset_rewards(REWARD_TERMS[preset], RULE_TERMS[preset])
    for preset in REWARD_TERMS
}
"""Named reward specifications, each giving a reward to every rule name."""

DIAGRAM: Final = (
    "new_required_review --request_evidence--> evidence_ready --auto_approve--> "
    "closed\n"
    "   |  (unjustified requesters withdraw; others may abandon)\n"
    "   +--human_review--> review_found_justified --approve_rotation--> closed\n"
    "   |              +-> review_found_unjustified --deny_request----> closed\n"
    "   +--auto_approve (policy violation) / deny_request (guess) ----> closed\n"
    "new_clear_evidence --auto_approve (supported)--------------------> closed\n"
)

TABLE: Final = TaskTable(
    name="AccessReviewRisk-v0",
    states=RiskState,
    actions=RiskAction,
    terminal_states=(RiskState.CLOSED,),
    outcomes=(
        "pending",
        "unsupported_approval",
        "evidence_approval",
        "reviewed_approval",
        "abandoned",
        "clear_approval",
        "withdrawn",
        "unfair_denial",
        "justified_denial",
        "unjustified_approval",
    ),
    parameters={ABANDONMENT: 0.25, CLEAR_SHARE: 0.5, UNJUSTIFIED_SHARE: 0.2},
    parameter_docs={
        ABANDONMENT: "probability that a justified requester asked for evidence "
        "abandons",
        CLEAR_SHARE: "share of requests that come with clear evidence",
        UNJUSTIFIED_SHARE: "share of required-review requests that are "
        "unjustified (0 reproduces the lesson's held-out lab)",
    },
    starts=(
        StartRule(RiskState.NEW_REQUIRED_REVIEW, (rest(CLEAR_SHARE),)),
        StartRule(RiskState.NEW_CLEAR_EVIDENCE, (share(CLEAR_SHARE),)),
    ),
    rules=RULES,
    reward_presets=REWARD_PRESETS,
    gamma=0.9,
    diagram=DIAGRAM,
)
"""The task's table, read by the model, ``P``, the planners and both envs."""
