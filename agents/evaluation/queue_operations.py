"""The queue's operations figures and the operations rule a team would use today.

An operations lead reads a shift, not a discounted return. Over the
registered horizon (one shift, 200 steps, from the start ``reset`` draws),
for a policy of ``AccessReviewQueue-v0``:

* ``arrivals``: requests that arrived, admitted or turned away;
* ``admitted``: arrivals that found room in their intake queue;
* ``resolved``: requests closed by a decision (approved, denied, or
  withdrawn when asked for evidence; the outcomes of
  :data:`~access_review_env.tasks.access_review_queue.RESOLVED_OUTCOMES`);
* ``abandoned``, ``turned_away``: requesters who gave up, arrivals turned
  away at a full intake queue;
* ``violations``: expected ``info["cost"]`` (policy violations and unfair
  denials);
* ``open_request_steps``: requests open after each step's decision, summed
  over the steps (what the ``waiting`` term charges);
* ``mean_wait``: Little's law over the shift, ``open_request_steps /
  admitted``: the steps an admitted request stays open on average (requests
  still open when the shift ends count the steps they waited in it);
* ``abandonment_share`` and ``turned_away_share``: abandoned and turned away
  over ``arrivals``.

Each is exact where the policy reads as a table: the expected number of
times each branch of the model is taken over the shift
(:func:`~agents.planning.occupancy.occupancy` with weight 1, then
:func:`~agents.planning.occupancy.decision_flow` and
:func:`~agents.planning.occupancy.event_flow`), read through the counts per
stage of each branch's states. Otherwise :class:`QueueTally` counts the same
quantities step by step in the rollouts, and :func:`monte_carlo_operations`
gives their means with Student's t intervals over episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from access_review_env import QueueAction, SparseMDP
from access_review_env.model.queue import QueueShape
from access_review_env.tasks.access_review_queue import RESOLVED_OUTCOMES
from agents.evaluation.statistics import mean_interval
from agents.planning.occupancy import decision_flow, event_flow, occupancy

OPERATIONS_PRIORITY: tuple[QueueAction, ...] = (
    QueueAction.APPROVE_REVIEWED_JUSTIFIED,
    QueueAction.DENY_REVIEWED_UNJUSTIFIED,
    QueueAction.APPROVE_NEW_CLEAR,
    QueueAction.APPROVE_EVIDENCE_READY,
    QueueAction.REVIEW_NEW_REQUIRED,
)
"""The operations rule, first valid action wins, else ``wait``: close what a
reviewer has found, approve clear evidence and evidence that came, send
required-review requests to a free reviewer. Each action acts on the oldest
request of its stage."""

TALLIES: tuple[str, ...] = (
    "admitted",
    "resolved",
    "abandoned",
    "turned_away",
    "violations",
    "open_request_steps",
)
"""The per-step quantities the figures are made of, in :class:`QueueTally`'s order."""

Method = Literal["exact", "monte_carlo"]


def operations_rule(valid: NDArray[np.bool_]) -> NDArray[np.int64]:
    """``(S,)`` the operations rule's action in each state.

    Args:
        valid: ``(S, A)`` each state's valid actions (``info["action_mask"]``).
    """
    valid = np.asarray(valid, dtype=bool)
    actions = np.full(valid.shape[0], int(QueueAction.WAIT), dtype=np.int64)
    undecided = np.ones(valid.shape[0], dtype=bool)
    for action in OPERATIONS_PRIORITY:
        takes = undecided & valid[:, action]
        actions[takes] = int(action)
        undecided &= ~takes
    return actions


@dataclass(frozen=True)
class Operations:
    """A policy's figures over one shift (see the module docstring).

    Attributes:
        method: ``"exact"`` (from the occupancy) or ``"monte_carlo"``.
        arrivals: Expected arrivals per shift.
        admitted: Expected admitted arrivals.
        resolved: Expected requests resolved.
        abandoned: Expected abandonments.
        turned_away: Expected arrivals turned away.
        violations: Expected violations (``info["cost"]``).
        open_request_steps: Expected open requests summed over the steps.
        mean_wait: ``open_request_steps / admitted`` (Little's law).
        abandonment_share: ``abandoned / arrivals``.
        turned_away_share: ``turned_away / arrivals``.
        intervals: For Monte Carlo: each figure's 95 % Student's t interval
            over episodes (the ratios by the delta method); None when exact.
    """

    method: Method
    arrivals: float
    admitted: float
    resolved: float
    abandoned: float
    turned_away: float
    violations: float
    open_request_steps: float
    mean_wait: float
    abandonment_share: float
    turned_away_share: float
    intervals: dict[str, tuple[float, float]] | None = None

    @classmethod
    def from_totals(
        cls,
        method: Method,
        totals: dict[str, float],
        intervals: dict[str, tuple[float, float]] | None = None,
    ) -> Operations:
        """The figures from expected totals per shift of :data:`TALLIES`."""
        arrivals = totals["admitted"] + totals["turned_away"]
        return cls(
            method=method,
            arrivals=arrivals,
            **{name: float(totals[name]) for name in TALLIES},
            mean_wait=_ratio(totals["open_request_steps"], totals["admitted"]),
            abandonment_share=_ratio(totals["abandoned"], arrivals),
            turned_away_share=_ratio(totals["turned_away"], arrivals),
            intervals=intervals,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operations:
        """The figures back from their JSON form (null is NaN)."""
        values = {
            key: float("nan") if value is None else value
            for key, value in data.items()
            if key not in ("method", "intervals")
        }
        intervals = data.get("intervals")
        return cls(
            method=data["method"],
            intervals=None
            if intervals is None
            else {
                name: tuple(float("nan") if v is None else float(v) for v in bounds)  # type: ignore[misc]
                for name, bounds in intervals.items()
            },
            **values,
        )


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


@dataclass(frozen=True)
class QueueReading:
    """What the figures need of one queue configuration's model.

    Attributes:
        shape: The state encoding.
        totals: ``(S,)`` open requests in each state.
        resolved: ``(n_outcomes,)`` which outcome indices resolve a request.
        abandoned: The outcome index of an abandonment.
        turned_away: The outcome index of an arrival turned away.
    """

    shape: QueueShape
    totals: NDArray[np.int64]
    resolved: NDArray[np.bool_]
    abandoned: int
    turned_away: int

    @classmethod
    def of(cls, shape: QueueShape, outcomes: tuple[str, ...]) -> QueueReading:
        """The reading of a queue model with ``outcomes`` as its outcome names."""
        totals = shape.counts(np.arange(shape.n_states)).sum(axis=1)
        return cls(
            shape=shape,
            totals=np.asarray(totals, dtype=np.int64),
            resolved=np.array([name in RESOLVED_OUTCOMES for name in outcomes]),
            abandoned=outcomes.index("abandoned"),
            turned_away=outcomes.index("turned_away"),
        )

    def exact(self, mdp: SparseMDP, policy: NDArray[Any]) -> Operations | None:
        """The exact figures of ``policy`` over ``mdp``'s horizon (None: cannot run).

        Args:
            mdp: The model as scored (its horizon is the shift).
            policy: ``(S,)`` actions or ``(S, A)`` probabilities.
        """
        (visits,) = occupancy(mdp, policy, (1.0,))
        if not visits.runs:
            return None
        decisions = decision_flow(mdp, visits, policy)
        assert mdp.events is not None
        events = mdp.events
        flows = event_flow(mdp, visits)
        sources = np.repeat(np.arange(mdp.n_states), events.lengths)
        change = self.totals[events.target] - self.totals[sources]
        totals = {
            "admitted": float(flows[change == 1].sum()),
            "resolved": float(decisions[self.resolved[mdp.decisions.outcome]].sum()),
            "abandoned": float(flows[events.outcome == self.abandoned].sum()),
            "turned_away": float(flows[events.outcome == self.turned_away].sum()),
            "violations": float(decisions @ mdp.decisions.cost),
            "open_request_steps": float(visits.post_decision @ self.totals),
        }
        return Operations.from_totals("exact", totals)


class QueueTally:
    """Counts :data:`TALLIES` in one step of a rollout, from the env's ``info``.

    A decision closes at most one request (its ``outcome``); the event then
    admits one, closes one (``event_outcome``) or neither. So the requests
    open after the decision are those of the state before it, less one if it
    closed a request, and an arrival was admitted when the next state holds
    one more request than that (counting back one the event closed).

    Args:
        reading: The configuration's :class:`QueueReading`.
    """

    def __init__(self, reading: QueueReading) -> None:
        """Keep the reading."""
        self.reading = reading

    def __call__(self, before: dict[str, Any], after: dict[str, Any]) -> list[float]:
        """The step's quantities, in the order of :data:`TALLIES`."""
        reading = self.reading
        closed = int(after["outcome"]) != 0
        open_after = int(reading.totals[int(before["state"])]) - int(closed)
        event = int(after.get("event_outcome", 0))
        abandoned = event == reading.abandoned
        admitted = int(reading.totals[int(after["state"])]) - open_after + abandoned
        return [
            float(admitted),
            float(reading.resolved[int(after["outcome"])]),
            float(abandoned),
            float(event == reading.turned_away),
            float(after["cost"]),
            float(open_after),
        ]


def monte_carlo_operations(tallies: NDArray[np.float64]) -> Operations:
    """The figures from per-episode totals ``(n_episodes, len(TALLIES))``.

    Means over episodes with 95 % Student's t intervals; the ratios' intervals
    by the delta method (the ratio of means, its standard error from the
    per-episode residuals ``numerator - ratio * denominator``).
    """
    totals = {name: float(tallies[:, i].mean()) for i, name in enumerate(TALLIES)}
    intervals: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(TALLIES):
        _, low, high = mean_interval(tallies[:, i])
        intervals[name] = (float(low), float(high))
    column = {name: tallies[:, i] for i, name in enumerate(TALLIES)}
    arrivals = column["admitted"] + column["turned_away"]
    _, low, high = mean_interval(arrivals)
    intervals["arrivals"] = (float(low), float(high))
    for name, numerator, denominator in (
        ("mean_wait", column["open_request_steps"], column["admitted"]),
        ("abandonment_share", column["abandoned"], arrivals),
        ("turned_away_share", column["turned_away"], arrivals),
    ):
        intervals[name] = _ratio_interval(numerator, denominator)
    return Operations.from_totals("monte_carlo", totals, intervals)


def _ratio_interval(
    numerator: NDArray[np.float64], denominator: NDArray[np.float64]
) -> tuple[float, float]:
    """95 % interval of ``mean(numerator) / mean(denominator)`` by the delta method."""
    mean_denominator = float(denominator.mean())
    if mean_denominator <= 0 or numerator.size < 2:
        return (float("nan"), float("nan"))
    ratio = float(numerator.mean()) / mean_denominator
    residual = (numerator - ratio * denominator) / mean_denominator
    _, low, high = mean_interval(residual)
    return (ratio + float(low), ratio + float(high))
