"""The ladder benchmark's figures (``plots`` extra).

:func:`plot_ladder_headline`: per level, each agent's mean share of the
operations rule's gap closed with its 95 % stratified bootstrap interval
(the rule is at 0, the optimum at 1). :func:`plot_ladder_curves`: per level,
each learner's sample-complexity curve, the exact value of its greedy policy
on the same scale against environment steps, mean over seeds with the
seeds' range shaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "the ladder's figures need matplotlib: pip install 'access-review-env[plots]'"
    ) from error

from agents.benchmark.ladder import REFERENCE_ROWS, LadderRecord
from agents.benchmark.ladder_summary import (
    HEADLINE_NAME,
    AgentSummary,
    learners_of,
)
from agents.evaluation.scoring import reference_of
from agents.persistence import write_atomic

_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
_FLOOR = -2.0
"""Lowest value drawn; a mean below it is drawn at it, with its number."""


def plot_ladder_headline(
    summaries: Sequence[AgentSummary], levels: Sequence[str], path: Path
) -> Path:
    """Write the headline figure (see the module docstring) as a PNG."""
    colours = _colours(summaries)
    figure, axes = plt.subplots(
        1, len(levels), figsize=(4.2 * len(levels), 4.6), squeeze=False
    )
    for axis, level in zip(axes[0], levels, strict=True):
        rows = [s for s in summaries if s.level == level and s.agent != "random"]
        rows.sort(key=lambda s: s.headline[0])
        for y, s in enumerate(rows):
            mean, (low, high) = s.headline
            reference = s.agent in REFERENCE_ROWS
            colour = colours.get(s.agent, "#777777")
            shown = max(mean, _FLOOR)
            if not math.isnan(low):
                axis.plot(
                    [max(low, _FLOOR), max(high, _FLOOR)], [y, y], color=colour, lw=3
                )
            axis.plot(
                [shown], [y], "s" if reference else "o", color=colour, markersize=7
            )
            if mean < _FLOOR:
                axis.annotate(
                    f"{mean:.1f}",
                    (shown, y),
                    xytext=(4, 4),
                    textcoords="offset points",
                    fontsize=8,
                )
        axis.set_yticks(range(len(rows)), [s.agent for s in rows])
        axis.axvline(0.0, color="#999999", lw=0.8, ls="--")
        axis.axvline(1.0, color="#999999", lw=0.8, ls="--")
        axis.set_xlim(_FLOOR - 0.1, 1.15)
        budget = rows[0].budget if rows else 0
        axis.set_title(f"{level} ({budget:,} steps)")
        axis.set_xlabel(HEADLINE_NAME + "\n(rule 0, optimum 1; 95 % CI)")
    figure.tight_layout()
    return _save(figure, path)


def plot_ladder_curves(
    records: Sequence[LadderRecord],
    summaries: Sequence[AgentSummary],
    levels: Sequence[str],
    path: Path,
) -> Path:
    """Write the sample-complexity figure (see the module docstring) as a PNG."""
    learners = learners_of(summaries)
    colours = _colours(summaries)
    figure, axes = plt.subplots(
        1, len(levels), figsize=(4.2 * len(levels), 4.0), squeeze=False
    )
    for axis, level in zip(axes[0], levels, strict=True):
        reference = reference_of("AccessReviewQueue-v0", {"level": level})
        rule = reference.baseline_value
        assert rule is not None
        gap = reference.optimal_value - rule
        for agent in learners:
            runs = [
                r
                for r in records
                if r.agent == agent and r.level == level and len(r.curve_steps) > 1
            ]
            if not runs:
                continue
            length = min(len(r.curve_steps) for r in runs)
            steps = np.mean([r.curve_steps[:length] for r in runs], axis=0)
            closed = (np.array([r.curve_values[:length] for r in runs]) - rule) / gap
            closed = np.maximum(closed, _FLOOR)
            colour = colours[agent]
            axis.plot(steps, closed.mean(axis=0), color=colour, label=agent, lw=1.6)
            axis.fill_between(
                steps, closed.min(axis=0), closed.max(axis=0), color=colour, alpha=0.15
            )
        axis.axhline(0.0, color="#999999", lw=0.8, ls="--")
        axis.axhline(1.0, color="#999999", lw=0.8, ls="--")
        axis.set_xscale("symlog", linthresh=1_000)
        axis.set_xlim(left=0)
        axis.set_ylim(_FLOOR - 0.1, 1.1)
        axis.set_title(level)
        axis.set_xlabel("environment steps")
    axes[0][0].set_ylabel("greedy policy: rule's gap closed")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return _save(figure, path)


def _colours(summaries: Sequence[AgentSummary]) -> dict[str, str]:
    """One colour per learner, the same in every figure; references are grey."""
    return {
        agent: _COLOURS[i % len(_COLOURS)]
        for i, agent in enumerate(learners_of(summaries))
    }


def _save(figure: Any, path: Path) -> Path:
    write_atomic(path, lambda stream: figure.savefig(stream, dpi=110, format="png"))
    plt.close(figure)
    return path
