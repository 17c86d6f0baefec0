"""Evaluating policies through the env, and saving / loading learned tables."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID, AccessReviewMDP
from agents import (
    AgentError,
    discounted_return,
    evaluate,
    policy_evaluation,
    value_iteration,
)
from agents.evaluation import (
    interquartile_mean,
    mean_interval,
    mean_score,
    optimality_gap,
    score_policy,
    stratified_bootstrap_ci,
    t_value,
)
from agents.policies import RandomPolicy

OPTIMAL = [2, 0, 3, 0]


def test_evaluating_the_optimal_policy() -> None:
    """The optimal route closes by review: returns 62 (54 discounted), no violation."""
    result = evaluate(gym.make(ENV_ID), OPTIMAL, n_episodes=50, seed=0)
    assert (result.mean_return, result.mean_discounted_return) == (62.0, 54.0)
    assert result.return_se == 0.0 and result.violations == 0.0
    assert result.outcomes == {"reviewed_approval": 50}


def test_always_auto_approving_counts_every_violation() -> None:
    """Every unsupported approval costs 1."""
    result = evaluate(gym.make(ENV_ID), lambda state: 0, n_episodes=40, seed=0)
    assert result.violations == 40.0 and result.violations_per_episode == 1.0
    assert result.outcomes == {"unsupported_approval": 40}


def test_monte_carlo_mean_covers_the_exact_value() -> None:
    """request_evidence first: 4,000 episodes land within 4 standard errors of 30.75."""
    policy = np.array([1, 0, 3, 0])
    exact = policy_evaluation(AccessReviewMDP().arrays, policy).V[0]
    result = evaluate(gym.make(ENV_ID), policy, n_episodes=4_000, seed=3)
    assert math.isclose(exact, 30.75)
    assert abs(result.mean_discounted_return - exact) < 4 * result.discounted_return_se
    abandoned = result.outcomes["abandoned"]
    assert abs(abandoned - 1_000) < 4 * math.sqrt(4_000 * 0.25 * 0.75)


def test_invalid_actions_and_truncation_are_counted() -> None:
    """A policy stuck on an invalid action is cut by the time limit after 20 steps."""
    result = evaluate(gym.make(ENV_ID), [3, 3, 0, 0], n_episodes=3, seed=0)
    assert result.invalid_actions == 60 and result.outcomes == {"pending": 3}
    assert result.mean_return == -200.0


@pytest.mark.parametrize("answer", [2.5, True, 7, [1, 2]])
def test_evaluate_refuses_actions_that_are_not_one_valid_integer(answer: Any) -> None:
    """A float is refused, never truncated; so are booleans, out of range, batches."""
    from agents import AgentError

    with pytest.raises(AgentError, match=r"policy returned action .* in state 0"):
        evaluate(gym.make(ENV_ID), lambda state: answer, n_episodes=1, seed=0)


def test_an_action_table_of_floats_is_refused() -> None:
    """[2.0, 0.0, 3.0, 0.0] is not silently read as integers."""
    from agents import AgentError

    with pytest.raises(AgentError, match=r"returned action 2\.0"):
        evaluate(gym.make(ENV_ID), np.array([2.0, 0.0, 3.0, 0.0]), n_episodes=1, seed=0)


@pytest.mark.parametrize(
    ("rewards", "expected"), [([-120], -120.0), ([-4, 70], 59.0), ([-18, 80], 54.0)]
)
def test_discounted_returns_of_the_lesson_routes(
    rewards: list[float], expected: float
) -> None:
    """The three routes from new_request are worth -120, 59 and 54 at gamma 0.9."""
    assert math.isclose(discounted_return(rewards, 0.9), expected)


def test_discounted_return_rejects_bad_gamma() -> None:
    """A discount outside [0, 1] is an error."""
    with pytest.raises(
        ValueError, match=r"gamma must be a finite real number in \[0, 1\]"
    ):
        discounted_return([1.0], 1.5)


ALWAYS_AUTO = [0, 0, 3, 0]


ALWAYS_REVIEW = [2, 0, 3, 0]


RANDOM_VALUE = (-120 + (0.75 * (-4 + 0.9 * 66) - 0.25 * 54) + 54) / 3
"""By hand, uniformly random valid actions: V(review) = 80,
V(evidence) = (70 + (-10 + 0.9 * 80)) / 2 = 66, and V(new_request) is the mean of
its three actions' values."""


@pytest.mark.parametrize(
    ("policy", "kwargs", "value", "regret"),
    [
        (ALWAYS_AUTO, {}, -120.0, 174.0),
        (ALWAYS_REVIEW, {}, 54.0, 0.0),
        ([1, 0, 3, 0], {"abandonment_prob": 0.0}, 59.0, 0.0),
        (ALWAYS_REVIEW, {"abandonment_prob": 0.0}, 54.0, 5.0),
    ],
)
def test_exact_regret_of_known_policies(
    policy: list[int], kwargs: dict[str, float], value: float, regret: float
) -> None:
    """Exact V^pi and regret of hand-computed routes."""
    score = score_policy(policy, kwargs, n_episodes=50, seed=0)
    assert score.exact_value == pytest.approx(value)
    assert score.regret == pytest.approx(regret)


def test_random_policy_value_and_normalization() -> None:
    """The random policy is worth -12.65 and scores 0; the optimal one scores 1."""
    assert pytest.approx(-12.65) == RANDOM_VALUE
    random_score = score_policy(RandomPolicy(0), n_episodes=50, seed=0)
    assert random_score.exact_value == pytest.approx(RANDOM_VALUE)
    assert random_score.random_value == pytest.approx(RANDOM_VALUE)
    assert random_score.normalized_score == pytest.approx(0.0)
    assert score_policy(ALWAYS_REVIEW, n_episodes=50, seed=0).normalized_score == 1.0


def test_worse_than_random_scores_below_zero() -> None:
    """Always approving at once scores (-120 + 12.65) / (54 + 12.65) < 0."""
    score = score_policy(ALWAYS_AUTO, n_episodes=20, seed=0)
    assert score.normalized_score == pytest.approx(
        (-120 - RANDOM_VALUE) / (54 - RANDOM_VALUE)
    )
    assert score.violations_per_episode == 1.0


def test_monte_carlo_interval_covers_the_exact_value_at_its_rate() -> None:
    """95 % intervals of 40 seeds x 200 episodes cover the exact value 34+ times.

    Under correct coverage 38 are expected; 33 or fewer has probability below
    0.1 % (binomial, n = 40, p = 0.95). The interval is not degenerate.
    """
    covered = 0
    for seed in range(40):
        score = score_policy(RandomPolicy(seed), n_episodes=200, seed=seed)
        low, high = score.mc_ci
        assert high - low > 1.0
        covered += low <= RANDOM_VALUE <= high
    assert covered >= 34


def test_agreement_is_per_state_and_counts_unvisited_states() -> None:
    """A policy optimal where it goes but wrong off its path is flagged there."""
    score = score_policy([2, 2, 3, 0], n_episodes=20, seed=0)
    assert score.regret == 0.0
    assert score.agreement == {
        "new_request": True,
        "evidence_ready": False,
        "review_queue": True,
    }


def test_a_uniform_tie_is_not_agreement() -> None:
    """The random policy does not agree anywhere it has a real choice."""
    score = score_policy(
        RandomPolicy(0), {"rewards": "speed_only"}, n_episodes=20, seed=0
    )
    assert score.agreement == {
        "new_request": False,
        "evidence_ready": False,
        "review_queue": True,
    }


def test_invalid_actions_penalized_or_crashing() -> None:
    """A policy stuck on invalid actions loses when penalized, scores 0 under raise."""
    penalized = score_policy([3, 3, 3, 0], n_episodes=5, seed=0)
    assert penalized.invalid_action_rate == 1.0 and penalized.outcomes == {"pending": 5}
    raised = score_policy(
        [3, 3, 3, 0], {"invalid_action": "raise"}, n_episodes=5, seed=0
    )
    assert raised.crashed and raised.normalized_score == 0.0


def test_actions_outside_the_space_are_an_agent_error() -> None:
    """An action the space does not contain names the agent and the state."""
    with pytest.raises(AgentError, match=r"agent bad returned action .*7.* in state 0"):
        score_policy(lambda state: 7, n_episodes=5, seed=0, name="bad")


def test_interquartile_mean_and_optimality_gap() -> None:
    """IQM drops the lowest and highest quarter; the gap ignores excess over 1."""
    scores = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0]])
    assert interquartile_mean(scores) == pytest.approx(3.5)
    assert mean_score(scores) == pytest.approx(121 / 8)
    assert optimality_gap(np.array([[0.5, 1.5]])) == pytest.approx(0.25)


def test_stratified_bootstrap_keeps_each_task_weight() -> None:
    """Constant rows make every stratified resample's mean identical."""
    scores = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert stratified_bootstrap_ci(scores, mean_score, np.random.default_rng(0)) == (
        0.5,
        0.5,
    )


def test_bootstrap_interval_brackets_the_statistic() -> None:
    """On spread-out scores the interval has width and contains the point estimate."""
    scores = np.random.default_rng(1).normal(0.5, 0.2, size=(4, 10))
    low, high = stratified_bootstrap_ci(
        scores, interquartile_mean, np.random.default_rng(2)
    )
    assert low < interquartile_mean(scores) < high


def test_an_invalid_action_off_the_policys_path_is_not_a_crash() -> None:
    """Under raise, a wrong action in a state the policy never reaches costs nothing.

    From new_request this policy reviews and approves, never reaching
    evidence_ready, where it would take the invalid approve_rotation. It runs,
    has exact value 54, and is flagged only by per-state agreement.
    """
    score = score_policy(
        [2, 3, 3, 0], {"invalid_action": "raise"}, n_episodes=20, seed=0
    )
    assert not score.crashed
    assert score.exact_value == pytest.approx(54.0)
    assert score.normalized_score == 1.0
    assert score.agreement == {
        "new_request": True,
        "evidence_ready": False,
        "review_queue": True,
    }


def test_evaluate_cuts_episodes_of_an_env_without_a_time_limit() -> None:
    """env.unwrapped never truncates: evaluate cuts a stall at max_steps, not never.

    By default the cut is DEFAULT_MAX_STEPS (1,000); a given max_steps wins.
    """
    bare = gym.make(ENV_ID).unwrapped
    default = evaluate(bare, lambda state: 3, n_episodes=2, seed=0)
    assert default.mean_length == 1_000 and default.outcomes == {"pending": 2}
    short = evaluate(bare, lambda state: 3, n_episodes=2, seed=0, max_steps=7)
    assert short.mean_length == 7
    assert evaluate(gym.make(ENV_ID), lambda s: 3, 2, seed=0).mean_length == 20


@pytest.mark.parametrize(
    ("p", "greedy", "agrees", "regret", "margin"),
    [
        (0.25, [2, 0, 3, 0], True, 0.0, 23.25),
        (0.25, [1, 0, 3, 0], False, 23.25, 23.25),
        (0.04, [2, 0, 3, 0], False, 0.48, 0.48),
        (5 / 113, [1, 0, 3, 0], True, 0.0, 0.0),
        (5 / 113, [2, 0, 3, 0], True, 0.0, 0.0),
    ],
)
def test_a_greedy_policy_and_critic_are_checked_against_the_optimum(
    p: float, greedy: list[int], agrees: bool, regret: float, margin: float
) -> None:
    """Agreement, exact regret and start margin; a tie counts as optimal."""
    from agents.evaluation.policy_check import check_against_optimum

    env = gym.make(ENV_ID, abandonment_prob=p)
    exact = value_iteration(env).V
    check = check_against_optimum(
        np.array(greedy), exact, ENV_ID, {"abandonment_prob": p}
    )
    assert check.agrees is agrees
    assert check.regret == pytest.approx(regret, abs=1e-9)
    assert check.start_margin == pytest.approx(margin, abs=1e-9)
    assert check.max_value_error == 0.0
    assert check.start_value == check.exact_start_value == exact[0]
    assert check.state_names[:3] == ["new_request", "evidence_ready", "review_queue"]


def test_a_policy_check_of_the_second_task_and_of_a_refused_action() -> None:
    """Two start states on AccessReviewRisk-v0; no regret for a refused action."""
    from agents.evaluation.policy_check import check_against_optimum

    check = check_against_optimum(
        np.array([2, 0, 0, 3, 4, 0]), np.zeros(6), RISK_ENV_ID, {}
    )
    assert check.agrees and check.regret == pytest.approx(0.0, abs=1e-9)
    assert check.initial_distribution[:2] == [0.5, 0.5]
    assert check.start_value == 0.0 < check.exact_start_value
    stalls = check_against_optimum(
        np.array([3, 0, 3, 0]), np.zeros(4), ENV_ID, {"invalid_action": "raise"}
    )
    assert stalls.regret is None and not stalls.agrees
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        check_against_optimum(np.zeros(3, dtype=int), np.zeros(4), ENV_ID)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 10, 99, 999, 1_000, 1_001, 4_095, 10**6])
@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99, 0.999, 0.9999])
def test_t_value_matches_scipy(df: int, confidence: float) -> None:
    """Student's t without SciPy: the exact series, then Cornish-Fisher, to 1e-9."""
    from scipy import stats

    expected = stats.t.ppf(0.5 + confidence / 2, df)
    assert t_value(confidence, df) == pytest.approx(expected, rel=1e-9)


def test_t_value_refuses_what_has_no_quantile() -> None:
    """No degrees of freedom, or a coverage of 0 or 1: a clear error."""
    with pytest.raises(ValueError, match="df must be"):
        t_value(0.95, 0)
    with pytest.raises(ValueError, match="confidence must be"):
        t_value(1.0, 5)


def test_an_interval_over_ten_seeds_is_student_t() -> None:
    """Ten seeds: 2.262 standard errors, 1.154 times the normal 1.960; one: none."""
    values = np.random.default_rng(0).normal(size=(10, 3))
    mean, low, high = mean_interval(values)
    se = values.std(axis=0, ddof=1) / math.sqrt(10)
    np.testing.assert_allclose((high - low) / (2 * se), 2.2621571627982)
    assert t_value(0.95, 9) / 1.959963984540054 == pytest.approx(1.154, abs=5e-4)
    np.testing.assert_allclose(mean, values.mean(axis=0))
    _, low, high = mean_interval(values[:1])
    assert np.isnan(low).all() and np.isnan(high).all()
