"""Many tabular policies rolled out at once on a task's native vector env, per seed.

Policy ``k`` comes with a seed ``s_k``, and its Monte Carlo episodes depend on
that seed alone, never on the other policies rolled out with it: episode ``e``
of policy ``k`` is played by a sub-env of its own, reset with a seed derived
from ``(s_k, e)`` by the vector env's counter-based construction
(:mod:`access_review_env.vector.streams`),

.. code-block:: text

    episode_seed(s, e) = word e of the stream with key mix64(s XOR ROLLOUT_SALT)

and a probability table's actions are sampled from a second stream of that
episode seed (key ``mix64(episode_seed XOR ACTION_SALT)``, word ``t`` at its
``t``-th step). The sub-envs run in chunks of at most
:data:`MAX_ROLLOUT_ENVS`, each chunk until all its episodes have ended; every
episode is scored as :func:`~agents.evaluation.evaluate` scores one (returns,
discounted returns, ``info["cost"]``, invalid actions, the outcome at the
end), so the results are the same kind of
:class:`~agents.evaluation.rollouts.EvaluationResult`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_integer
from access_review_env.vector.streams import check_seeds, mix64, uniforms, words
from agents.evaluation.rollouts import EvaluationResult, standard_error
from agents.policies.selection import sample_rows

ROLLOUT_SALT: Final = 0xA4093822299F31D0
"""Digits of pi's fraction after the learners' salt: keys the episode seeds."""
ACTION_SALT: Final = 0x082EFA98EC4E6C89
"""The next digits: keys an episode's stream of sampled actions."""
MAX_ROLLOUT_ENVS: Final = 2**16
"""Sub-envs stepped together at most (their results do not depend on it)."""


def episode_seeds(seeds: NDArray[np.uint64], n_episodes: int) -> NDArray[np.uint64]:
    """``(K, n_episodes)`` the seed of each policy's every episode.

    Args:
        seeds: ``(K,)`` the policies' seeds.
        n_episodes: Episodes per policy.
    """
    keys = mix64(np.bitwise_xor(seeds, np.uint64(ROLLOUT_SALT)))
    counters = np.arange(n_episodes, dtype=np.uint64)
    table = words(np.repeat(keys, n_episodes), np.tile(counters, seeds.size))
    return table.reshape(seeds.size, n_episodes)


class _Episodes:
    """Every episode's scores, flat: episode ``e`` of policy ``k`` at ``k * E + e``."""

    def __init__(self, total: int) -> None:
        self.returns = np.zeros(total)
        self.discounted = np.zeros(total)
        self.lengths = np.zeros(total)
        self.violations = np.zeros(total)
        self.invalid = np.zeros(total, dtype=np.int64)
        self.outcome = np.zeros(total, dtype=np.int64)


def rollout_tables(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    policies: NDArray[Any],
    n_episodes: int,
    seeds: Sequence[int] | NDArray[Any],
    gamma: float,
) -> list[EvaluationResult]:
    """Roll each table out for ``n_episodes`` episodes, from its own seed.

    Args:
        env_id: A registered task with a vector entry point and index
            observations (the observation is the state).
        env_kwargs: Its configuration (``gym.make_vec`` kwargs of one sub-env).
        policies: ``(K, S)`` the action each policy takes in each state, or
            ``(K, S, A)`` each policy's action probabilities, from which every
            action is sampled.
        n_episodes: Episodes per policy.
        seeds: ``(K,)`` each policy's seed, an integer in ``[0, 2**64)``: its
            episodes depend on it alone (see the module docstring).
        gamma: Discount of the discounted returns.

    Returns:
        One :class:`EvaluationResult` per policy.

    Raises:
        TypeError, ValueError: For seeds that are not one integer per policy.
        InvalidActionError: Under ``invalid_action="raise"``, if a table takes
            an action the env refuses in a state it reaches.
    """
    n_episodes = check_integer("n_episodes", n_episodes, low=1)
    n_policies = policies.shape[0]
    if isinstance(seeds, int | np.integer) or seeds is None:
        raise TypeError(f"seeds must be one integer per policy, got {seeds!r}")
    checked = check_seeds(seeds, n_policies)
    assert checked is not None
    flat_seeds = episode_seeds(checked, n_episodes).reshape(-1)
    policy_of = np.repeat(np.arange(n_policies), n_episodes)
    total = flat_seeds.size
    size = min(total, MAX_ROLLOUT_ENVS)
    envs = gym.make_vec(
        env_id,
        num_envs=size,
        vectorization_mode="vector_entry_point",
        copy=False,
        **env_kwargs,
    )
    outcome_names: tuple[str, ...] = tuple(envs.metadata["outcomes"])
    scores = _Episodes(total)
    for first in range(0, total, size):
        # A last, partial chunk fills its unused sub-envs with episodes of
        # the first chunk again, and ignores them.
        chunk = (np.arange(size) + first) % total
        _play(
            envs,
            policies,
            policy_of[chunk],
            flat_seeds[chunk],
            gamma,
            scores,
            chunk,
            min(size, total - first),
        )
    envs.close()
    shape = (n_policies, n_episodes)
    returns = scores.returns.reshape(shape)
    discounted = scores.discounted.reshape(shape)
    lengths = scores.lengths.reshape(shape)
    violations = scores.violations.reshape(shape).sum(axis=1)
    invalid = scores.invalid.reshape(shape).sum(axis=1)
    outcomes = np.zeros((n_policies, len(outcome_names)), dtype=np.int64)
    np.add.at(outcomes, (policy_of, scores.outcome), 1)
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


def _play(
    envs: Any,
    policies: NDArray[Any],
    policy_of: NDArray[np.intp],
    seeds: NDArray[np.uint64],
    gamma: float,
    scores: _Episodes,
    slots: NDArray[np.intp],
    n_used: int,
) -> None:
    """Play one episode in each sub-env; score the first ``n_used`` into ``slots``.

    Args:
        envs: The native vector env.
        policies: ``(K, S)`` or ``(K, S, A)`` tables.
        policy_of: ``(N,)`` the policy each sub-env plays.
        seeds: ``(N,)`` each sub-env's episode seed.
        gamma: The discount.
        scores: Where the episodes' scores go.
        slots: ``(N,)`` each sub-env's place in ``scores``.
        n_used: Sub-envs ``0 .. n_used - 1`` are scored, the others ignored.
    """
    size = seeds.size
    sampled = policies.ndim == 3
    action_keys = mix64(np.bitwise_xor(seeds, np.uint64(ACTION_SALT)))
    observations, _ = envs.reset(seed=seeds)
    playing = np.arange(size) < n_used
    episode_return = np.zeros(size)
    episode_discounted = np.zeros(size)
    episode_length = np.zeros(size)
    violations = np.zeros(size)
    invalid = np.zeros(size, dtype=np.int64)
    outcome = np.zeros(size, dtype=np.int64)
    weight = np.ones(size)
    step = 0
    while playing.any():
        rows = policies[policy_of, observations]
        if sampled:
            draws = uniforms(action_keys, np.full(size, step, dtype=np.uint64))
            actions = sample_rows(rows, draws)
        else:
            actions = rows
        observations, rewards, terminated, truncated, info = envs.step(actions)
        episode_return += np.where(playing, rewards, 0.0)
        episode_discounted += np.where(playing, weight * rewards, 0.0)
        weight *= gamma
        episode_length += playing
        violations += np.where(playing, info["cost"], 0.0)
        invalid += playing & info["invalid_action"]
        ended = playing & (terminated | truncated)
        outcome[ended] = info["outcome"][ended]
        playing &= ~ended
        step += 1
    used = slots[:n_used]
    scores.returns[used] = episode_return[:n_used]
    scores.discounted[used] = episode_discounted[:n_used]
    scores.lengths[used] = episode_length[:n_used]
    scores.violations[used] = violations[:n_used]
    scores.invalid[used] = invalid[:n_used]
    scores.outcome[used] = outcome[:n_used]
