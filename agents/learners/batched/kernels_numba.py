"""The batched learners' per-step kernels, compiled by numba (the ``fast`` extra).

One call advances all K learners by one batched step: learn from the transition
just observed (unless it was a ``NEXT_STEP`` reset step or the learner has spent
its budget), close finished episodes, and choose the next actions. The
arithmetic follows the scalar learners operation for operation (Q-learning:
Sutton & Barto, eq. 6.8; REINFORCE: section 13.4); :mod:`.kernels_numpy`
computes the same with whole-array operations and takes the same arguments.

Learner ``k``'s uniform for a decision is word ``counters[k, CLOCK]`` of its
own stream (:mod:`.streams`), computed here from its key; the clock of every
learner still in training advances by one per call.

Tables arrive flattened to ``(K, S * A)``; ``action_slots`` is a tuple of ``A``
zeros whose length numba sees as a constant, so the loops over actions unroll.
The Q-learning kernel is written for speed, each choice measured:

* no data-dependent branch where a select does (``&`` and ``|``, not ``and`` /
  ``or``; ``x if c else y`` on values already loaded): which learners
  terminate or explore is random, and a mispredicted branch costs more than
  cheap arithmetic. Two blocks are the exception, measured both ways: the
  exploring choice (a division and a walk over the mask, taken with
  probability epsilon) and the episode sums (loads and stores, taken once an
  episode); as branches they took about 6 % off a step;
* indices computed from data are unsigned, which spares numba's
  negative-index wraparound on every access;
* ``error_model="numpy"``: no Python-style zero-division check;
* no helper that takes arrays: numba reference-counts every array passed to a
  function, even an inlined one.

Importing this module imports numba (an ImportError naming the extra without
it); the kernels compile on first use and are cached on disk.
"""

from __future__ import annotations

import math

import numpy as np

from access_review_env.vector.streams import GAMMA, UNIFORM_SCALE
from agents.common.optional import install_hint
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

try:
    import numba

    from access_review_env.vector.kernels_numba import _mix64
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(f"{__name__} needs numba: {install_hint('numba')}") from error

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_jit_threads = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
_MASKED = np.array([-math.inf, 0.0])
"""Added to a Q value: ``-inf`` for an invalid action, 0 for a valid one (a
lookup, where a select on the mask became a branch around the load)."""


@_inline
def stream_uniform(key, clock):
    """Word ``clock`` of the stream with ``key``, as a uniform in ``[0, 1)``.

    The bits of :func:`access_review_env.vector.streams.uniforms`.
    """
    position = (np.uint64(clock) + np.uint64(1)) * np.uint64(GAMMA)
    word = _mix64(np.uint64(key) ^ position)
    return float(word >> np.uint64(11)) * UNIFORM_SCALE


@_jit
def q_learning_step(
    tables, step_sizes, snapshots, env, shared, parameters, action_slots
):
    """One batched step of K Q-learners; returns how many still have budget.

    Args:
        tables: ``(q, visits, seen)``, each ``(K, S * A)``.
        step_sizes: ``step_sizes[n]`` is the step size of an entry's n-th update.
        snapshots: ``(C, K, S * A)`` the Q tables at the checkpoints.
        env: The env's ``(observations, rewards, terminated, truncated,
            masks)``: ``(K,)`` arrays and ``(K, A)`` masks.
        shared: ``Lockstep.arrays()``.
        parameters: ``(gamma, epsilon)``.
        action_slots: ``A`` zeros (see the module docstring).
    """
    return q_learning_range(
        0,
        tables[0].shape[0],
        tables,
        step_sizes,
        snapshots,
        env,
        shared,
        parameters,
        action_slots,
    )


@_jit_threads
def q_learning_step_threads(
    n_threads, tables, step_sizes, snapshots, env, shared, parameters, action_slots
):
    """:func:`q_learning_step` with the learners split into ``n_threads`` chunks.

    Learners are independent, so the result is the same as the serial
    kernel's; each chunk is one call of :func:`q_learning_range`.
    """
    n_envs = tables[0].shape[0]
    running = 0
    for chunk in numba.prange(n_threads):
        running += q_learning_range(
            chunk * n_envs // n_threads,
            (chunk + 1) * n_envs // n_threads,
            tables,
            step_sizes,
            snapshots,
            env,
            shared,
            parameters,
            action_slots,
        )
    return running


@_jit
def q_learning_range(
    first, last, tables, step_sizes, snapshots, env, shared, parameters, action_slots
):
    """Learners ``first .. last - 1`` of :func:`q_learning_step`."""
    q, visits, seen = tables
    observations, rewards, terminated, truncated, masks = env
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
        actions,
        keys,
    ) = shared
    gamma, epsilon = parameters
    n_actions = len(action_slots)
    width = np.uint64(n_actions)
    record_curves = curve_returns.shape[1] > 0
    running = 0
    for k in range(np.uint64(first), np.uint64(last)):
        if counters[k, EPISODES] >= counters[k, BUDGET]:
            # Spent: the env still steps, so hand it a valid action (or 0).
            fallback = 0
            for b in range(n_actions - 1, -1, -1):
                fallback = b if masks[k, b] != 0 else fallback
            actions[k] = fallback
            continue
        s_next = np.uint64(observations[k])
        learn = counters[k, LEARNING]
        reward = np.float64(rewards[k])
        row = s_next * width
        n_valid = 0
        best = -math.inf
        greedy = 0
        for b in range(n_actions):
            column = row + np.uint64(b)
            valid = masks[k, b] != 0
            seen[k, column] = valid
            n_valid += valid
            value = q[k, column] + _MASKED[np.uint64(valid)]
            greedy = b if value > best else greedy
            best = max(best, value)
        # Termination cuts the bootstrap; truncation keeps it.
        bootstrap = (best > -math.inf) & (not terminated[k])
        target = reward + gamma * best if bootstrap else reward
        s = np.uint64(counters[k, STATE])
        entry = s * width + np.uint64(counters[k, ACTION])
        count = np.uint64(visits[k, entry] + learn)
        visits[k, entry] = count
        old = q[k, entry]
        updated = old + step_sizes[count] * (target - old)
        q[k, entry] = updated if learn else old
        if learn & (s == s_next):
            # The update changed the row the next action is chosen from.
            best = -math.inf
            for b in range(n_actions):
                valid = masks[k, b] != 0
                value = q[k, row + np.uint64(b)] + _MASKED[np.uint64(valid)]
                greedy = b if value > best else greedy
                best = max(best, value)
        weight = tallies[k, EPISODE_WEIGHT]
        episode_return = tallies[k, EPISODE_RETURN] + (reward if learn else 0.0)
        discounted = tallies[k, EPISODE_DISCOUNTED] + (
            weight * reward if learn else 0.0
        )
        length = counters[k, EPISODE_LENGTH] + learn
        ended = (learn != 0) & (terminated[k] | truncated[k])
        done = counters[k, EPISODES] + ended
        counters[k, EPISODES] = done
        if ended:
            tallies[k, RETURN_SUM] += episode_return
            tallies[k, DISCOUNTED_SUM] += discounted
            counters[k, LENGTH_SUM] += length
        tallies[k, EPISODE_RETURN] = 0.0 if ended else episode_return
        tallies[k, EPISODE_DISCOUNTED] = 0.0 if ended else discounted
        tallies[k, EPISODE_WEIGHT] = (
            1.0 if ended else (weight * gamma if learn else weight)
        )
        counters[k, EPISODE_LENGTH] = 0 if ended else length
        j = counters[k, NEXT_CHECKPOINT]
        if ended & (record_curves | (checkpoints[j] == done)):
            if record_curves:
                curve_returns[k, done - 1] = episode_return
                curve_discounted[k, done - 1] = discounted
                curve_lengths[k, done - 1] = length
            if checkpoints[j] == done:
                for i in range(q.shape[1]):
                    snapshots[j, k, i] = q[k, i]
                checkpoint_return_sum[j, k] = tallies[k, RETURN_SUM]
                checkpoint_discounted_sum[j, k] = tallies[k, DISCOUNTED_SUM]
                checkpoint_length_sum[j, k] = counters[k, LENGTH_SUM]
                counters[k, NEXT_CHECKPOINT] = j + 1
        # Epsilon-greedy from one uniform draw: below epsilon, the draw
        # rescaled to [0, 1) picks one of the n_valid valid actions uniformly.
        # (A branch: exploring is rare enough to predict, and the division and
        # the walk over the mask cost more than an occasional misprediction.)
        clock = counters[k, CLOCK]
        counters[k, CLOCK] = clock + 1
        u = stream_uniform(keys[k], clock)
        chosen = greedy
        if u < epsilon:
            pick = min(int(u / epsilon * n_valid), n_valid - 1)
            rank = 0
            for b in range(n_actions):
                valid = masks[k, b] != 0
                chosen = b if valid & (rank == pick) else chosen
                rank += valid
        acting = not ended
        # After an episode ends, the next step is a reset that ignores its action.
        actions[k] = chosen if acting else 0
        counters[k, STATE] = np.int64(s_next)
        counters[k, ACTION] = chosen
        counters[k, LEARNING] = acting
        running += acting | (done < counters[k, BUDGET])
    return running


@_jit
def reinforce_step(
    tables, trajectories, snapshots, env, shared, parameters, action_slots
):
    """One batched step of K REINFORCE learners.

    Args:
        tables: ``(logits, baseline, seen)``: ``(K, S * A)``, ``(K, S)`` and
            ``(K, S * A)``.
        trajectories: The current episodes' ``(states, actions, rewards,
            policies, returns)``: ``(K, T)`` each, ``(K, T * A)`` for the
            policies, with ``T`` above the longest episode so far plus one.
        snapshots: ``(C, K, S * A)`` the logits at the checkpoints.
        env: The env's ``(observations, rewards, terminated, truncated,
            masks)``.
        shared: ``Lockstep.arrays()``.
        parameters: ``(gamma, learning_rate, baseline_rate, horizon_ends)``:
            ``horizon_ends`` 1.0 learns from truncated episodes too.
        action_slots: ``A`` zeros (see the module docstring).

    Returns:
        ``(running, longest)``: learners with budget left, and the longest
        current episode (for the caller to grow the trajectory buffers).
    """
    logits, baseline, seen = tables
    (
        trajectory_states,
        trajectory_actions,
        trajectory_rewards,
        trajectory_policies,
        trajectory_returns,
    ) = trajectories
    observations, rewards, terminated, truncated, masks = env
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
        actions,
        keys,
    ) = shared
    gamma, learning_rate, baseline_rate, horizon_ends = parameters
    n_envs = logits.shape[0]
    n_actions = len(action_slots)
    record_curves = curve_returns.shape[1] > 0
    running = 0
    longest = 0
    for k in range(n_envs):
        if counters[k, EPISODES] >= counters[k, BUDGET]:
            fallback = 0
            for b in range(n_actions - 1, -1, -1):
                fallback = b if masks[k, b] != 0 else fallback
            actions[k] = fallback
            continue
        clock = counters[k, CLOCK]
        counters[k, CLOCK] = clock + 1
        s_next = observations[k]
        if counters[k, LEARNING]:
            t = counters[k, EPISODE_LENGTH]
            reward = np.float64(rewards[k])
            trajectory_states[k, t] = counters[k, STATE]
            trajectory_actions[k, t] = counters[k, ACTION]
            trajectory_rewards[k, t] = reward
            tallies[k, EPISODE_RETURN] += reward
            counters[k, EPISODE_LENGTH] = t + 1
            if terminated[k] | truncated[k]:
                g = 0.0
                for i in range(t, -1, -1):
                    g = trajectory_rewards[k, i] + gamma * g
                    trajectory_returns[k, i] = g
                # A truncated episode has no complete return: learn only from
                # episodes that reached a terminal state, as the scalar learner,
                # unless the time limit is the task's horizon.
                if terminated[k] or (horizon_ends != 0.0 and truncated[k]):
                    weight = 1.0
                    for i in range(t + 1):
                        s = trajectory_states[k, i]
                        a = trajectory_actions[k, i]
                        advantage = trajectory_returns[k, i] - baseline[k, s]
                        baseline[k, s] += baseline_rate * advantage
                        scale = learning_rate * weight * advantage
                        for b in range(n_actions):
                            score = -trajectory_policies[k, i * n_actions + b]
                            score = score + 1.0 if b == a else score
                            logits[k, s * n_actions + b] += scale * score
                        weight *= gamma
                episode_return = tallies[k, EPISODE_RETURN]
                discounted = trajectory_returns[k, 0]
                length = t + 1
                done = counters[k, EPISODES] + 1
                counters[k, EPISODES] = done
                tallies[k, RETURN_SUM] += episode_return
                tallies[k, DISCOUNTED_SUM] += discounted
                counters[k, LENGTH_SUM] += length
                tallies[k, EPISODE_RETURN] = 0.0
                counters[k, EPISODE_LENGTH] = 0
                if record_curves:
                    curve_returns[k, done - 1] = episode_return
                    curve_discounted[k, done - 1] = discounted
                    curve_lengths[k, done - 1] = length
                j = counters[k, NEXT_CHECKPOINT]
                if checkpoints[j] == done:
                    for i in range(logits.shape[1]):
                        snapshots[j, k, i] = logits[k, i]
                    checkpoint_return_sum[j, k] = tallies[k, RETURN_SUM]
                    checkpoint_discounted_sum[j, k] = tallies[k, DISCOUNTED_SUM]
                    checkpoint_length_sum[j, k] = counters[k, LENGTH_SUM]
                    counters[k, NEXT_CHECKPOINT] = j + 1
                counters[k, LEARNING] = 0
                # The next step is a reset that ignores its action.
                actions[k] = 0
                running += done < counters[k, BUDGET]
                continue
        # Masked softmax, then the scalar learner's sample_index: the first
        # action whose cumulative probability exceeds u times the total.
        t = counters[k, EPISODE_LENGTH]
        row = s_next * n_actions
        policy = t * n_actions
        top = -math.inf
        for b in range(n_actions):
            valid = masks[k, b] != 0
            seen[k, row + b] = valid
            value = logits[k, row + b]
            top = max(top, value if valid else -math.inf)
        total = 0.0
        for b in range(n_actions):
            shifted = logits[k, row + b] - top
            weight_b = math.exp(shifted) if masks[k, b] != 0 else 0.0
            trajectory_policies[k, policy + b] = weight_b
            total += weight_b
        cumulative = 0.0
        for b in range(n_actions):
            probability = trajectory_policies[k, policy + b] / total
            trajectory_policies[k, policy + b] = probability
            cumulative += probability
        threshold = stream_uniform(keys[k], clock) * cumulative
        chosen = n_actions
        last_valid = 0
        cumulative = 0.0
        for b in range(n_actions):
            cumulative += trajectory_policies[k, policy + b]
            last_valid = b if masks[k, b] != 0 else last_valid
            chosen = b if (chosen == n_actions) & (cumulative > threshold) else chosen
        chosen = last_valid if chosen == n_actions else chosen
        counters[k, STATE] = s_next
        counters[k, ACTION] = chosen
        counters[k, LEARNING] = 1
        actions[k] = chosen
        running += 1
        longest = max(longest, t)
    return running, longest
