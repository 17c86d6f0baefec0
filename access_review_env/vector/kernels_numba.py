"""The vector env's step as loops over sub-envs, compiled by numba (``fast`` extra).

:func:`step_fused` and :func:`step_staged` do for each sub-env what
``TaskEnv.step`` under the ``TimeLimit`` wrapper and ``SyncVectorEnv`` do: draw
the decision branch of (state, action), then the event branch of the
post-decision state if the model has an event stage, add up rewards and costs,
apply the time limit, and reset an ended episode as the autoreset mode says.
:mod:`.kernels_numpy` computes the same with whole-array operations; all three
return the same bits (a test compares them step by step).

The two loops differ in shape only, for speed (measured on both sides of the
choice, see ``TaskVectorEnv``): :func:`step_fused` takes each sub-env through
its whole step, fastest when the model fits in the caches;
:func:`step_staged` takes a block of sub-envs through one level of lookups at
a time (rows, branches, their fields, event rows, ...), so that on a model
larger than the caches the memory latencies of many sub-envs overlap instead
of adding up along each sub-env's chain of dependent loads. Both call the
same inlined helpers for the choice of a branch and the outputs.

Draws (:mod:`.streams`): a step takes one word of the sub-env's stream for
the decision and, with an event stage, one for the event, used or not; a
reset takes one word for its start state, used or not. A branch is chosen as
the single env chooses it: the first whose cumulative probability exceeds
the uniform, the last if none does.

Indices computed from data are unsigned, which spares numba's negative-index
wraparound. Importing this module imports numba; the functions compile on
first use and are cached on disk.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from access_review_env.vector.layout import (
    COST,
    COUNTER,
    DISABLED,
    ELAPSED,
    ENDED,
    ENDED_EPISODE,
    HAS_EVENTS,
    INVALID,
    INVALID_ACTION,
    KEY,
    LAST_OUTCOME,
    MAX_STEPS,
    MODE,
    N_ACTIONS,
    NEXT_STEP,
    OUT_EVENT,
    OUT_OF_RANGE,
    OUT_OUTCOME,
    OUT_STATE,
    PROB,
    REWARD,
    SAME_STEP,
    STATE,
    STEPPED,
    TERMINATED,
    TRUNCATED,
)
from access_review_env.vector.streams import GAMMA, MIX_1, MIX_2, UNIFORM_SCALE

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
"""For helpers: inlined into the loops before compiling, so they cost no call."""

BLOCK = 64
"""Sub-envs :func:`step_staged` takes through each level together."""


def _mix64_py(z: np.uint64) -> np.uint64:
    """SplitMix64's output function on one word (:func:`.streams.mix64`)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX_1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX_2)
    return z ^ (z >> np.uint64(31))


_mix64 = _inline(_mix64_py)


def _draw_py(streams: NDArray[np.uint64], k: np.uint64) -> float:
    """Sub-env ``k``'s next uniform (:func:`.streams.uniforms`); advance its counter."""
    counter = streams[COUNTER, k]
    streams[COUNTER, k] = counter + np.uint64(1)
    word = _mix64(streams[KEY, k] ^ ((counter + np.uint64(1)) * np.uint64(GAMMA)))
    return float(word >> np.uint64(11)) * UNIFORM_SCALE


_draw = _inline(_draw_py)


def _pick_py(
    probability: NDArray[np.float64], low: np.uint64, high: np.uint64, u: float
) -> np.uint64:
    """The branch ``u`` selects among ``low .. high - 1``.

    The number of the row's cumulative probabilities (all but the last
    branch's) that are ``<= u``, the single env's ``bisect_right``, counted
    without a data-dependent branch.
    """
    j = low
    cumulative = 0.0
    for b in range(low, high - np.uint64(1)):
        cumulative += probability[b]
        j += np.uint64(u >= cumulative)
    return j


_pick = _inline(_pick_py)


def _write_step_py(
    k: np.uint64,
    state: np.uint64,
    reward: float,
    cost: float,
    probability: float,
    outcome: np.int64,
    invalid: bool,
    settings: NDArray[np.int64],
    terminal: NDArray[np.bool_],
    valid: NDArray[Any],
    memory: NDArray[np.int32],
    out: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> bool:
    """Write sub-env ``k``'s step to the outputs and its memory; return if it ended.

    Without an event stage, a step into a terminal state that names no
    outcome keeps the last one (a closed request absorbs every action and
    keeps how it closed), as the single env does.
    """
    ints, floats, flags, masks = out
    if settings[HAS_EVENTS] == 0 and outcome == 0 and terminal[state]:
        outcome = np.int64(memory[LAST_OUTCOME, k])
    terminated = terminal[state]
    elapsed = memory[ELAPSED, k] + 1
    max_steps = settings[MAX_STEPS]
    truncated = max_steps >= 0 and elapsed >= max_steps
    ints[OUT_STATE, k] = state
    ints[OUT_OUTCOME, k] = outcome
    floats[REWARD, k] = reward
    floats[COST, k] = cost
    floats[PROB, k] = probability
    flags[TERMINATED, k] = terminated
    flags[TRUNCATED, k] = truncated
    flags[INVALID, k] = invalid
    flags[STEPPED, k] = True
    for w in range(len(mask_slots)):
        masks[k, w] = valid[state, w]
    ended = terminated or truncated
    memory[STATE, k] = state
    memory[LAST_OUTCOME, k] = outcome
    memory[ELAPSED, k] = elapsed
    memory[ENDED, k] = ended
    return bool(ended)


_write_step = _inline(_write_step_py)


def _write_final_py(
    k: np.uint64,
    out: tuple[NDArray[Any], ...],
    finals: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> None:
    """Copy sub-env ``k``'s outputs to ``finals`` (``SAME_STEP``'s final info)."""
    ints, floats, flags, masks = out
    final_ints, final_floats, final_flags, final_masks = finals
    for field in range(3):
        final_ints[field, k] = ints[field, k]
        final_floats[field, k] = floats[field, k]
    for field in range(4):
        final_flags[field, k] = flags[field, k]
    for w in range(len(mask_slots)):
        final_masks[k, w] = masks[k, w]


_write_final = _inline(_write_final_py)


def _write_reset_py(
    k: np.uint64,
    u: float,
    mode: np.int64,
    start_states: NDArray[np.int64],
    start_thresholds: NDArray[np.float64],
    valid: NDArray[Any],
    memory: NDArray[np.int32],
    out: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> None:
    """Reset sub-env ``k`` to the start state ``u`` selects; write its reset info.

    Under ``NEXT_STEP`` the slot's reward is 0 and its flags False.
    """
    ints, floats, flags, masks = out
    low, high = np.uint64(0), np.uint64(len(start_thresholds))
    while low < high:  # bisect_right: the thresholds <= u
        middle = (low + high) >> np.uint64(1)
        if start_thresholds[middle] <= u:
            low = middle + np.uint64(1)
        else:
            high = middle
    start = np.uint64(start_states[low])
    ints[OUT_STATE, k] = start
    ints[OUT_OUTCOME, k] = 0
    ints[OUT_EVENT, k] = 0
    floats[COST, k] = 0.0
    floats[PROB, k] = 1.0
    flags[INVALID, k] = False
    flags[STEPPED, k] = False
    if mode == NEXT_STEP:
        floats[REWARD, k] = 0.0
        flags[TERMINATED, k] = False
        flags[TRUNCATED, k] = False
    for w in range(len(mask_slots)):
        masks[k, w] = valid[start, w]
    memory[STATE, k] = start
    memory[LAST_OUTCOME, k] = 0
    memory[ELAPSED, k] = 0
    memory[ENDED, k] = 0


_write_reset = _inline(_write_reset_py)


def _step_fused_py(
    first: int,
    last: int,
    settings: NDArray[np.int64],
    model: tuple[NDArray[Any], ...],
    memory: NDArray[np.int32],
    streams: NDArray[np.uint64],
    actions: NDArray[Any],
    out: tuple[NDArray[Any], ...],
    finals: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> None:
    """Step sub-envs ``first .. last - 1``, each through its whole step.

    Args:
        first: The first sub-env.
        last: One past the last.
        settings: See :mod:`.layout`.
        model: A :class:`~.layout.StepModel` as a plain tuple.
        memory: ``(4, N)`` the sub-envs' state, updated.
        streams: ``(2, N)`` keys and counters, counters advanced.
        actions: ``(N,)`` checked actions (any integer dtype).
        out: ``(ints, floats, flags, masks)`` blocks, masks as words; written.
        finals: The same blocks for ``SAME_STEP``'s final infos (columns of
            ended sub-envs written; other columns left as they are).
        mask_slots: One zero per word of a mask row, so that numba compiles
            their number as a constant and unrolls the copies of masks.
    """
    (
        d_indptr,
        d_target,
        d_probability,
        d_reward,
        d_cost,
        d_outcome,
        d_invalid,
        e_indptr,
        e_target,
        e_probability,
        e_reward,
        e_cost,
        e_outcome,
        terminal,
        valid,
        start_states,
        start_thresholds,
    ) = model
    one = np.uint64(1)
    n_actions = np.uint64(settings[N_ACTIONS])
    has_events = settings[HAS_EVENTS] != 0
    mode = settings[MODE]
    for i in range(first, last):
        k = np.uint64(i)
        u = _draw(streams, k)
        if mode != NEXT_STEP or memory[ENDED, k] == 0:
            row = np.uint64(memory[STATE, k]) * n_actions + np.uint64(actions[k])
            low, high = np.uint64(d_indptr[row]), np.uint64(d_indptr[row + one])
            j = _pick(d_probability, low, high, u)
            state = np.uint64(d_target[j])
            reward = d_reward[j]
            cost = d_cost[j]
            probability = d_probability[j]
            if has_events:
                u = _draw(streams, k)
                low = np.uint64(e_indptr[state])
                high = np.uint64(e_indptr[state + one])
                e = _pick(e_probability, low, high, u)
                state = np.uint64(e_target[e])
                reward = reward + e_reward[e]
                cost = cost + e_cost[e]
                probability = probability * e_probability[e]
                out[0][OUT_EVENT, k] = e_outcome[e]
            ended = _write_step(
                k,
                state,
                reward,
                cost,
                probability,
                np.int64(d_outcome[j]),
                d_invalid[j],
                settings,
                terminal,
                valid,
                memory,
                out,
                mask_slots,
            )
            if mode != SAME_STEP or not ended:
                continue
            _write_final(k, out, finals, mask_slots)
            u = _draw(streams, k)
        _write_reset(
            k, u, mode, start_states, start_thresholds, valid, memory, out, mask_slots
        )


step_fused = _jit(_step_fused_py)


def _step_staged_py(
    first: int,
    last: int,
    settings: NDArray[np.int64],
    model: tuple[NDArray[Any], ...],
    memory: NDArray[np.int32],
    streams: NDArray[np.uint64],
    actions: NDArray[Any],
    out: tuple[NDArray[Any], ...],
    finals: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> None:
    """Step sub-envs ``first .. last - 1``, a block of them one level at a time.

    The same steps as :func:`step_fused` (same arguments, same bits). The
    sums of touched values go to a scratch array so that the compiler keeps
    the loads that bring those lines in.
    """
    (
        d_indptr,
        d_target,
        d_probability,
        d_reward,
        d_cost,
        d_outcome,
        d_invalid,
        e_indptr,
        e_target,
        e_probability,
        e_reward,
        e_cost,
        e_outcome,
        terminal,
        valid,
        start_states,
        start_thresholds,
    ) = model
    one = np.uint64(1)
    n_actions = np.uint64(settings[N_ACTIONS])
    has_events = settings[HAS_EVENTS] != 0
    mode = settings[MODE]
    first_draw = np.empty(BLOCK)
    second_draw = np.empty(BLOCK)
    stepping = np.empty(BLOCK, dtype=np.bool_)
    low = np.empty(BLOCK, dtype=np.uint64)
    high = np.empty(BLOCK, dtype=np.uint64)
    branch = np.empty(BLOCK, dtype=np.uint64)
    state = np.empty(BLOCK, dtype=np.uint64)
    reward = np.empty(BLOCK)
    cost = np.empty(BLOCK)
    probability = np.empty(BLOCK)
    outcome = np.empty(BLOCK, dtype=np.int64)
    invalid = np.empty(BLOCK, dtype=np.bool_)
    sink = np.zeros(1)
    for block in range(first, last, BLOCK):
        size = min(BLOCK, last - block)
        for i in range(size):
            k = np.uint64(block + i)
            first_draw[i] = _draw(streams, k)
            stepping[i] = mode != NEXT_STEP or memory[ENDED, k] == 0
            if stepping[i]:
                if has_events:
                    second_draw[i] = _draw(streams, k)
                row = np.uint64(memory[STATE, k]) * n_actions + np.uint64(actions[k])
                low[i] = d_indptr[row]
                high[i] = d_indptr[row + one]
        # Each level first touches the cache lines its next loop reads, in a
        # loop whose loads are independent (and their misses overlap).
        touched = 0.0
        for i in range(size):
            if stepping[i]:
                touched += d_probability[low[i]] + d_probability[high[i] - one]
        for i in range(size):
            if stepping[i]:
                branch[i] = _pick(d_probability, low[i], high[i], first_draw[i])
        for i in range(size):
            if stepping[i]:
                j = branch[i]
                state[i] = d_target[j]
                reward[i] = d_reward[j]
                cost[i] = d_cost[j]
                probability[i] = d_probability[j]
                outcome[i] = d_outcome[j]
                invalid[i] = d_invalid[j]
        if has_events:
            for i in range(size):
                if stepping[i]:
                    low[i] = e_indptr[state[i]]
                    high[i] = e_indptr[state[i] + one]
            for i in range(size):
                if stepping[i]:
                    touched += e_probability[low[i]] + e_probability[high[i] - one]
            for i in range(size):
                if stepping[i]:
                    low[i] = _pick(e_probability, low[i], high[i], second_draw[i])
            for i in range(size):
                if stepping[i]:
                    e = low[i]
                    state[i] = e_target[e]
                    reward[i] = reward[i] + e_reward[e]
                    cost[i] = cost[i] + e_cost[e]
                    probability[i] = probability[i] * e_probability[e]
                    out[0][OUT_EVENT, np.uint64(block + i)] = e_outcome[e]
        for i in range(size):
            if stepping[i]:
                touched += terminal[state[i]] + valid[state[i], 0]
        sink[0] = touched
        for i in range(size):
            k = np.uint64(block + i)
            u = first_draw[i]
            if stepping[i]:
                ended = _write_step(
                    k,
                    state[i],
                    reward[i],
                    cost[i],
                    probability[i],
                    outcome[i],
                    invalid[i],
                    settings,
                    terminal,
                    valid,
                    memory,
                    out,
                    mask_slots,
                )
                if mode != SAME_STEP or not ended:
                    continue
                _write_final(k, out, finals, mask_slots)
                u = _draw(streams, k)
            _write_reset(
                k,
                u,
                mode,
                start_states,
                start_thresholds,
                valid,
                memory,
                out,
                mask_slots,
            )


step_staged = _jit(_step_staged_py)


def _first_refusal_py(
    settings: NDArray[np.int64],
    decision_indptr: NDArray[np.int64],
    memory: NDArray[np.int32],
    actions: NDArray[Any],
    refuse_invalid: bool,
) -> tuple[int, int]:
    """``(reason, sub-env)`` of the first sub-env whose action is refused, or (0, -1).

    Reasons (:mod:`.layout`): an action out of range; a step of an ended
    episode under ``DISABLED``; under ``invalid_action="raise"``, an action
    without a transition (only for sub-envs that step, not those a
    ``NEXT_STEP`` autoreset restarts).
    """
    n_actions = settings[N_ACTIONS]
    mode = settings[MODE]
    for k in range(len(actions)):
        action = np.int64(actions[k])
        if action < 0 or action >= n_actions:
            return OUT_OF_RANGE, k
        ended = memory[ENDED, k] != 0
        if mode == DISABLED and ended:
            return ENDED_EPISODE, k
        if refuse_invalid and not (mode == NEXT_STEP and ended):
            row = memory[STATE, k] * n_actions + action
            if decision_indptr[row] == decision_indptr[row + 1]:
                return INVALID_ACTION, k
    return 0, -1


first_refusal = _jit(_first_refusal_py)
