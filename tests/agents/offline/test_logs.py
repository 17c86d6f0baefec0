"""The join: complete cohorts, open requests made visible, inconsistent logs refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from access_review_env import (
    ACTIONS,
    ENV_ID,
    ENV_IDS,
    MAX_EPISODE_STEPS,
    RISK_ENV_ID,
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

REQUEST = ACTIONS.index("request_evidence")


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


@pytest.mark.parametrize("env_id", ENV_IDS)
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


def test_a_state_that_does_not_follow_is_refused(log: OfflineLog) -> None:
    """A decision whose state is not the previous outcome's next state."""
    decisions = {k: v.copy() for k, v in log.decisions.items()}
    row = int(np.flatnonzero(decisions["step"] == 1)[0])
    decisions["state"][row] = 2 if decisions["state"][row] != 2 else 1
    decisions["valid_actions"][row] = 0b1111
    broken = replace(log, decisions=decisions)
    with pytest.raises(OfflineLogError, match=rf"row {row} .*not the next state"):
        join(broken)


def test_an_early_terminal_outcome_is_refused(log: OfflineLog) -> None:
    """Only a request's last outcome may end it."""
    outcomes = {k: v.copy() for k, v in log.outcomes.items()}
    row = int(np.flatnonzero(outcomes["step"] == 1)[0]) - 1
    outcomes["terminated"][row] = True
    broken = replace(log, outcomes=outcomes)
    with pytest.raises(
        OfflineLogError, match=rf"outcome log, row {row} .*last outcome"
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
