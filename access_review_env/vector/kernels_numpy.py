"""The vector env's step with whole-array NumPy operations (without numba).

The same arithmetic as :mod:`.kernels_numba`, on the sub-envs of a range at
once, with the same arguments and the same bits out: the draws come from the
same streams at the same counters, a branch is chosen by the same running sum
of probabilities, and rewards, costs and probabilities are added and
multiplied in the same order.
"""

from __future__ import annotations

from typing import Any

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
    StepModel,
)
from access_review_env.vector.streams import uniforms

Ints = NDArray[np.int64]


def pick_branches(
    indptr: Ints, probability: NDArray[np.float64], rows: Ints, u: NDArray[np.float64]
) -> Ints:
    """``(n,)`` the branch each uniform ``u`` ``(n,)`` selects in its row ``(n,)``.

    The first branch of the row whose running sum of probabilities exceeds
    ``u``, else the row's last branch (the single env's rule).
    """
    low = indptr[rows]
    chosen = indptr[rows + 1] - 1
    cumulative = np.zeros(rows.size)
    scanning = np.flatnonzero(low < chosen)
    offset = 0
    while scanning.size:
        branch = low[scanning] + offset
        cumulative[scanning] += probability[branch]
        hit = u[scanning] < cumulative[scanning]
        chosen[scanning[hit]] = branch[hit]
        scanning = scanning[~hit & (branch + 1 < chosen[scanning])]
        offset += 1
    return chosen


def draw(streams: NDArray[np.uint64], index: Ints) -> NDArray[np.float64]:
    """The next uniform of each sub-env in ``index``; their counters advance."""
    u = uniforms(streams[KEY, index], streams[COUNTER, index])
    streams[COUNTER, index] += np.uint64(1)
    return u


def start_states(model: StepModel, u: NDArray[np.float64]) -> Ints:
    """The start state each uniform selects (``bisect_right`` on the thresholds)."""
    chosen = np.searchsorted(model.start_thresholds, u, side="right")
    return model.start_states[chosen]


def step_range(
    first: int,
    last: int,
    settings: Ints,
    model_arrays: tuple[NDArray[Any], ...],
    memory: NDArray[np.int32],
    streams: NDArray[np.uint64],
    actions: NDArray[Any],
    out: tuple[NDArray[Any], ...],
    finals: tuple[NDArray[Any], ...],
    mask_slots: tuple[int, ...],
) -> None:
    """Step sub-envs ``first .. last - 1``; see :func:`.kernels_numba.step_range`.

    ``model_arrays`` is a :class:`~.layout.StepModel` as a plain tuple;
    ``mask_slots`` is unused here (the compiled loop unrolls over it).
    """
    model = StepModel._make(model_arrays)
    ints, floats, flags, masks = out
    n_actions = int(settings[N_ACTIONS])
    max_steps = int(settings[MAX_STEPS])
    mode = int(settings[MODE])
    span = np.arange(first, last)
    ended_before = memory[ENDED, first:last] != 0
    if mode == NEXT_STEP:
        stepping, resetting = span[~ended_before], span[ended_before]
    else:
        stepping, resetting = span, span[:0]
    state = memory[STATE, stepping].astype(np.int64)
    rows = state * n_actions + actions[stepping].astype(np.int64)
    j = pick_branches(
        model.decision_indptr,
        model.decision_probability,
        rows,
        draw(streams, stepping),
    )
    target = model.decision_target[j].astype(np.int64)
    reward = model.decision_reward[j]
    cost = model.decision_cost[j]
    outcome = model.decision_outcome[j].astype(np.int64)
    probability = model.decision_probability[j]
    if settings[HAS_EVENTS]:
        e = pick_branches(
            model.event_indptr,
            model.event_probability,
            target,
            draw(streams, stepping),
        )
        target = model.event_target[e].astype(np.int64)
        reward = reward + model.event_reward[e]
        cost = cost + model.event_cost[e]
        probability = probability * model.event_probability[e]
        event_outcome = model.event_outcome[e].astype(np.int64)
    else:
        event_outcome = np.zeros(stepping.size, dtype=np.int64)
        # A closed request absorbs every action and keeps how it closed.
        sticky = (outcome == 0) & model.terminal[target]
        outcome[sticky] = memory[LAST_OUTCOME, stepping[sticky]]
    terminated = model.terminal[target]
    elapsed = memory[ELAPSED, stepping] + 1
    truncated = (max_steps >= 0) & (elapsed >= max_steps)
    ints[OUT_STATE, stepping] = target
    ints[OUT_OUTCOME, stepping] = outcome
    if settings[HAS_EVENTS]:
        ints[OUT_EVENT, stepping] = event_outcome
    floats[REWARD, stepping] = reward
    floats[COST, stepping] = cost
    floats[PROB, stepping] = probability
    flags[TERMINATED, stepping] = terminated
    flags[TRUNCATED, stepping] = truncated
    flags[INVALID, stepping] = model.decision_invalid[j]
    flags[STEPPED, stepping] = True
    masks[stepping] = model.valid[target]
    memory[STATE, stepping] = target
    memory[LAST_OUTCOME, stepping] = outcome
    memory[ELAPSED, stepping] = elapsed
    ended = terminated | truncated
    memory[ENDED, stepping] = ended
    if mode == SAME_STEP:
        resetting = stepping[ended]
        final_ints, final_floats, final_flags, final_masks = finals
        final_ints[:, resetting] = ints[:, resetting]
        final_floats[:, resetting] = floats[:, resetting]
        final_flags[:, resetting] = flags[:, resetting]
        final_masks[resetting] = masks[resetting]
    if resetting.size:
        reset_range(resetting, mode, model, memory, streams, out)


def reset_range(
    index: Ints,
    mode: int,
    model: StepModel,
    memory: NDArray[np.int32],
    streams: NDArray[np.uint64],
    out: tuple[NDArray[Any], ...],
    start: int | None = None,
) -> None:
    """Reset the sub-envs in ``index``: each draws its start (one word, used or not).

    Writes the reset info into ``out``; under ``NEXT_STEP`` also reward 0 and
    no flags (a reset slot of ``step``), which ``reset`` itself ignores.

    Args:
        index: ``(n,)`` the sub-envs.
        mode: The autoreset mode's code.
        model: The model's arrays.
        memory: ``(4, N)`` updated.
        streams: ``(2, N)`` counters advanced.
        out: ``(ints, floats, flags, masks)`` blocks, written at ``index``.
        start: A start state every sub-env takes instead of its draw.
    """
    ints, floats, flags, masks = out
    u = draw(streams, index)
    states = start_states(model, u) if start is None else np.full(index.size, start)
    ints[OUT_STATE, index] = states
    ints[OUT_OUTCOME, index] = 0
    ints[OUT_EVENT, index] = 0
    floats[COST, index] = 0.0
    floats[PROB, index] = 1.0
    flags[INVALID, index] = False
    flags[STEPPED, index] = False
    if mode == NEXT_STEP:
        floats[REWARD, index] = 0.0
        flags[TERMINATED, index] = False
        flags[TRUNCATED, index] = False
    masks[index] = model.valid[states]
    memory[STATE, index] = states
    memory[LAST_OUTCOME, index] = 0
    memory[ELAPSED, index] = 0
    memory[ENDED, index] = 0


def first_refusal(
    settings: Ints,
    decision_indptr: Ints,
    memory: NDArray[np.int32],
    actions: NDArray[Any],
    refuse_invalid: bool,
) -> tuple[int, int]:
    """``(reason, sub-env)`` of the first refused action, or ``(0, -1)``.

    See :func:`.kernels_numba.first_refusal`.
    """
    n_actions = int(settings[N_ACTIONS])
    mode = int(settings[MODE])
    action = actions.astype(np.int64)
    reason = np.zeros(actions.size, dtype=np.int64)
    ended = memory[ENDED] != 0
    if refuse_invalid:
        stepping = ~ended if mode == NEXT_STEP else np.ones(actions.size, dtype=bool)
        in_range = (action >= 0) & (action < n_actions)
        rows = memory[STATE].astype(np.int64) * n_actions + np.where(
            in_range, action, 0
        )
        empty = decision_indptr[rows] == decision_indptr[rows + 1]
        reason[stepping & empty] = INVALID_ACTION
    if mode == DISABLED:
        reason[ended] = ENDED_EPISODE
    reason[(action < 0) | (action >= n_actions)] = OUT_OF_RANGE
    refused = np.flatnonzero(reason)
    if not refused.size:
        return 0, -1
    return int(reason[refused[0]]), int(refused[0])
