"""Figures of the offline story, as PNG files (needs the ``plots`` extra).

Each function draws one figure from data it is given and writes it atomically
with :func:`agents.integrations.plotting.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

# Imported first: it selects matplotlib's Agg backend (or names the extra).
from agents.integrations.plotting import FIGURE_SIZE, save_figure
from agents.offline.lab import TimeOrderedLab
from agents.offline.model import OptimumCurve
from agents.offline.ope import Estimate


def plot_drift_monitor(lab: TimeOrderedLab, path: str | Path) -> Path:
    """Per month: the plan's exact value and its doubly robust estimate (95 %)."""
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    months = np.arange(len(lab.months))
    values = np.array([e.value for e in lab.monthly_estimate])
    low = np.array([e.low for e in lab.monthly_estimate])
    high = np.array([e.high for e in lab.monthly_estimate])
    axis.plot(months, lab.monthly_exact, "k-", label="exact value of the plan")
    axis.errorbar(
        months,
        values,
        yerr=[values - low, high - values],
        fmt="o",
        capsize=3,
        label="doubly robust estimate (95 %)",
    )
    for value, name in (
        (lab.time.predicted, "time split: promised"),
        (lab.random.predicted, "random split: promised"),
    ):
        axis.axhline(value, linestyle=":", linewidth=1)
        axis.annotate(name, (0, value), fontsize=8, va="bottom")
    axis.set_xticks(months, lab.months, rotation=45, fontsize=8)
    axis.set_ylabel("value of the plan (discounted return)")
    axis.set_title(f"Drift: {lab.parameter} from {lab.drift[0]} to {lab.drift[-1]}")
    axis.legend(fontsize=8)
    return save_figure(figure, path)


def plot_estimates(
    estimates: Mapping[str, Estimate], truth: float, path: str | Path
) -> Path:
    """Each estimator's value and interval beside the exact value."""
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    names = list(estimates)
    values = np.array([estimates[n].value for n in names])
    low = np.array([estimates[n].low for n in names])
    high = np.array([estimates[n].high for n in names])
    x = np.arange(len(names))
    axis.errorbar(x, values, yerr=[values - low, high - values], fmt="o", capsize=4)
    axis.axhline(truth, color="k", linestyle="--", label=f"exact value {truth:.2f}")
    axis.set_xticks(x, names)
    axis.set_ylabel("value of the plan on the test period")
    axis.set_title("Off-policy estimates (95 % intervals) against the truth")
    axis.legend()
    return save_figure(figure, path)


def plot_optimum_curves(
    curves: Sequence[tuple[str, OptimumCurve]], path: str | Path
) -> Path:
    """Share of logs whose certainty-equivalent plan is optimal, per budget."""
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    for label, curve in curves:
        rate, low, high = curve.match_rate()
        axis.plot(curve.budgets, rate, marker="o", label=label)
        axis.fill_between(curve.budgets, low, high, alpha=0.2)
    axis.set_xscale("log")
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("logged episodes")
    axis.set_ylabel("share of logs whose plan is optimal (95 % Wilson)")
    axis.set_title("How many logged episodes the plan needs")
    axis.legend()
    return save_figure(figure, path)
