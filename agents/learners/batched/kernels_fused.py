"""Batched Q-learning with the env's step fused in: one compiled loop per learner.

The lockstep path hands every batched step through the vector env's ``step``
and a kernel call; here one numba loop takes each learner through many
episodes at once, stepping its sub-env from the task's sparse model (a
decision branch of (state, action), then an event branch of the
post-decision state, the time limit, ``NEXT_STEP`` resets) and updating its Q
table in the same iteration, while the table stays in the caches.

It gives the lockstep path's results bit for bit (a test compares them): the
env's draws are those of the native vector env's sub-env seeded ``s_k`` (word
0 for the first reset, one word per decision and one per event, one per
reset step), chosen by the same running sums (:func:`_pick` of
:mod:`access_review_env.vector.kernels_numba`), and the learner's are word
``t`` of its own stream after its ``t``-th step; the update, the episode
sums and the checkpoints are :func:`.kernels_numba.q_learning_range`'s
operations in the same order.

A call runs each learner until its budget is spent, it has finished
``episode_limit`` more episodes, or its next update could count beyond the
step-size table (which the caller then grows); its state is kept in the
arrays between calls, so the caller can show an observer every episode's
end or grow the table and call again.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from access_review_env.vector.kernels_numba import _pick
from access_review_env.vector.layout import HAS_EVENTS, MAX_STEPS
from agents.learners.batched.fused import (
    ENV_COUNTER,
    ENV_ELAPSED,
    ENV_PENDING,
    ENV_STATE,
)
from agents.learners.batched.kernels_numba import _MASKED, stream_uniform
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

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_jit_threads = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)


@_jit_threads
def q_learning_fused_threads(
    n_threads,
    model,
    valid,
    settings,
    tables,
    step_sizes,
    snapshots,
    env_memory,
    env_keys,
    shared,
    parameters,
    action_slots,
    episode_limit,
):
    """:func:`q_learning_fused_range` over every learner, in ``n_threads`` chunks.

    Learners are independent, so the result is the serial loop's.
    """
    n_envs = env_keys.shape[0]
    running = 0
    for chunk in numba.prange(n_threads):
        running += q_learning_fused_range(
            chunk * n_envs // n_threads,
            (chunk + 1) * n_envs // n_threads,
            model,
            valid,
            settings,
            tables,
            step_sizes,
            snapshots,
            env_memory,
            env_keys,
            shared,
            parameters,
            action_slots,
            episode_limit,
        )
    return running


@_jit
def q_learning_fused_range(
    first,
    last,
    model,
    valid,
    settings,
    tables,
    step_sizes,
    snapshots,
    env_memory,
    env_keys,
    shared,
    parameters,
    action_slots,
    episode_limit,
):
    """Run learners ``first .. last - 1``; return how many have budget left.

    See the module docstring for when a call stops a learner.

    Args:
        first: The first learner.
        last: One past the last.
        model: A :class:`~access_review_env.vector.layout.StepModel` as a tuple.
        valid: ``(S, A)`` bool, each state's ``info["action_mask"]``.
        settings: The vector env's ``settings`` (``HAS_EVENTS``, ``MAX_STEPS``).
        tables: ``(q, visits, seen)``, each ``(K, S * A)``.
        step_sizes: ``step_sizes[n]`` is the step size of an entry's n-th update.
        snapshots: ``(C, K, S * A)`` the Q tables at the checkpoints.
        env_memory: ``(K, 4)`` int64 each sub-env's state
            (:class:`~agents.learners.batched.fused.FusedEnv`).
        env_keys: ``(K,)`` uint64 each sub-env's stream key.
        shared: ``Lockstep.arrays()``.
        parameters: ``(gamma, epsilon)``.
        action_slots: ``A`` zeros (numba unrolls the loops over actions).
        episode_limit: Episodes each learner may finish in this call at most.
    """
    (
        d_indptr,
        d_target,
        d_probability,
        d_reward,
        _,
        _,
        _,
        e_indptr,
        e_target,
        e_probability,
        e_reward,
        _,
        _,
        terminal,
        _,
        start_states,
        start_thresholds,
    ) = model
    q, visits, seen = tables
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
        keys,
    ) = shared
    gamma, epsilon = parameters
    n_actions = len(action_slots)
    width = np.uint64(n_actions)
    one = np.uint64(1)
    has_events = settings[HAS_EVENTS] != 0
    max_steps = settings[MAX_STEPS]
    record_curves = curve_returns.shape[1] > 0
    n_step_sizes = len(step_sizes)
    n_thresholds = np.uint64(len(start_thresholds))
    running = 0
    for k in range(np.uint64(first), np.uint64(last)):
        budget = counters[k, BUDGET]
        done = counters[k, EPISODES]
        if done >= budget:
            continue
        stop = min(budget, done + episode_limit)
        key = keys[k]
        clock = counters[k, CLOCK]
        s = np.uint64(counters[k, STATE])
        a = np.uint64(counters[k, ACTION])
        learn = counters[k, LEARNING] != 0
        length = counters[k, EPISODE_LENGTH]
        length_sum = counters[k, LENGTH_SUM]
        episode_return = tallies[k, EPISODE_RETURN]
        discounted = tallies[k, EPISODE_DISCOUNTED]
        weight = tallies[k, EPISODE_WEIGHT]
        env_key = env_keys[k]
        state = np.uint64(env_memory[k, ENV_STATE])
        elapsed = env_memory[k, ENV_ELAPSED]
        pending = env_memory[k, ENV_PENDING] != 0
        counter = env_memory[k, ENV_COUNTER]
        while True:
            if not pending and length_sum + length + 2 > n_step_sizes:
                break  # the caller grows the step sizes first
            # The sub-env's step, as the vector env takes it: one word, and a
            # second for the event; a reset step takes one word for its start.
            u = stream_uniform(env_key, counter)
            counter += 1
            terminated = False
            truncated = False
            if pending:
                low, high = np.uint64(0), n_thresholds
                while low < high:  # bisect_right: the thresholds <= u
                    middle = (low + high) >> one
                    if start_thresholds[middle] <= u:
                        low = middle + one
                    else:
                        high = middle
                state = np.uint64(start_states[low])
                elapsed = 0
                pending = False
                reward = 0.0
            else:
                row = s * width + a
                j = _pick(
                    d_probability,
                    np.uint64(d_indptr[row]),
                    np.uint64(d_indptr[row + one]),
                    u,
                )
                state = np.uint64(d_target[j])
                reward = d_reward[j]
                if has_events:
                    u = stream_uniform(env_key, counter)
                    counter += 1
                    e = _pick(
                        e_probability,
                        np.uint64(e_indptr[state]),
                        np.uint64(e_indptr[state + one]),
                        u,
                    )
                    state = np.uint64(e_target[e])
                    reward = reward + e_reward[e]
                terminated = terminal[state]
                elapsed += 1
                truncated = max_steps >= 0 and elapsed >= max_steps
                pending = terminated or truncated
            # The learner's part: kernels_numba.q_learning_range's arithmetic.
            row = state * width
            n_valid = 0
            best = -math.inf
            greedy = 0
            for b in range(n_actions):
                column = row + np.uint64(b)
                allowed = valid[state, b]
                seen[k, column] = allowed
                n_valid += allowed
                value = q[k, column] + _MASKED[np.uint64(allowed)]
                greedy = b if value > best else greedy
                best = max(best, value)
            ended = False
            if learn:
                # Termination cuts the bootstrap; truncation keeps it.
                bootstrap = (best > -math.inf) & (not terminated)
                target = reward + gamma * best if bootstrap else reward
                entry = s * width + a
                count = np.uint64(visits[k, entry] + 1)
                visits[k, entry] = count
                old = q[k, entry]
                q[k, entry] = old + step_sizes[count] * (target - old)
                if s == state:
                    best = -math.inf
                    for b in range(n_actions):
                        allowed = valid[state, b]
                        value = q[k, row + np.uint64(b)] + _MASKED[np.uint64(allowed)]
                        greedy = b if value > best else greedy
                        best = max(best, value)
                episode_return = episode_return + reward
                discounted = discounted + weight * reward
                weight = weight * gamma
                length += 1
                ended = terminated or truncated
            now = clock
            clock += 1
            if ended:
                done += 1
                tallies[k, RETURN_SUM] += episode_return
                tallies[k, DISCOUNTED_SUM] += discounted
                length_sum += length
                c = counters[k, NEXT_CHECKPOINT]
                if record_curves:
                    curve_returns[k, done - 1] = episode_return
                    curve_discounted[k, done - 1] = discounted
                    curve_lengths[k, done - 1] = length
                if checkpoints[c] == done:
                    for i in range(q.shape[1]):
                        snapshots[c, k, i] = q[k, i]
                    checkpoint_return_sum[c, k] = tallies[k, RETURN_SUM]
                    checkpoint_discounted_sum[c, k] = tallies[k, DISCOUNTED_SUM]
                    checkpoint_length_sum[c, k] = length_sum
                    counters[k, NEXT_CHECKPOINT] = c + 1
                episode_return = 0.0
                discounted = 0.0
                weight = 1.0
                length = 0
                learn = False
                if done >= stop:
                    break
                continue
            # Epsilon-greedy from word `now` of the learner's stream.
            u = stream_uniform(key, now)
            chosen = greedy
            if u < epsilon:
                pick = min(int(u / epsilon * n_valid), n_valid - 1)
                rank = 0
                for b in range(n_actions):
                    allowed = valid[state, b]
                    chosen = b if allowed & (rank == pick) else chosen
                    rank += allowed
            s = state
            a = np.uint64(chosen)
            learn = True
        counters[k, EPISODES] = done
        counters[k, CLOCK] = clock
        counters[k, STATE] = np.int64(s)
        counters[k, ACTION] = np.int64(a)
        counters[k, LEARNING] = learn
        counters[k, EPISODE_LENGTH] = length
        counters[k, LENGTH_SUM] = length_sum
        tallies[k, EPISODE_RETURN] = episode_return
        tallies[k, EPISODE_DISCOUNTED] = discounted
        tallies[k, EPISODE_WEIGHT] = weight
        env_memory[k, ENV_STATE] = np.int64(state)
        env_memory[k, ENV_ELAPSED] = elapsed
        env_memory[k, ENV_PENDING] = pending
        env_memory[k, ENV_COUNTER] = counter
        running += done < budget
    return running
