"""The single-instance Gymnasium environment ``AccessReviewRisk-v0``."""

from __future__ import annotations

from access_review_env.env import TaskEnv
from access_review_env.model.catalog import ACCESS_REVIEW_RISK_TASK


class AccessReviewRiskEnv(TaskEnv):
    """Route access requests of two kinds, some unjustified: approve, review or deny.

    ## Description
    The lesson's practice tasks as one MDP. Each episode is one request, of a
    kind drawn at reset and observed: a stale `required_review` request (policy
    P-7 requires a review unless evidence arrives, as in `AccessReview-v0`) or a
    `clear_evidence` request (the evidence came with it, so approving at once is
    supported). Some required-review requests are unjustified and should be
    denied; the router cannot see which until a human review, which leads to a
    state saying what the reviewer found. An unjustified requester asked for
    evidence withdraws. `deny_request` closes a request without access. A
    risk-aware policy reviews required-review requests and approves clear ones
    at once; it is optimal here (value 62 at `unjustified_share=0`, against 54
    for always reviewing and -25 for always approving).

    ## Action Space
    `Discrete(5)`:

    - 0: `auto_approve`
    - 1: `request_evidence`
    - 2: `human_review`
    - 3: `approve_rotation` (approve after review)
    - 4: `deny_request`

    Not every action is valid in every state; `info["action_mask"]` and
    `env.action_masks()` say which are.

    ## Observation Space
    `Discrete(6)`, the index of the state (`env.unwrapped.state_names`):

    - 0: `new_required_review` (start, probability 1 - `clear_evidence_share`)
    - 1: `new_clear_evidence` (start, probability `clear_evidence_share`)
    - 2: `evidence_ready`: a required-review requester supplied evidence
    - 3: `review_found_justified`: the reviewer found the request justified
    - 4: `review_found_unjustified`: the reviewer found it unjustified
    - 5: `closed` (terminal)

    ## Starting State
    `new_required_review` or `new_clear_evidence`, drawn from `np_random` with
    probabilities 1 - c and c (`c` is `clear_evidence_share`). With
    `exploring_starts=True` every non-terminal state is equally likely;
    `reset(options={"start_state": s})` starts in a given non-terminal state.

    ## Rewards
    Default `rewards="outcome_aware"`: each transition's reward is the sum of
    named terms (`access_review_env.tasks.access_review_risk.REWARD_TERMS`):
    policy violation -120 (approving without evidence or review, or against the
    reviewer's finding), user harm -100 (an unfair denial), abandonment -54,
    handling costs (evidence request -4, review -18, review after evidence -10),
    unreviewed approval -10 and correct resolution +80 (approved after review,
    or denied after the reviewer found the request unjustified). A denial
    without review earns nothing even when right: it was a guess. The term
    sizes keep the lesson's figures (routes from a required-review request
    worth -120 / 59 - 113 p / 54 at `unjustified_share=0`; from a clear one
    70 / 59 / 54) and make both harms cost about as much, so neither approving
    nor denying is a cheap way out of reviewing.

    `rewards="speed_only"` rewards short handling only (closing at once 100);
    its optimum approves every request at once, and `info["cost"]` shows the
    violation on every required-review request. A mapping overrides single
    transitions (names: `env.unwrapped.mdp.table.rule_names`).

    Any other (state, action) is invalid: with `invalid_action="penalize"` the
    state stays and the reward is `invalid_action_reward`; with
    `invalid_action="raise"`, `step` raises `InvalidActionError`.

    ## Episode End
    - Termination: the request reaches `closed`.
    - Truncation (the `TimeLimit` wrapper `gym.make` adds): 20 steps.

    ## Information
    The keys and types of `AccessReview-v0`: `state`, `action_mask` (shape
    (5,)), `cost` (1.0 for an unsupported or unjustified approval and for an
    unfair denial), `outcome` (an index into `env.unwrapped.outcomes`, 0 while
    pending), `invalid_action` and `prob`.

    ## Arguments
    With `observation="features"` the observation is the state's one-hot
    vector (a `Box` of shape (6,)).

    The recommended discount is `env.unwrapped.mdp.gamma` (0.9).

    ## References
    - The lesson "Reinforcement Learning Basics": its held-out evaluation and
      practice tasks 2 (deny_request) and 3 (safety constraints).

    ## Version History
    - v0: Initial version.
    """

    declaration = ACCESS_REVIEW_RISK_TASK
