"""Time in a log: when requests arrive, how long each workflow step takes, drift.

A log covers consecutive :class:`Period` s. Requests arrive uniformly at random
within their period (a Poisson process given its count), and each request
follows the world of the period it arrived in: a :class:`DriftSchedule` is a
sequence of periods with their own env parameters, for example the abandonment
probability rising month by month, so that an estimate from early data can be
wrong later.

The :class:`WorkflowClock` turns a route into times. Each step of the workflow
takes a random duration, uniform between bounds that depend on the action
(waiting for a requester's evidence takes days, an approval minutes): the
step's result is observed when that duration has passed, and the router takes
the next decision at that moment. All times are ``datetime64[ms]`` (UTC).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.validation import check_integer, check_real
from agents.offline.behaviour import BehaviourPolicy

MS_PER_DAY = 86_400_000
Timestamps = NDArray[np.datetime64]


def as_time(value: str | np.datetime64) -> np.datetime64:
    """``value`` (ISO text or a datetime64) as ``datetime64[ms]``.

    Raises:
        ValueError: If ``value`` is not a valid time.
    """
    try:
        parsed = cast(np.datetime64, np.datetime64(value, "ms"))  # type: ignore[call-overload]
    except (TypeError, ValueError) as error:
        raise ValueError(f"not a valid time: {value!r}") from error
    if np.isnat(parsed):
        raise ValueError(f"not a valid time: {value!r}")
    return parsed


def days(value: float) -> np.timedelta64:
    """A duration of ``value`` days, in milliseconds."""
    return np.timedelta64(round(value * MS_PER_DAY), "ms")


@dataclass(frozen=True)
class Period:
    """Requests arriving in ``[start, end)`` under one setting of the world.

    Attributes:
        start: First instant of the period.
        end: First instant after it.
        n_requests: Requests that arrive in it.
        env_kwargs: Keyword arguments of ``gym.make`` for this period's world,
            e.g. ``{"abandonment_prob": 0.05}``.
        name: A label for tables and plots (e.g. ``"2025-03"``).
    """

    start: np.datetime64
    end: np.datetime64
    n_requests: int
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        """Parse the times and check the period is not empty or reversed."""
        start, end = as_time(self.start), as_time(self.end)
        if not end > start:
            raise ValueError(f"a period must end after it starts: {start} .. {end}")
        n_requests = check_integer("n_requests", self.n_requests, low=0)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "n_requests", n_requests)
        object.__setattr__(self, "env_kwargs", dict(self.env_kwargs))
        object.__setattr__(
            self, "name", self.name or str(start.astype("datetime64[D]"))
        )

    def arrivals(self, rng: np.random.Generator) -> Timestamps:
        """``(n_requests,)`` sorted arrival times, uniform in ``[start, end)``."""
        span = int((self.end - self.start) / np.timedelta64(1, "ms"))
        offsets = np.sort(rng.integers(0, span, size=self.n_requests))
        return self.start + offsets.astype("timedelta64[ms]")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "name": self.name,
            "start": str(self.start),
            "end": str(self.end),
            "n_requests": self.n_requests,
            "env_kwargs": dict(self.env_kwargs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Period:
        """Rebuild a period from :meth:`to_json`'s output."""
        return cls(
            as_time(data["start"]),
            as_time(data["end"]),
            int(data["n_requests"]),
            dict(data["env_kwargs"]),
            str(data["name"]),
        )


@dataclass(frozen=True)
class DriftSchedule:
    """Consecutive periods, each with its own world.

    Attributes:
        periods: Non-empty, in time order, each starting where the previous ends.
    """

    periods: tuple[Period, ...]

    def __post_init__(self) -> None:
        """Check the periods are contiguous."""
        periods = tuple(self.periods)
        if not periods:
            raise ValueError("a drift schedule needs at least one period")
        for before, after in itertools.pairwise(periods):
            if after.start != before.end:
                raise ValueError(
                    f"period {after.name!r} starts at {after.start}, not where "
                    f"{before.name!r} ends ({before.end})"
                )
        object.__setattr__(self, "periods", periods)

    @property
    def start(self) -> np.datetime64:
        """When the first period starts."""
        return self.periods[0].start

    @property
    def end(self) -> np.datetime64:
        """When the last period ends: the log stops here."""
        return self.periods[-1].end

    @property
    def n_requests(self) -> int:
        """Requests over all periods."""
        return sum(period.n_requests for period in self.periods)

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON-ready list of periods."""
        return [period.to_json() for period in self.periods]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> DriftSchedule:
        """Rebuild a schedule from :meth:`to_json`'s output."""
        return cls(tuple(Period.from_json(item) for item in data))


def steady(
    n_requests: int,
    env_kwargs: Mapping[str, Any] | None = None,
    start: str = "2025-01-01",
    n_days: float = 365.0,
) -> DriftSchedule:
    """One period without drift: ``n_requests`` over ``n_days`` from ``start``."""
    begin = as_time(start)
    return DriftSchedule(
        (Period(begin, begin + days(n_days), n_requests, dict(env_kwargs or {})),)
    )


def monthly_drift(
    values: Sequence[float],
    requests_per_month: int,
    parameter: str = "abandonment_prob",
    start: str = "2025-01",
    env_kwargs: Mapping[str, Any] | None = None,
) -> DriftSchedule:
    """One calendar month per value of ``parameter``, e.g. a rising abandonment rate.

    Args:
        values: The parameter's value in each consecutive month.
        requests_per_month: Requests arriving in each month.
        parameter: The env keyword that drifts.
        start: The first month, ``"YYYY-MM"``.
        env_kwargs: Keyword arguments shared by every month.

    Raises:
        ValueError: For no values or a malformed start month.
    """
    if len(values) == 0:
        raise ValueError("monthly_drift needs at least one value")
    try:
        first = np.datetime64(start, "M")
    except ValueError as error:
        raise ValueError(f"start must be a month 'YYYY-MM', got {start!r}") from error
    periods = []
    for index, value in enumerate(values):
        month = first + np.timedelta64(index, "M")
        periods.append(
            Period(
                as_time(month.astype("datetime64[ms]")),
                as_time((month + np.timedelta64(1, "M")).astype("datetime64[ms]")),
                requests_per_month,
                {**dict(env_kwargs or {}), parameter: float(value)},
                str(month),
            )
        )
    return DriftSchedule(tuple(periods))


DEFAULT_STEP_DAYS: Mapping[str, tuple[float, float]] = {
    "request_evidence": (1.0, 5.0),
    "human_review": (0.5, 2.0),
}
"""Bounds in days of the steps that wait for people: a requester's evidence, a
reviewer's queue. Every other action (approvals, denials, invalid actions)
takes :attr:`WorkflowClock.other_days`."""


@dataclass(frozen=True)
class WorkflowClock:
    """How long each workflow step takes, and when a request must be closed by.

    Attributes:
        step_days: ``{action name: (low, high)}`` bounds in days of a step's
            duration, drawn uniformly; actions not named take ``other_days``.
        other_days: Bounds for every other action.
        follow_up_days: Every request must close within this many days of its
            arrival; a log's complete cohort is then the requests that arrived
            at least this long before the log stops. None (the default): the
            longest any request can take (:meth:`longest_route_days`), so the
            cohort is complete by construction. A number: collection checks it
            and raises if a request takes longer.
        evidence_action: The action whose result is the requester's evidence:
            when it leads to a non-terminal state, the evidence arrived at that
            step's end (``evidence_at`` in the outcome log). None: no evidence.

    Raises:
        TypeError: If a bound or ``follow_up_days`` is not a real number.
        ValueError: Unless every bound satisfies ``0 < low <= high`` and
            ``follow_up_days`` is positive.
    """

    step_days: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_STEP_DAYS)
    )
    other_days: tuple[float, float] = (0.01, 0.1)
    follow_up_days: float | None = None
    evidence_action: str | None = "request_evidence"

    def __post_init__(self) -> None:
        """Check every bound is ``0 < low <= high``."""
        bounds = {**dict(self.step_days), "other_days": self.other_days}
        for name, (low, high) in bounds.items():
            low = check_real(f"{name} low", low, low=0.0, low_open=True)
            if not low <= check_real(f"{name} high", high):
                raise ValueError(
                    f"step duration bounds for {name!r} must satisfy 0 < low <= high, "
                    f"got ({low}, {high})"
                )
        if self.follow_up_days is not None:
            object.__setattr__(
                self,
                "follow_up_days",
                check_real(
                    "follow_up_days", self.follow_up_days, low=0.0, low_open=True
                ),
            )
        object.__setattr__(self, "step_days", dict(self.step_days))

    def bounds_ms(self, action_names: Sequence[str]) -> NDArray[np.int64]:
        """``(A, 2)`` duration bounds in milliseconds per action index."""
        return np.array(
            [
                [
                    round(x * MS_PER_DAY)
                    for x in self.step_days.get(name, self.other_days)
                ]
                for name in action_names
            ],
            dtype=np.int64,
        )

    def durations(
        self,
        actions: NDArray[np.integer[Any]],
        action_names: Sequence[str],
        rng: np.random.Generator,
    ) -> NDArray[np.int64]:
        """``(N,)`` a random duration in milliseconds for each step's action."""
        bounds = self.bounds_ms(action_names)[actions]
        return np.asarray(
            rng.integers(bounds[:, 0], bounds[:, 1], endpoint=True), dtype=np.int64
        )

    def longest_route_ms(self, mdp: TabularMDP, behaviour: BehaviourPolicy) -> int:
        """The longest a request can take under ``behaviour`` on ``mdp``, in ms.

        Every route the behaviour can take from a start state, each step at
        its longest duration, cut at the task's time limit (``mdp.horizon``).
        On AccessReview-v0 a valid route has at most 3 steps (about 7 days
        with the default bounds); on AccessReviewRisk-v0 a behaviour that may
        ask a clear-evidence request for evidence again can repeat that step
        until the time limit, so the bound is the limit's worth of the slowest
        step.

        Args:
            mdp: The task's arrays (only the support of its transitions is read).
            behaviour: The behaviour policy (only its support is read).

        Raises:
            ValueError: If the behaviour can loop forever on a task without a
                time limit: no bound exists; give ``follow_up_days``.
        """
        longest = self.bounds_ms(mdp.action_names)[:, 1]
        live = ~mdp.terminal
        # steps[s, a, s']: the longest step a -> s' from s, -1 where impossible.
        possible = (
            (behaviour.probabilities > 0.0)[:, :, None]
            & (mdp.transitions > 0.0)
            & live[:, None, None]
        )
        steps = np.where(possible, longest[None, :, None], -1)
        remaining = np.zeros(mdp.n_states, dtype=np.int64)
        for _ in range(mdp.horizon or mdp.n_states + 1):
            # Backward induction over the steps left: the longest time from s.
            totals = np.where(steps >= 0, steps + remaining[None, None, :], 0)
            updated = totals.max(axis=(1, 2))
            if np.array_equal(updated, remaining):
                break
            remaining = updated
        else:
            if mdp.horizon is None:
                raise ValueError(
                    "the behaviour can repeat steps forever on a task without a "
                    "time limit, so no request duration is certain; give "
                    "WorkflowClock(follow_up_days=...)"
                )
        return int(remaining[mdp.initial_distribution > 0].max())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "step_days": {k: list(v) for k, v in self.step_days.items()},
            "other_days": list(self.other_days),
            "follow_up_days": self.follow_up_days,
            "evidence_action": self.evidence_action,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowClock:
        """Rebuild a clock from :meth:`to_json`'s output."""
        follow_up = data["follow_up_days"]
        return cls(
            {k: (float(v[0]), float(v[1])) for k, v in data["step_days"].items()},
            (float(data["other_days"][0]), float(data["other_days"][1])),
            None if follow_up is None else float(follow_up),
            data["evidence_action"],
        )
