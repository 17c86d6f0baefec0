"""The vector env's step table: a task's branches compiled into flat lookup arrays.

A batched step gathers from these arrays by row ``K * (code * A + a) + k``,
where ``code`` is a sub-env's stored state, ``K`` the most branches any
(state, action) has (at least 2), and ``k`` the branch a 32-bit draw selects:
the number of the row's cumulative thresholds the draw reaches. A stored
state with the :attr:`StepLayout.reset_bit` set is *parked*: its episode
ended, and every action of it leads to a start state with reward 0, which is
Gymnasium's ``NEXT_STEP`` autoreset as one more row of the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.model import TaskMDP

Words = NDArray[np.void]
"""``(K,)`` action masks seen as one opaque word each, so a gather is one take."""

THRESHOLD_SCALE = 2**32
"""Draws are 32-bit: a branch probability is honoured to within ``2**-32``."""


@dataclass(frozen=True)
class StepLayout:
    """Where each field sits in a packed uint16 transition, and the parked bit.

    Low bits hold the next state, then one bit each for terminated and invalid
    action, then the outcome's index, then one bit for a nonzero cost. The
    positions are plain ints, computed once: a step reads them many times.

    Attributes:
        n_states: The task's states.
        n_outcomes: The task's outcome names.
        state_bits: Bits of a state index.
        state_mask: Mask of the next-state bits.
        reset_bit: Set on the stored state of a parked sub-env.
        n_codes: Stored-state codes: every state, parked or not.
        terminated_shift: Bit of ``terminated``.
        invalid_shift: Bit of ``invalid_action``.
        outcome_shift: Lowest bit of the outcome index.
        outcome_mask: Mask of the outcome index once shifted down.
        cost_shift: Bit of a nonzero cost.
    """

    n_states: int
    n_outcomes: int
    state_bits: int = field(init=False)
    state_mask: int = field(init=False)
    reset_bit: int = field(init=False)
    n_codes: int = field(init=False)
    terminated_shift: int = field(init=False)
    invalid_shift: int = field(init=False)
    outcome_shift: int = field(init=False)
    outcome_mask: int = field(init=False)
    cost_shift: int = field(init=False)

    def __post_init__(self) -> None:
        """Derive every position from the numbers of states and outcomes."""
        state_bits = max(1, (self.n_states - 1).bit_length())
        outcome_mask = (1 << max(1, (self.n_outcomes - 1).bit_length())) - 1
        derived = {
            "state_bits": state_bits,
            "state_mask": (1 << state_bits) - 1,
            "reset_bit": 1 << state_bits,
            "n_codes": 2 << state_bits,
            "terminated_shift": state_bits,
            "invalid_shift": state_bits + 1,
            "outcome_shift": state_bits + 2,
            "outcome_mask": outcome_mask,
            "cost_shift": state_bits + 2 + outcome_mask.bit_length(),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def check(self) -> None:
        """Refuse a task too large for uint8 state codes and uint16 transitions."""
        if self.n_codes > 128 or self.cost_shift >= 16:
            raise ValueError(
                f"the vector env packs at most 128 states and 64 outcomes; got "
                f"{self.n_states} states and {self.n_outcomes} outcomes"
            )

    def pack(
        self,
        next_state: int,
        terminated: bool,
        invalid_action: bool,
        outcome: int,
        cost: float,
    ) -> int:
        """One transition as a packed integer."""
        return (
            next_state
            | int(terminated) << self.terminated_shift
            | int(invalid_action) << self.invalid_shift
            | outcome << self.outcome_shift
            | int(cost != 0.0) << self.cost_shift
        )


def as_words(masks: NDArray[np.int8]) -> Words:
    """View ``(K, A)`` int8 masks as ``(K,)`` words, so gathering masks is one take.

    A view, never a copy: gathers write through it into output buffers.

    Raises:
        ValueError: If ``masks`` is not a C-contiguous int8 array.
    """
    if masks.dtype != np.int8 or not masks.flags.c_contiguous:
        raise ValueError("mask words need a C-contiguous int8 array")
    return masks.view(np.dtype((np.void, masks.shape[-1]))).reshape(-1)


@dataclass(frozen=True)
class StepTable:
    """A task's branches as flat arrays (see the module docstring).

    Attributes:
        layout: The bit layout of ``packed`` and of stored states.
        n_slots: ``K``, branch slots per row (at least 2). A row with fewer
            branches repeats its last one, so the extra slots cannot matter.
        thresholds: ``(K - 1, rows)`` uint32 cumulative thresholds; a draw
            takes slot ``k``, how many of its row's thresholds it reaches.
        single_threshold: With ``K = 2``, the one threshold every two-branch
            row shares, if so (then one scalar comparison decides every
            branch), else None.
        index_dtype: The smallest unsigned dtype that holds every index.
        has_transition: ``(rows,)`` False where an action has no transition.
        packed: ``(K * rows,)`` uint16 packed transitions.
        reward: ``(K * rows,)`` float64 rewards (the single env's Python floats).
        transition_masks: ``(K * rows,)`` the next state's action-mask words.
        state_masks: ``(n_codes,)`` each stored state's action-mask words.
    """

    layout: StepLayout
    n_slots: int
    thresholds: NDArray[np.uint32]
    single_threshold: np.uint32 | None
    index_dtype: type[np.unsignedinteger[Any]]
    has_transition: NDArray[np.bool_]
    packed: NDArray[np.uint16]
    reward: NDArray[np.float64]
    transition_masks: Words
    state_masks: Words


def compile_step_table(mdp: TaskMDP, start_state: int) -> StepTable:
    """Flatten ``mdp.branches`` into a :class:`StepTable`.

    Args:
        mdp: The task's MDP for one configuration.
        start_state: Where a parked sub-env restarts (the vector env draws
            random starts separately).

    Raises:
        ValueError: If the task is too large for the packed layout.
    """
    layout = StepLayout(mdp.n_states, len(mdp.table.outcomes))
    layout.check()
    n_actions = mdp.n_actions
    n_rows = layout.n_codes * n_actions
    n_slots = max(2, *(len(cell) for row in mdp.branches for cell in row))
    valid = mdp.valid_action_mask
    thresholds = np.zeros((n_slots - 1, n_rows), dtype=np.uint32)
    has_transition = np.ones(n_rows, dtype=bool)
    packed = np.full(n_slots * n_rows, start_state, dtype=np.uint16)
    reward = np.zeros(n_slots * n_rows, dtype=np.float64)
    masks = np.tile(valid[start_state], (n_slots * n_rows, 1))
    two_branch_thresholds: set[int] = set()
    outcomes = mdp.table.outcomes
    for state in range(mdp.n_states):
        for action in range(n_actions):
            row = state * n_actions + action
            branches = mdp.branches[state][action]
            if not branches:
                has_transition[row] = False
                continue
            cumulative = np.cumsum([b.probability for b in branches])[:-1]
            for k in range(n_slots - 1):
                # Past the row's last branch the threshold repeats, and so does
                # the branch: a draw that reaches it lands on an equal copy.
                bound = (
                    cumulative[min(k, len(cumulative) - 1)] if len(cumulative) else 0.0
                )
                thresholds[k, row] = min(
                    round(bound * THRESHOLD_SCALE), THRESHOLD_SCALE - 1
                )
            if len(branches) == 2:
                two_branch_thresholds.add(int(thresholds[0, row]))
            for slot in range(n_slots):
                branch = branches[min(slot, len(branches) - 1)]
                j = n_slots * row + slot
                packed[j] = layout.pack(
                    branch.next_state,
                    branch.terminated,
                    branch.invalid_action,
                    outcomes.index(branch.outcome),
                    branch.cost,
                )
                reward[j] = branch.reward
                masks[j] = valid[branch.next_state]
    parked = np.zeros((layout.n_codes - mdp.n_states, n_actions), np.int8)
    single = n_slots == 2 and len(two_branch_thresholds) <= 1
    return StepTable(
        layout=layout,
        n_slots=n_slots,
        thresholds=thresholds,
        single_threshold=(
            np.uint32(next(iter(two_branch_thresholds), 0)) if single else None
        ),
        index_dtype=np.uint8 if n_slots * n_rows <= 256 else np.uint16,
        has_transition=has_transition,
        packed=packed,
        reward=reward,
        transition_masks=as_words(masks),
        state_masks=as_words(np.vstack([valid, parked])),
    )
