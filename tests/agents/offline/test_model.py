"""Model estimation, certainty-equivalent planning and exact regret, on both tasks."""

from __future__ import annotations

import numpy as np
import pytest

from access_review_env import ENV_ID, TABLE_ENV_IDS
from agents.offline import (
    EstimatedModel,
    TaskInfo,
    collect,
    episodes_to_optimum,
    estimate_model,
    exact_regret,
    exact_value,
    join,
    plan,
    steady,
    tabulate_policy,
    task_arrays,
    uniform_policy,
)
from agents.offline.model import combine, estimate_models, wilson_interval
from agents.planning import policy_evaluation, value_iteration

MDP = task_arrays(ENV_ID)
BEHAVIOUR = uniform_policy(MDP)


@pytest.fixture(scope="module", params=TABLE_ENV_IDS)
def model(request: pytest.FixtureRequest) -> tuple[str, EstimatedModel]:
    """The model estimated from 100,000 logged requests of each task."""
    env_id: str = request.param
    log = collect(env_id, uniform_policy(task_arrays(env_id)), steady(100_000), seed=41)
    return env_id, estimate_model(join(log), log.metadata.task)


def test_estimates_sit_in_their_intervals(model: tuple[str, EstimatedModel]) -> None:
    """Each visited probability's 99.99 % Wilson interval covers the truth.

    At most 30 visited (state, action, next state) probabilities per task, so
    the chance of a false failure is below 3e-3 per task.
    """
    env_id, estimate = model
    mdp = task_arrays(env_id)
    low, high = estimate.transition_interval(confidence=0.9999)
    visited = estimate.visits > 0
    assert np.array_equal(visited, mdp.available_actions & ~mdp.terminal[:, None])
    truth = mdp.transitions[visited]
    assert np.all((low[visited] <= truth + 1e-12) & (truth - 1e-12 <= high[visited]))
    assert np.allclose(estimate.mean_rewards[visited], mdp.rewards[visited], atol=3.0)
    starts = estimate.start_distribution
    assert np.all((starts > 0) == (mdp.initial_distribution > 0))
    assert estimate.terminal.tolist() == mdp.terminal.tolist()
    assert estimate.to_mdp().horizon == mdp.horizon


def test_planning_on_the_estimate_finds_the_optimum(
    model: tuple[str, EstimatedModel],
) -> None:
    """Far from any crossover the margin is beyond the estimate's noise."""
    env_id, estimate = model
    mdp = task_arrays(env_id)
    policy = plan(estimate)
    assert exact_regret(mdp, policy) == pytest.approx(0.0, abs=1e-9)
    live = ~mdp.terminal
    assert np.array_equal(policy[live], value_iteration(mdp).policy[live])


def test_estimated_mdp_agrees_with_policy_evaluation(
    model: tuple[str, EstimatedModel],
) -> None:
    """The estimate is an ordinary TabularMDP: the planners run on it unchanged."""
    env_id, estimate = model
    mdp = task_arrays(env_id)
    target = value_iteration(mdp).policy
    values = policy_evaluation(estimate.to_mdp("exclude"), target).V
    start = estimate.start_distribution @ values
    assert start == pytest.approx(exact_value(mdp, target), abs=0.5)


def test_groups_add_up_to_the_whole(model: tuple[str, EstimatedModel]) -> None:
    """Counting in groups and combining gives the one-pass counts."""
    env_id, _ = model
    log = collect(env_id, uniform_policy(task_arrays(env_id)), steady(2_000), seed=45)
    episodes = join(log)
    whole = estimate_model(episodes, log.metadata.task)
    groups = np.arange(episodes.n_episodes) % 3
    parts = combine(estimate_models(episodes, log.metadata.task, groups, 3))
    assert np.array_equal(parts.counts, whole.counts)
    assert np.allclose(parts.reward_sum, whole.reward_sum)
    assert np.array_equal(parts.start_counts, whole.start_counts)


def test_unvisited_actions_are_excluded_or_terminated() -> None:
    """A log that never asks for evidence: plans cannot pick it; evaluation ends it."""
    never_asks = tabulate_policy(MDP, np.array([2, 0, 3, 0]))
    log = collect(ENV_ID, never_asks, steady(1_000, n_days=60), seed=42)
    model = estimate_model(join(log), TaskInfo.of(MDP))
    excluded = model.to_mdp("exclude")
    assert not excluded.available_actions[0, 1]
    assert excluded.terminal[1]  # evidence_ready is never visited
    terminated = model.to_mdp("terminate")
    assert terminated.available_actions[0, 1]
    assert terminated.transitions[0, 1, 3] == 1.0 and terminated.rewards[0, 1] == 0.0
    assert plan(model)[0] == 2


def test_wilson_interval_known_values() -> None:
    """Wilson's interval for 0 of 10 and 5 of 10 at 95 %."""
    low, high = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert low[0] == pytest.approx(0.0, abs=1e-12)
    assert high[0] == pytest.approx(0.2775, abs=1e-4)
    assert (low[1], high[1]) == pytest.approx((0.2366, 0.7634), abs=1e-4)


@pytest.mark.slow
def test_near_the_crossover_the_plan_needs_many_more_episodes() -> None:
    """Far from 5/113 a few hundred episodes suffice; at p = 0.04 a thousand do not.

    40 independent logs per p. At p = 0.25 every plan from 300 episodes on is
    optimal (a wrong plan needs an abandonment estimate below 0.044 from about
    100 evidence requests: probability below 1e-9). At p = 0.04 the margin is
    0.48 points; from 1,000 episodes (about 333 requests) the plan is wrong with
    probability about 0.34, so at least 3 of 40 logs are wrong (a binomial
    probability below 1e-4 of fewer).
    """
    budgets = [30, 100, 300, 1_000, 3_000, 10_000, 30_000]
    far = episodes_to_optimum(
        ENV_ID, {"abandonment_prob": 0.25}, BEHAVIOUR, budgets, 40, seed=43
    )
    assert far.matched[:, 2:].all()
    near_mdp = task_arrays(ENV_ID, {"abandonment_prob": 0.04})
    near = episodes_to_optimum(
        ENV_ID,
        {"abandonment_prob": 0.04},
        uniform_policy(near_mdp),
        budgets,
        40,
        seed=44,
    )
    assert (~near.matched[:, 3]).sum() >= 3
    assert np.median(near.episodes_to_optimum) > np.median(far.episodes_to_optimum)
    rate, low, high = near.match_rate()
    assert np.all((low <= rate) & (rate <= high))
    assert near.optimal_policy[0] == 1
    assert set(near.summary()) == {"q10", "q50", "q90"}


def test_bad_budgets_are_refused() -> None:
    """Budgets must be positive and increasing; repeats a positive integer."""
    with pytest.raises(ValueError, match="increasing"):
        episodes_to_optimum(ENV_ID, {}, BEHAVIOUR, [100, 50], 1, seed=0)
    with pytest.raises(ValueError, match="n_repeats"):
        episodes_to_optimum(ENV_ID, {}, BEHAVIOUR, [10], 0, seed=0)
