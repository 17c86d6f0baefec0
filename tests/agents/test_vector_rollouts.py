"""Monte Carlo rollouts on the native vector env: each policy's from its own seed."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID
from agents.evaluation import vector_rollouts
from agents.evaluation.rollouts import EvaluationResult
from agents.evaluation.scoring import score_policies
from agents.evaluation.vector_rollouts import episode_seeds, rollout_tables
from agents.planning import value_iteration

TASKS = [
    (ENV_ID, {"abandonment_prob": 0.3}),
    (RISK_ENV_ID, {"exploring_starts": True}),
    (QUEUE_ENV_ID, {"level": "tiny", "max_episode_steps": 30}),
]


def _tables(env_id: str, env_kwargs: dict[str, Any], n: int) -> np.ndarray:
    """``(n, S, A)`` random probability tables over each state's valid actions."""
    env = gym.make(env_id, **env_kwargs)
    mask = env.unwrapped.mdp.sparse.valid_action_mask  # type: ignore[attr-defined]
    weights = np.random.default_rng(1).random((n, *mask.shape)) * mask
    weights[:, ~mask.any(axis=1), 0] = 1.0  # terminal states: any action
    return np.asarray(weights / weights.sum(axis=2, keepdims=True))


def _same(first: EvaluationResult, second: EvaluationResult) -> None:
    for name, value in vars(first).items():
        np.testing.assert_array_equal(value, getattr(second, name), err_msg=name)


@pytest.mark.parametrize(("env_id", "env_kwargs"), TASKS)
@pytest.mark.parametrize("sampled", [False, True])
def test_a_policy_scores_alike_alone_and_among_others(
    env_id: str, env_kwargs: dict[str, Any], sampled: bool, monkeypatch: Any
) -> None:
    """Seed 17's 40 episodes: the same bits alone and third of five policies.

    Chunks of 7 sub-envs (the last one partial) change nothing either.
    """
    tables = _tables(env_id, env_kwargs, 5)
    policies = tables if sampled else np.argmax(tables, axis=2)
    gamma = 0.9
    seeds = [3, 2**64 - 1, 17, 0, 18]
    alone = rollout_tables(env_id, env_kwargs, policies[2:3], 40, [17], gamma)
    together = rollout_tables(env_id, env_kwargs, policies, 40, seeds, gamma)
    monkeypatch.setattr(vector_rollouts, "MAX_ROLLOUT_ENVS", 7)
    chunked = rollout_tables(env_id, env_kwargs, policies, 40, seeds, gamma)
    _same(alone[0], together[2])
    _same(alone[0], chunked[2])
    assert together[2].mean_return != together[4].mean_return


def test_episode_seeds_are_distinct_and_keyed_by_the_seed_alone() -> None:
    """1,000 seeds x 100 episodes: no seed repeats; a row is its seed's alone."""
    seeds = np.arange(1_000, dtype=np.uint64)
    table = episode_seeds(seeds, 100)
    assert np.unique(table).size == table.size
    np.testing.assert_array_equal(
        table[17], episode_seeds(np.array([17], dtype=np.uint64), 100)[0]
    )


def test_the_optimal_policy_scores_its_value() -> None:
    """At p = 0.25 the optimum earns 62 every episode (no randomness in returns)."""
    optimal = value_iteration(gym.make(ENV_ID)).policy
    (result,) = rollout_tables(ENV_ID, {}, optimal[None], 50, [4], 0.9)
    assert result.mean_return == 62.0 and result.n_episodes == 50


def test_a_seeds_score_does_not_depend_on_the_policies_scored_with_it() -> None:
    """score_policies: seed 17's score is the same alone and among three.

    Requesting evidence risks abandonment: its returns are random, so the
    other seeds' scores differ from seed 17's.
    """
    request = [1, 0, 3, 0]
    kwargs = {"abandonment_prob": 0.3}
    alone = score_policies([request], kwargs, seeds=[17], n_episodes=200)
    together = score_policies([request] * 3, kwargs, seeds=[5, 17, 6], n_episodes=200)
    assert together[1] == alone[0]
    assert together[0].mc_value != together[1].mc_value


@pytest.mark.parametrize(
    ("seeds", "error", "message"),
    [
        ([1], ValueError, "one seed per sub-env"),
        (7, TypeError, "one integer per policy"),
        ([1, -1], ValueError, r"seed\[1\] must be in \[0, 2\*\*64\)"),
    ],
)
def test_seeds_must_be_one_integer_per_policy(
    seeds: Any, error: type[Exception], message: str
) -> None:
    """Bad seeds name what is allowed."""
    with pytest.raises(error, match=message):
        rollout_tables(ENV_ID, {}, np.zeros((2, 4), dtype=np.int64), 3, seeds, 0.9)
