"""The queue task's model: states as counts per stage, built as a sparse MDP.

A state is the number of requests at each stage (see
:data:`~access_review_env.tasks.access_review_queue.STAGES`), indexed in mixed
radix: ``new_required`` (0 to ``required_capacity``), ``new_clear`` (0 to
``clear_capacity``), the evidence pair (awaiting, ready) with at most
``evidence_capacity`` requests out for evidence, and the reviewers' desk
(in review unverified, in review evidenced, reviewed justified, reviewed
unjustified) with at most ``reviewers`` requests. Requests at one stage are
interchangeable (every waiting time here is memoryless), so counts are a
Markov state and "the oldest request of a stage" needs no more.

A step is the router's decision, then one random event (uniformization: each
possible event has a weight, a per-step probability times the number of
requests it can happen to; when the weights sum to at most 1 the rest is the
probability that nothing happens, otherwise the step holds exactly one event
drawn in proportion to the weights). Both stages are vectorized over all
states, so building the largest level takes seconds, and each (state, action)
has at most two decision branches and each state at most eleven event branches.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.tasks.access_review_queue import (
    ACTION_RULES,
    EVENT_RULES,
    GAMMA,
    OUTCOMES,
    REWARD_TERMS,
    STAGES,
    Move,
    QueueAction,
)
from access_review_env.tasks.format import probability_value

IntArray = NDArray[np.int64]

_OUTCOME = {name: index for index, name in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class QueueShape:
    """The capacities that fix the state space, and the state encoding.

    Attributes:
        required_capacity: Places for new required-review requests.
        clear_capacity: Places for new clear-evidence requests.
        evidence_capacity: Requests out for evidence at once.
        reviewers: Requests on the reviewers' desk at once.
    """

    required_capacity: int
    clear_capacity: int
    evidence_capacity: int
    reviewers: int

    @cached_property
    def evidence_pairs(self) -> IntArray:
        """``(n, 2)`` every (awaiting, ready) with at most ``evidence_capacity``."""
        k = self.evidence_capacity
        return np.array(
            [(w, e) for w in range(k + 1) for e in range(k + 1 - w)], dtype=np.int64
        )

    @cached_property
    def desks(self) -> IntArray:
        """``(n, 4)`` every desk (unverified, evidenced, justified, unjustified)."""
        m = self.reviewers
        return np.array(
            [
                desk
                for desk in itertools.product(range(m + 1), repeat=4)
                if sum(desk) <= m
            ],
            dtype=np.int64,
        )

    @property
    def radix(self) -> tuple[int, int, int, int]:
        """Sizes of the four digits: new required, new clear, evidence, desk."""
        return (
            self.required_capacity + 1,
            self.clear_capacity + 1,
            len(self.evidence_pairs),
            len(self.desks),
        )

    @property
    def n_states(self) -> int:
        """Number of states: the product of the digits' sizes."""
        return int(np.prod(self.radix))

    @cached_property
    def _evidence_index(self) -> IntArray:
        k = self.evidence_capacity
        index = np.full((k + 2, k + 2), -1, dtype=np.int64)
        pairs = self.evidence_pairs
        index[pairs[:, 0], pairs[:, 1]] = np.arange(len(pairs))
        return index

    @cached_property
    def _desk_index(self) -> IntArray:
        m = self.reviewers
        index = np.full((m + 2,) * 4, -1, dtype=np.int64)
        desks = self.desks
        index[desks[:, 0], desks[:, 1], desks[:, 2], desks[:, 3]] = np.arange(
            len(desks)
        )
        return index

    def counts(self, states: NDArray[Any]) -> IntArray:
        """``(..., 8)`` the count at each stage of :data:`STAGES` for ``states``."""
        states = np.asarray(states, dtype=np.int64)
        _, n_clear, n_evidence, n_desk = self.radix
        desk = states % n_desk
        rest = states // n_desk
        evidence = rest % n_evidence
        rest //= n_evidence
        clear = rest % n_clear
        required = rest // n_clear
        return np.concatenate(
            [
                required[..., None],
                clear[..., None],
                self.evidence_pairs[evidence],
                self.desks[desk],
            ],
            axis=-1,
        )

    def encode(self, counts: NDArray[Any]) -> IntArray:
        """The state index of ``counts`` ``(..., 8)``; -1 where they do not fit.

        Raises:
            ValueError: Never; counts outside the capacities give -1.
        """
        counts = np.asarray(counts, dtype=np.int64)
        required, clear, awaiting, ready = (counts[..., i] for i in range(4))
        desk_counts = counts[..., 4:8]
        n_required, n_clear, n_evidence, n_desk = self.radix
        fits = (
            (counts >= 0).all(axis=-1)
            & (required < n_required)
            & (clear < n_clear)
            & (awaiting + ready <= self.evidence_capacity)
            & (desk_counts.sum(axis=-1) <= self.reviewers)
        )
        k, m = self.evidence_capacity + 1, self.reviewers + 1
        evidence = self._evidence_index[
            np.minimum(np.maximum(awaiting, 0), k), np.minimum(np.maximum(ready, 0), k)
        ]
        clipped = np.minimum(np.maximum(desk_counts, 0), m)
        desk = self._desk_index[
            clipped[..., 0], clipped[..., 1], clipped[..., 2], clipped[..., 3]
        ]
        index = ((required * n_clear + clear) * n_evidence + evidence) * n_desk + desk
        return np.where(fits, index, -1)

    @cached_property
    def _evidence_moves(self) -> IntArray:
        """``(n_evidence, 3, 3)`` the evidence digit after a change of its counts.

        Indexed by (awaiting, ready) changes of -1, 0 or +1, plus one; -1 where
        the pair does not fit.
        """
        pairs = self.evidence_pairs
        moves = np.full((len(pairs), 3, 3), -1, dtype=np.int64)
        for dw, de in itertools.product((-1, 0, 1), repeat=2):
            w, e = pairs[:, 0] + dw, pairs[:, 1] + de
            fits = (w >= 0) & (e >= 0) & (w + e <= self.evidence_capacity)
            moves[fits, dw + 1, de + 1] = self._evidence_index[w[fits], e[fits]]
        return moves

    @cached_property
    def _desk_moves(self) -> IntArray:
        """``(n_desk, 81)`` the desk digit after a change of its four counts.

        Columns code the changes (-1, 0 or +1 each) in base 3, first count most
        significant; -1 where the desk does not fit.
        """
        desks = self.desks
        moves = np.full((len(desks), 81), -1, dtype=np.int64)
        for code, change in enumerate(itertools.product((-1, 0, 1), repeat=4)):
            moved = desks + np.array(change)
            fits = (moved >= 0).all(axis=1) & (moved.sum(axis=1) <= self.reviewers)
            ok = moved[fits]
            moves[fits, code] = self._desk_index[ok[:, 0], ok[:, 1], ok[:, 2], ok[:, 3]]
        return moves

    def digits(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Every state's four digits: new required, new clear, evidence, desk."""
        _, n_clear, n_evidence, n_desk = self.radix
        states = np.arange(self.n_states, dtype=np.int64)
        desk = states % n_desk
        rest = states // n_desk
        evidence = rest % n_evidence
        rest //= n_evidence
        return rest // n_clear, rest % n_clear, evidence, desk

    def move(
        self,
        digits: tuple[IntArray, IntArray, IntArray, IntArray],
        delta: tuple[tuple[int, int], ...],
    ) -> IntArray:
        """The state each state moves to when stage counts change by ``delta``.

        Args:
            digits: :meth:`digits`, or the same for a subset of states.
            delta: ``(stage, change)`` pairs, each change -1 or +1, at most one
                per stage.

        Returns:
            The new state indices; -1 where the counts would not fit.
        """
        required, clear, evidence, desk = digits
        change = dict(delta)
        n_required, n_clear, n_evidence, n_desk = self.radix
        new_required = required + change.get(0, 0)
        new_clear = clear + change.get(1, 0)
        new_evidence = self._evidence_moves[
            evidence, change.get(2, 0) + 1, change.get(3, 0) + 1
        ]
        desk_code = sum(
            (change.get(stage, 0) + 1) * 3 ** (7 - stage) for stage in range(4, 8)
        )
        new_desk = self._desk_moves[desk, desk_code]
        fits = (
            (new_required >= 0)
            & (new_required < n_required)
            & (new_clear >= 0)
            & (new_clear < n_clear)
            & (new_evidence >= 0)
            & (new_desk >= 0)
        )
        index = (
            (new_required * n_clear + new_clear) * n_evidence + new_evidence
        ) * n_desk + new_desk
        return np.where(fits, index, -1)

    def describe(self, state: int) -> str:
        """A state as text: each stage's count, e.g. ``"new_required=2 ..."``."""
        counts = self.counts(np.asarray(state))
        return (
            " ".join(
                f"{stage}={int(count)}"
                for stage, count in zip(STAGES, counts, strict=True)
                if count
            )
            or "empty"
        )


class _StageBuilder:
    """Branches of a stage added in groups, then laid out as CSR rows.

    Each group holds at most one branch per row; a row's branches keep the
    order their groups were added in.
    """

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.groups: list[tuple[NDArray[Any], ...]] = []

    def add(
        self,
        rows: IntArray,
        target: IntArray,
        probability: NDArray[np.float64] | float,
        reward: NDArray[np.float64] | float,
        cost: float = 0.0,
        outcome: NDArray[np.int64] | int = 0,
        invalid: bool = False,
    ) -> None:
        """Add one branch to each of ``rows`` (dropped where its probability is 0)."""
        size = rows.shape
        columns = [
            np.broadcast_to(np.asarray(value), size)
            for value in (target, probability, reward, cost, outcome, invalid)
        ]
        live = columns[1] > 0.0
        if not live.all():
            rows, columns = rows[live], [column[live] for column in columns]
        if np.any(columns[0] < 0):
            raise AssertionError("a queue branch leads outside the state space")
        self.groups.append((rows, *columns))

    def build(self) -> SparseStage:
        """The stage, every row's branches in the order their groups came."""
        lengths = np.zeros(self.n_rows, dtype=np.int64)
        for group in self.groups:
            lengths[group[0]] += 1
        indptr = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        nnz = int(indptr[-1])
        target = np.empty(nnz, dtype=np.int32)
        probability = np.empty(nnz)
        reward = np.empty(nnz)
        cost = np.empty(nnz)
        outcome = np.empty(nnz, dtype=np.int16)
        invalid = np.empty(nnz, dtype=bool)
        filled = np.zeros(self.n_rows, dtype=np.int64)
        for rows, *columns in self.groups:
            position = indptr[rows] + filled[rows]
            filled[rows] += 1
            outputs: tuple[NDArray[Any], ...] = (
                target,
                probability,
                reward,
                cost,
                outcome,
                invalid,
            )
            for out, column in zip(outputs, columns, strict=True):
                out[position] = column
        return SparseStage(indptr, target, probability, reward, cost, outcome, invalid)


def _delta(move: Move) -> tuple[tuple[int, int], ...]:
    return tuple((STAGES.index(stage), change) for stage, change in move.delta)


def _reward(move: Move, rewards: Mapping[str, float]) -> float:
    return float(sum(rewards[term] for term in move.terms))


def decision_stage(
    shape: QueueShape,
    parameters: Mapping[str, Any],
    rewards: Mapping[str, float],
    invalid_action: str,
    invalid_action_reward: float,
) -> tuple[SparseStage, NDArray[np.bool_]]:
    """The decision stage of every (state, action), and the valid-action mask.

    Reads :data:`~access_review_env.tasks.access_review_queue.ACTION_RULES`.

    Returns:
        The stage (rows ``s * A + a``) and ``(S, A)`` the valid actions. An
        invalid action stays put and pays ``invalid_action_reward`` under
        ``"penalize"`` (the step's event still happens), and has no branch
        under ``"raise"``.
    """
    n_states, n_actions = shape.n_states, len(QueueAction)
    states = np.arange(n_states, dtype=np.int64)
    digits = shape.digits()
    counts = shape.counts(states)
    free = {
        "reviewer": counts[:, STAGES.index("in_review_unverified") :].sum(axis=1)
        < shape.reviewers,
        "evidence": counts[:, STAGES.index("awaiting_evidence")]
        + counts[:, STAGES.index("evidence_ready")]
        < shape.evidence_capacity,
    }
    valid = np.zeros((n_states, n_actions), dtype=bool)
    valid[:, QueueAction.WAIT] = True
    builder = _StageBuilder(n_states * n_actions)
    builder.add(states * n_actions + QueueAction.WAIT, states, 1.0, 0.0)
    picked: dict[int, tuple[IntArray, tuple[IntArray, ...]]] = {}
    for rule in ACTION_RULES:
        can = counts[:, STAGES.index(rule.stage)] > 0
        if rule.needs is not None:
            can &= free[rule.needs]
        valid[:, rule.action] = can
        picked[rule.action] = (
            states[can] * n_actions + rule.action,
            tuple(digit[can] for digit in digits),
        )
    # Slot by slot, so that each row's branches keep the rule's order.
    for slot in range(max(len(rule.moves) for rule in ACTION_RULES)):
        for rule in ACTION_RULES:
            if slot >= len(rule.moves):
                continue
            move = rule.moves[slot]
            rows, rule_digits = picked[rule.action]
            builder.add(
                rows,
                shape.move(rule_digits, _delta(move)),  # type: ignore[arg-type]
                probability_value(move.probability, parameters),
                _reward(move, rewards),
                move.cost,
                _OUTCOME[move.outcome],
            )
    if invalid_action == "penalize":
        rows = np.flatnonzero(~valid.reshape(-1))
        builder.add(rows, rows // n_actions, 1.0, invalid_action_reward, invalid=True)
    return builder.build(), valid


def event_stage(
    shape: QueueShape, parameters: Mapping[str, Any], rewards: Mapping[str, float]
) -> SparseStage:
    """The event stage: one random event per step from each post-decision state.

    Reads :data:`~access_review_env.tasks.access_review_queue.EVENT_RULES`.
    Every branch also pays the waiting term for each request open in the
    post-decision state.
    """
    n_states = shape.n_states
    states = np.arange(n_states, dtype=np.int64)
    digits = shape.digits()
    counts = shape.counts(states).astype(np.float64)
    weights = np.zeros((n_states, len(EVENT_RULES)))
    moves = []
    for index, rule in enumerate(EVENT_RULES):
        weight = float(parameters[rule.parameter]) * probability_value(
            rule.move.probability, parameters
        )
        weights[:, index] = (
            weight if rule.per is None else weight * counts[:, STAGES.index(rule.per)]
        )
        target = shape.move(digits, _delta(rule.move))
        reward: NDArray[np.float64] | float = _reward(rule.move, rewards)
        outcome: NDArray[np.int64] | int = _OUTCOME[rule.move.outcome]
        if rule.overflow is not None:
            full = target < 0
            target = np.where(full, shape.move(digits, _delta(rule.overflow)), target)
            reward = np.where(full, _reward(rule.overflow, rewards), reward)
            outcome = np.where(full, _OUTCOME[rule.overflow.outcome], outcome)
        moves.append((target, reward, outcome))
    total = weights.sum(axis=1)
    saturated = total >= 1.0
    probabilities = np.where(
        saturated[:, None], weights / np.where(saturated, total, 1.0)[:, None], weights
    )
    nothing = np.where(saturated, 0.0, 1.0 - total)
    waiting = rewards["waiting"] * counts.sum(axis=1)
    builder = _StageBuilder(n_states)
    for slot, (target, reward, outcome) in enumerate(moves):
        builder.add(
            states,
            np.where(probabilities[:, slot] > 0.0, target, 0),
            probabilities[:, slot],
            reward + waiting,
            outcome=outcome,
        )
    builder.add(states, states, nothing, waiting)
    return builder.build()


def start_distribution(
    shape: QueueShape, parameters: Mapping[str, Any]
) -> NDArray[np.float64]:
    """``(S,)`` where a shift starts: the empty queue, or one new request."""
    start = np.zeros(shape.n_states)
    empty = np.zeros(len(STAGES), dtype=np.int64)
    if parameters["start"] == "empty":
        start[int(shape.encode(empty))] = 1.0
        return start
    clear = float(parameters["clear_evidence_share"])
    for name, probability in (("new_required", 1.0 - clear), ("new_clear", clear)):
        if probability > 0.0:
            stage = STAGES.index(name)
            one = empty.copy()
            one[stage] = 1
            index = int(shape.encode(one))
            if index < 0:
                raise ValueError(
                    f'start="one_request" needs room for a new {STAGES[stage]} '
                    "request: its capacity is 0"
                )
            start[index] += probability
    return start


def build_queue_model(
    parameters: Mapping[str, Any],
    rewards: Mapping[str, float] = REWARD_TERMS,
    invalid_action: str = "penalize",
    invalid_action_reward: float = -10.0,
) -> SparseMDP:
    """The sparse model of the queue for checked parameter values.

    Args:
        parameters: A value for every name of
            :data:`~access_review_env.tasks.access_review_queue.PARAMETERS`.
        rewards: A value for every reward term.
        invalid_action: ``"penalize"`` or ``"raise"``.
        invalid_action_reward: What a penalized invalid action pays.
    """
    shape = QueueShape(
        int(parameters["required_capacity"]),
        int(parameters["clear_capacity"]),
        int(parameters["evidence_capacity"]),
        int(parameters["reviewers"]),
    )
    decisions, valid = decision_stage(
        shape, parameters, rewards, invalid_action, invalid_action_reward
    )
    return SparseMDP(
        n_actions=len(QueueAction),
        decisions=decisions,
        events=event_stage(shape, parameters, rewards),
        terminal=np.zeros(shape.n_states, dtype=bool),
        gamma=GAMMA,
        initial_distribution=start_distribution(shape, parameters),
        valid_actions=valid,
        outcomes=OUTCOMES,
        action_names=tuple(action.name.lower() for action in QueueAction),
    )
