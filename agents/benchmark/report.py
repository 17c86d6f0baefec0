"""The benchmark's tables, as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from agents.benchmark.summary import AgentSummary, Estimate


def _estimate(estimate: Estimate) -> str:
    return f"{estimate.value:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


def markdown(summaries: Sequence[AgentSummary]) -> str:
    """An aggregate table and a per-configuration table."""
    lines = [
        "| agent | mean score [95% CI] | IQM [95% CI] | optimality gap [95% CI] |",
        "|---|---|---|---|",
    ]
    for s in summaries:
        a = s.aggregate
        lines.append(
            f"| {s.agent} | {_estimate(a.mean)} | {_estimate(a.iqm)} | "
            f"{_estimate(a.optimality_gap)} |"
        )
    names = [c.name for c in summaries[0].configurations]
    lines += [
        "",
        "Mean normalized score per configuration (share of seeds with zero regret; "
        "violations per episode):",
        "",
        "| agent | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for s in summaries:
        cells = []
        for c in s.configurations:
            crashed = f", {c.crashed_runs} crashed" if c.crashed_runs else ""
            cells.append(
                f"{c.mean_score:.2f} ({c.zero_regret_rate:.0%}; "
                f"{c.violations_per_episode:.2f}{crashed})"
            )
        lines.append(f"| {s.agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
