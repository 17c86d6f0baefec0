"""Summaries of one agent's runs: per configuration, and aggregated over the suite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.benchmark.runner import RunRecord, score_matrix
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


@dataclass(frozen=True)
class AgentSummary:
    """One agent over a suite."""

    agent: str
    aggregate: Aggregate
    configurations: tuple[ConfigurationSummary, ...]


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize_configuration(
    name: str, runs: Sequence[RunRecord]
) -> ConfigurationSummary:
    """Statistics of one configuration's runs."""
    scores = np.array([r.score.normalized_score for r in runs])
    reached = [
        r.steps_to_zero_regret for r in runs if r.steps_to_zero_regret is not None
    ]
    return ConfigurationSummary(
        name=name,
        mean_score=float(scores.mean()),
        iqm_score=interquartile_mean(scores[None, :]),
        zero_regret_rate=float(np.mean([abs(r.score.regret) <= 1e-9 for r in runs])),
        optimal_in_every_state_rate=float(
            np.mean(
                [
                    r.score.agreement is not None
                    and bool(r.score.agreement)
                    and all(r.score.agreement.values())
                    for r in runs
                ]
            )
        ),
        violations_per_episode=_nanmean([r.score.violations_per_episode for r in runs]),
        invalid_action_rate=_nanmean([r.score.invalid_action_rate for r in runs]),
        crashed_runs=sum(r.score.crashed for r in runs),
        median_steps_to_zero_regret=float(np.median(reached)) if reached else None,
    )


def summarize(records: Sequence[RunRecord], rng: np.random.Generator) -> AgentSummary:
    """Per-configuration and aggregate statistics of one agent's records."""
    names, scores = score_matrix(records)
    estimates = []
    for statistic in (mean_score, interquartile_mean, optimality_gap):
        low, high = stratified_bootstrap_ci(scores, statistic, rng)
        estimates.append(Estimate(statistic(scores), low, high))
    return AgentSummary(
        agent=records[0].agent,
        aggregate=Aggregate(*estimates),
        configurations=tuple(
            summarize_configuration(
                name, [r for r in records if r.configuration == name]
            )
            for name in names
        ),
    )
