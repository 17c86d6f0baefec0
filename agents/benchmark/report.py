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
        if a is None:
            lines.append(f"| {s.agent} | every run failed | | |")
            continue
        failed = f" ({s.failed_runs} failed runs left out)" if s.failed_runs else ""
        lines.append(
            f"| {s.agent}{failed} | {_estimate(a.mean)} | {_estimate(a.iqm)} | "
            f"{_estimate(a.optimality_gap)} |"
        )
    names = list(dict.fromkeys(c.name for s in summaries for c in s.configurations))
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
        by_name = {c.name: c for c in s.configurations}
        for name in names:
            c = by_name.get(name)
            if c is None:
                cells.append("-")
                continue
            failed = f", FAILED {c.failed_runs} of {c.runs}" if c.failed_runs else ""
            if c.failed_runs == c.runs:
                cells.append(f"FAILED {c.runs} of {c.runs}")
                continue
            cells.append(
                f"{c.mean_score:.2f} ({c.zero_regret_rate:.0%}; "
                f"{c.violations_per_episode:.2f}{failed})"
            )
        lines.append(f"| {s.agent} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
