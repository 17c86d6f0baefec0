"""A finite MDP as sparse tables: the one form every planner and env can read.

A step is a *decision* then an *event*, each a table of branches in CSR form
(compressed rows, as SciPy stores sparse matrices):

* the decision stage has one row per (state, action), ``row = s * A + a``; its
  branches lead to a *post-decision state* (Powell's term: the state right
  after the action, before the world moves);
* the event stage, if any, has one row per post-decision state; its branches
  lead to the next state. Without one, the post-decision state is the next
  state, and the model is the usual one-stage MDP.

Splitting the step keeps a queue's model small: an action touches one request
(one or two branches) and then one random event happens (a dozen branches at
most), so the model stores ``S * A * 2 + S * 12`` branches instead of the
``S * A * 24`` of the composed table, and its nonzeros grow linearly with the
states. Every branch carries what ``step`` reports of it: reward, ``cost``,
the outcome's index and whether it was a penalized invalid action. A step's
reward is the sum of its decision branch's and its event branch's rewards.

Conventions (those of :class:`~access_review_env.model.tabular.TabularMDP`):
an action is *available* in a state when its row has branches; rows of
available actions in non-terminal states, and every event row, are probability
vectors; a terminal state's rows are ignored by planners (its value is 0).

:meth:`SparseMDP.to_tabular` gives the dense arrays and :meth:`SparseMDP.P`
Gymnasium's ``P`` dict, where they are affordable (:data:`DENSE_MAX_ENTRIES`,
:data:`P_MAX_ROWS`); :meth:`SparseMDP.from_tabular` reads dense arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.tabular import TabularMDP
from access_review_env.validation import check_integer, check_unit_interval

DENSE_MAX_ENTRIES = 2**24
"""The dense arrays are built only when ``S * A * S`` is at most this (16.8
million entries, 128 MiB of transitions); larger models stay sparse."""

P_MAX_ROWS = 2**16
"""Gymnasium's ``P`` dict is built only for at most this many (state, action)
rows: it holds a Python tuple per branch."""

PROBABILITY_TOLERANCE = 1e-9
"""How far a row's probabilities may sum from 1 (rounding of products)."""


class ModelTooLargeError(ValueError):
    """A dense view of a model was asked for where only the sparse form fits."""


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.flags.writeable = False
    return array


def _array(name: str, value: Any, dtype: Any, shape: tuple[int, ...]) -> NDArray[Any]:
    """``value`` as a contiguous array of ``dtype`` and ``shape``, or an error."""
    array = np.asarray(value)
    kind = np.dtype(dtype).kind
    allowed = {"f": "iuf", "i": "iu", "u": "u", "b": "b"}[kind]
    if array.dtype.kind not in allowed:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}; expected {shape}")
    return np.ascontiguousarray(array, dtype=dtype)


@dataclass(frozen=True, eq=False)
class SparseStage:
    """One stage of a step: rows of branches in CSR form.

    Row ``r``'s branches are ``indptr[r]:indptr[r + 1]``. Arrays are copied
    only when their dtype differs, then frozen.

    Attributes:
        indptr: ``(rows + 1,)`` int64, non-decreasing from 0 to ``nnz``.
        target: ``(nnz,)`` int32 index of the state a branch leads to.
        probability: ``(nnz,)`` float64 branch probabilities.
        reward: ``(nnz,)`` float64 branch rewards.
        cost: ``(nnz,)`` float64 ``info["cost"]`` of a branch (0 when None).
        outcome: ``(nnz,)`` int16 index of a branch's outcome in the model's
            ``outcomes`` (0, ``"pending"``, when None).
        invalid: ``(nnz,)`` bool, the branch of a penalized invalid action
            (all False when None).

    Raises:
        TypeError: For an array of the wrong dtype kind.
        ValueError: For wrong shapes, a malformed ``indptr``, a negative or
            non-finite probability or a non-finite reward or cost.
    """

    indptr: NDArray[np.int64]
    target: NDArray[np.int32]
    probability: NDArray[np.float64]
    reward: NDArray[np.float64]
    cost: NDArray[np.float64] = None  # type: ignore[assignment]
    outcome: NDArray[np.int16] = None  # type: ignore[assignment]
    invalid: NDArray[np.bool_] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        """Check dtypes, shapes and values, then freeze every array."""
        indptr = np.asarray(self.indptr)
        if indptr.ndim != 1 or indptr.size < 1:
            raise ValueError("indptr must be a 1-d array of rows + 1 offsets")
        indptr = _array("indptr", indptr, np.int64, indptr.shape)
        nnz = int(indptr[-1])
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must rise from 0 by non-negative steps")
        shape = (nnz,)
        arrays = {
            "indptr": indptr,
            "target": _array("target", self.target, np.int32, shape),
            "probability": _array("probability", self.probability, np.float64, shape),
            "reward": _array("reward", self.reward, np.float64, shape),
            "cost": _array(
                "cost",
                np.zeros(nnz) if self.cost is None else self.cost,
                np.float64,
                shape,
            ),
            "outcome": _array(
                "outcome",
                np.zeros(nnz, np.int16) if self.outcome is None else self.outcome,
                np.int16,
                shape,
            ),
            "invalid": _array(
                "invalid",
                np.zeros(nnz, bool) if self.invalid is None else self.invalid,
                np.bool_,
                shape,
            ),
        }
        probability = arrays["probability"]
        if not np.all(np.isfinite(probability)) or np.any(probability < 0):
            raise ValueError("branch probabilities must be finite and non-negative")
        for name in ("reward", "cost"):
            if not np.all(np.isfinite(arrays[name])):
                raise ValueError(f"branch {name}s must be finite")
        if np.any(arrays["target"] < 0) or np.any(arrays["outcome"] < 0):
            raise ValueError("branch targets and outcomes must be non-negative")
        for name, array in arrays.items():
            object.__setattr__(self, name, _frozen(array))

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.indptr.size - 1)

    @property
    def nnz(self) -> int:
        """Number of branches."""
        return int(self.indptr[-1])

    @cached_property
    def lengths(self) -> NDArray[np.int64]:
        """``(rows,)`` branches per row."""
        return _frozen(np.diff(self.indptr))

    @cached_property
    def row_of_branch(self) -> NDArray[np.int64]:
        """``(nnz,)`` the row each branch belongs to."""
        return _frozen(np.repeat(np.arange(self.n_rows, dtype=np.int64), self.lengths))

    def row_sums(self, values: NDArray[Any]) -> NDArray[np.float64]:
        """``(rows,)`` the sum of ``values`` ``(nnz,)`` over each row's branches."""
        sums = np.bincount(self.row_of_branch, weights=values, minlength=self.n_rows)
        return np.asarray(sums, dtype=np.float64)

    @cached_property
    def expected_reward(self) -> NDArray[np.float64]:
        """``(rows,)`` each row's expected branch reward (0 for an empty row)."""
        return _frozen(self.row_sums(self.probability * self.reward))

    def select(self, rows: NDArray[np.int64]) -> SparseStage:
        """The stage made of ``rows`` (in that order), as a new stage.

        Used to gather the rows of one deterministic policy, ``s * A + pi(s)``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        starts = np.repeat(self.indptr[rows] - indptr[:-1], lengths)
        picked = starts + np.arange(int(indptr[-1]), dtype=np.int64)
        return SparseStage(
            indptr,
            self.target[picked],
            self.probability[picked],
            self.reward[picked],
            self.cost[picked],
            self.outcome[picked],
            self.invalid[picked],
        )


class Transitions(NamedTuple):
    """The composed one-stage table: decision and event branches multiplied out.

    Row ``s * A + a`` holds every (decision branch, event branch) pair of
    ``(s, a)``: ``indptr`` ``(S * A + 1,)``, ``target`` the next state,
    ``probability`` the product, ``reward`` the sum of both rewards. The same
    next state may appear in several branches of a row.
    """

    indptr: NDArray[np.int64]
    target: NDArray[np.int32]
    probability: NDArray[np.float64]
    reward: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SparseMDP:
    """A finite MDP as a decision stage and an optional event stage.

    Attributes:
        n_actions: ``A``.
        decisions: Rows ``s * A + a`` leading to post-decision states.
        events: Rows per post-decision state leading to next states, or None
            (the post-decision state is the next state).
        terminal: ``(S,)`` True where an episode has ended (value 0).
        gamma: The task's discount in [0, 1].
        initial_distribution: ``(S,)`` probabilities of the start state.
        valid_actions: ``(S, A)`` the task's valid actions, which
            ``info["action_mask"]`` shows (None: the available actions). Under
            ``invalid_action="penalize"`` every action is *available* (it has
            a transition) but only these are *valid*.
        outcomes: Names of the outcome indices branches carry; the first is
            ``"pending"``.
        state_names: Names of the states, or empty where there are too many.
        action_names: Names of the actions, or empty.
        horizon: Steps after which an episode is cut (a time limit), or None.

    Raises:
        TypeError, ValueError: For malformed arrays, targets out of range, rows
            that are not probability vectors (see the module docstring), a
            non-terminal state without an available action, or ``gamma`` or
            ``horizon`` out of range.
    """

    n_actions: int
    decisions: SparseStage
    events: SparseStage | None
    terminal: NDArray[np.bool_]
    gamma: float
    initial_distribution: NDArray[np.float64]
    valid_actions: NDArray[np.bool_] | None = None
    outcomes: tuple[str, ...] = ("pending",)
    state_names: tuple[str, ...] = ()
    action_names: tuple[str, ...] = ()
    horizon: int | None = None

    def __post_init__(self) -> None:
        """Check the stages against each other and freeze the arrays."""
        n_actions = check_integer("n_actions", self.n_actions, low=1)
        rows = self.decisions.n_rows
        if rows % n_actions:
            raise ValueError(
                f"the decision stage has {rows} rows, not a multiple of "
                f"n_actions = {n_actions}"
            )
        n_states = rows // n_actions
        terminal = _array("terminal", self.terminal, np.bool_, (n_states,))
        start = _array(
            "initial_distribution",
            self.initial_distribution,
            np.float64,
            (n_states,),
        )
        valid = (
            None
            if self.valid_actions is None
            else _array(
                "valid_actions", self.valid_actions, np.bool_, (n_states, n_actions)
            )
        )
        object.__setattr__(self, "gamma", check_unit_interval("gamma", self.gamma))
        if self.horizon is not None:
            object.__setattr__(
                self, "horizon", check_integer("horizon", self.horizon, low=1)
            )
        stages = [("decision", self.decisions)]
        if self.events is not None:
            if self.events.n_rows != n_states:
                raise ValueError(
                    f"the event stage has {self.events.n_rows} rows; expected one "
                    f"per state ({n_states})"
                )
            stages.append(("event", self.events))
        for name, stage in stages:
            if stage.nnz and int(stage.target.max()) >= n_states:
                raise ValueError(f"a {name} branch leads to a state >= {n_states}")
            if stage.nnz and int(stage.outcome.max()) >= len(self.outcomes):
                raise ValueError(
                    f"a {name} branch names outcome index >= {len(self.outcomes)}"
                )
        available = (self.decisions.lengths > 0).reshape(n_states, n_actions)
        live = available & ~terminal[:, None]
        sums = self.decisions.row_sums(self.decisions.probability)
        if np.any(np.abs(sums[live.reshape(-1)] - 1.0) > PROBABILITY_TOLERANCE):
            raise ValueError(
                "the branches of every available action of a non-terminal state "
                "must sum to probability 1"
            )
        if self.events is not None:
            event_sums = self.events.row_sums(self.events.probability)
            if np.any(np.abs(event_sums - 1.0) > PROBABILITY_TOLERANCE):
                raise ValueError("the branches of every event row must sum to 1")
        if not np.all(available.any(axis=1) | terminal):
            raise ValueError("every non-terminal state needs an available action")
        if np.any(start < 0) or abs(start.sum() - 1.0) > PROBABILITY_TOLERANCE:
            raise ValueError("initial_distribution must be a probability vector")
        for name, size in (("state_names", n_states), ("action_names", n_actions)):
            names = getattr(self, name)
            if names and len(names) != size:
                raise ValueError(f"{name} must have {size} entries, got {len(names)}")
        if not self.outcomes or self.outcomes[0] != "pending":
            raise ValueError("the first outcome must be 'pending'")
        object.__setattr__(self, "terminal", _frozen(terminal))
        object.__setattr__(self, "initial_distribution", _frozen(start))
        object.__setattr__(
            self, "valid_actions", None if valid is None else _frozen(valid)
        )
        object.__setattr__(self, "_available", _frozen(available))

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.terminal.size)

    @property
    def available_actions(self) -> NDArray[np.bool_]:
        """``(S, A)`` True where an action has a transition (``step`` accepts it)."""
        return self.__dict__["_available"]  # type: ignore[no-any-return]

    @property
    def valid_action_mask(self) -> NDArray[np.bool_]:
        """``(S, A)`` the task's valid actions (the available ones if not given)."""
        return (
            self.available_actions if self.valid_actions is None else self.valid_actions
        )

    @property
    def nnz(self) -> int:
        """Branches stored: decision branches plus event branches."""
        return self.decisions.nnz + (0 if self.events is None else self.events.nnz)

    @cached_property
    def event_reward(self) -> NDArray[np.float64]:
        """``(S,)`` expected event reward of each post-decision state (0 without)."""
        if self.events is None:
            return _frozen(np.zeros(self.n_states))
        return self.events.expected_reward

    @cached_property
    def rewards(self) -> NDArray[np.float64]:
        """``(S, A)`` expected reward of a step, both stages (0 if unavailable)."""
        decisions = self.decisions
        total = decisions.probability * (
            decisions.reward + self.event_reward[decisions.target]
        )
        return _frozen(decisions.row_sums(total).reshape(self.n_states, self.n_actions))

    def replace(self, **changes: Any) -> SparseMDP:
        """A copy with some fields changed (``horizon``, ``gamma``, ...), rechecked."""
        return dataclasses.replace(self, **changes)

    def transitions(self) -> Transitions:
        """The composed one-stage table (see :class:`Transitions`).

        Its size is the decision branches times the event branches of their
        post-decision states: use it for small models, or to hand a large one
        to a solver that needs plain matrices.
        """
        decisions = self.decisions
        if self.events is None:
            return Transitions(
                decisions.indptr,
                decisions.target,
                decisions.probability,
                decisions.reward,
            )
        events = self.events
        fan_out = events.lengths[decisions.target]
        per_row = decisions.row_sums(fan_out.astype(np.float64)).astype(np.int64)
        indptr = np.zeros(decisions.n_rows + 1, dtype=np.int64)
        np.cumsum(per_row, out=indptr[1:])
        branch = np.repeat(np.arange(decisions.nnz, dtype=np.int64), fan_out)
        first = np.repeat(events.indptr[decisions.target], fan_out)
        offset = np.arange(branch.size, dtype=np.int64) - np.repeat(
            np.cumsum(fan_out) - fan_out, fan_out
        )
        event = first + offset
        return Transitions(
            indptr,
            events.target[event],
            decisions.probability[branch] * events.probability[event],
            decisions.reward[branch] + events.reward[event],
        )

    def to_tabular(self) -> TabularMDP:
        """The dense arrays of this MDP.

        Raises:
            ModelTooLargeError: If ``S * A * S`` exceeds :data:`DENSE_MAX_ENTRIES`.
        """
        n_states, n_actions = self.n_states, self.n_actions
        entries = n_states * n_actions * n_states
        if entries > DENSE_MAX_ENTRIES:
            raise ModelTooLargeError(
                f"the dense arrays of this MDP would hold {entries:,} transition "
                f"entries (S = {n_states:,}, A = {n_actions}); at most "
                f"{DENSE_MAX_ENTRIES:,} are built. Use the sparse model."
            )
        table = self.transitions()
        rows = np.repeat(np.arange(n_states * n_actions), np.diff(table.indptr))
        dense = np.zeros(n_states * n_actions * n_states)
        np.add.at(dense, rows * n_states + table.target, table.probability)
        return TabularMDP(
            transitions=dense.reshape(n_states, n_actions, n_states),
            rewards=self.rewards,
            terminal=self.terminal,
            available_actions=self.available_actions,
            gamma=self.gamma,
            initial_distribution=self.initial_distribution,
            state_names=self.state_names,
            action_names=self.action_names,
            horizon=self.horizon,
        )

    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """Gymnasium's toy-text ``P[s][a] -> [(prob, next_state, reward, terminated)]``.

        Plain Python numbers; one entry per composed branch; an action without
        a transition maps to an empty list.

        Raises:
            ModelTooLargeError: If ``S * A`` exceeds :data:`P_MAX_ROWS`.
        """
        n_rows = self.n_states * self.n_actions
        if n_rows > P_MAX_ROWS:
            raise ModelTooLargeError(
                f"P would have {n_rows:,} (state, action) rows; at most "
                f"{P_MAX_ROWS:,} are built. Use the sparse model."
            )
        table = self.transitions()
        indptr = table.indptr.tolist()
        target = table.target.tolist()
        probability = table.probability.tolist()
        reward = table.reward.tolist()
        terminal = self.terminal.tolist()
        result: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for state in range(self.n_states):
            row: dict[int, list[tuple[float, int, float, bool]]] = {}
            for action in range(self.n_actions):
                r = state * self.n_actions + action
                row[action] = [
                    (probability[j], target[j], reward[j], terminal[target[j]])
                    for j in range(indptr[r], indptr[r + 1])
                ]
            result[state] = row
        return result

    @classmethod
    def from_tabular(cls, arrays: TabularMDP) -> SparseMDP:
        """The one-stage sparse form of dense arrays.

        Each available action's row keeps its nonzero transitions, every
        branch paying the expected reward ``R[s, a]``; unavailable actions get
        no branches.
        """
        n_states, n_actions = arrays.n_states, arrays.n_actions
        transitions = arrays.transitions.reshape(n_states * n_actions, n_states)
        available = arrays.available_actions.reshape(-1)
        keep = (transitions > 0) & available[:, None]
        # An available action of a terminal state may have an all-zero row; a
        # zero-probability self-loop keeps it available, as in the dense form.
        empty = available & ~keep.any(axis=1)
        keep[np.flatnonzero(empty), np.flatnonzero(empty) // n_actions] = True
        rows, targets = np.nonzero(keep)
        indptr = np.zeros(n_states * n_actions + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_states * n_actions), out=indptr[1:])
        return cls(
            n_actions=n_actions,
            decisions=SparseStage(
                indptr,
                targets.astype(np.int32),
                transitions[rows, targets],
                arrays.rewards.reshape(-1)[rows],
            ),
            events=None,
            terminal=arrays.terminal,
            gamma=arrays.gamma,
            initial_distribution=arrays.initial_distribution,
            state_names=arrays.state_names,
            action_names=arrays.action_names,
            horizon=arrays.horizon,
        )
