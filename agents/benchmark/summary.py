"""Summaries of one agent's runs: per configuration, and aggregated over the suite.

Besides the scores: the share of seeds with zero regret and its Wilson
interval, the mean regret with its Student's t interval over seeds, how the
policies were scored (their modes) and how many exact values lie outside
their own Monte Carlo interval (:class:`ExactCheck`), and, for agents that
trace their training (ours), learning curves over training episodes: the share
of seeds whose greedy policy is optimal (a sample-complexity curve) and the
exact expected cumulative regret of the behaviour policies.
:func:`hardness_table` gives each configuration's hardness measures, computed
from its table as made.
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
from agents.evaluation.exact import scored_arrays
from agents.evaluation.scoring import CHECK_CONFIDENCE, PolicyScore
from agents.evaluation.statistics import (
    binomial_upper_bound,
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


CHANCE_CONFIDENCE = 0.999
"""Coverage of the binomial bound on disagreements expected by chance."""


@dataclass(frozen=True)
class ExactCheck:
    """How many exact values lie outside their own Monte Carlo interval.

    Each score checks its exact value against its Monte Carlo interval at
    :data:`~agents.evaluation.scoring.CHECK_CONFIDENCE`
    (:attr:`~agents.evaluation.scoring.PolicyScore.exact_outside_mc`). Honest
    exact values fall outside with probability ``1 - CHECK_CONFIDENCE`` each,
    so up to :attr:`expected_at_most` disagreements can be chance; more mean
    an exact value that is not the value of the policy rolled out.

    Attributes:
        checked: Scores with an exact value and an interval.
        disagreements: Those whose exact value lies outside it.
    """

    checked: int
    disagreements: int

    @property
    def expected_at_most(self) -> int:
        """Disagreements chance alone gives at most, at :data:`CHANCE_CONFIDENCE`."""
        return binomial_upper_bound(
            self.checked, 1.0 - CHECK_CONFIDENCE, CHANCE_CONFIDENCE
        )

    @classmethod
    def of(cls, scores: Iterable[PolicyScore]) -> ExactCheck:
        """The check over ``scores``."""
        outcomes = [s.exact_outside_mc for s in scores]
        return cls(
            checked=sum(o is not None for o in outcomes),
            disagreements=sum(o is True for o in outcomes),
        )

    def __add__(self, other: ExactCheck) -> ExactCheck:
        """Both checks together."""
        return ExactCheck(
            self.checked + other.checked, self.disagreements + other.disagreements
        )


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
        cumulative_low: 95 % Student's t interval of that mean over seeds,
            lower end (NaN for one seed).
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
    """Each configuration's hardness, computed from its table as made.

    The env as made (:func:`~agents.evaluation.exact.scored_arrays`): its
    time limit, and the start distribution an episode restarts from in the
    diameter.
    """
    return tuple(
        ConfigurationHardness(
            c.name, hardness(scored_arrays(gym.make(env_id, **c.env_kwargs)))
        )
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
        mean_regret: Mean regret over seeds (exact where the score has an
            exact value), with a 95 % Student's t interval (NaN bounds for
            one seed).
        curves: Learning curves, for agents that trace their training.
        modes: How the runs' policies were scored, each mode once, in order
            of first appearance (``"greedy"``, ``"stochastic"``, ``"sampled"``).
        exact_runs: Scored runs with an exact value.
        exact_check: Exact values against their own Monte Carlo intervals.
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
    modes: tuple[str, ...] = ()
    exact_runs: int = 0
    exact_check: ExactCheck = ExactCheck(0, 0)


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

    @property
    def modes(self) -> tuple[str, ...]:
        """How the agent's policies were scored, each mode once."""
        return tuple(
            dict.fromkeys(mode for c in self.configurations for mode in c.modes)
        )

    @property
    def exact_check(self) -> ExactCheck:
        """Exact values against their Monte Carlo intervals, over the suite."""
        return sum((c.exact_check for c in self.configurations), ExactCheck(0, 0))


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize_configuration(
    name: str, runs: Sequence[RunRecord]
) -> ConfigurationSummary:
    """Statistics of one configuration's successful runs, and its failure count."""
    scores = [r.score for r in runs if r.score is not None and not r.failed]
    scored = [r.score for r in runs if r.score is not None]
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
        modes=tuple(dict.fromkeys(s.mode for s in scored)),
        exact_runs=sum(s.exact_value is not None for s in scores),
        exact_check=ExactCheck.of(scored),
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
