"""The benchmark's tables, as Markdown."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from agents.benchmark.summary import (
    CHANCE_CONFIDENCE,
    AgentSummary,
    ConfigurationHardness,
    ConfigurationSummary,
    Estimate,
    ExactCheck,
)
from agents.common.markdown_table import markdown_table
from agents.evaluation.scoring import CHECK_CONFIDENCE


def _estimate(estimate: Estimate) -> str:
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


def _per_configuration(
    title: str,
    summaries: Sequence[AgentSummary],
    text: Callable[[ConfigurationSummary], str],
    close: str = "",
) -> list[str]:
    """A table of one cell per (agent, configuration) under ``title``.

    A cell is ``text(c)``, then the failed runs, then ``close``; ``-`` where an
    agent has no such configuration, and ``FAILED n of n`` where every run
    failed.
    """
    names = list(dict.fromkeys(c.name for s in summaries for c in s.configurations))
    rows = []
    for s in summaries:
        by_name = {c.name: c for c in s.configurations}
        cells = []
        for name in names:
            c = by_name.get(name)
            if c is None:
                cells.append("-")
            elif c.failed_runs == c.runs:
                cells.append(f"FAILED {c.runs} of {c.runs}")
            else:
                failed = (
                    f", FAILED {c.failed_runs} of {c.runs}" if c.failed_runs else ""
                )
                cells.append(text(c) + failed + close)
        rows.append([s.agent, *cells])
    return [title, "", markdown_table(["agent", *names], rows)]


def aggregate_table(summaries: Sequence[AgentSummary]) -> list[str]:
    """Mean, IQM and optimality gap over the suite, per agent."""
    rows = []
    for s in summaries:
        a = s.aggregate
        if a is None:
            rows.append([s.agent, "every run failed", "", ""])
            continue
        failed = f" ({s.failed_runs} failed runs left out)" if s.failed_runs else ""
        rows.append(
            [
                s.agent + failed,
                _estimate(a.mean),
                _estimate(a.iqm),
                _estimate(a.optimality_gap),
            ]
        )
    headers = [
        "agent",
        "mean score [95% CI]",
        "IQM [95% CI]",
        "optimality gap [95% CI]",
    ]
    return [markdown_table(headers, rows)]


def _check(check: ExactCheck) -> str:
    return (
        f"{check.disagreements:,} of {check.checked:,} (chance: at most "
        f"{check.expected_at_most:,})"
    )


def scoring_table(summaries: Sequence[AgentSummary]) -> list[str]:
    """How each agent was scored, and its exact values against its rollouts.

    Per agent: the modes its policies were scored in, the runs with an exact
    value, and the exact values outside their own Monte Carlo interval; then
    one line with the count over every agent.
    """
    rows = []
    for s in summaries:
        runs = sum(c.runs - c.failed_runs for c in s.configurations)
        exact = sum(c.exact_runs for c in s.configurations)
        rows.append(
            [
                s.agent,
                ", ".join(s.modes) or "-",
                f"{exact:,} of {runs:,}",
                _check(s.exact_check),
            ]
        )
    headers = ["agent", "mode", "exact values", "outside their MC interval"]
    total = sum((s.exact_check for s in summaries), ExactCheck(0, 0))
    return [
        "How each agent was scored (greedy: its deterministic answer in every "
        "state; stochastic: its stated action probabilities; sampled: it "
        "answered differently, Monte Carlo only), runs with an exact value, and "
        f"exact values outside their own {CHECK_CONFIDENCE:.2%} Monte Carlo "
        f"interval (chance: the {CHANCE_CONFIDENCE:.1%} binomial bound):",
        "",
        markdown_table(headers, rows, "lllr"),
        "",
        f"Exact values outside their own Monte Carlo interval: {_check(total)}.",
    ]


def score_table(summaries: Sequence[AgentSummary]) -> list[str]:
    """Mean normalized score, zero-regret share and violations per configuration."""
    return _per_configuration(
        "Mean normalized score per configuration (share of seeds with zero "
        "regret; violations per episode):",
        summaries,
        lambda c: (
            f"{c.mean_score:.2f} ({c.zero_regret_rate:.0%}; "
            f"{c.violations_per_episode:.2f}"
        ),
        close=")",
    )


def _zero_regret(c: ConfigurationSummary) -> str:
    z = c.zero_regret
    if z is None:
        return ""
    return f"{z.share:.1%} [{z.low:.1%}, {z.high:.1%}] of {z.trials:,}"


def zero_regret_table(summaries: Sequence[AgentSummary]) -> list[str]:
    """The share of seeds with zero regret and its Wilson 95 % interval."""
    return _per_configuration(
        "Share of seeds whose final policy has zero regret [Wilson 95% interval]:",
        summaries,
        _zero_regret,
    )


def _training(c: ConfigurationSummary) -> str:
    if c.curves is None:
        return "-"
    final = c.curves.final_cumulative
    reached = c.curves.episodes_to_share(0.9)
    return f"{final.value:,.0f} [{final.low:,.0f}, {final.high:,.0f}]; " + (
        "never" if reached is None else f"{reached:,}"
    )


def training_table(summaries: Sequence[AgentSummary]) -> list[str]:
    """For agents that trace training: cumulative regret, episodes to 90 % optimal."""
    traced = [s for s in summaries if any(c.curves for c in s.configurations)]
    if not traced:
        return []
    return _per_configuration(
        "Training, for agents that trace it: exact expected cumulative regret of "
        "the behaviour policies over all training episodes (mean over seeds "
        "[95% CI]); episodes from which at least 90% of seeds' greedy policy "
        "is optimal:",
        traced,
        _training,
    )


def hardness_rows(hardness: Sequence[ConfigurationHardness]) -> list[str]:
    """Each configuration's gaps and diameter."""
    lines = [
        "Hardness of each configuration, from its table as registered (smallest "
        "sub-optimality gap V*(s) - Q*(s, a) and where; sum of 1/gap over "
        "positive gaps; diameter with restarts):",
        "",
    ]
    rows = []
    for entry in hardness:
        h = entry.hardness
        where = f" ({h.gap_names[0]}, {h.gap_names[1]})" if h.gap_names else ""
        diameter = (
            "not computed"
            if h.diameter is None
            else "inf"
            if math.isinf(h.diameter)
            else f"{h.diameter:.3f}"
        )
        rows.append(
            [
                entry.name,
                f"{h.smallest_gap:.3f}{where}",
                f"{h.inverse_gap_sum:.3f}",
                diameter,
            ]
        )
    headers = [
        "configuration",
        "smallest gap (state, action)",
        "sum of 1/gap",
        "diameter",
    ]
    lines.append(markdown_table(headers, rows, "llrr"))
    return lines


def markdown(
    summaries: Sequence[AgentSummary],
    hardness: Sequence[ConfigurationHardness] = (),
) -> str:
    """Every table, as Markdown.

    Aggregates, how each agent was scored (with the count of exact values
    outside their Monte Carlo interval), scores per configuration, zero-regret
    shares, training (for agents that trace it) and, when given, the
    configurations' hardness.
    """
    sections = [
        aggregate_table(summaries),
        scoring_table(summaries),
        score_table(summaries),
        zero_regret_table(summaries),
        training_table(summaries),
        hardness_rows(hardness) if hardness else [],
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines)
