"""The ladder's aggregates: rliable's statistics, stratified bootstrap intervals.

For each level and agent, over its seeds: the mean, the interquartile mean
(IQM: the mean of the middle 50 %, :func:`iqm`) and the
optimality gap (``mean(max(1 - x, 0))``), each with a 95 % percentile
bootstrap interval (Agarwal et al., 2021, "Deep reinforcement learning at the
edge of the statistical precipice"). Across levels the bootstrap is
stratified: each resample draws the runs of every level from that level's
own runs, as rliable's ``StratifiedBootstrap`` does. It is implemented here
with NumPy (a few lines) rather than by the ``rliable`` package, whose
dependencies (``arch``, ``seaborn``) the project does not otherwise need.

The headline scale (:data:`HEADLINE`) is the share of the operations rule's
gap to the optimum a policy closes, ``(V^pi - V_rule) / (V* - V_rule)``: on
every level the rule already scores 0.85 to 0.87 on the normalized score
(0 random, 1 optimum), so that scale compresses every sensible policy into
its top seventh; the normalized score is reported beside it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agents.benchmark.ladder import LEARNERS, REFERENCE_ROWS, LadderRecord

HEADLINE = "baseline_gap_closed"
"""The score field the headline aggregates (see the module docstring)."""

HEADLINE_NAME = "share of the operations rule's gap closed"

BOOTSTRAP_SAMPLES = 5_000
"""Resamples of each bootstrap interval."""

CONFIDENCE = 0.95

SPREAD_GOAL = 0.3
"""Best minus worst learner's mean on the headline scale that the goal asks."""

SEPARATED_PAIRS_GOAL = 2
"""Pairs of learners with disjoint 95 % intervals that the goal asks."""

Interval = tuple[float, float]


def iqm(x: NDArray[np.float64]) -> float:
    """Interquartile mean: ``int(n / 4)`` values cut from each end.

    As SciPy's ``trim_mean(x, 0.25)``, which rliable uses, cuts them.
    """
    ordered = np.sort(np.ravel(x))
    cut = int(0.25 * ordered.size)
    return float(ordered[cut : ordered.size - cut].mean())


def optimality_gap(x: NDArray[np.float64]) -> float:
    """``mean(max(1 - x, 0))``: how far below the optimum, on average."""
    return float(np.mean(np.maximum(1.0 - x, 0.0)))


STATISTICS = {"mean": lambda x: float(np.mean(x)), "iqm": iqm, "gap": optimality_gap}


def stratified_bootstrap(
    strata: Sequence[NDArray[np.float64]],
    statistic: str,
    rng: np.random.Generator,
    samples: int = BOOTSTRAP_SAMPLES,
) -> tuple[float, Interval]:
    """The statistic of all runs together and its percentile interval.

    Args:
        strata: Each level's scores ``(n_runs,)``; each resample draws
            ``n_runs`` of each with replacement.
        statistic: ``"mean"``, ``"iqm"`` or ``"gap"``.
        rng: The resampling generator.
        samples: Resamples.
    """
    function = STATISTICS[statistic]
    point = function(np.concatenate(strata))
    if sum(len(s) for s in strata) < 2:
        return point, (math.nan, math.nan)
    draws = [
        s[rng.integers(0, len(s), size=(samples, len(s)))] for s in strata if len(s)
    ]
    resampled = np.concatenate(draws, axis=1)
    values = np.array([function(row) for row in resampled])
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return point, (float(low), float(high))


@dataclass(frozen=True)
class AgentSummary:
    """One agent on one level (or on several, ``level="all"``).

    Attributes:
        agent, level: Which.
        n_runs: Runs that gave a score.
        budget: Environment steps per run.
        steps_used: Mean steps the runs trained for (None if unknown).
        value: Mean exact ``V^pi(rho)``.
        normalized: Mean normalized score and its interval.
        headline: Mean on :data:`HEADLINE` and its interval.
        headline_iqm: IQM on it and its interval.
        headline_gap: Optimality gap on it and its interval.
        violations: Mean expected violations per shift.
        operations: Mean of each operations figure.
        seconds: Mean wall time of a run.
        failed: Runs that failed.
    """

    agent: str
    level: str
    n_runs: int
    budget: int
    steps_used: float | None
    value: float
    normalized: tuple[float, Interval]
    headline: tuple[float, Interval]
    headline_iqm: tuple[float, Interval]
    headline_gap: tuple[float, Interval]
    violations: float
    operations: dict[str, float]
    seconds: float
    failed: int


OPERATION_FIGURES = (
    "resolved",
    "mean_wait",
    "abandonment_share",
    "turned_away_share",
)


def headline_of(record: LadderRecord) -> float:
    """The record's score on the headline scale."""
    assert record.score is not None
    value = getattr(record.score, HEADLINE)
    return math.nan if value is None else float(value)


def summarize_ladder(
    records: Sequence[LadderRecord], seed: int = 0
) -> list[AgentSummary]:
    """Per level and agent, then per agent over all levels (stratified)."""
    rng = np.random.default_rng(seed)
    agents = list(dict.fromkeys(r.agent for r in records))
    levels = list(dict.fromkeys(r.level for r in records))
    out = []
    for level, agent in itertools.product([*levels, "all"], agents):
        chosen = [
            r for r in records if r.agent == agent and (level in ("all", r.level))
        ]
        if not chosen:
            continue
        scored = [r for r in chosen if r.score is not None]
        by_level = [[r for r in scored if r.level == name] for name in levels]
        strata = [np.array([headline_of(r) for r in runs]) for runs in by_level if runs]
        normalized = [
            np.array([r.score.normalized_score for r in runs if r.score is not None])
            for runs in by_level
            if runs
        ]
        if not strata:
            continue
        operations = {
            name: float(
                np.mean(
                    [
                        getattr(r.score.operations, name)
                        for r in scored
                        if r.score is not None and r.score.operations is not None
                    ]
                    or [math.nan]
                )
            )
            for name in OPERATION_FIGURES
        }
        used = [r.steps_used for r in scored if r.steps_used is not None]
        out.append(
            AgentSummary(
                agent=agent,
                level=level,
                n_runs=len(scored),
                budget=chosen[0].budget if level != "all" else 0,
                steps_used=float(np.mean(used)) if used else None,
                value=float(
                    np.mean([r.score.exact_value or math.nan for r in scored])  # type: ignore[union-attr]
                ),
                normalized=stratified_bootstrap(normalized, "mean", rng),
                headline=stratified_bootstrap(strata, "mean", rng),
                headline_iqm=stratified_bootstrap(strata, "iqm", rng),
                headline_gap=stratified_bootstrap(strata, "gap", rng),
                violations=float(
                    np.mean([r.score.violations_per_episode for r in scored])  # type: ignore[union-attr]
                ),
                operations=operations,
                seconds=float(np.mean([r.seconds for r in chosen])),
                failed=len(chosen) - len(scored),
            )
        )
    return out


@dataclass(frozen=True)
class Separation:
    """Whether a level's headline separates the learners.

    Attributes:
        level: The level.
        best, worst: The learners of the highest and lowest mean.
        spread: Their difference in mean.
        separated_pairs: Pairs of learners whose 95 % intervals are disjoint.
        met: ``spread >= SPREAD_GOAL`` and at least
            :data:`SEPARATED_PAIRS_GOAL` separated pairs.
    """

    level: str
    best: str
    worst: str
    spread: float
    separated_pairs: tuple[tuple[str, str], ...]
    met: bool


def separation(summaries: Sequence[AgentSummary], level: str) -> Separation | None:
    """How the learners (not the reference rows, nor random) separate on ``level``."""
    rows = [
        s
        for s in summaries
        if s.level == level and s.agent not in (*REFERENCE_ROWS, "random")
    ]
    if len(rows) < 2:
        return None
    rows.sort(key=lambda s: s.headline[0])
    pairs = tuple(
        (a.agent, b.agent)
        for a, b in itertools.combinations(rows, 2)
        if _disjoint(a.headline[1], b.headline[1])
    )
    spread = rows[-1].headline[0] - rows[0].headline[0]
    return Separation(
        level,
        rows[-1].agent,
        rows[0].agent,
        spread,
        pairs,
        spread >= SPREAD_GOAL and len(pairs) >= SEPARATED_PAIRS_GOAL,
    )


def _disjoint(a: Interval, b: Interval) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def _interval(point: tuple[float, Interval]) -> str:
    value, (low, high) = point
    if math.isnan(low):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def ladder_markdown(summaries: Sequence[AgentSummary], levels: Sequence[str]) -> str:
    """The headline table of each level, then the operations figures."""
    lines = []
    for level in [*levels, "all"]:
        rows = [s for s in summaries if s.level == level]
        if not rows:
            continue
        title = (
            f"### Level {level} ({rows[0].budget:,} environment steps per run)"
            if level != "all"
            else "### All levels (stratified bootstrap over levels)"
        )
        lines += [
            title,
            "",
            "| agent | runs | gap closed (mean) | IQM | optimality gap | "
            "normalized | V^pi | violations | resolved/shift | mean wait | "
            "abandoned | turned away | s/run |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in sorted(rows, key=lambda s: -s.headline[0]):
            name = s.agent + (" (reference)" if s.agent in REFERENCE_ROWS else "")
            ops = s.operations
            lines.append(
                f"| {name} | {s.n_runs}{f' ({s.failed} failed)' if s.failed else ''} "
                f"| {_interval(s.headline)} | {_interval(s.headline_iqm)} "
                f"| {_interval(s.headline_gap)} | {_interval(s.normalized)} "
                f"| {s.value:.2f} | {s.violations:.3f} | {ops['resolved']:.1f} "
                f"| {ops['mean_wait']:.1f} | {ops['abandonment_share']:.3f} "
                f"| {ops['turned_away_share']:.3f} | {s.seconds:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def goal_lines(summaries: Sequence[AgentSummary], levels: Sequence[str]) -> list[str]:
    """The goal on the two largest levels, and where the rule stands."""
    lines = []
    for level in levels[-2:]:
        found = separation(summaries, level)
        if found is None:
            continue
        pairs = ", ".join(f"{a} / {b}" for a, b in found.separated_pairs) or "none"
        lines.append(
            f"{level}: best {found.best}, worst {found.worst}, spread "
            f"{found.spread:.3f} on the {HEADLINE_NAME} (goal >= {SPREAD_GOAL}); "
            f"{len(found.separated_pairs)} pairs with disjoint 95 % intervals "
            f"(goal >= {SEPARATED_PAIRS_GOAL}): {pairs}; goal "
            f"{'met' if found.met else 'NOT met'}"
        )
    for level in levels:
        rule = _row(summaries, level, "operations_rule")
        best = _row(summaries, level, "optimum")
        if rule is None or best is None:
            continue
        lines.append(
            f"{level}: the operations rule's V = {rule.value:.2f} against the "
            f"optimum's {best.value:.2f} (regret {best.value - rule.value:.2f}, "
            f"normalized score {rule.normalized[0]:.3f}); it resolves "
            f"{rule.operations['resolved']:.1f} requests a shift with a mean wait "
            f"of {rule.operations['mean_wait']:.1f} steps, the optimum "
            f"{best.operations['resolved']:.1f} with {best.operations['mean_wait']:.1f}"
        )
    return lines


def _row(
    summaries: Sequence[AgentSummary], level: str, agent: str
) -> AgentSummary | None:
    return next((s for s in summaries if s.level == level and s.agent == agent), None)


def learners_of(summaries: Sequence[AgentSummary]) -> list[str]:
    """The learners present, in :data:`LEARNERS` order, then external ones."""
    present = list(dict.fromkeys(s.agent for s in summaries))
    ordered = [a for a in LEARNERS if a in present]
    return ordered + [
        a for a in present if a not in ordered and a not in (*REFERENCE_ROWS, "random")
    ]
