"""The batched learners' per-step kernels as whole-array NumPy operations.

The fallback when numba is not installed: the same arguments, the same
arithmetic in the same order and the same random draws as
:mod:`.kernels_numba`, at a few dozen NumPy calls per batched step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.vector.streams import uniforms
from agents.evaluation.returns import returns_to_go_rows
from agents.learners.batched.lockstep import (
    ACTION,
    BUDGET,
    CLOCK,
    DISCOUNTED_SUM,
    EPISODE_DISCOUNTED,
    EPISODE_LENGTH,
    EPISODE_RETURN,
    EPISODE_WEIGHT,
    EPISODES,
    LEARNING,
    LENGTH_SUM,
    NEXT_CHECKPOINT,
    RETURN_SUM,
    STATE,
)
from agents.policies.selection import (
    epsilon_greedy_rows,
    masked_softmax,
    sample_rows,
)

Array = NDArray[Any]
Indices = NDArray[np.intp]
Shared = tuple[Array, ...]
"""``Lockstep.arrays()``."""


def _draws(counters: Array, keys: Array, active: Indices) -> NDArray[np.float64]:
    """``(n,)`` each ``active`` learner's uniform at its clock; the clocks advance."""
    clock = counters[active, CLOCK]
    counters[active, CLOCK] = clock + 1
    return uniforms(keys[active], clock.astype(np.uint64))


def _first_valid(valid: NDArray[np.bool_]) -> Indices:
    """``(K,)`` the lowest valid action per row of ``valid`` ``(K, A)`` (0 if none)."""
    return np.asarray(np.argmax(valid, axis=1), dtype=np.intp)


def _close_episodes(
    ended: Indices,
    table: Array,
    snapshots: Array,
    episode_return: Array,
    discounted: Array,
    length: Array,
    shared: Shared,
) -> None:
    """Log the finished episodes of learners ``ended``; snapshot at checkpoints."""
    (
        counters,
        tallies,
        checkpoints,
        checkpoint_return_sum,
        checkpoint_discounted_sum,
        checkpoint_length_sum,
        curve_returns,
        curve_discounted,
        curve_lengths,
        _,
        _,
    ) = shared
    done = counters[ended, EPISODES] + 1
    counters[ended, EPISODES] = done
    tallies[ended, RETURN_SUM] += episode_return
    tallies[ended, DISCOUNTED_SUM] += discounted
    counters[ended, LENGTH_SUM] += length
    tallies[ended, EPISODE_RETURN] = 0.0
    tallies[ended, EPISODE_DISCOUNTED] = 0.0
    tallies[ended, EPISODE_WEIGHT] = 1.0
    counters[ended, EPISODE_LENGTH] = 0
    if curve_returns.shape[1] > 0:
        curve_returns[ended, done - 1] = episode_return
        curve_discounted[ended, done - 1] = discounted
        curve_lengths[ended, done - 1] = length
    j = counters[ended, NEXT_CHECKPOINT]
    hit = checkpoints[j] == done
    if hit.any():
        k, j = ended[hit], j[hit]
        snapshots[j, k] = table[k]
        checkpoint_return_sum[j, k] = tallies[k, RETURN_SUM]
        checkpoint_discounted_sum[j, k] = tallies[k, DISCOUNTED_SUM]
        checkpoint_length_sum[j, k] = counters[k, LENGTH_SUM]
        counters[k, NEXT_CHECKPOINT] = j + 1


def q_learning_step(
    tables: tuple[Array, Array, Array],
    step_sizes: Array,
    snapshots: Array,
    env: tuple[Array, Array, Array, Array, Array],
    shared: Shared,
    parameters: tuple[float, float],
    action_slots: tuple[int, ...],
) -> int:
    """One batched step of K Q-learners; see ``kernels_numba.q_learning_step``."""
    q, visits, seen = tables
    observations, rewards, terminated, truncated, masks = env
    counters, tallies = shared[0], shared[1]
    actions, keys = shared[-2], shared[-1]
    gamma, epsilon = parameters
    n_actions = len(action_slots)
    valid = masks != 0
    spent = counters[:, EPISODES] >= counters[:, BUDGET]
    active = np.flatnonzero(~spent)
    draws = np.zeros(counters.shape[0])
    draws[active] = _draws(counters, keys, active)
    rows = observations[active] * n_actions
    columns = rows[:, None] + np.arange(n_actions)
    seen[active[:, None], columns] = valid[active]
    updating = active[counters[active, LEARNING] != 0]
    if updating.size:
        s_next = observations[updating] * n_actions
        next_valid = valid[updating]
        next_q = q[updating[:, None], s_next[:, None] + np.arange(n_actions)]
        best = np.where(next_valid, next_q, -np.inf).max(axis=1)
        bootstrap = (best > -np.inf) & ~terminated[updating]
        reward = rewards[updating].astype(np.float64)
        target = np.where(
            bootstrap, reward + gamma * np.where(bootstrap, best, 0.0), reward
        )
        entry = counters[updating, STATE] * n_actions + counters[updating, ACTION]
        count = visits[updating, entry] + 1
        visits[updating, entry] = count
        old = q[updating, entry]
        q[updating, entry] = old + step_sizes[count] * (target - old)
        weight = tallies[updating, EPISODE_WEIGHT]
        tallies[updating, EPISODE_RETURN] += reward
        tallies[updating, EPISODE_DISCOUNTED] += weight * reward
        tallies[updating, EPISODE_WEIGHT] = weight * gamma
        counters[updating, EPISODE_LENGTH] += 1
        ending = terminated[updating] | truncated[updating]
        ended = updating[ending]
        if ended.size:
            _close_episodes(
                ended,
                q,
                snapshots,
                tallies[ended, EPISODE_RETURN],
                tallies[ended, EPISODE_DISCOUNTED],
                counters[ended, EPISODE_LENGTH],
                shared,
            )
            counters[ended, LEARNING] = 0
            active = np.setdiff1d(active, ended, assume_unique=True)
    actions[:] = np.where(spent, _first_valid(valid), 0)
    if active.size:
        s_next = observations[active]
        q_rows = q[
            active[:, None], (s_next * n_actions)[:, None] + np.arange(n_actions)
        ]
        chosen = epsilon_greedy_rows(q_rows, valid[active], draws[active], epsilon)
        counters[active, STATE] = s_next
        counters[active, ACTION] = chosen
        counters[active, LEARNING] = 1
        actions[active] = chosen
    return int(np.count_nonzero(counters[:, EPISODES] < counters[:, BUDGET]))


def reinforce_step(
    tables: tuple[Array, Array, Array],
    trajectories: tuple[Array, Array, Array, Array, Array],
    snapshots: Array,
    env: tuple[Array, Array, Array, Array, Array],
    shared: Shared,
    parameters: tuple[float, float, float, float],
    action_slots: tuple[int, ...],
) -> tuple[int, int]:
    """One batched step of K REINFORCE learners; see ``kernels_numba``."""
    logits, baseline, seen = tables
    (
        trajectory_states,
        trajectory_actions,
        trajectory_rewards,
        trajectory_policies,
        trajectory_returns,
    ) = trajectories
    observations, rewards, terminated, truncated, masks = env
    counters, tallies = shared[0], shared[1]
    actions, keys = shared[-2], shared[-1]
    gamma, learning_rate, baseline_rate, horizon_ends = parameters
    n_actions = len(action_slots)
    slots = np.arange(n_actions)
    valid = masks != 0
    spent = counters[:, EPISODES] >= counters[:, BUDGET]
    active = np.flatnonzero(~spent)
    draws = np.zeros(counters.shape[0])
    draws[active] = _draws(counters, keys, active)
    updating = active[counters[active, LEARNING] != 0]
    if updating.size:
        t = counters[updating, EPISODE_LENGTH]
        reward = rewards[updating].astype(np.float64)
        trajectory_states[updating, t] = counters[updating, STATE]
        trajectory_actions[updating, t] = counters[updating, ACTION]
        trajectory_rewards[updating, t] = reward
        tallies[updating, EPISODE_RETURN] += reward
        counters[updating, EPISODE_LENGTH] = t + 1
        ended = updating[terminated[updating] | truncated[updating]]
        if ended.size:
            lengths = counters[ended, EPISODE_LENGTH]
            _learn_from_episodes(
                ended,
                terminated[ended] | (truncated[ended] & (horizon_ends != 0.0)),
                lengths,
                logits,
                baseline,
                trajectory_states,
                trajectory_actions,
                trajectory_rewards,
                trajectory_policies,
                trajectory_returns,
                gamma,
                learning_rate,
                baseline_rate,
                n_actions,
            )
            _close_episodes(
                ended,
                logits,
                snapshots,
                tallies[ended, EPISODE_RETURN],
                trajectory_returns[ended, 0],
                lengths,
                shared,
            )
            counters[ended, LEARNING] = 0
            active = np.setdiff1d(active, ended, assume_unique=True)
    actions[:] = np.where(spent, _first_valid(valid), 0)
    longest = 0
    if active.size:
        s_next = observations[active]
        acting_valid = valid[active]
        columns = (s_next * n_actions)[:, None] + slots
        seen[active[:, None], columns] = acting_valid
        policies = masked_softmax(logits[active[:, None], columns], acting_valid)
        t = counters[active, EPISODE_LENGTH]
        trajectory_policies[active[:, None], (t * n_actions)[:, None] + slots] = (
            policies
        )
        chosen = sample_rows(policies, draws[active])
        counters[active, STATE] = s_next
        counters[active, ACTION] = chosen
        counters[active, LEARNING] = 1
        actions[active] = chosen
        longest = int(t.max())
    return int(np.count_nonzero(counters[:, EPISODES] < counters[:, BUDGET])), longest


def _learn_from_episodes(
    ended: Indices,
    terminated: NDArray[np.bool_],
    lengths: Array,
    logits: Array,
    baseline: Array,
    trajectory_states: Array,
    trajectory_actions: Array,
    trajectory_rewards: Array,
    trajectory_policies: Array,
    trajectory_returns: Array,
    gamma: float,
    learning_rate: float,
    baseline_rate: float,
    n_actions: int,
) -> None:
    """Returns-to-go of the ``ended`` episodes, then REINFORCE on the terminated.

    The update walks each episode from its first step, as the scalar learner
    does (the baseline moves between steps that share a state).
    """
    longest = int(lengths.max())
    inside = np.arange(longest) < lengths[:, None]
    rewards = np.where(inside, trajectory_rewards[ended, :longest], 0.0)
    trajectory_returns[ended, :longest] = returns_to_go_rows(rewards, gamma)
    learners, lengths = ended[terminated], lengths[terminated]
    weight = np.ones(learners.size)
    slots = np.arange(n_actions)
    for t in range(int(lengths.max(initial=0))):
        inside = t < lengths
        k = learners[inside]
        s = trajectory_states[k, t]
        a = trajectory_actions[k, t]
        advantage = trajectory_returns[k, t] - baseline[k, s]
        baseline[k, s] += baseline_rate * advantage
        score = -trajectory_policies[k[:, None], t * n_actions + slots]
        score[np.arange(k.size), a] += 1.0
        scale = learning_rate * weight[inside] * advantage
        columns = (s * n_actions)[:, None] + slots
        logits[k[:, None], columns] += scale[:, None] * score
        weight[inside] *= gamma
