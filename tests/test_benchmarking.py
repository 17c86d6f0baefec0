"""Scoring agents against the exact optimum, the suite's statistics, and the script."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.scoring import AgentError, RandomPolicy, score_policy
from agents.statistics import (
    interquartile_mean,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
)
from agents.suite import SUITE, load_factory, q_learning_agent, run_suite, summarize

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_agents.py"
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


@pytest.mark.slow
def test_suite_run_of_q_learning_records_progress_and_metadata() -> None:
    """Records carry env id, kwargs and seed; zero regret is reached and timed."""
    configuration = next(c for c in SUITE if c.name == "no_abandonment")
    records = run_suite(
        q_learning_agent, "q_learning", [configuration], seeds=[0], n_episodes=50
    )
    (record,) = records
    assert (record.env_id, record.env_kwargs, record.seed) == (
        "AccessReview-v0",
        {"abandonment_prob": 0.0},
        0,
    )
    assert record.score["regret"] == 0.0
    assert record.steps_to_zero_regret is not None and record.steps_to_zero_regret > 0
    summary = summarize(records, np.random.default_rng(0))
    assert summary["configurations"]["no_abandonment"]["zero_regret_rate"] == 1.0


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("math", ValueError, "must look like 'package.module:callable'"),
        (
            "no_such_module_xyz:make",
            ImportError,
            "cannot import module 'no_such_module_xyz'",
        ),
        ("math:no_such_name", AttributeError, "has no attribute 'no_such_name'"),
        ("math:pi", TypeError, "not a callable"),
    ],
)
def test_bad_agent_specs_are_clear_errors(spec: str, error: type, message: str) -> None:
    """Each malformed spec says what is wrong."""
    with pytest.raises(error, match=message):
        load_factory(spec)


def _run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user_agents.py").write_text(
        "def reviewer(env, seed):\n"
        "    return lambda state: [2, 0, 3, 0][state]\n"
        "\n"
        "def broken(env, seed):\n"
        "    return lambda state: 7\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--output", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_scores_a_user_agent_given_as_module_callable(tmp_path: Path) -> None:
    """A user factory runs through the script; records carry env id, kwargs, seeds."""
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "random",
        "--configurations",
        "default",
        "no_abandonment",
        "--seeds",
        "2",
        "--episodes",
        "50",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| user_agents:reviewer | " in result.stdout
    import json

    record = json.loads((tmp_path / "out" / "benchmark_agents.json").read_text())
    assert record["seeds"] == [0, 1]
    assert {run["env_id"] for run in record["runs"]} == {"AccessReview-v0"}
    assert {"gymnasium", "numpy", "access_review_env"} <= set(record["versions"])
    assert (tmp_path / "out" / "scores.png").stat().st_size > 0
    by_config = {
        (r["agent"], r["configuration"]): r["score"]["normalized_score"]
        for r in record["runs"]
    }
    # Always reviewing is optimal at p = 0.25; at p = 0 it is worth 54 of the
    # optimal 59, where a random policy is worth (-120 + (-4 + 0.9 * 66) + 54) / 3.
    random_at_zero = (-120 + (-4 + 0.9 * 66) + 54) / 3
    assert by_config[("user_agents:reviewer", "default")] == 1.0
    assert math.isclose(
        by_config[("user_agents:reviewer", "no_abandonment")],
        (54 - random_at_zero) / (59 - random_at_zero),
    )


@pytest.mark.parametrize(
    ("agent", "status", "message"),
    [
        ("missing_module_q:make", 2, "cannot import module"),
        ("user_agents:nothing", 2, "has no attribute 'nothing'"),
        ("user_agents", 2, "must look like"),
        ("user_agents:broken", 1, "returned action 7 in state 0"),
    ],
)
def test_script_reports_bad_agents(
    tmp_path: Path, agent: str, status: int, message: str
) -> None:
    """Bad specs are usage errors (exit 2); invalid actions fail the run (exit 1)."""
    result = _run_script(
        tmp_path,
        "--agents",
        agent,
        "--configurations",
        "default",
        "--seeds",
        "1",
        "--episodes",
        "5",
    )
    assert result.returncode == status
    assert message in result.stderr


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
