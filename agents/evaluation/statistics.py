"""Aggregate scores over runs: interquartile mean, optimality gap, stratified bootstrap.

The estimators follow rliable (Agarwal et al., 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"); they are reimplemented here
in NumPy so that the benchmark adds no dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

Scores = NDArray[np.float64] | Sequence[NDArray[np.float64]]
"""Normalized scores per task (configuration): a ``(n_tasks, n_runs)`` matrix, or
one 1-D array per task when tasks have different numbers of runs."""


def _flat(scores: Scores) -> NDArray[np.float64]:
    if isinstance(scores, np.ndarray):
        return np.asarray(scores, dtype=float).reshape(-1)
    return np.concatenate([np.asarray(row, dtype=float).reshape(-1) for row in scores])


def interquartile_mean(scores: Scores) -> float:
    """Mean of the middle half of all scores (``scipy.stats.trim_mean(x, 0.25)``)."""
    flat = np.sort(_flat(scores))
    cut = int(0.25 * flat.size)
    return float(flat[cut : flat.size - cut].mean())


def mean_score(scores: Scores) -> float:
    """Mean of all scores."""
    return float(np.mean(_flat(scores)))


def optimality_gap(scores: Scores, threshold: float = 1.0) -> float:
    """How far scores fall short of ``threshold`` on average; excess earns nothing."""
    return float(threshold - np.mean(np.minimum(_flat(scores), threshold)))


def stratified_bootstrap_ci(
    scores: Scores,
    statistic: Callable[[Scores], float],
    rng: np.random.Generator,
    n_resamples: int = 2_000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` by stratified bootstrap.

    Each resample draws runs with replacement within every task (row)
    separately, so every task keeps its weight; rows may differ in length.

    Args:
        scores: Scores per task (see :data:`Scores`).
        statistic: Aggregate of a score matrix, e.g. :func:`interquartile_mean`.
        rng: Source of the resampling.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the interval, in (0, 1).

    Raises:
        ValueError: For an empty score matrix or a confidence outside (0, 1).
    """
    rows = (
        list(np.atleast_2d(np.asarray(scores, dtype=float)))
        if isinstance(scores, np.ndarray)
        else [np.asarray(row, dtype=float).reshape(-1) for row in scores]
    )
    if not rows or any(row.size == 0 for row in rows):
        raise ValueError("cannot bootstrap an empty score matrix")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    resampled = np.concatenate(
        [row[rng.integers(0, row.size, size=(n_resamples, row.size))] for row in rows],
        axis=1,
    )
    values = np.array([statistic(sample[None, :]) for sample in resampled])
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)
