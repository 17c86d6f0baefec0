"""Aggregate scores over runs: interquartile mean, optimality gap, stratified bootstrap.

The estimators follow rliable (Agarwal et al., 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"); they are reimplemented here
in NumPy so that the benchmark adds no dependency.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Scores = NDArray[np.float64]
"""``(n_tasks, n_runs)`` normalized scores: rows are configurations, columns seeds."""


def interquartile_mean(scores: Scores) -> float:
    """Mean of the middle half of all scores (``scipy.stats.trim_mean(x, 0.25)``)."""
    flat = np.sort(np.asarray(scores, dtype=float).reshape(-1))
    cut = int(0.25 * flat.size)
    return float(flat[cut : flat.size - cut].mean())


def mean_score(scores: Scores) -> float:
    """Mean of all scores."""
    return float(np.mean(scores))


def optimality_gap(scores: Scores, threshold: float = 1.0) -> float:
    """How far scores fall short of ``threshold`` on average; excess earns nothing."""
    return float(threshold - np.mean(np.minimum(scores, threshold)))


def stratified_bootstrap_ci(
    scores: Scores,
    statistic: Callable[[Scores], float],
    rng: np.random.Generator,
    n_resamples: int = 2_000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` by stratified bootstrap.

    Each resample draws runs with replacement within every task (row)
    separately, so every task keeps its weight.

    Args:
        scores: ``(n_tasks, n_runs)`` scores.
        statistic: Aggregate of a score matrix, e.g. :func:`interquartile_mean`.
        rng: Source of the resampling.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the interval, in (0, 1).

    Raises:
        ValueError: For an empty score matrix or a confidence outside (0, 1).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if scores.size == 0:
        raise ValueError("cannot bootstrap an empty score matrix")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n_tasks, n_runs = scores.shape
    picks = rng.integers(0, n_runs, size=(n_resamples, n_tasks, n_runs))
    resampled = np.take_along_axis(scores[None, :, :], picks, axis=2)
    values = np.array([statistic(sample) for sample in resampled])
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)
