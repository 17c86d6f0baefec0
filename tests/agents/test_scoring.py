"""How every kind of policy is scored: exact values that are true, or refused.

The coin flip of these tests chooses request_evidence or human_review with
probability 1/2 each at new_request (on AccessReview-v0's defaults worth 30.75
and 54, so 42.375 together) and acts optimally elsewhere.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID
from agents.benchmark import RunRecord, markdown, summarize
from agents.benchmark.suite import SUITES
from agents.benchmark.summary import ExactCheck, hardness_table
from agents.evaluation import (
    CHECK_CONFIDENCE,
    evaluate,
    score_policies,
    score_policy,
    scored_arrays,
)
from agents.evaluation.exact import return_deviation, return_moments
from agents.evaluation.scoring import check_interval, harness_generators, outside
from agents.planning import policy_evaluation, start_value, value_iteration
from agents.policies import AgentError, RandomPolicy, read_policy, stochastic_table
from agents.policies import probability_table as probability_module

COIN_VALUE = 42.375
"""(30.75 + 54) / 2."""

OPTIMAL = [2, 0, 3, 0]


class Coin:
    """The coin flip as a stochastic policy; its ``predict`` is greedy (human_review).

    Scoring must read its probabilities and never its ``predict``.
    """

    def __init__(self) -> None:
        """Count the calls, to see how the harness asks."""
        self.batches: list[int] = []

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """Request evidence or review at new_request, half each; optimal elsewhere."""
        self.batches.append(len(states))
        table = np.eye(4)[OPTIMAL]
        table[0] = [0.0, 0.5, 0.5, 0.0]
        return np.asarray(table[states])

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> Any:
        """Greedy: always human_review first."""
        return np.asarray(OPTIMAL[int(observation)]), None


def coin_function(state: int) -> int:
    """The coin flip as a plain function drawing from Python's global generator."""
    return random.choice([1, 2]) if state == 0 else OPTIMAL[state]


def uniform_function(state: int) -> int:
    """Uniformly random among all four actions, from NumPy's global generator."""
    return int(np.random.randint(4))  # noqa: NPY002 (what a user's function does)


def test_the_coin_flip_is_worth_42_375() -> None:
    """Planning the coin flip's table gives (30.75 + 54) / 2."""
    arrays = scored_arrays(gym.make(ENV_ID))
    table = stochastic_table(Coin(), np.ones((4, 4), dtype=bool), ~arrays.terminal)
    assert start_value(arrays, table) == pytest.approx(COIN_VALUE)


def test_a_stochastic_policy_is_scored_from_its_probabilities_both_ways() -> None:
    """Exact 42.375 and rollouts sampled from the same table, not from predict.

    Greedy rollouts would return 54 every episode; sampled ones have the coin's
    spread. The exact value lies in the 99.99 % interval (false-failure rate
    1e-4), and the mean is far from 54 (more than 15 standard errors).
    """
    policy = Coin()
    score = score_policy(policy, n_episodes=2_000, seed=3)
    assert score.mode == "stochastic"
    assert score.exact_value == pytest.approx(COIN_VALUE)
    assert score.exact_outside_mc is False
    assert score.mc_check_ci[0] <= COIN_VALUE <= score.mc_check_ci[1]
    assert score.mc_ci[1] < 50.0
    assert policy.batches == [3], "one batch of the three non-terminal states"


def test_stochastic_policies_are_read_in_batches(monkeypatch: Any) -> None:
    """A table is asked for at most PROBABILITY_BATCH states at a time."""
    monkeypatch.setattr(probability_module, "PROBABILITY_BATCH", 2)
    policy = Coin()
    arrays = scored_arrays(gym.make(ENV_ID))
    stochastic_table(policy, np.ones((4, 4), dtype=bool), ~arrays.terminal)
    assert policy.batches == [2, 1]


class Stated:
    """A stochastic policy that states the given rows for every state."""

    def __init__(self, row: Any) -> None:
        """State ``row``."""
        self.row = row

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> Any:
        """``row`` for each state."""
        return np.tile(np.asarray(self.row, dtype=float), (len(states), 1))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([0.5, 0.5, 0.0], r"shape \(3, 3\) for 3 states; allowed: \(3, 4\)"),
        ([0.5, 0.6, 0.0, -0.1], r"in state 0; allowed: non-negative"),
        ([0.5, 0.4, 0.0, 0.0], r"summing to 1"),
        ([np.nan, 1.0, 0.0, 0.0], r"summing to 1"),
    ],
)
def test_probabilities_that_are_not_distributions_are_refused(
    row: list[float], message: str
) -> None:
    """Wrong shape, negative, not summing to 1, NaN: AgentError naming the rule."""
    with pytest.raises(AgentError, match=message):
        score_policy(Stated(row), n_episodes=5, seed=0, name="bad")


def test_a_coin_flip_function_is_probed_and_refused_an_exact_value() -> None:
    """Asked 8 times per state it answers differently: Monte Carlo alone, and why.

    Its rollouts estimate the true 42.375 (inside the 99.99 % interval: false
    failure 1e-4), where one answer per state would have read 54 or 30.75.
    """
    score = score_policy(coin_function, n_episodes=2_000, seed=0, name="coin")
    assert score.mode == "sampled" and score.exact_value is None
    assert score.exact_note is not None
    assert "answered differently when asked 8 times in state 0" in score.exact_note
    assert score.agreement is None and score.exact_outside_mc is None
    assert score.mc_check_ci[0] <= COIN_VALUE <= score.mc_check_ci[1]
    assert score.regret == pytest.approx(score.optimal_value - score.mc_value)


def test_a_uniformly_random_function_agrees_with_its_own_interval() -> None:
    """Its true value (the uniform table, -34.53) lies inside its Monte Carlo interval.

    Read from one call per state it was -87.84 (a stall) outside [-39.1, -30.6];
    now it has no exact value, and the value planning gives its actual
    distribution lies inside the 99.99 % interval (false failure 1e-4).
    """
    arrays = scored_arrays(gym.make(ENV_ID))
    true_value = start_value(arrays, np.full((4, 4), 0.25))
    assert true_value is not None
    assert true_value == pytest.approx(-34.526, abs=1e-3)
    score = score_policy(uniform_function, n_episodes=2_000, seed=1, name="uniform")
    assert score.mode == "sampled" and score.exact_value is None
    low, high = score.mc_check_ci
    assert low <= true_value <= high


def test_the_harness_seeds_what_a_function_draws_and_restores_it() -> None:
    """Same seed, same rollouts; the caller's global generators are untouched."""
    random.seed(11)
    np.random.seed(12)  # noqa: NPY002
    before = (random.getstate(), _numpy_global_state())
    first = score_policy(uniform_function, n_episodes=200, seed=4)
    second = score_policy(uniform_function, n_episodes=200, seed=4)
    assert first.mc_value == second.mc_value
    assert random.getstate() == before[0]
    np.testing.assert_array_equal(_numpy_global_state(), before[1])


def _numpy_global_state() -> NDArray[np.uint32]:
    """The key of NumPy's global generator."""
    state = np.random.get_state(legacy=True)  # noqa: NPY002
    assert isinstance(state, tuple)
    return np.array(state[1])


def test_a_function_that_changes_its_answer_during_the_rollouts_loses_its_value() -> (
    None
):
    """Consistent over its 24 probes, then another answer: no exact value, and why."""
    calls = itertools.count()

    def drifting(state: int) -> int:
        return 1 if state == 0 and next(calls) % 50 == 49 else OPTIMAL[state]

    score = score_policy(drifting, n_episodes=200, seed=0, name="drifting")
    assert score.mode == "sampled" and score.exact_value is None
    assert score.exact_note is not None
    assert "chose action 1 in state 0 during the rollouts" in score.exact_note


def test_deterministic_policies_of_every_kind_stay_greedy_and_exact() -> None:
    """A function, a table and a learned agent read greedily, exactly."""
    for policy in (lambda state: OPTIMAL[state], OPTIMAL, np.array(OPTIMAL)):
        score = score_policy(policy, n_episodes=50, seed=0)
        assert (score.mode, score.exact_value) == ("greedy", 54.0)
        assert score.exact_outside_mc is False


def test_read_policy_asks_an_action_table_once_and_a_function_per_probe() -> None:
    """Tables are deterministic by construction; a function is asked PROBES times."""
    calls: list[int] = []

    def counted(state: int) -> int:
        calls.append(state)
        return OPTIMAL[state]

    masks = np.ones((4, 4), dtype=bool)
    live = np.array([True, True, True, False])
    rng = np.random.default_rng(0)
    assert read_policy(counted, masks, live, rng=rng).mode == "greedy"
    assert len(calls) == 3 * 8
    reading = read_policy(OPTIMAL, masks, live, rng=rng)
    assert reading.table is not None
    np.testing.assert_array_equal(np.argmax(reading.table, axis=1), [2, 0, 3, 0])


def _wrongly_exact(monkeypatch: pytest.MonkeyPatch, offset: float) -> list[RunRecord]:
    """Records of the coin flip whose exact value is moved by ``offset``."""

    def shifted(arrays: Any, table: Any) -> float | None:
        value = start_value(arrays, table)
        return None if value is None else value + offset

    monkeypatch.setattr("agents.evaluation.scoring.start_value", shifted)
    return [
        RunRecord(
            agent="coin",
            configuration="default",
            seed=seed,
            env_id=ENV_ID,
            env_kwargs={},
            n_episodes=1_000,
            score=score_policy(Coin(), n_episodes=1_000, seed=seed),
            train_seconds=0.0,
            steps_to_zero_regret=None,
        )
        for seed in range(3)
    ]


def test_an_exact_value_that_is_wrong_is_counted_as_a_disagreement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exact values 5 points off (about 12 standard errors) all disagree; counted.

    Honest ones (offset 0) lie inside their 99.99 % intervals (each fails with
    probability 1e-4) and the count printed is 0.
    """
    honest = summarize(_wrongly_exact(monkeypatch, 0.0), np.random.default_rng(0))
    assert honest.exact_check == ExactCheck(checked=3, disagreements=0)
    wrong = summarize(_wrongly_exact(monkeypatch, 5.0), np.random.default_rng(0))
    assert wrong.exact_check == ExactCheck(checked=3, disagreements=3)
    assert all(c.exact_check.disagreements == 3 for c in wrong.configurations)
    assert (
        "Exact values outside their own Monte Carlo interval: 3 of 3 (chance: at "
        "most 0)." in markdown([wrong])
    )
    assert "| coin | stochastic | 3 of 3 | 3 of 3 (chance: at most 0) |" in (
        markdown([wrong])
    )


def test_the_check_interval_is_student_t_with_the_larger_standard_error() -> None:
    """mc_check_ci: the mean +- t(0.9999, n - 1) times the larger standard error.

    The larger of the sample's and the model's: the random policy's returns
    are spread as the model says (sample SD within 10 % of the model's over
    500 episodes).
    """
    env = gym.make(ENV_ID)
    score = score_policy(RandomPolicy(), n_episodes=500, seed=0)
    rng = harness_generators(0)[1]
    rollout = evaluate(env, RandomPolicy(), 500, 0, rng=rng, name="x")
    arrays = scored_arrays(env)
    table = stochastic_table(
        RandomPolicy(),
        env.unwrapped.sparse.valid_action_mask,  # type: ignore[attr-defined]
        ~arrays.terminal,
    )
    deviation = return_deviation(
        env.unwrapped.sparse,  # type: ignore[attr-defined]
        table,
        arrays.initial_distribution,
        arrays.gamma,
        arrays.horizon,
    )
    sample = rollout.discounted_returns.std(ddof=1)
    assert sample == pytest.approx(deviation, rel=0.1)
    se = max(rollout.discounted_return_se, deviation / math.sqrt(500))
    half = stats.t.ppf(0.5 + CHECK_CONFIDENCE / 2, 499) * se
    assert score.mc_value == rollout.mean_discounted_return
    low, high = score.mc_check_ci
    assert (low, high) == pytest.approx((score.mc_value - half, score.mc_value + half))


def test_a_rare_outcome_seen_rarely_does_not_make_a_disagreement() -> None:
    """28 abandonments in 1,000 where 50 are expected: the model's spread decides.

    Request evidence at p = 0.05 is worth 53.35; such rollouts average
    55.836 with a sample standard error of 0.59 (4.2 of them above 53.35,
    beyond the 3.9 of the check), but the model's standard deviation of one
    return is 24.63 (0.78 per mean of 1,000: 3.2 of them). The sample's alone
    would count an honest exact value as a disagreement.
    """
    env = gym.make(ENV_ID, abandonment_prob=0.05)
    arrays = scored_arrays(env)
    table = np.eye(4)[[1, 0, 3, 0]]
    deviation = return_deviation(
        env.unwrapped.sparse,  # type: ignore[attr-defined]
        table,
        arrays.initial_distribution,
        arrays.gamma,
        arrays.horizon,
    )
    assert deviation == pytest.approx(113 * math.sqrt(0.05 * 0.95))
    returns = np.r_[np.full(972, 59.0), np.full(28, -54.0)]
    se = returns.std(ddof=1) / math.sqrt(1_000)
    assert returns.mean() == pytest.approx(55.836)
    assert outside(53.35, check_interval(returns.mean(), se, 1_000, None)) is True
    assert outside(53.35, check_interval(returns.mean(), se, 1_000, deviation)) is False


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        (ENV_ID, {}),
        (RISK_ENV_ID, {"exploring_starts": True}),
        (QUEUE_ENV_ID, {"level": "tiny"}),
    ],
)
def test_the_models_return_moments_are_policy_evaluations(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    """The mean of return_moments is planning's V^pi, for the random policy."""
    env = gym.make(env_id, **kwargs)
    arrays = scored_arrays(env)
    sparse = env.unwrapped.sparse  # type: ignore[attr-defined]
    table = stochastic_table(RandomPolicy(), sparse.valid_action_mask, ~arrays.terminal)
    V, second = return_moments(sparse, table, arrays.gamma, arrays.horizon)
    np.testing.assert_allclose(V, policy_evaluation(arrays, table).V, atol=1e-9)
    assert np.all(second >= V**2 - 1e-9)


def test_the_expected_range_of_disagreements_is_the_binomial_bound() -> None:
    """Chance gives at most the 99.9 % quantile of Binomial(checked, 1e-4)."""
    for checked in (0, 1, 300, 490, 10_000, 100_000):
        expected = stats.binom.ppf(0.999, checked, 1.0 - CHECK_CONFIDENCE)
        assert ExactCheck(checked, 0).expected_at_most == expected


def _random_kwargs(env_id: str, rng: np.random.Generator) -> dict[str, Any]:
    """A random custom configuration of ``env_id``."""
    kwargs: dict[str, Any] = {
        "exploring_starts": bool(rng.random() < 0.6),
        "abandonment_prob": round(float(rng.uniform(0.0, 0.6)), 3),
        "max_episode_steps": int(rng.integers(3, 30)),
    }
    if env_id == RISK_ENV_ID:
        kwargs["unjustified_share"] = round(float(rng.uniform(0.0, 1.0)), 3)
        kwargs["clear_evidence_share"] = round(float(rng.uniform(0.05, 0.95)), 3)
    if rng.random() < 0.3:
        kwargs["invalid_action"] = "raise"
    return kwargs


def _configurations() -> list[tuple[str, dict[str, Any]]]:
    """Both suites, each configuration also with exploring starts, and random ones."""
    rng = np.random.default_rng(2024)
    found = []
    for env_id, suite in SUITES.items():
        for configuration in suite:
            found.append((env_id, dict(configuration.env_kwargs)))
            found.append(
                (env_id, {**configuration.env_kwargs, "exploring_starts": True})
            )
        found += [(env_id, _random_kwargs(env_id, rng)) for _ in range(4)]
    return found


RESETS = 3_000


@pytest.mark.parametrize(("env_id", "kwargs"), _configurations())
def test_exact_values_use_the_start_distribution_reset_draws(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    """The model's start distribution is what reset draws; V^pi is what rollouts give.

    Starts: 3,000 resets never land outside the model's support, and a
    chi-square test over its support passes at level 1e-4. Values: the random
    policy's exact value lies inside its own 99.99 % Monte Carlo interval
    (false failure 1e-4). Both suites (14 configurations), each with exploring
    starts too, and 8 random custom ones: under 1 % false failure in all.
    """
    env = gym.make(env_id, **kwargs)
    start = scored_arrays(env).initial_distribution
    np.testing.assert_array_equal(start, env.unwrapped.start_distribution)  # type: ignore[attr-defined]
    counts = np.zeros(start.size)
    env.reset(seed=0)
    for _ in range(RESETS):
        _, info = env.reset()
        counts[info["state"]] += 1
    support = start > 0
    assert counts[~support].sum() == 0
    if support.sum() > 1:
        assert stats.chisquare(counts[support], RESETS * start[support]).pvalue > 1e-4
    score = score_policy(
        RandomPolicy(), kwargs, n_episodes=1_000, seed=5, env_id=env_id
    )
    assert score.exact_outside_mc is False, score


@pytest.mark.parametrize(
    ("kwargs", "policy", "value"),
    [
        ({}, OPTIMAL, 54.0),
        ({"exploring_starts": True}, OPTIMAL, 68.0),
        ({"exploring_starts": True}, [3, 3, 3, 0], -31.894889693962),
    ],
)
def test_exploring_starts_are_scored_from_uniform_starts(
    kwargs: dict[str, Any], policy: list[int], value: float
) -> None:
    """V* is 68 (not 54) under exploring starts; the stall -31.89 (not -87.84)."""
    score = score_policy(policy, kwargs, n_episodes=1_000, seed=0)
    assert score.exact_value == pytest.approx(value)
    assert score.exact_outside_mc is False
    assert score.optimal_value == pytest.approx(68.0 if kwargs else 54.0)


def test_the_second_task_and_the_diameter_use_the_start_distribution() -> None:
    """Risk task V* 70.8 under exploring starts; AccessReview-v0's diameter 3.0."""
    risk = scored_arrays(gym.make(RISK_ENV_ID, exploring_starts=True))
    assert risk.initial_distribution @ value_iteration(risk).V == pytest.approx(70.8)
    configurations = [
        dataclasses.replace(SUITES[ENV_ID][0], env_kwargs=kwargs)
        for kwargs in ({}, {"exploring_starts": True})
    ]
    default, exploring = hardness_table(configurations, ENV_ID)
    assert default.hardness.diameter == pytest.approx(7 / 3)
    assert exploring.hardness.diameter == pytest.approx(3.0)


def test_the_queue_task_is_scored_at_its_smallest_level() -> None:
    """AccessReviewQueue-v0 (tiny, 90 states, exploring starts): exact within MC.

    False failure 1e-4 per assertion on the interval.
    """
    kwargs = {"level": "tiny", "exploring_starts": True}
    score = score_policy(
        RandomPolicy(), kwargs, n_episodes=300, seed=0, env_id=QUEUE_ENV_ID
    )
    assert score.mode == "stochastic" and score.exact_value is not None
    assert score.exact_outside_mc is False
    assert len(score.agreement or {}) == 90


def test_a_tied_optimal_action_agrees() -> None:
    """speed_only on the second task: deny at new_clear_evidence ties approving.

    Its regret is 0, and the state is marked as agreeing.
    """
    policy = [0, 4, 0, 3, 3, 0]
    score = score_policy(
        policy, {"rewards": "speed_only"}, n_episodes=50, seed=0, env_id=RISK_ENV_ID
    )
    assert score.regret == pytest.approx(0.0, abs=1e-9)
    assert score.agreement is not None
    assert score.agreement["new_clear_evidence"] is True
    assert all(score.agreement.values())


def test_agreement_asks_every_action_taken_to_be_optimal() -> None:
    """The coin flip agrees where it acts optimally, not where it may not."""
    score = score_policy(Coin(), n_episodes=20, seed=0)
    assert score.agreement == {
        "new_request": False,
        "evidence_ready": True,
        "review_queue": True,
    }


def test_batched_scoring_reads_and_rolls_out_stochastic_policies_too() -> None:
    """score_policies: the coin's exact value and its batched rollouts agree.

    Each check is at 99.99 % (false failure 1e-4 each).
    """
    scores = score_policies(
        [Coin(), Coin(), OPTIMAL], seeds=[0, 1, 2], n_episodes=1_000
    )
    assert [s.mode for s in scores] == ["stochastic", "stochastic", "greedy"]
    assert [s.exact_value for s in scores] == pytest.approx(
        [COIN_VALUE, COIN_VALUE, 54.0]
    )
    assert [s.exact_outside_mc for s in scores] == [False, False, False]
    assert not math.isclose(scores[0].mc_value, scores[1].mc_value)
