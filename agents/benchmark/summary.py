"""Summaries of one agent's runs: per configuration, and aggregated over the suite.

Besides the scores: the share of seeds with zero regret and its Wilson
interval, the mean regret, and, for agents that trace their training (ours),
learning curves over training episodes: the share of seeds whose greedy policy
is optimal (a sample-complexity curve) and the exact expected cumulative
regret of the behaviour policies. :func:`hardness_table` gives each
configuration's hardness measures, computed from its table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.benchmark.runner import (
    ZERO_REGRET_TOLERANCE,
    RunRecord,
    holds_from,
    is_zero_regret,
    score_rows,
)
from agents.benchmark.suite import Configuration
from agents.evaluation.statistics import (
    interquartile_mean,
    mean_interval,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
    wilson_interval,
)
from agents.planning import Hardness, hardness


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
class Proportion:
    """A share of seeds and its Wilson 95 % interval."""

    successes: int
    trials: int
    low: float
    high: float

    @property
    def share(self) -> float:
        """``successes / trials``."""
        return self.successes / self.trials

    @classmethod
    def of(cls, successes: int, trials: int) -> Proportion:
        """The share with its interval."""
        low, high = wilson_interval(successes, trials)
        return cls(successes, trials, float(low), float(high))


@dataclass(frozen=True)
class LearningCurves:
    """One agent's training on one configuration, over its seeds, at checkpoints.

    Attributes:
        episodes: Training episodes completed at each checkpoint.
        seeds: Seeds behind every point.
        optimal_share: Share of seeds whose greedy policy has zero regret
            there (the sample-complexity curve).
        optimal_low: Its Wilson 95 % interval, lower end.
        optimal_high: Its upper end.
        cumulative_regret: Mean over seeds of the exact expected regret summed
            over the episodes before the checkpoint.
        cumulative_low: 95 % normal interval of that mean, lower end.
        cumulative_high: Its upper end.
        cumulative_p10: 10th percentile over seeds (the spread of seeds).
        cumulative_p90: 90th percentile over seeds.
        behaviour_regret: Mean exact regret of the behaviour policies there.
    """

    episodes: tuple[int, ...]
    seeds: int
    optimal_share: tuple[float, ...]
    optimal_low: tuple[float, ...]
    optimal_high: tuple[float, ...]
    cumulative_regret: tuple[float, ...]
    cumulative_low: tuple[float, ...]
    cumulative_high: tuple[float, ...]
    cumulative_p10: tuple[float, ...]
    cumulative_p90: tuple[float, ...]
    behaviour_regret: tuple[float, ...]

    @property
    def final_cumulative(self) -> Estimate:
        """The cumulative regret at the end of training, with its interval."""
        return Estimate(
            self.cumulative_regret[-1],
            self.cumulative_low[-1],
            self.cumulative_high[-1],
        )

    def episodes_to_share(self, share: float) -> int | None:
        """The first checkpoint from which the optimal share stays >= ``share``."""
        return holds_from(self.episodes, [v >= share for v in self.optimal_share])


def _floats(values: NDArray[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def learning_curves(runs: Sequence[RunRecord]) -> LearningCurves | None:
    """Curves over the successful runs.

    None unless every one has a trace, all at the same checkpoints.
    """
    traces = [r.trace for r in runs if not r.failed]
    complete = [t for t in traces if t is not None]
    if not complete or len(complete) < len(traces):
        return None
    episodes = complete[0].episodes
    if any(t.episodes != episodes for t in complete):
        return None
    n = len(complete)
    greedy = np.array([t.greedy_regret for t in complete])
    cumulative = np.array([t.cumulative_regret for t in complete])
    behaviour = np.array([t.behaviour_regret for t in complete])
    optimal = np.count_nonzero(np.abs(greedy) <= ZERO_REGRET_TOLERANCE, axis=0)
    low, high = wilson_interval(optimal, n)
    mean, mean_low, mean_high = mean_interval(cumulative)
    p10, p90 = np.percentile(cumulative, [10, 90], axis=0)
    return LearningCurves(
        episodes=episodes,
        seeds=n,
        optimal_share=_floats(optimal / n),
        optimal_low=_floats(low),
        optimal_high=_floats(high),
        cumulative_regret=_floats(mean),
        cumulative_low=_floats(mean_low),
        cumulative_high=_floats(mean_high),
        cumulative_p10=_floats(p10),
        cumulative_p90=_floats(p90),
        behaviour_regret=_floats(behaviour.mean(axis=0)),
    )


@dataclass(frozen=True)
class ConfigurationHardness:
    """A configuration and its hardness (see :mod:`agents.planning.hardness`)."""

    name: str
    hardness: Hardness


def hardness_table(
    configurations: Iterable[Configuration], env_id: str
) -> tuple[ConfigurationHardness, ...]:
    """Each configuration's hardness, computed from its table as registered."""
    return tuple(
        ConfigurationHardness(c.name, hardness(gym.make(env_id, **c.env_kwargs)))
        for c in configurations
    )


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
        zero_regret: The seeds with zero regret, with a Wilson 95 % interval.
        mean_regret: Mean exact regret over seeds, with a 95 % normal interval.
        curves: Learning curves, for agents that trace their training.
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
    zero_regret: Proportion | None = None
    mean_regret: Estimate | None = None
    curves: LearningCurves | None = None


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
    zero = (
        Proportion.of(sum(is_zero_regret(s.regret) for s in scores), len(scores))
        if scores
        else None
    )
    regrets = np.array([s.regret for s in scores if np.isfinite(s.regret)])
    return ConfigurationSummary(
        name=name,
        mean_score=float(normalized.mean()) if scores else nan,
        iqm_score=interquartile_mean(normalized[None, :]) if scores else nan,
        zero_regret_rate=zero.share if zero is not None else nan,
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
        zero_regret=zero,
        mean_regret=Estimate(*map(float, mean_interval(regrets)))
        if regrets.size
        else None,
        curves=learning_curves(runs),
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
