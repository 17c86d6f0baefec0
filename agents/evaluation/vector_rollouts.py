"""Many tabular policies rolled out at once on a task's native vector env.

Sub-env ``k`` plays policy ``k``, an action table ``(S,)`` or a probability
table ``(S, A)`` sampled with the harness's generator, until it has
finished its episodes; every episode is scored as :func:`~agents.evaluation.evaluate`
scores one (returns, discounted returns, ``info["cost"]``, invalid actions, the
outcome at the end), so the results are the same kind of
:class:`~agents.evaluation.rollouts.EvaluationResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_integer
from agents.evaluation.rollouts import (
    EvaluationResult,
    action_generator,
    standard_error,
)
from agents.policies.selection import sample_rows


def rollout_tables(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    policies: NDArray[Any],
    n_episodes: int,
    seed: int,
    gamma: float,
    rng: np.random.Generator | None = None,
) -> list[EvaluationResult]:
    """Roll each table out for ``n_episodes`` episodes, all at once.

    Args:
        env_id: A registered task with a vector entry point and index
            observations (the observation is the state).
        env_kwargs: Its configuration (``gym.make_vec`` kwargs of one sub-env).
        policies: ``(K, S)`` the action each policy takes in each state, or
            ``(K, S, A)`` each policy's action probabilities, from which every
            action is sampled with ``rng``.
        n_episodes: Episodes per policy.
        seed: Seed of the vector env's one generator.
        gamma: Discount of the discounted returns.
        rng: The harness's generator for sampled actions (default
            :func:`~agents.evaluation.rollouts.action_generator` of ``seed``).

    Returns:
        One :class:`EvaluationResult` per policy.

    Raises:
        InvalidActionError: Under ``invalid_action="raise"``, if a table takes
            an action the env refuses in a state it reaches.
    """
    n_episodes = check_integer("n_episodes", n_episodes, low=1)
    n_policies = policies.shape[0]
    sampled = policies.ndim == 3
    draws = action_generator(seed) if rng is None else rng
    envs = gym.make_vec(
        env_id,
        num_envs=n_policies,
        vectorization_mode="vector_entry_point",
        copy=False,
        **env_kwargs,
    )
    outcome_names: tuple[str, ...] = tuple(envs.metadata["outcomes"])
    returns = np.zeros((n_policies, n_episodes))
    discounted = np.zeros((n_policies, n_episodes))
    lengths = np.zeros((n_policies, n_episodes))
    outcomes = np.zeros((n_policies, len(outcome_names)), dtype=np.int64)
    violations = np.zeros(n_policies)
    invalid = np.zeros(n_policies, dtype=np.int64)
    episode_return = np.zeros(n_policies)
    episode_discounted = np.zeros(n_policies)
    episode_length = np.zeros(n_policies)
    weight = np.ones(n_policies)
    done = np.zeros(n_policies, dtype=np.int64)
    rows = np.arange(n_policies)
    # The first step after an episode ends is NEXT_STEP's reset: not scored.
    resetting = np.zeros(n_policies, dtype=bool)
    observations, _ = envs.reset(seed=seed)
    while (done < n_episodes).any():
        actions = (
            sample_rows(
                policies[rows, observations], np.asarray(draws.random(n_policies))
            )
            if sampled
            else policies[rows, observations]
        )
        observations, rewards, terminated, truncated, info = envs.step(actions)
        counting = ~resetting & (done < n_episodes)
        episode_return += np.where(counting, rewards, 0.0)
        episode_discounted += np.where(counting, weight * rewards, 0.0)
        weight = np.where(counting, weight * gamma, weight)
        episode_length += counting
        violations += np.where(counting, info["cost"], 0.0)
        invalid += counting & info["invalid_action"]
        resetting = terminated | truncated
        ended = np.flatnonzero(counting & resetting)
        if ended.size:
            slot = done[ended]
            returns[ended, slot] = episode_return[ended]
            discounted[ended, slot] = episode_discounted[ended]
            lengths[ended, slot] = episode_length[ended]
            np.add.at(outcomes, (ended, info["outcome"][ended]), 1)
            done[ended] += 1
            episode_return[ended] = episode_discounted[ended] = 0.0
            episode_length[ended] = 0.0
            weight[ended] = 1.0
    envs.close()
    return [
        EvaluationResult(
            n_episodes=n_episodes,
            mean_return=float(returns[k].mean()),
            return_se=standard_error(returns[k]),
            mean_discounted_return=float(discounted[k].mean()),
            discounted_return_se=standard_error(discounted[k]),
            violations=float(violations[k]),
            invalid_actions=int(invalid[k]),
            outcomes={
                name: int(count)
                for name, count in zip(outcome_names, outcomes[k], strict=True)
                if count
            },
            mean_length=float(lengths[k].mean()),
            gamma=float(gamma),
            returns=returns[k],
            discounted_returns=discounted[k],
        )
        for k in range(n_policies)
    ]
