"""The arrays both step kernels read and write, and where each field sits in them.

A vector env keeps its sub-envs' state and its outputs in a few blocks rather
than one array per field: a compiled kernel pays for every array it is handed
(about 0.2 microseconds each, per call), and rows of a block are contiguous
views, so ``reward`` or ``info["cost"]`` are still plain ``(N,)`` arrays.

Blocks (``N`` sub-envs, ``A`` actions):

* ``memory`` ``(4, N)`` int32: the current state, the last outcome (the table
  tasks' closed requests keep it), the steps since reset, and 1 where the
  episode ended (``NEXT_STEP``: reset on the next step; ``DISABLED``: refuse
  to step until reset).
* ``streams`` ``(2, N)`` uint64: each sub-env's stream key and counter
  (:mod:`.streams`).
* ``ints`` ``(3, N)`` int64: ``info["state"]``, ``info["outcome"]``,
  ``info["event_outcome"]``.
* ``floats`` ``(3, N)`` float64: the reward, ``info["cost"]``, ``info["prob"]``.
* ``flags`` ``(4, N)`` bool: terminated, truncated, ``info["invalid_action"]``,
  and whether the slot was a step (False where it was a reset, whose info has
  no ``event_outcome``; in the ``finals`` blocks: whether the sub-env ended).
* ``masks`` ``(N, A)`` bool: ``info["action_mask"]``; the kernels see each
  row as a few unsigned words (:func:`mask_word`), so copying a mask is a
  word or two, not ``A`` bytes.

``settings`` is an int64 array ``[A, has_events, max_episode_steps or -1,
autoreset mode]``.
"""

from __future__ import annotations

import functools
from typing import Any, Final, NamedTuple

import numpy as np
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP, SparseStage

STATE, LAST_OUTCOME, ELAPSED, ENDED = 0, 1, 2, 3
"""Rows of ``memory``."""
KEY, COUNTER = 0, 1
"""Rows of ``streams``."""
OUT_STATE, OUT_OUTCOME, OUT_EVENT = 0, 1, 2
"""Rows of ``ints``."""
REWARD, COST, PROB = 0, 1, 2
"""Rows of ``floats``."""
TERMINATED, TRUNCATED, INVALID, STEPPED = 0, 1, 2, 3
"""Rows of ``flags``."""
N_ACTIONS, HAS_EVENTS, MAX_STEPS, MODE = range(4)
"""Entries of ``settings``."""

NEXT_STEP: Final = 0
SAME_STEP: Final = 1
DISABLED: Final = 2
MODES: Final = {
    AutoresetMode.NEXT_STEP: NEXT_STEP,
    AutoresetMode.SAME_STEP: SAME_STEP,
    AutoresetMode.DISABLED: DISABLED,
}
"""Each autoreset mode's code in ``settings``."""

OUT_OF_RANGE, ENDED_EPISODE, INVALID_ACTION = 1, 2, 3
"""Why a kernel refuses a batch of actions (0: it does not)."""


class StepModel(NamedTuple):
    """A sparse model's arrays as the kernels read them; no large array is copied.

    Attributes:
        decision_indptr: ``(S * A + 1,)`` the decision stage's row offsets.
        decision_target: ``(nnz,)`` int32 post-decision states.
        decision_probability: ``(nnz,)`` float64.
        decision_reward: ``(nnz,)`` float64.
        decision_cost: ``(nnz,)`` float64.
        decision_outcome: ``(nnz,)`` int16.
        decision_invalid: ``(nnz,)`` bool.
        event_indptr: ``(S + 1,)`` the event stage's row offsets (``(1,)``
            without one).
        event_target: ``(nnz_e,)`` int32 next states.
        event_probability: ``(nnz_e,)`` float64.
        event_reward: ``(nnz_e,)`` float64.
        event_cost: ``(nnz_e,)`` float64.
        event_outcome: ``(nnz_e,)`` int16.
        terminal: ``(S,)`` bool.
        valid: ``(S, W)`` each state's ``info["action_mask"]`` as words
            (:func:`mask_word`).
        start_states: ``(m,)`` int64 the states a reset can start in.
        start_thresholds: ``(m - 1,)`` float64 cumulative start probabilities:
            a uniform ``u`` starts in ``start_states[k]``, ``k`` the number of
            thresholds ``<= u`` (as the single env draws its start).
    """

    decision_indptr: NDArray[np.int64]
    decision_target: NDArray[np.int32]
    decision_probability: NDArray[np.float64]
    decision_reward: NDArray[np.float64]
    decision_cost: NDArray[np.float64]
    decision_outcome: NDArray[np.int16]
    decision_invalid: NDArray[np.bool_]
    event_indptr: NDArray[np.int64]
    event_target: NDArray[np.int32]
    event_probability: NDArray[np.float64]
    event_reward: NDArray[np.float64]
    event_cost: NDArray[np.float64]
    event_outcome: NDArray[np.int16]
    terminal: NDArray[np.bool_]
    valid: NDArray[np.unsignedinteger[Any]]
    start_states: NDArray[np.int64]
    start_thresholds: NDArray[np.float64]


_NO_EVENTS: Final = SparseStage(
    np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros(0)
)
"""The event stage's arrays for a model without one: no rows, no branches."""


def step_model(sparse: SparseMDP, start_distribution: NDArray[np.float64]) -> StepModel:
    """The kernels' view of ``sparse``, starting episodes from ``start_distribution``.

    Args:
        sparse: The model ``step`` samples from.
        start_distribution: ``(S,)`` where resets start (the model's initial
            distribution, or uniform over non-terminal states).
    """
    decisions = sparse.decisions
    events = sparse.events or _NO_EVENTS
    starts = np.flatnonzero(start_distribution).astype(np.int64)
    return StepModel(
        decisions.indptr,
        decisions.target,
        decisions.probability,
        decisions.reward,
        decisions.cost,
        decisions.outcome,
        decisions.invalid,
        events.indptr,
        events.target,
        events.probability,
        events.reward,
        events.cost,
        events.outcome,
        sparse.terminal,
        np.ascontiguousarray(sparse.valid_action_mask, dtype=bool).view(
            mask_word(sparse.n_actions)
        ),
        starts,
        np.cumsum(start_distribution[starts])[:-1],
    )


@functools.cache
def mask_word(n_actions: int) -> np.dtype[Any]:
    """The widest unsigned integer whose size divides ``n_actions`` bytes.

    A row of 16 actions' masks is two uint64 words, of 4 one uint32, of 5
    five uint8.
    """
    width = next(w for w in (8, 4, 2, 1) if n_actions % w == 0)
    return np.dtype(f"u{width}")


def step_settings(
    sparse: SparseMDP, max_episode_steps: int | None, mode: int
) -> NDArray[np.int64]:
    """The ``settings`` array of a vector env of ``sparse`` (module docstring)."""
    return np.array(
        [
            sparse.n_actions,
            int(sparse.events is not None),
            -1 if max_episode_steps is None else max_episode_steps,
            mode,
        ],
        dtype=np.int64,
    )


class Rows(NamedTuple):
    """The rows of :class:`Outputs` a step returns, as ``(N,)`` views."""

    state: NDArray[np.int64]
    outcome: NDArray[np.int64]
    event_outcome: NDArray[np.int64]
    reward: NDArray[np.float64]
    cost: NDArray[np.float64]
    prob: NDArray[np.float64]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    invalid: NDArray[np.bool_]
    stepped: NDArray[np.bool_]


class Outputs(NamedTuple):
    """The blocks a step writes (see the module docstring)."""

    ints: NDArray[np.int64]
    floats: NDArray[np.float64]
    flags: NDArray[np.bool_]
    masks: NDArray[np.bool_]

    def rows(self) -> Rows:
        """Views of every row (made once for reused buffers, so they stay the same)."""
        ints, floats, flags = self.ints, self.floats, self.flags
        return Rows(ints[0], ints[1], ints[2], floats[0], floats[1], floats[2], *flags)

    def words(self) -> tuple[NDArray[Any], ...]:
        """The blocks as the kernels take them: ``masks`` seen as words."""
        return (
            self.ints,
            self.floats,
            self.flags,
            self.masks.view(mask_word(self.masks.shape[1])),
        )

    @classmethod
    def empty(cls, n: int, n_actions: int) -> Outputs:
        """Uninitialized blocks for ``n`` sub-envs."""
        return cls(
            np.empty((3, n), dtype=np.int64),
            np.empty((3, n), dtype=np.float64),
            np.empty((4, n), dtype=bool),
            np.empty((n, n_actions), dtype=bool),
        )

    @classmethod
    def zeros(cls, n: int, n_actions: int) -> Outputs:
        """Zero blocks for ``n`` sub-envs (entries no sub-env reports stay 0)."""
        return cls(
            np.zeros((3, n), dtype=np.int64),
            np.zeros((3, n), dtype=np.float64),
            np.zeros((4, n), dtype=bool),
            np.zeros((n, n_actions), dtype=bool),
        )
