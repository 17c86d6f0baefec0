"""Occupancy by a forward pass, and the queue's operations figures read from it.

Each exact figure is checked against something computed another way: the
discounted occupancy's value against policy evaluation (backward induction),
and the operations figures against counts in rollouts of the env itself.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, QUEUE_ENV_ID
from agents.evaluation import evaluate
from agents.evaluation.exact import scored_model
from agents.evaluation.queue_operations import (
    TALLIES,
    QueueReading,
    QueueTally,
    monte_carlo_operations,
    operations_rule,
)
from agents.evaluation.scoring import Reference
from agents.planning import policy_evaluation
from agents.planning.occupancy import occupancy, occupancy_value

Z_WIDE = 4.5
"""Standard errors of a Monte Carlo check: an honest figure falls outside with
probability about 7e-6, so the six figures fail together under 1e-4."""


def _random_table(valid: np.ndarray, seed: int) -> np.ndarray:
    weights = np.random.default_rng(seed).random(valid.shape) * valid
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [(ENV_ID, {}), (QUEUE_ENV_ID, {"level": "tiny"}), (QUEUE_ENV_ID, {})],
)
def test_occupancy_value_equals_policy_evaluation(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    """V^pi(rho) from the discounted occupancy is policy evaluation's, to 1e-9."""
    model = scored_model(gym.make(env_id, **kwargs))
    valid = np.asarray(model.valid_action_mask, dtype=bool)
    for policy in (_random_table(valid, 3), operations_or_first(valid, env_id)):
        expected = model.initial_distribution @ policy_evaluation(model, policy).V
        value = occupancy_value(model, policy)
        assert value is not None
        assert value == pytest.approx(float(expected), abs=1e-9, rel=1e-12)


def operations_or_first(valid: np.ndarray, env_id: str) -> np.ndarray:
    """The queue's operations rule, or each state's first valid action."""
    if env_id == QUEUE_ENV_ID:
        return operations_rule(valid)
    return np.asarray(np.argmax(valid, axis=1), dtype=np.int64)


def test_visits_over_a_shift_add_up_to_its_decisions() -> None:
    """With weight 1, the expected decisions of a shift are its 200 steps."""
    model = scored_model(gym.make(QUEUE_ENV_ID, level="tiny"))
    rule = operations_rule(np.asarray(model.valid_action_mask, dtype=bool))
    (visits,) = occupancy(model, rule, (1.0,))
    assert visits.runs
    assert model.horizon == 200
    assert visits.states.sum() == pytest.approx(200.0, rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["rule", "random"])
def test_exact_operations_agree_with_rollouts(policy: str) -> None:
    """Each exact figure lies within 4.5 standard errors of 2,000 counted shifts."""
    env = gym.make(QUEUE_ENV_ID, level="tiny")
    model = scored_model(env)
    valid = np.asarray(model.valid_action_mask, dtype=bool)
    actions = (
        operations_rule(valid)
        if policy == "rule"
        else np.argmax(_random_table(valid, 5) > 0.3, axis=1)
    )
    reading = QueueReading.of(env.unwrapped.mdp.shape, model.outcomes)  # type: ignore[attr-defined]
    exact = reading.exact(model, actions)
    assert exact is not None and exact.method == "exact"
    rollout = evaluate(
        env, lambda state: int(actions[state]), 2_000, 11, tally=QueueTally(reading)
    )
    tallies = rollout.tallies
    assert tallies.shape == (2_000, len(TALLIES))
    for i, name in enumerate(TALLIES):
        mean = tallies[:, i].mean()
        se = tallies[:, i].std(ddof=1) / np.sqrt(len(tallies))
        assert abs(getattr(exact, name) - mean) <= Z_WIDE * se + 1e-9, name
    counted = monte_carlo_operations(tallies)
    assert counted.method == "monte_carlo" and counted.intervals is not None
    low, high = counted.intervals["mean_wait"]
    assert low <= counted.mean_wait <= high
    assert exact.arrivals == pytest.approx(exact.admitted + exact.turned_away)


def test_reference_of_the_queue_scores_against_the_operations_rule() -> None:
    """The rule closes none of its own gap; the optimum closes all of it."""
    reference = Reference.of(QUEUE_ENV_ID, {"level": "tiny"})
    assert reference.baseline is not None and reference.baseline_value is not None
    assert reference.gap_closed(reference.baseline_value) == pytest.approx(0.0)
    assert reference.gap_closed(reference.optimal_value) == pytest.approx(1.0)
    assert reference.random_value < reference.baseline_value < reference.optimal_value
