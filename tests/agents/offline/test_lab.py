"""The time-ordered held-out lab: a random split hides drift a time split exposes."""

from __future__ import annotations

import numpy as np
import pytest

from access_review_env import RISK_ENV_ID
from agents.offline import (
    TimeOrderedLab,
    collect,
    monthly_drift,
    split_lab,
    tabulate_policy,
    task_arrays,
    time_ordered_lab,
)


@pytest.fixture(scope="module")
def lab() -> TimeOrderedLab:
    """240,000 requests over 12 months of rising abandonment."""
    return time_ordered_lab(seed=0, requests_per_month=20_000)


def test_random_split_hides_the_drift_the_time_split_exposes(
    lab: TimeOrderedLab,
) -> None:
    """The time split's held-out estimate meets the future; the random split's does not.

    The time split's held-out DR estimate is within 4 of its standard errors
    of the plan's exact value on the last two months, and at least 1.5 points
    below what training promised; the random split's estimate agrees with its
    promise (within 1 point) and misses the future by more than 8 of its
    standard errors.
    """
    time, shuffled = lab.time, lab.random
    assert time.leakage is None and shuffled.leakage is not None
    assert "random split" in shuffled.leakage
    assert abs(time.held_out.value - time.future) <= 4 * time.held_out.se
    assert time.surprise > 1.5
    assert abs(shuffled.surprise) < 1.0
    assert abs(shuffled.held_out.value - shuffled.future) > 8 * shuffled.held_out.se


def test_the_drift_moves_the_optimum_and_the_plans_value(lab: TimeOrderedLab) -> None:
    """The optimal first action flips; the time plan's exact value falls each month."""
    assert lab.monthly_optimal_first[0] == "request_evidence"
    assert lab.monthly_optimal_first[-1] == "human_review"
    assert np.all(np.diff(lab.monthly_exact) < 0)
    assert lab.time.plan[0] == "new_request: request_evidence"
    assert len(lab.monthly_estimate) == 12


def test_only_decision_time_features_are_accepted(lab: TimeOrderedLab) -> None:
    """Evidence, the outcome and the next state arrive after the decision."""
    assert set(lab.rejected_features) == {"evidence_at", "outcome", "next_state"}
    assert lab.accepted_features == ["state", "valid_actions"]


def test_lab_table_has_one_row_per_split(lab: TimeOrderedLab) -> None:
    """The lesson prints the lab as a table: a header and the time and random rows."""
    header, rows = lab.table()
    assert header[0] == "split" and len(header) == len(rows[0])
    assert [row[0] for row in rows] == ["time", "random"]
    assert rows[0][-1] == "no" and rows[1][-1] == "yes"
    assert lab.to_json()["time"]["kind"] == "time"


def test_split_lab_on_the_risk_task_without_drift() -> None:
    """No drift on AccessReviewRisk-v0: both held-out estimates meet the future.

    The behaviour never asks a clear-evidence request for evidence again, so
    every request closes within about 7 days and two-month windows hold a
    time split with that embargo. Both splits' held-out DR estimates lie
    within 4 standard errors of the plan's exact value.
    """
    mdp = task_arrays(RISK_ENV_ID)
    table = mdp.available_actions & ~mdp.terminal[:, None]
    table[1, 1] = False  # new_clear_evidence: no second evidence request
    table = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    table[mdp.terminal, 0] = 1.0
    behaviour = tabulate_policy(mdp, table)
    log = collect(
        RISK_ENV_ID,
        behaviour,
        monthly_drift([0.25] * 6, 10_000, parameter="abandonment_prob"),
        seed=3,
    )
    assert log.metadata.follow_up_days == pytest.approx(7.1)
    lab = split_lab(log, validation_month=3, test_month=4, seed=3)
    for result in (lab.time, lab.random):
        assert abs(result.held_out.value - result.future) <= 4 * result.held_out.se
    assert lab.time.plan[:2] == [
        "new_required_review: human_review",
        "new_clear_evidence: auto_approve",
    ]


def test_month_indices_are_checked() -> None:
    """Validation must start after the first month and before the test months."""
    with pytest.raises(ValueError, match="validation_month"):
        time_ordered_lab(requests_per_month=10, validation_month=5, test_month=3)
