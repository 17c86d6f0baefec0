"""The join: complete cohorts, open requests made visible, inconsistent logs refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from access_review_env import (
    ACTIONS,
    ENV_ID,
    MAX_EPISODE_STEPS,
    RISK_ENV_ID,
    STATES,
    TABLE_ENV_IDS,
)
from agents.offline import (
    OfflineLog,
    OfflineLogError,
    collect,
    join,
    open_request_ids,
    steady,
    task_arrays,
    uniform_policy,
)
from agents.offline.logs import join_keys

REQUEST = ACTIONS.index("request_evidence")
EVIDENCE_READY, REVIEW_QUEUE = (
    STATES.index("evidence_ready"),
    STATES.index("review_queue"),
)


def uniform_log(env_id: str, n_requests: int, n_days: float, seed: int) -> OfflineLog:
    """A steady log under a uniform behaviour."""
    behaviour = uniform_policy(task_arrays(env_id))
    return collect(env_id, behaviour, steady(n_requests, n_days=n_days), seed=seed)


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    """200,000 requests over 100 days: hundreds still open at the end."""
    return uniform_log(ENV_ID, 200_000, 100, seed=21)


def test_open_requests_are_visible(log: OfflineLog) -> None:
    """Decisions without outcomes are exactly the requests not closed by the end."""
    open_ids = open_request_ids(log)
    assert open_ids.size > 0
    closed = np.unique(log.outcomes["request_id"])
    decided = np.unique(log.decisions["request_id"])
    assert np.array_equal(np.union1d(open_ids, closed), decided)


def test_raise_refuses_open_requests(log: OfflineLog) -> None:
    """The message names the decision table and the first open row."""
    with pytest.raises(OfflineLogError, match=r"decision log, row \d+ .*still open"):
        join(log, open_requests="raise")


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_cohort_is_complete_and_selected_by_arrival(env_id: str) -> None:
    """Every cohort episode ends; every request that arrived early enough is in it."""
    log = uniform_log(env_id, 60_000, 200, seed=22)
    episodes = join(log)
    cutoff = log.metadata.cohort_end
    assert np.all(episodes.arrived_at < cutoff)
    last = episodes.starts[1:] - 1
    assert np.all((episodes.terminated | episodes.truncated)[last])
    first_rows = log.decisions["step"] == 0
    early = log.decisions["request_id"][
        first_rows & (log.decisions["decided_at"] < cutoff)
    ]
    assert np.array_equal(episodes.request_id, early)
    assert episodes.n_open == open_request_ids(log).size
    assert episodes.n_late > 0
    assert episodes.task == log.metadata.task
    assert episodes.task.time_limit == MAX_EPISODE_STEPS


def test_dropping_open_requests_biases_the_sample(log: OfflineLog) -> None:
    """Slow routes are open more often at the end: dropping them under-samples them.

    Among requests arriving in the last 3 days, the behaviour asks for evidence
    with probability 1/3; after dropping open requests, the share is far below
    (more than 6 standard errors), while the cohort keeps 1/3 (within 5).
    """
    dropped = join(log, open_requests="drop")
    tail = dropped.arrived_between(log.metadata.end - np.timedelta64(3, "D"), None)
    share = np.mean(tail.action[tail.starts[:-1]] == REQUEST)
    se = np.sqrt(2 / 9 / tail.n_episodes)
    assert share < 1 / 3 - 6 * se
    cohort = join(log)
    share = np.mean(cohort.action[cohort.starts[:-1]] == REQUEST)
    assert abs(share - 1 / 3) < 5 * np.sqrt(2 / 9 / cohort.n_episodes)


def test_unknown_rule_is_refused(log: OfflineLog) -> None:
    """Only cohort, drop and raise exist."""
    with pytest.raises(ValueError, match="open_requests must be one of"):
        join(log, open_requests="as_complete")  # type: ignore[arg-type]


def copy_columns(log: OfflineLog) -> tuple[dict[str, Any], dict[str, Any]]:
    """Writable copies of both tables' columns."""
    return (
        {k: v.copy() for k, v in log.decisions.items()},
        {k: v.copy() for k, v in log.outcomes.items()},
    )


def test_a_state_that_does_not_follow_is_refused(log: OfflineLog) -> None:
    """A second decision in evidence_ready after a step that led to review_queue.

    The row itself is a possible one (approve_rotation in evidence_ready, its
    mask, propensity and result as the task has them); only the chain breaks.
    """
    decisions, outcomes = copy_columns(log)
    row = int(
        np.flatnonzero((decisions["step"] == 1) & (decisions["state"] == REVIEW_QUEUE))[
            0
        ]
    )
    decisions["state"][row] = EVIDENCE_READY
    decisions["valid_actions"][row] = 0b101
    decisions["action"][row] = 0
    decisions["propensity"][row] = 0.5
    outcome_row = int(np.searchsorted(join_keys(outcomes), join_keys(decisions)[row]))
    outcomes["reward"][outcome_row] = 70.0
    outcomes["outcome"][outcome_row] = log.metadata.outcome_names.index(
        "evidence_approval"
    )
    broken = replace(log, decisions=decisions, outcomes=outcomes)
    with pytest.raises(OfflineLogError, match=rf"row {row} .*not the next state"):
        join(broken)


def test_a_request_cut_short_is_refused(log: OfflineLog) -> None:
    """A closed request whose last decision and outcome are gone does not end."""
    decisions, outcomes = copy_columns(log)
    closed = np.isin(decisions["request_id"], outcomes["request_id"])
    row = int(np.flatnonzero(closed & (decisions["step"] == 1))[0])
    outcome_row = int(np.searchsorted(join_keys(outcomes), join_keys(decisions)[row]))
    assert decisions["step"][row + 1] == 0 and outcomes["step"][outcome_row + 1] == 0
    decisions = {k: np.delete(v, row) for k, v in decisions.items()}
    outcomes = {k: np.delete(v, outcome_row) for k, v in outcomes.items()}
    broken = replace(log, decisions=decisions, outcomes=outcomes)
    with pytest.raises(
        OfflineLogError, match=rf"outcome log, row {outcome_row - 1} .*last outcome"
    ):
        join(broken)


def test_malformed_rows_are_refused_when_the_log_is_built(log: OfflineLog) -> None:
    """A propensity of 0 and a missing column are named with table and row."""
    decisions = {k: v.copy() for k, v in log.decisions.items()}
    decisions["propensity"][7] = 0.0
    with pytest.raises(OfflineLogError, match=r"decision log, row 7 .*propensity"):
        replace(log, decisions=decisions)
    outcomes = {k: v for k, v in log.outcomes.items() if k != "reward"}
    with pytest.raises(
        OfflineLogError, match=r"outcome log: missing column\(s\) reward"
    ):
        replace(log, outcomes=outcomes)


def test_select_take_and_head_agree(log: OfflineLog) -> None:
    """Three ways to take the first 1,000 episodes give the same rows."""
    episodes = join(log)
    keep = np.zeros(episodes.n_episodes, dtype=bool)
    keep[:1_000] = True
    a, b, c = episodes.select(keep), episodes.take(0, 1_000), episodes.head(1_000)
    for name in ("state", "action", "reward", "starts", "episode", "request_id"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(getattr(a, name), getattr(c, name)), name
    later = episodes.take(1_000, 1_500)
    assert later.n_episodes == 500 and later.episode[0] == 0
    assert np.array_equal(later.returns(), episodes.returns()[1_000:1_500])


def test_a_log_no_longer_than_its_follow_up_window_is_refused() -> None:
    """A 10-day AccessReviewRisk-v0 log, follow-up 100 days: no complete cohort.

    Before, the join returned 0 episodes without a word. The message names
    both spans and the ways out; dropping open requests still works.
    """
    short = uniform_log(RISK_ENV_ID, 2_000, 10, seed=22)
    assert short.metadata.follow_up_days > 10
    with pytest.raises(
        ValueError,
        match=r"AccessReviewRisk-v0 log spans 10 days .* no longer than its "
        r"follow-up window of \d+ days: .* the complete cohort is empty",
    ):
        join(short)
    assert join(short, "drop").n_episodes > 0
