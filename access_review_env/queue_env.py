"""The single-instance Gymnasium environment ``AccessReviewQueue-v0``."""

from __future__ import annotations

from access_review_env.env import TaskEnv
from access_review_env.model.catalog import QUEUE_TASK


class AccessReviewQueueEnv(TaskEnv):
    """Route a reviewer team's queue of access requests, one decision a step.

    ## Description
    The second task's requests arrive at random and wait while a team of
    reviewers works. Each step the router takes one action on the oldest
    request of one stage (or waits), then one random event happens: an
    arrival, a requester's answer, a requester giving up, or a finished review.
    Reviewer time is the scarce resource: a review takes several steps, a
    reviewer holds a request until the router closes it, and requesters who
    wait give up. Asking for evidence spares a reviewer but takes the
    requester's time (and some abandon); approving unchecked is a policy
    violation; denying unchecked is unfair to justified requesters.

    Stages (`access_review_env.tasks.access_review_queue.STAGES`):
    `new_required` and `new_clear` (arrived; a share `clear_evidence_share`
    comes with clear evidence), `awaiting_evidence` (asked for evidence),
    `evidence_ready`, `in_review_unverified` and `in_review_evidenced` (with a
    reviewer; an evidenced request is always found justified, an unverified
    one is unjustified with probability `unjustified_share`), and
    `reviewed_justified` / `reviewed_unjustified` (the finding waits for the
    router; its reviewer stays assigned until then).

    The model is exact and public (`env.unwrapped.mdp.sparse`): a state is the
    count of requests at each stage; a step is the router's decision, then one
    event drawn with probability (per-step probability) x (requests it can
    happen to), or nothing. If those weights sum to more than 1 the step holds
    exactly one event drawn in proportion to them. Each (state, action) has
    at most two branches and each state at most eleven event branches, so the
    model grows linearly with the states. Levels (`level=`, the ladder
    `access_review_env.QUEUE_LEVELS`) range from 90 to 1,021,020 states.

    With one request and no arrivals (`start="one_request"`,
    `arrival_prob=0`, `leave_prob=0`, `response_prob=1`, `review_prob=1`,
    `reviewers=1`, rewards `{"waiting": 0.0}`), the queue is
    `AccessReviewRisk-v0`: the same values for every policy.

    ## Action Space
    `Discrete(16)` (`access_review_env.QueueAction`): 0 `wait`, then a verb on
    the oldest request of a stage: 1-4 approve / request evidence / review /
    deny a `new_required` request; 5-7 approve / review / deny an
    `evidence_ready` one; 8-11 approve / request evidence (again) / review /
    deny a `new_clear` one; 12-13 approve / deny a `reviewed_justified` one;
    14-15 approve / deny a `reviewed_unjustified` one. An action is valid when
    its stage has a request, and for a review when a reviewer is free, for a
    request for evidence when an evidence place is free; `info["action_mask"]`
    says which.

    ## Observation Space
    `observation="index"` (default): `Discrete(n)`, the state's index (`n`
    from the level's table). `observation="features"`: `Box(0, 1, (10,))`,
    each stage's count over its capacity, then the free reviewers and free
    evidence places over theirs (`env.unwrapped.mdp.feature_names`).

    ## Starting State
    An empty queue (`start="empty"`), or one new request (`start="one_request"`).
    With `exploring_starts=True` every reset starts in a uniformly random state.

    ## Rewards
    The second task's named terms (`access_review_env.QUEUE_REWARD_TERMS`):
    policy violation -120, user harm (an unfair denial) -100, abandonment -54,
    evidence request -4 (paid when the requester answers, or withdraws at
    once as the unjustified do), review -18, review after evidence -10,
    unreviewed approval -10, correct resolution +80; plus `waiting` -1 per open
    request per step and `turned_away` -54 for an arrival that finds its
    intake queue full. `rewards={"waiting": -2.0}` overrides single terms.
    Invalid actions: as in the other tasks, but the step's event still happens.

    ## Episode End
    - Termination: never (the queue keeps running).
    - Truncation (the `TimeLimit` wrapper `gym.make` adds): 200 steps, a shift.

    ## Information
    The keys of the other tasks (`state` int, `action_mask` bool, `cost`
    np.float64 for a violation or an unfair denial, `outcome` int for the
    request the action closed, 0 if none, `invalid_action`, `prob`) plus
    `event_outcome` (int): the outcome of a request the event closed
    (`abandoned`, `turned_away`), else 0.

    ## Arguments
    Parameters left at None take the level's value; the levels, with their
    state counts, are `access_review_env.QUEUE_LEVELS`. The recommended
    discount is `env.unwrapped.mdp.gamma` (0.95). Models are built once per
    configuration and shared: the largest level takes seconds the first time.

    ## References
    - The lesson "Reinforcement Learning Basics": its practice tasks and
      production warnings (reviewer time, abandonment, held-out evaluation).
    - Puterman, M. L. (1994). Markov Decision Processes, section 11.5
      (uniformization).
    - Powell, W. B. (2011). Approximate Dynamic Programming, 2nd ed., chapter 4
      (post-decision states).

    ## Version History
    - v0: Initial version.
    """

    declaration = QUEUE_TASK
