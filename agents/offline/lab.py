"""The lesson's practice task 4 as a lab: a time-ordered held-out sample under drift.

The world drifts (the abandonment probability rises month by month), a router
logs a year of requests, and a plan is fitted on the past. A random split puts
requests from every month in train and test alike, so its held-out estimate
agrees with what training promised, and the drift stays hidden; it also leaks
the future (:func:`~agents.offline.split.check_split` refuses it). The
time-ordered split holds out the last months: its held-out estimate is lower
than promised, close to the exact value on those months, and so exposes the
drift before deployment. :func:`time_ordered_lab` runs it and returns the
figures; ``scripts/lesson.py`` and ``scripts/offline.py`` print them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from access_review_env import ENV_ID
from agents.offline.behaviour import tabulate_policy, uniform_policy
from agents.offline.clock import Period, monthly_drift
from agents.offline.collection import collect, task_arrays
from agents.offline.logs import Episodes, LogMetadata, OfflineLog, join
from agents.offline.model import (
    estimate_model,
    exact_value,
    period_index,
    plan,
    sample_value,
)
from agents.offline.ope import Estimate, doubly_robust
from agents.offline.split import (
    LeakageError,
    Split,
    check_split,
    decision_features,
    random_split,
    time_split,
)
from agents.planning import value_iteration

DEFAULT_DRIFT = tuple(round(0.06 * month / 11, 4) for month in range(12))
"""Abandonment probability per month: 0 in January to 0.06 in December. The
optimal first action flips from request_evidence to human_review at 5/113
(about 0.044), in October."""
CANDIDATE_FEATURES = (
    "state",
    "valid_actions",
    "evidence_at",
    "outcome",
    "next_state",
)


@dataclass(frozen=True)
class SplitResult:
    """One split's story.

    Attributes:
        kind: ``"time"`` or ``"random"``.
        plan: The plan fitted on train: ``"state: action"`` per live state.
        policy: The same plan as ``(S,)`` action indices.
        n_train: Training episodes.
        n_validation: Validation episodes.
        n_test: Test episodes.
        predicted: The plan's value on the model fitted to train (what
            training promises).
        validation: Doubly robust estimate of the plan on validation.
        held_out: Doubly robust estimate of the plan on test.
        future: The plan's exact value on the requests of the last months
            (the future it will be deployed into).
        leakage: Why :func:`~agents.offline.split.check_split` refused the
            split, or None.
    """

    kind: str
    plan: list[str]
    policy: list[int]
    n_train: int
    n_validation: int
    n_test: int
    predicted: float
    validation: Estimate
    held_out: Estimate
    future: float
    leakage: str | None

    @property
    def surprise(self) -> float:
        """How far the held-out estimate falls below the promise."""
        return self.predicted - self.held_out.value


@dataclass(frozen=True)
class TimeOrderedLab:
    """Figures of :func:`time_ordered_lab`.

    Attributes:
        months: Month labels.
        drift: The drifting parameter per month.
        parameter: Its env keyword.
        monthly_optimal_first: The optimal first action per month.
        monthly_exact: Exact value of the time split's plan per month.
        monthly_estimate: Doubly robust estimate of it per month (the monitor).
        time: The time-ordered split.
        random: The random split.
        accepted_features: Features known at decision time.
        rejected_features: Feature -> the leakage check's message.
        n_episodes: Complete episodes in the log.
        n_open: Requests still open when the log stopped (left out).
    """

    months: list[str]
    drift: list[float]
    parameter: str
    monthly_optimal_first: list[str]
    monthly_exact: list[float]
    monthly_estimate: list[Estimate]
    time: SplitResult
    random: SplitResult
    accepted_features: list[str]
    rejected_features: dict[str, str]
    n_episodes: int
    n_open: int

    def to_json(self) -> dict[str, Any]:
        """Every figure as plain Python."""
        return asdict(self)

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """``(header, rows)``: one row per split, for a lesson-style table."""
        header = [
            "split",
            "plan",
            "promised",
            "held-out DR",
            "95% interval",
            "exact future",
            "leaks the future",
        ]
        rows = [
            [
                result.kind,
                ", ".join(result.plan),
                round(result.predicted, 2),
                round(result.held_out.value, 2),
                f"[{result.held_out.low:.2f}, {result.held_out.high:.2f}]",
                round(result.future, 2),
                "yes" if result.leakage else "no",
            ]
            for result in (self.time, self.random)
        ]
        return header, rows


def _names(metadata: LogMetadata, policy: np.ndarray[Any, Any]) -> list[str]:
    terminal = set(metadata.terminal_states)
    return [
        f"{metadata.state_names[s]}: {metadata.action_names[int(a)]}"
        for s, a in enumerate(policy)
        if s not in terminal
    ]


def _fit(part: Episodes, metadata: LogMetadata) -> tuple[np.ndarray[Any, Any], float]:
    model = estimate_model(part, metadata.task)
    policy = plan(model)
    return policy, exact_value(model.to_mdp("exclude"), policy)


def _split_result(
    split: Split, metadata: LogMetadata, future: Episodes, mdp: Any
) -> SplitResult:
    policy, predicted = _fit(split.train, metadata)
    target = tabulate_policy(mdp, policy)
    try:
        check_split(split)
        leakage = None
    except LeakageError as error:
        leakage = str(error)
    return SplitResult(
        kind=split.kind,
        plan=_names(metadata, policy),
        policy=[int(a) for a in policy],
        n_train=split.train.n_episodes,
        n_validation=split.validation.n_episodes,
        n_test=split.test.n_episodes,
        predicted=predicted,
        validation=doubly_robust(split.validation, target),
        held_out=doubly_robust(split.test, target),
        future=sample_value(future.arrived_at, metadata, policy),
        leakage=leakage,
    )


def time_ordered_lab(
    seed: int = 0,
    requests_per_month: int = 20_000,
    drift: Sequence[float] = DEFAULT_DRIFT,
    parameter: str = "abandonment_prob",
    validation_month: int = 8,
    test_month: int = 10,
    env_id: str = ENV_ID,
    start: str = "2025-01",
) -> TimeOrderedLab:
    """Run the time-ordered held-out lab and return its figures.

    A uniform behaviour policy over the valid actions logs one month per value
    of ``drift``; then :func:`split_lab` compares the two splits.

    Args:
        seed: Seeds the log and the random split.
        requests_per_month: Requests per month.
        drift: The drifting parameter's value per month.
        parameter: The env keyword that drifts.
        validation_month: Index of the first validation month.
        test_month: Index of the first test month.
        env_id: The task.
        start: The first month, ``"YYYY-MM"``.

    Raises:
        ValueError: If the month indices do not fit the drift.
    """
    if not 0 < validation_month < test_month < len(drift):
        raise ValueError(
            "need 0 < validation_month < test_month < len(drift), got "
            f"{validation_month}, {test_month}, {len(drift)}"
        )
    schedule = monthly_drift(drift, requests_per_month, parameter, start)
    mdp = task_arrays(env_id, schedule.periods[0].env_kwargs)
    log = collect(env_id, uniform_policy(mdp), schedule, seed)
    return split_lab(log, validation_month, test_month, seed, parameter)


def split_lab(
    log: OfflineLog,
    validation_month: int,
    test_month: int,
    seed: int = 0,
    parameter: str = "abandonment_prob",
) -> TimeOrderedLab:
    """Compare a time-ordered split with a random one on a log with drift.

    The time split trains on periods before ``validation_month``, validates
    until ``test_month`` and tests on the rest (each boundary with the log's
    follow-up window as embargo); the random split shuffles the same episodes
    in the same proportions. Each split fits a model on train, plans on it, and
    estimates the plan's value on its test part (doubly robust); both are
    compared with the plan's exact value on the time split's test periods.

    Args:
        log: A log whose schedule has one period per month.
        validation_month: Index of the first validation period.
        test_month: Index of the first test period.
        seed: Seeds the random split.
        parameter: The env keyword that drifts (for the figures).

    Raises:
        ValueError: If the period indices do not fit the schedule.
    """
    metadata = log.metadata
    periods = [Period.from_json(p) for p in metadata.schedule]
    n = len(periods)
    if not 0 < validation_month < test_month < n:
        raise ValueError(
            "need 0 < validation_month < test_month < number of periods, got "
            f"{validation_month}, {test_month}, {n}"
        )
    episodes = join(log)
    mdp = task_arrays(metadata.env_id, periods[0].env_kwargs)
    split = time_split(
        episodes,
        periods[validation_month].start,
        periods[test_month].start,
        metadata.follow_up_days,
    )
    fractions = (
        validation_month / n,
        (test_month - validation_month) / n,
        (n - test_month) / n,
    )
    shuffled = random_split(episodes, np.random.default_rng(seed + 1), fractions)
    future = split.test
    time_result = _split_result(split, metadata, future, mdp)
    random_result = _split_result(shuffled, metadata, future, mdp)

    time_policy = np.array(time_result.policy)
    target = tabulate_policy(mdp, time_policy)
    month_of = period_index(episodes.arrived_at, metadata.schedule)
    monthly_exact, monthly_estimate, monthly_first = [], [], []
    for index, period in enumerate(periods):
        world = task_arrays(metadata.env_id, period.env_kwargs)
        monthly_exact.append(exact_value(world, time_policy))
        monthly_estimate.append(
            doubly_robust(episodes.select(month_of == index), target)
        )
        best = value_iteration(world).policy
        start_state = int(np.argmax(world.initial_distribution))
        monthly_first.append(metadata.action_names[int(best[start_state])])

    accepted, rejected = [], {}
    for name in CANDIDATE_FEATURES:
        try:
            decision_features(split.train, [name])
            accepted.append(name)
        except LeakageError as error:
            rejected[name] = str(error)
    return TimeOrderedLab(
        months=[period.name for period in periods],
        drift=[float(p.env_kwargs.get(parameter, float("nan"))) for p in periods],
        parameter=parameter,
        monthly_optimal_first=monthly_first,
        monthly_exact=monthly_exact,
        monthly_estimate=monthly_estimate,
        time=time_result,
        random=random_result,
        accepted_features=accepted,
        rejected_features=rejected,
        n_episodes=episodes.n_episodes,
        n_open=episodes.n_open,
    )
