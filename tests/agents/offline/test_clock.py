"""Time in a log: periods, drift schedules, step durations, the longest route."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID
from agents.offline import (
    DriftSchedule,
    Period,
    WorkflowClock,
    monthly_drift,
    steady,
    tabulate_policy,
    task_arrays,
    uniform_policy,
)
from agents.offline.clock import MS_PER_DAY, as_time, days
from agents.planning import value_iteration


def test_monthly_drift_makes_calendar_months() -> None:
    """One period per value, each a calendar month with its own world."""
    schedule = monthly_drift([0.0, 0.1, 0.2], 1_000, start="2025-01")
    assert [p.name for p in schedule.periods] == ["2025-01", "2025-02", "2025-03"]
    assert schedule.periods[1].start == np.datetime64("2025-02-01", "ms")
    assert schedule.end == np.datetime64("2025-04-01", "ms")
    assert schedule.periods[2].env_kwargs == {"abandonment_prob": 0.2}
    assert schedule.n_requests == 3_000
    assert DriftSchedule.from_json(schedule.to_json()) == schedule


def test_arrivals_are_sorted_and_inside_the_period() -> None:
    """n_requests sorted arrival times in [start, end)."""
    period = steady(5_000, n_days=3).periods[0]
    arrivals = period.arrivals(np.random.default_rng(0))
    assert arrivals.size == 5_000
    assert np.all(np.diff(arrivals.astype(np.int64)) >= 0)
    assert arrivals.min() >= period.start and arrivals.max() < period.end


def test_durations_stay_within_each_actions_bounds() -> None:
    """Evidence takes 1-5 days, review 0.5-2, everything else 0.01-0.1."""
    clock = WorkflowClock()
    names = ["auto_approve", "request_evidence", "human_review", "approve_rotation"]
    actions = np.repeat(np.arange(4), 10_000)
    durations = clock.durations(actions, names, np.random.default_rng(1)) / MS_PER_DAY
    for action, (low, high) in enumerate(
        [(0.01, 0.1), (1.0, 5.0), (0.5, 2.0), (0.01, 0.1)]
    ):
        chosen = durations[actions == action]
        assert low <= chosen.min() and chosen.max() <= high


@pytest.mark.parametrize(
    ("env_id", "policy", "expected_days"),
    [
        # Evidence (5) then a review (2) then an approval (0.1).
        (ENV_ID, "uniform", 7.1),
        # A review (2), then an approval (0.1).
        (ENV_ID, "optimal", 2.1),
        # A clear-evidence request asked for evidence again and again, up to
        # the 20-step limit: 20 steps of at most 5 days.
        (RISK_ENV_ID, "uniform", 100.0),
        (RISK_ENV_ID, "optimal", 2.1),
    ],
)
def test_longest_route(env_id: str, policy: str, expected_days: float) -> None:
    """The longest a request can take under the behaviour, cut by the time limit."""
    mdp = task_arrays(env_id)
    behaviour = (
        uniform_policy(mdp)
        if policy == "uniform"
        else tabulate_policy(mdp, value_iteration(mdp).policy)
    )
    longest = WorkflowClock().longest_route_ms(mdp, behaviour)
    assert longest == round(expected_days * MS_PER_DAY)


def test_a_loop_without_a_time_limit_has_no_bound() -> None:
    """Without a horizon a repeatable step leaves the duration unbounded."""
    mdp = dataclasses.replace(task_arrays(RISK_ENV_ID), horizon=None)
    with pytest.raises(ValueError, match="follow_up_days"):
        WorkflowClock().longest_route_ms(mdp, uniform_policy(mdp))
    acyclic = dataclasses.replace(task_arrays(ENV_ID), horizon=None)
    assert WorkflowClock().longest_route_ms(acyclic, uniform_policy(acyclic)) == round(
        7.1 * MS_PER_DAY
    )


def test_clock_json_round_trip() -> None:
    """to_json / from_json rebuild the same clock, with or without a window."""
    for clock in (WorkflowClock(), WorkflowClock(follow_up_days=30.0)):
        assert WorkflowClock.from_json(clock.to_json()) == clock


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: as_time("not a time"), ValueError, "not a valid time"),
        (
            lambda: Period(as_time("2025-02-01"), as_time("2025-01-01"), 1),
            ValueError,
            "must end after",
        ),
        (
            lambda: Period(as_time("2025-01-01"), as_time("2025-02-01"), -1),
            ValueError,
            "n_requests",
        ),
        (
            lambda: Period(
                as_time("2025-01-01"),
                as_time("2025-02-01"),
                1.5,  # type: ignore[arg-type]
            ),
            TypeError,
            "n_requests",
        ),
        (
            lambda: DriftSchedule(
                (
                    Period(as_time("2025-01-01"), as_time("2025-02-01"), 1),
                    Period(as_time("2025-03-01"), as_time("2025-04-01"), 1),
                )
            ),
            ValueError,
            "not where",
        ),
        (lambda: monthly_drift([], 10), ValueError, "at least one value"),
        (lambda: monthly_drift([0.1], 10, start="May"), ValueError, "YYYY-MM"),
        (lambda: WorkflowClock(other_days=(0.5, 0.1)), ValueError, "low <= high"),
        (lambda: WorkflowClock(follow_up_days=0.0), ValueError, "follow_up_days"),
    ],
)
def test_bad_times_are_refused(
    make: object, error: type[Exception], message: str
) -> None:
    """Each bad input names what is wrong."""
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


def test_days_are_milliseconds() -> None:
    """A day is 86,400,000 ms."""
    assert days(1.5) == np.timedelta64(129_600_000, "ms")
