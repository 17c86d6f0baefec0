"""The two logs a real router keeps, and the join that turns them into episodes.

* The **decision log** has one row per decision and holds only what was known
  when it was taken: the request, the decision time, the state, the valid-action
  mask, the action and the behaviour policy's probability of that action.
* The **outcome log** is written when a request closes: one row per decision of
  the request, with the reward, the next state, termination or truncation, the
  cost, how the request closed, and the times the step's result was observed,
  the evidence arrived and the request closed.

A request still open when the log stops has decisions but no outcome rows. Such
a request must not be read as if it had ended: its return would miss every
reward still to come. :func:`join` therefore keeps, by default, only the
*complete cohort*: the requests that arrived at least ``follow_up_days`` before
the log stopped, every one of which has closed (the collector guarantees that
every request closes within that window). Selecting by arrival time, not by
whether a request has closed, keeps the sample unbiased; dropping the open
requests instead would drop mostly the slow routes.

Rows of both logs are stored in ``(request_id, step)`` order; request ids grow
with arrival time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cached_property
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from agents.offline.clock import days
from agents.offline.rules import TaskRules

FORMAT = "access-review-env/offline-log"
SCHEMA_VERSION = 1
STEP_BITS = 16
"""Join keys are ``request_id << STEP_BITS | step``."""

DECISION_COLUMNS: Mapping[str, np.dtype[Any]] = {
    "request_id": np.dtype(np.int64),
    "step": np.dtype(np.int16),
    "decided_at": np.dtype("datetime64[ms]"),
    "state": np.dtype(np.int16),
    "valid_actions": np.dtype(np.uint32),
    "action": np.dtype(np.int16),
    "propensity": np.dtype(np.float64),
}
"""Decision-log columns and their dtypes. ``valid_actions`` is the mask as bits:
bit ``a`` is set when action ``a`` is valid (so at most 32 actions)."""

OUTCOME_COLUMNS: Mapping[str, np.dtype[Any]] = {
    "request_id": np.dtype(np.int64),
    "step": np.dtype(np.int16),
    "reward": np.dtype(np.float64),
    "next_state": np.dtype(np.int16),
    "terminated": np.dtype(np.bool_),
    "truncated": np.dtype(np.bool_),
    "cost": np.dtype(np.float32),
    "outcome": np.dtype(np.int8),
    "observed_at": np.dtype("datetime64[ms]"),
    "evidence_at": np.dtype("datetime64[ms]"),
    "closed_at": np.dtype("datetime64[ms]"),
}
"""Outcome-log columns and their dtypes. ``outcome`` indexes the metadata's
``outcome_names``; ``evidence_at`` is NaT when no evidence arrived."""


class OfflineLogError(ValueError):
    """A log that cannot be used: wrong schema, another task, inconsistent rows."""


@dataclass(frozen=True)
class TaskInfo:
    """What estimation and evaluation need to know about a log's task.

    Attributes:
        n_states: Number of states.
        n_actions: Number of actions.
        gamma: The task's discount.
        terminal_states: Indices of its terminal states.
        time_limit: The registered time limit in steps (``max_episode_steps``),
            or None: estimated models plan and evaluate with it as horizon, as
            the exact values do.
        state_names: The states' names (their indices are the states).
        action_names: The actions' names.
    """

    n_states: int
    n_actions: int
    gamma: float
    terminal_states: tuple[int, ...] = ()
    time_limit: int | None = None
    state_names: tuple[str, ...] = ()
    action_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, mdp: TabularMDP) -> TaskInfo:
        """The task of a :class:`~access_review_env.TabularMDP` (its horizon too)."""
        return cls(
            mdp.n_states,
            mdp.n_actions,
            float(mdp.gamma),
            tuple(int(s) for s in np.flatnonzero(mdp.terminal)),
            mdp.horizon,
            tuple(mdp.state_names),
            tuple(mdp.action_names),
        )


@dataclass(frozen=True)
class LogMetadata:
    """What a log records about how it was made.

    Attributes:
        log_id: Random id shared by a log's two tables.
        env_id: The task, e.g. ``"AccessReview-v0"``.
        schedule: The periods with their env kwargs (``DriftSchedule.to_json``).
        behaviour: The behaviour policy (``BehaviourPolicy.to_json``).
        clock: The workflow clock (``WorkflowClock.to_json``).
        seed: The collection's seed.
        package_version: ``access_review_env.__version__`` at collection.
        state_names: The task's state names (their indices are the states).
        action_names: The task's action names.
        outcome_names: Values of the outcome column.
        gamma: The task's discount.
        terminal_states: Indices of the task's terminal states.
        log_start: When the first period starts (ISO, UTC).
        log_end: When the log stops: nothing after it is in either table.
        follow_up_days: Every request closes within this many days of arriving.
        time_limit: The task's registered time limit in steps, or None.
        vectorization: How episodes were stepped (``"vector_entry_point"`` or
            ``"sync"``).
    """

    log_id: str
    env_id: str
    schedule: list[dict[str, Any]]
    behaviour: dict[str, Any]
    clock: dict[str, Any]
    seed: int
    package_version: str
    state_names: list[str]
    action_names: list[str]
    outcome_names: list[str]
    gamma: float
    terminal_states: list[int]
    log_start: str
    log_end: str
    follow_up_days: float
    time_limit: int | None
    vectorization: str = "vector_entry_point"

    @property
    def n_states(self) -> int:
        """Number of states of the task."""
        return len(self.state_names)

    @property
    def n_actions(self) -> int:
        """Number of actions of the task."""
        return len(self.action_names)

    @property
    def task(self) -> TaskInfo:
        """The task as estimation and evaluation read it."""
        return TaskInfo(
            self.n_states,
            self.n_actions,
            float(self.gamma),
            tuple(self.terminal_states),
            self.time_limit,
            tuple(self.state_names),
            tuple(self.action_names),
        )

    @cached_property
    def rules(self) -> TaskRules:
        """What the task the log names allows, period by period (made once).

        Raises:
            ValueError, TypeError, gymnasium.error.Error: If the task or a
                period's configuration cannot be made (see
                :meth:`TaskRules.of`); :func:`check_metadata` names the log.
        """
        return TaskRules.of(self.env_id, self.schedule)

    @cached_property
    def behaviour_table(self) -> NDArray[np.float64]:
        """``(S, A)`` the behaviour policy's probabilities, as logged.

        Raises:
            ValueError, KeyError, TypeError: If the behaviour holds no such
                table; :func:`check_metadata` names the log.
        """
        table = np.array(self.behaviour["probabilities"], dtype=np.float64)
        table.flags.writeable = False
        return table

    @property
    def end(self) -> np.datetime64:
        """``log_end`` as ``datetime64[ms]``."""
        return np.datetime64(self.log_end, "ms")

    @property
    def cohort_end(self) -> np.datetime64:
        """Requests arriving before this instant have all closed by ``log_end``."""
        return self.end - days(self.follow_up_days)

    def to_json(self) -> dict[str, Any]:
        """Every field, plus the format name and schema version."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"format": FORMAT, "schema_version": SCHEMA_VERSION, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> LogMetadata:
        """Read metadata written by :meth:`to_json`.

        Raises:
            OfflineLogError: For another format, another schema version or a
                missing field, naming ``source``.
        """
        if data.get("format") != FORMAT:
            raise OfflineLogError(
                f"{source}: not an offline log of this package (format "
                f"{data.get('format')!r}, expected {FORMAT!r})"
            )
        if data.get("schema_version") != SCHEMA_VERSION:
            raise OfflineLogError(
                f"{source}: schema version {data.get('schema_version')!r} is not "
                f"supported; this package reads version {SCHEMA_VERSION}"
            )
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in data]
        if missing:
            raise OfflineLogError(f"{source}: metadata is missing {', '.join(missing)}")
        return cls(**{name: data[name] for name in names})


Columns = dict[str, NDArray[Any]]


def _as_columns(
    columns: Mapping[str, Any], spec: Mapping[str, np.dtype[Any]], source: str
) -> Columns:
    missing = [name for name in spec if name not in columns]
    if missing:
        raise OfflineLogError(f"{source}: missing column(s) {', '.join(missing)}")
    result = {name: np.asarray(columns[name]) for name in spec}
    lengths = {name: len(array) for name, array in result.items()}
    if len(set(lengths.values())) > 1:
        raise OfflineLogError(f"{source}: columns differ in length: {lengths}")
    for name, dtype in spec.items():
        if result[name].dtype != dtype:
            raise OfflineLogError(
                f"{source}: column {name!r} has dtype {result[name].dtype}, "
                f"expected {dtype}"
            )
    return result


def _first(bad: NDArray[np.bool_]) -> int | None:
    """Index of the first True, or None."""
    index = int(np.argmax(bad)) if bad.size else 0
    return index if bad.size and bad[index] else None


def _fail_at(
    bad: NDArray[np.bool_],
    source: str,
    message: str | Callable[[int], str],
    columns: Columns,
) -> None:
    """Raise for the first row where ``bad`` is True, naming file, row and rule.

    ``message`` is the rule, or a function of the row that states it with the
    row's values.
    """
    row = _first(bad)
    if row is not None:
        rule = message(row) if callable(message) else message
        raise OfflineLogError(
            f"{source}, row {row} (request {int(columns['request_id'][row])}, step "
            f"{int(columns['step'][row])}): {rule}; {int(bad.sum())} row(s) affected"
        )


def join_keys(columns: Columns) -> NDArray[np.int64]:
    """``(n,)`` ``request_id << STEP_BITS | step``, the rows' join keys."""
    return (columns["request_id"] << STEP_BITS) | columns["step"].astype(np.int64)


def _fail_out_of_range(
    values: NDArray[Any], size: int, name: str, source: str, columns: Columns
) -> None:
    _fail_at(
        (values < 0) | (values >= size),
        source,
        f"{name} outside [0, {size - 1}]",
        columns,
    )


def _check_order(columns: Columns, source: str) -> None:
    keys = join_keys(columns)
    _fail_at(
        np.concatenate([[False], np.diff(keys) <= 0]),
        source,
        "rows are not in strictly increasing (request_id, step) order",
        columns,
    )


def check_metadata(metadata: LogMetadata, source: str) -> TaskRules:
    """Refuse metadata that contradicts the task and configuration it names.

    The task is made for every period (``gym.make(env_id, **env_kwargs)``);
    its names, discount, terminal states and time limit must be the
    metadata's, and the logged behaviour must be a table of distributions over
    each state's valid actions.

    Returns:
        The task's rules, for the row checks.

    Raises:
        OfflineLogError: Naming ``source``, the field and both values.
    """
    try:
        rules = metadata.rules
    except (gym.error.Error, TypeError, ValueError, KeyError) as error:
        raise OfflineLogError(
            f"{source}: the log's task {metadata.env_id!r} cannot be made with "
            f"its periods' env kwargs ({error})"
        ) from None
    mdp = rules.mdp
    expected: dict[str, Any] = {
        "state_names": list(mdp.table.state_names),
        "action_names": list(mdp.table.action_names),
        "outcome_names": list(mdp.table.outcomes),
        "gamma": float(mdp.gamma),
        "terminal_states": [int(s) for s in mdp.table.terminal_states],
        "time_limit": rules.time_limit,
    }
    for name, value in expected.items():
        if getattr(metadata, name) != value:
            raise OfflineLogError(
                f"{source}: metadata {name} is {getattr(metadata, name)!r}, but "
                f"{metadata.env_id} has {value!r}"
            )
    _check_times(metadata, rules, source)
    try:
        table = metadata.behaviour_table
    except (KeyError, TypeError, ValueError) as error:
        raise OfflineLogError(
            f"{source}: metadata behaviour holds no probability table ({error})"
        ) from None
    shape = (mdp.n_states, mdp.n_actions)
    if table.shape != shape:
        raise OfflineLogError(
            f"{source}: the logged behaviour's table has shape {table.shape}, "
            f"{metadata.env_id} has {shape}"
        )
    if not np.all(np.isfinite(table) & (table >= 0.0)) or not np.allclose(
        table.sum(axis=1), 1.0, atol=1e-9
    ):
        raise OfflineLogError(
            f"{source}: the logged behaviour's rows are not distributions over actions"
        )
    live = ~rules.terminal
    allowed = (rules.masks[:, :, None] >> np.arange(mdp.n_actions, dtype=np.uint32)) & 1
    invalid = (table[None] > 0.0) & (allowed == 0) & live[None, :, None]
    if np.any(invalid):
        _, state, action = (int(i) for i in np.argwhere(invalid)[0])
        raise OfflineLogError(
            f"{source}: the logged behaviour gives probability to "
            f"{metadata.action_names[action]} in {metadata.state_names[state]}, "
            "where the task does not allow it"
        )
    return rules


def _check_times(metadata: LogMetadata, rules: TaskRules, source: str) -> None:
    """Refuse a log start or end other than the schedule's, or a bad window."""
    for name, expected in (
        ("log_start", rules.period_starts[0]),
        ("log_end", rules.period_starts[-1]),
    ):
        value = getattr(metadata, name)
        try:
            same = bool(np.datetime64(value, "ms") == expected)
        except (TypeError, ValueError):
            same = False
        if not same:
            raise OfflineLogError(
                f"{source}: metadata {name} is {value!r}, but the schedule's "
                f"periods give {expected}"
            )
    window = metadata.follow_up_days
    if not isinstance(window, int | float) or not 0.0 <= window < float("inf"):
        raise OfflineLogError(
            f"{source}: metadata follow_up_days is {window!r}; it must be a "
            "finite number of days >= 0"
        )


def _periods(
    columns: Columns, rules: TaskRules, source: str
) -> NDArray[np.intp] | None:
    """``(n,)`` the period of each row's request (None: one period).

    Refuses ids beyond the schedule, negative steps and steps beyond the time
    limit.
    """
    request_id = columns["request_id"]
    _fail_at(
        (request_id < 0) | (request_id >= rules.n_requests) | (columns["step"] < 0),
        source,
        f"request_id must be in [0, {rules.n_requests - 1}] (the schedule's "
        "requests) and step >= 0",
        columns,
    )
    limit = rules.time_limit
    if limit is not None:
        _fail_at(
            columns["step"] >= limit,
            source,
            f"step beyond the task's time limit of {limit} steps",
            columns,
        )
    return rules.period_of(request_id)


def check_decisions(columns: Columns, metadata: LogMetadata, source: str) -> None:
    """Refuse decision rows that are malformed or contradict the task.

    Besides ranges and order: the request's period (by its id) must be the
    one its first decision falls in; no decision in a terminal state; the
    valid-action mask must be the task's for the state (no bits beyond its
    actions); a request starts where the task's resets can start; the action
    is valid; and the propensity is the logged behaviour's probability of the
    action, which must not be 0.

    Raises:
        OfflineLogError: Naming ``source``, the first bad row and the rule.
    """
    rules = check_metadata(metadata, source)
    n_states, n_actions = metadata.n_states, metadata.n_actions
    state, action = columns["state"], columns["action"]
    period = _periods(columns, rules, source)
    decided_at = columns["decided_at"]
    _fail_at(np.isnat(decided_at), source, "decided_at is missing", columns)
    _fail_out_of_range(state, n_states, "state", source, columns)
    _fail_out_of_range(action, n_actions, "action", source, columns)
    _check_order(columns, source)
    # Lookups by intp indices: several times faster than by the int16 columns.
    state_index = state.astype(np.intp)
    key = state_index if period is None else period * n_states + state_index
    first = columns["step"] == 0
    if period is None:
        begin, end = rules.period_starts[0], rules.period_starts[-1]
    else:
        begin, end = rules.period_starts[period], rules.period_starts[period + 1]
    _fail_at(
        first & ((decided_at < begin) | (decided_at >= end)),
        source,
        lambda row: (
            f"the request arrived at {decided_at[row]}, outside period "
            f"{rules.period_names[0 if period is None else period[row]]} that its "
            "id belongs to"
        ),
        columns,
    )
    names = metadata.state_names
    _fail_at(
        rules.terminal[state_index],
        source,
        lambda row: f"a decision in the terminal state {names[state[row]]}",
        columns,
    )
    mask = columns["valid_actions"]
    _fail_at(
        (mask >> np.uint32(n_actions)) != 0,
        source,
        lambda row: (
            f"valid_actions {int(mask[row]):#b} has bits beyond the "
            f"task's {n_actions} actions"
        ),
        columns,
    )
    expected_mask = rules.masks.ravel()[key]
    _fail_at(
        mask != expected_mask,
        source,
        lambda row: (
            f"valid_actions {int(mask[row]):#b} is not the task's mask "
            f"{int(expected_mask[row]):#b} of {names[state[row]]}"
        ),
        columns,
    )
    _fail_at(
        first & ~rules.starts.ravel()[key],
        source,
        lambda row: (
            f"the request starts in {names[state[row]]}, where the task's "
            "resets never start"
        ),
        columns,
    )
    shift = np.clip(action, 0, 31).astype(np.uint32)
    _fail_at(
        (mask >> shift) & np.uint32(1) == 0,
        source,
        "the action is invalid under the logged valid-action mask",
        columns,
    )
    propensity = columns["propensity"]
    _fail_at(
        ~((propensity > 0.0) & (propensity <= 1.0)),
        source,
        "propensity outside (0, 1]",
        columns,
    )
    pair = state_index * n_actions + action
    logged = metadata.behaviour_table.ravel()[pair]
    _fail_at(
        logged == 0.0,
        source,
        lambda row: (
            "the logged behaviour gives probability 0 to "
            f"{metadata.action_names[action[row]]} in {names[state[row]]}, yet the "
            "log took it"
        ),
        columns,
    )
    differs = propensity != logged
    if differs.any():
        differs &= np.abs(propensity - logged) > 1e-12 * logged
    _fail_at(
        differs,
        source,
        lambda row: (
            f"propensity {float(propensity[row])!r} is not the logged behaviour's "
            f"probability {float(logged[row])!r} of "
            f"{metadata.action_names[action[row]]} in {names[state[row]]}"
        ),
        columns,
    )


def check_outcomes(columns: Columns, metadata: LogMetadata, source: str) -> None:
    """Refuse outcome rows that are malformed or contradict the task.

    What a row can be checked against alone: ranges and order; a step ends
    in a terminal state exactly when it is terminated; it is truncated
    exactly when it is the time limit's last step. :func:`join` checks the
    result against the decision's state and action.

    Raises:
        OfflineLogError: Naming ``source``, the first bad row and the rule.
    """
    rules = check_metadata(metadata, source)
    _periods(columns, rules, source)
    n_states = metadata.n_states
    next_state = columns["next_state"]
    _fail_out_of_range(next_state, n_states, "next_state", source, columns)
    outcome = columns["outcome"]
    _fail_out_of_range(outcome, len(metadata.outcome_names), "outcome", source, columns)
    _fail_at(~np.isfinite(columns["reward"]), source, "reward is not finite", columns)
    _fail_at(
        np.isnat(columns["observed_at"]) | np.isnat(columns["closed_at"]),
        source,
        "observed_at or closed_at is missing",
        columns,
    )
    _check_order(columns, source)
    names = metadata.state_names
    terminated = columns["terminated"]
    _fail_at(
        terminated != rules.terminal[next_state.astype(np.intp)],
        source,
        lambda row: (
            f"terminated is {bool(terminated[row])} but next_state "
            f"{names[next_state[row]]} is "
            + ("not terminal" if terminated[row] else "terminal")
            + ": a step is terminated exactly when it ends in a terminal state"
        ),
        columns,
    )
    limit = rules.time_limit
    if limit is None:
        _fail_at(
            columns["truncated"],
            source,
            "truncated, but the task has no time limit",
            columns,
        )
    else:
        _fail_at(
            columns["truncated"] != (columns["step"] == limit - 1),
            source,
            f"truncated must be True exactly at step {limit - 1} (the task's time "
            f"limit of {limit} steps)",
            columns,
        )


def check_results(
    outcomes: Columns,
    state: NDArray[np.int16],
    action: NDArray[np.int16],
    metadata: LogMetadata,
    source: str,
) -> None:
    """Refuse outcome rows whose result the task cannot give their decision.

    The next state must be reachable from the decision's (state, action), the
    reward one the task pays for that transition under the period's reward
    specification, and cost, outcome and termination those of that result.

    Args:
        outcomes: The outcome log's columns.
        state: ``(n_outcomes,)`` the state of each row's decision.
        action: ``(n_outcomes,)`` the action of each row's decision.
        metadata: The log's metadata (its task and periods).
        source: The outcome log's name, for the message.

    Raises:
        OfflineLogError: Naming ``source``, the first bad row and the rule.
    """
    rules = metadata.rules
    period = rules.period_of(outcomes["request_id"])
    result = (
        outcomes["next_state"],
        outcomes["reward"],
        outcomes["cost"],
        outcomes["outcome"],
        outcomes["terminated"],
    )
    _fail_at(
        ~rules.allowed(period, state, action, *result),
        source,
        lambda row: rules.explain(
            0 if period is None else int(period[row]),
            int(state[row]),
            int(action[row]),
            int(result[0][row]),
            float(result[1][row]),
            float(result[2][row]),
            int(result[3][row]),
            bool(result[4][row]),
        ),
        outcomes,
    )


@dataclass(frozen=True)
class OfflineLog:
    """A decision log and an outcome log with their shared metadata.

    Attributes:
        decisions: Columns of :data:`DECISION_COLUMNS`, ``(n_decisions,)`` each.
        outcomes: Columns of :data:`OUTCOME_COLUMNS`, ``(n_outcomes,)`` each.
        metadata: How the log was made.
    """

    decisions: Columns
    outcomes: Columns
    metadata: LogMetadata
    sources: tuple[str, str] = ("decision log", "outcome log")

    def __post_init__(self) -> None:
        """Check both tables' columns and rows.

        Raises:
            OfflineLogError: Naming the table (file) and the first bad row.
        """
        decision_source, outcome_source = self.sources
        decisions = _as_columns(self.decisions, DECISION_COLUMNS, decision_source)
        outcomes = _as_columns(self.outcomes, OUTCOME_COLUMNS, outcome_source)
        check_decisions(decisions, self.metadata, decision_source)
        check_outcomes(outcomes, self.metadata, outcome_source)
        object.__setattr__(self, "decisions", decisions)
        object.__setattr__(self, "outcomes", outcomes)

    @property
    def n_decisions(self) -> int:
        """Rows of the decision log."""
        return int(self.decisions["request_id"].size)

    @property
    def n_outcomes(self) -> int:
        """Rows of the outcome log."""
        return int(self.outcomes["request_id"].size)


@dataclass(frozen=True)
class Episodes:
    """Complete requests as episodes: the join of both logs, in time order.

    Per transition, ``(n_transitions,)`` arrays sorted by episode then step:
    ``state``, ``action``, ``propensity``, ``valid_actions``, ``decided_at``
    (from the decision log) and ``reward``, ``next_state``, ``terminated``,
    ``truncated``, ``cost``, ``outcome``, ``observed_at`` (from the outcome log);
    ``episode`` is the episode index of each row and ``step`` its position.

    Per episode, ``(n_episodes,)``: ``request_id``, ``arrived_at`` (the first
    decision), ``closed_at``, ``evidence_at`` (NaT if none); ``starts`` is
    ``(n_episodes + 1,)`` row offsets.

    Attributes:
        task: The log's task (sizes, discount, terminal states, time limit).
        n_open: Open requests left out by the join.
        n_late: Complete requests left out because they arrived after the
            complete cohort's end.
        behaviour: ``(S, A)`` the logged behaviour's probabilities, or None
            if unknown: which actions the log could have taken, for the
            estimators' support check.
    """

    episode: NDArray[np.int64]
    step: NDArray[np.int16]
    state: NDArray[np.int16]
    action: NDArray[np.int16]
    propensity: NDArray[np.float64]
    valid_actions: NDArray[np.uint32]
    decided_at: NDArray[np.datetime64]
    reward: NDArray[np.float64]
    next_state: NDArray[np.int16]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    cost: NDArray[np.float32]
    outcome: NDArray[np.int8]
    observed_at: NDArray[np.datetime64]
    starts: NDArray[np.int64]
    request_id: NDArray[np.int64]
    arrived_at: NDArray[np.datetime64]
    closed_at: NDArray[np.datetime64]
    evidence_at: NDArray[np.datetime64]
    task: TaskInfo
    n_open: int = 0
    n_late: int = 0
    behaviour: NDArray[np.float64] | None = None
    _row_fields: ClassVar[tuple[str, ...]] = (
        "step",
        "state",
        "action",
        "propensity",
        "valid_actions",
        "decided_at",
        "reward",
        "next_state",
        "terminated",
        "truncated",
        "cost",
        "outcome",
        "observed_at",
    )

    @property
    def n_states(self) -> int:
        """Number of states of the task."""
        return self.task.n_states

    @property
    def n_actions(self) -> int:
        """Number of actions of the task."""
        return self.task.n_actions

    @property
    def gamma(self) -> float:
        """The task's discount."""
        return self.task.gamma

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return int(self.request_id.size)

    @property
    def n_transitions(self) -> int:
        """Number of transitions (decisions with their outcomes)."""
        return int(self.state.size)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """``(n_episodes,)`` transitions per episode."""
        return np.diff(self.starts)

    @property
    def first_states(self) -> NDArray[np.int16]:
        """``(n_episodes,)`` each episode's first state."""
        return self.state[self.starts[:-1]]

    def discounts(self, gamma: float | None = None) -> NDArray[np.float64]:
        """``(n_transitions,)`` ``gamma ** step`` of each transition."""
        gamma = self.gamma if gamma is None else gamma
        longest = int(self.step.max(initial=0)) + 1
        return np.power(gamma, np.arange(longest, dtype=np.float64))[self.step]

    def returns(self, gamma: float | None = None) -> NDArray[np.float64]:
        """``(n_episodes,)`` each episode's discounted return."""
        return self.per_episode(self.discounts(gamma) * self.reward)

    def per_episode(self, values: NDArray[Any]) -> NDArray[np.float64]:
        """``(n_episodes,)`` sums of ``(n_transitions,)`` values within episodes."""
        if self.n_episodes == 0:
            return np.zeros(0)
        return np.asarray(
            np.add.reduceat(np.asarray(values, dtype=np.float64), self.starts[:-1]),
            dtype=np.float64,
        )

    def select(self, keep: NDArray[np.bool_]) -> Episodes:
        """The episodes where ``keep`` ``(n_episodes,)`` is True, in order."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_episodes,):
            raise ValueError(
                f"keep must have shape ({self.n_episodes},), got {keep.shape}"
            )
        lengths = self.lengths[keep]
        rows = np.repeat(keep, self.lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        changes: dict[str, Any] = {
            name: getattr(self, name)[rows] for name in self._row_fields
        }
        changes["episode"] = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
        changes["starts"] = starts
        for name in ("request_id", "arrived_at", "closed_at", "evidence_at"):
            changes[name] = getattr(self, name)[keep]
        return replace(self, **changes)

    def take(self, first: int, stop: int) -> Episodes:
        """Episodes ``first`` to ``stop - 1`` as views, without copying rows.

        Raises:
            ValueError: Unless ``0 <= first <= stop <= n_episodes``.
        """
        if not 0 <= first <= stop <= self.n_episodes:
            raise ValueError(
                f"need 0 <= first <= stop <= {self.n_episodes}, got {first}, {stop}"
            )
        begin, end = int(self.starts[first]), int(self.starts[stop])
        changes: dict[str, Any] = {
            name: getattr(self, name)[begin:end] for name in self._row_fields
        }
        changes["episode"] = self.episode[begin:end] - first
        changes["starts"] = self.starts[first : stop + 1] - begin
        for name in ("request_id", "arrived_at", "closed_at", "evidence_at"):
            changes[name] = getattr(self, name)[first:stop]
        return replace(self, **changes)

    def head(self, n_episodes: int) -> Episodes:
        """The first ``n_episodes`` episodes (the earliest arrivals)."""
        return self.take(0, min(max(0, n_episodes), self.n_episodes))

    def arrived_between(
        self, start: np.datetime64 | None, end: np.datetime64 | None
    ) -> Episodes:
        """The episodes that arrived in ``[start, end)`` (None: unbounded)."""
        keep = np.ones(self.n_episodes, dtype=bool)
        if start is not None:
            keep &= self.arrived_at >= start
        if end is not None:
            keep &= self.arrived_at < end
        return self.select(keep)


OpenRequests = Literal["cohort", "drop", "raise"]
OPEN_REQUEST_RULES: tuple[OpenRequests, ...] = ("cohort", "drop", "raise")


def open_request_ids(log: OfflineLog) -> NDArray[np.int64]:
    """Ids of the requests with a decision but no outcome: still open at the end."""
    decided = np.unique(log.decisions["request_id"])
    closed = np.unique(log.outcomes["request_id"])
    return np.asarray(np.setdiff1d(decided, closed, assume_unique=True))


def _check_cohort_window(metadata: LogMetadata) -> None:
    """Refuse a log shorter than its follow-up window: its cohort is empty.

    Raises:
        ValueError: Naming both spans and the ways out.
    """
    start = np.datetime64(metadata.log_start, "ms")
    if metadata.cohort_end <= start:
        span = (metadata.end - start) / np.timedelta64(1, "D")
        raise ValueError(
            f"the {metadata.env_id} log spans {span:g} days ({metadata.log_start} "
            f"to {metadata.log_end}), no longer than its follow-up window of "
            f"{metadata.follow_up_days:g} days: no request is sure to have "
            "closed, so the complete cohort is empty. Collect over more than "
            "the window, give the clock a shorter follow_up_days, or join with "
            "open_requests='drop' (biased towards fast routes)"
        )


def join(log: OfflineLog, open_requests: OpenRequests = "cohort") -> Episodes:
    """Join the decision and outcome logs into complete episodes.

    Args:
        log: The two logs.
        open_requests: What to do about requests still open when the log
            stopped (decisions without outcomes):

            * ``"cohort"`` (default, unbiased): keep only requests that arrived
              before ``metadata.cohort_end``; every one of them must have
              closed, else the log is inconsistent and this raises. A log no
              longer than its follow-up window has no such request and is
              refused.
            * ``"drop"``: keep every closed request and drop the open ones.
              Biased: slow routes are more often open at the end, so they are
              under-represented.
            * ``"raise"``: refuse a log with any open request.

    Returns:
        The :class:`Episodes`, sorted by request id (arrival time).

    Raises:
        OfflineLogError: For an outcome row without its decision or with a
            result the task cannot give that decision (see
            :func:`check_results`), a request whose outcome rows do not match
            its decisions, a state that does not follow the previous outcome's
            next state, or an open request that the rule does not allow; the
            message names the table, the row and the rule.
        ValueError: For an unknown ``open_requests`` rule, or a log no longer
            than its follow-up window under ``"cohort"``.
    """
    if open_requests not in OPEN_REQUEST_RULES:
        raise ValueError(
            f"open_requests must be one of {', '.join(OPEN_REQUEST_RULES)}, "
            f"got {open_requests!r}"
        )
    decision_source, outcome_source = log.sources
    decisions, outcomes, metadata = log.decisions, log.outcomes, log.metadata
    decision_keys, outcome_keys = join_keys(decisions), join_keys(outcomes)
    n_decisions = decision_keys.size
    position = np.searchsorted(decision_keys, outcome_keys)
    found = np.zeros(outcome_keys.size, dtype=bool)
    if n_decisions:
        clipped = np.minimum(position, n_decisions - 1)
        found = (position < n_decisions) & (decision_keys[clipped] == outcome_keys)
    _fail_at(~found, outcome_source, "outcome row without a decision", outcomes)
    check_results(
        outcomes,
        decisions["state"][position],
        decisions["action"][position],
        metadata,
        outcome_source,
    )
    outcome_row = np.full(n_decisions, -1, dtype=np.int64)
    outcome_row[position] = np.arange(outcome_keys.size)
    has_outcome = outcome_row >= 0

    request_id = decisions["request_id"]
    first = np.flatnonzero(np.concatenate([[True], np.diff(request_id) != 0]))
    if n_decisions == 0:
        first = np.zeros(0, dtype=np.int64)
    lengths = np.diff(np.append(first, n_decisions))
    expected_step = np.arange(n_decisions) - np.repeat(first, lengths)
    _fail_at(
        decisions["step"] != expected_step,
        decision_source,
        "steps of a request must be 0, 1, 2, ... without gaps",
        decisions,
    )
    n_with_outcome = (
        np.add.reduceat(has_outcome.astype(np.int64), first)
        if first.size
        else np.zeros(0, dtype=np.int64)
    )
    complete = n_with_outcome == lengths
    partial = (n_with_outcome > 0) & ~complete
    _fail_at(
        np.repeat(partial, lengths) & ~has_outcome,
        decision_source,
        "the request has outcome rows for some decisions but not this one",
        decisions,
    )
    arrived_at = decisions["decided_at"][first]

    if open_requests == "cohort":
        _check_cohort_window(metadata)
        in_cohort = arrived_at < metadata.cohort_end
        _fail_at(
            np.repeat(in_cohort & ~complete, lengths) & ~has_outcome,
            decision_source,
            "decision without an outcome in a request that arrived more than "
            f"follow_up_days ({metadata.follow_up_days}) before the log ended "
            f"({metadata.log_end}); every such request should have closed",
            decisions,
        )
        keep = in_cohort
    elif open_requests == "raise":
        _fail_at(
            ~has_outcome,
            decision_source,
            "decision without an outcome: the request was still open when the "
            "log stopped (join with open_requests='cohort' to keep only the "
            "complete cohort)",
            decisions,
        )
        keep = complete
    else:
        keep = complete
    n_open = int((~complete).sum())
    n_late = int((complete & ~keep).sum())

    rows = np.repeat(keep, lengths)
    kept_lengths = lengths[keep]
    out_rows = outcome_row[rows]
    step = decisions["step"][rows]
    state = decisions["state"][rows]
    next_state = outcomes["next_state"][out_rows]
    terminated = outcomes["terminated"][out_rows]
    truncated = outcomes["truncated"][out_rows]
    source_rows = np.flatnonzero(rows)
    ended = terminated | truncated
    starts = np.concatenate([[0], np.cumsum(kept_lengths)]).astype(np.int64)
    last = np.zeros(step.size, dtype=bool)
    last[starts[1:] - 1] = True
    bad_end = ended != last
    if np.any(bad_end):
        row = int(out_rows[int(np.argmax(bad_end))])
        raise OfflineLogError(
            f"{outcome_source}, row {row} (request {int(outcomes['request_id'][row])}"
            f", step {int(outcomes['step'][row])}): only a request's last outcome may "
            "be terminated or truncated, and it must be one of them"
        )
    follows = np.ones(step.size, dtype=bool)
    follows[1:] = (state[1:] == next_state[:-1]) | (step[1:] == 0)
    if not np.all(follows):
        row = int(source_rows[int(np.argmin(follows))])
        raise OfflineLogError(
            f"{decision_source}, row {row} (request {int(request_id[row])}, step "
            f"{int(decisions['step'][row])}): the state is not the next state of "
            "the request's previous outcome"
        )
    closing = out_rows[starts[1:] - 1]
    return Episodes(
        episode=np.repeat(np.arange(kept_lengths.size, dtype=np.int64), kept_lengths),
        step=step,
        state=state,
        action=decisions["action"][rows],
        propensity=decisions["propensity"][rows],
        valid_actions=decisions["valid_actions"][rows],
        decided_at=decisions["decided_at"][rows],
        reward=outcomes["reward"][out_rows],
        next_state=next_state,
        terminated=terminated,
        truncated=truncated,
        cost=outcomes["cost"][out_rows],
        outcome=outcomes["outcome"][out_rows],
        observed_at=outcomes["observed_at"][out_rows],
        starts=starts,
        request_id=request_id[first][keep],
        arrived_at=arrived_at[keep],
        closed_at=outcomes["closed_at"][closing],
        evidence_at=outcomes["evidence_at"][closing],
        task=metadata.task,
        n_open=n_open,
        n_late=n_late,
        behaviour=metadata.behaviour_table,
    )
