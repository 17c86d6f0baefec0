"""Time-ordered splits and the leakage check."""

from __future__ import annotations

import numpy as np
import pytest

from access_review_env import ENV_ID
from agents.offline import (
    Episodes,
    LeakageError,
    check_leakage,
    check_split,
    collect,
    decision_features,
    join,
    monthly_drift,
    random_split,
    task_arrays,
    time_split,
    uniform_policy,
)


@pytest.fixture(scope="module")
def episodes() -> Episodes:
    """Six months of requests."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    return join(collect(ENV_ID, behaviour, monthly_drift([0.25] * 6, 5_000), seed=51))


def test_time_split_orders_parts_and_leaves_an_embargo(episodes: Episodes) -> None:
    """Train < validation < test by arrival; no train outcome after validation opens."""
    split = time_split(episodes, "2025-03-01", "2025-05-01", embargo_days=14)
    check_split(split)
    train, validation, test = split.train, split.validation, split.test
    assert train.arrived_at.max() < np.datetime64("2025-02-15")
    assert validation.arrived_at.min() >= np.datetime64("2025-03-01")
    assert validation.arrived_at.max() < np.datetime64("2025-04-17")
    assert test.arrived_at.min() >= np.datetime64("2025-05-01")
    assert train.closed_at.max() <= validation.decided_at.min()
    assert min(train.n_episodes, validation.n_episodes, test.n_episodes) > 0


def test_random_split_leaks_the_future(episodes: Episodes) -> None:
    """Shuffled parts overlap in time: check_split refuses them."""
    split = random_split(episodes, np.random.default_rng(0))
    with pytest.raises(LeakageError, match=r"random split: .* closed after the first"):
        check_split(split)


@pytest.mark.parametrize(
    "feature", ["evidence_at", "outcome", "closed_at", "next_state", "reward", "cost"]
)
def test_features_from_after_the_decision_are_refused(
    episodes: Episodes, feature: str
) -> None:
    """Evidence received, the review outcome, events the router's action caused."""
    with pytest.raises(
        LeakageError,
        match=rf"feature '{feature}' is not known .* row \d+ \(request \d+, step \d+\)",
    ):
        decision_features(episodes, ["state", feature])


def test_decision_time_features_are_accepted(episodes: Episodes) -> None:
    """Decision-log columns are known at the decision."""
    features = decision_features(
        episodes, ["state", "valid_actions", "step", "request_id"]
    )
    assert np.array_equal(features["state"], episodes.state)
    assert features["request_id"].size == episodes.n_transitions


def test_evidence_is_known_at_later_decisions_only(episodes: Episodes) -> None:
    """evidence_at leaks at the decision that asked for it, not at the next one."""
    later = episodes.select(np.ones(episodes.n_episodes, dtype=bool))
    rows = later.step == 1
    evidence = np.repeat(later.evidence_at, later.lengths)[rows]
    known = ~np.isnat(evidence)
    check_leakage(later.decided_at[rows][known], {"evidence_at": evidence[known]})


def test_a_value_known_exactly_at_the_decision_is_allowed() -> None:
    """Equal times are not leakage; one millisecond later is."""
    now = np.array(["2025-01-01T00:00"], dtype="datetime64[ms]")
    check_leakage(now, {"queue_length": now})
    with pytest.raises(LeakageError, match="queue_length"):
        later = np.array(["2025-01-01T00:00:00.001"], dtype="datetime64[ms]")
        check_leakage(now, {"queue_length": later})


def test_time_split_refuses_reversed_boundaries(episodes: Episodes) -> None:
    """The test period must come after validation."""
    with pytest.raises(ValueError, match="must come after"):
        time_split(episodes, "2025-05-01", "2025-04-01", embargo_days=14)
    with pytest.raises(ValueError, match="would be empty"):
        time_split(episodes, "2025-04-01", "2025-05-01", embargo_days=30)
    with pytest.raises(ValueError, match="embargo_days"):
        time_split(episodes, "2025-03-01", "2025-05-01", embargo_days=-1)


def test_random_split_refuses_bad_fractions(episodes: Episodes) -> None:
    """Fractions must be non-negative and sum to 1."""
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(episodes, np.random.default_rng(0), (0.5, 0.5, 0.5))


def test_unknown_feature_is_refused(episodes: Episodes) -> None:
    """A feature the logs do not have is named, with the known ones."""
    with pytest.raises(KeyError, match="unknown feature 'queue_length'"):
        decision_features(episodes, ["queue_length"])
