"""Summaries of one agent's runs: per configuration, and aggregated over the suite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.benchmark.runner import RunRecord, score_rows
from agents.evaluation.statistics import (
    interquartile_mean,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
)


@dataclass(frozen=True)
class Estimate:
    """A statistic and its 95 % stratified bootstrap interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Aggregate:
    """Normalized scores over every configuration and seed (rliable's estimators)."""

    mean: Estimate
    iqm: Estimate
    optimality_gap: Estimate


@dataclass(frozen=True)
class ConfigurationSummary:
    """One configuration's runs of one agent.

    Attributes:
        name: The configuration.
        mean_score: Mean normalized score.
        iqm_score: Interquartile mean of the normalized scores.
        zero_regret_rate: Share of seeds with zero regret.
        optimal_in_every_state_rate: Share of seeds whose policy picks an
            optimal action in every non-terminal state, visited or not.
        violations_per_episode: Mean policy violations per episode.
        invalid_action_rate: Mean invalid actions per step.
        crashed_runs: Runs whose policy took an action the env refused.
        median_steps_to_zero_regret: Median training steps to zero regret, over
            the runs that reached it (None when none did or none reported).
        failed_runs: Runs that failed (the statistics above leave them out).
        runs: All runs of this configuration, failed ones included.
    """

    name: str
    mean_score: float
    iqm_score: float
    zero_regret_rate: float
    optimal_in_every_state_rate: float
    violations_per_episode: float
    invalid_action_rate: float
    crashed_runs: int
    median_steps_to_zero_regret: float | None
    failed_runs: int = 0
    runs: int = 0


@dataclass(frozen=True)
class AgentSummary:
    """One agent over a suite.

    Attributes:
        agent: The agent's name.
        aggregate: Aggregates over every successful run; None if every run failed.
        configurations: One summary per configuration.
        errors: One line per failed run: configuration, seed and error.
    """

    agent: str
    aggregate: Aggregate | None
    configurations: tuple[ConfigurationSummary, ...]
    errors: tuple[str, ...] = ()

    @property
    def failed_runs(self) -> int:
        """Failed runs over every configuration."""
        return sum(c.failed_runs for c in self.configurations)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize_configuration(
    name: str, runs: Sequence[RunRecord]
) -> ConfigurationSummary:
    """Statistics of one configuration's successful runs, and its failure count."""
    scores = [r.score for r in runs if r.score is not None and not r.failed]
    reached = [
        r.steps_to_zero_regret
        for r in runs
        if r.steps_to_zero_regret is not None and not r.failed
    ]
    nan = float("nan")
    normalized = np.array([s.normalized_score for s in scores])
    return ConfigurationSummary(
        name=name,
        mean_score=float(normalized.mean()) if scores else nan,
        iqm_score=interquartile_mean(normalized[None, :]) if scores else nan,
        zero_regret_rate=float(np.mean([abs(s.regret) <= 1e-9 for s in scores]))
        if scores
        else nan,
        optimal_in_every_state_rate=float(
            np.mean(
                [
                    s.agreement is not None
                    and bool(s.agreement)
                    and all(s.agreement.values())
                    for s in scores
                ]
            )
        )
        if scores
        else nan,
        violations_per_episode=_nanmean([s.violations_per_episode for s in scores]),
        invalid_action_rate=_nanmean([s.invalid_action_rate for s in scores]),
        crashed_runs=sum(r.score is not None and r.score.crashed for r in runs),
        median_steps_to_zero_regret=float(np.median(reached)) if reached else None,
        failed_runs=sum(r.failed for r in runs),
        runs=len(runs),
    )


def summarize(records: Sequence[RunRecord], rng: np.random.Generator) -> AgentSummary:
    """Per-configuration and aggregate statistics of one agent's records.

    Failed runs are counted and listed, and left out of every statistic.
    """
    _, rows = score_rows(records)
    aggregate = None
    if rows:
        estimates = []
        for statistic in (mean_score, interquartile_mean, optimality_gap):
            low, high = stratified_bootstrap_ci(rows, statistic, rng)
            estimates.append(Estimate(statistic(rows), low, high))
        aggregate = Aggregate(*estimates)
    all_names = list(dict.fromkeys(r.configuration for r in records))
    return AgentSummary(
        agent=records[0].agent,
        aggregate=aggregate,
        configurations=tuple(
            summarize_configuration(
                name, [r for r in records if r.configuration == name]
            )
            for name in all_names
        ),
        errors=tuple(
            f"{r.configuration} (seed {r.seed}): {r.error}" for r in records if r.failed
        ),
    )
