"""Aggregate scores over runs: interquartile mean, optimality gap, stratified bootstrap.

The estimators follow rliable (Agarwal et al., 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"); they are reimplemented here
in NumPy so that the benchmark adds no dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_real

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


Z_95 = 1.959963984540054
"""Two-sided 95 % normal quantile."""


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (1.96 for 0.95).

    Raises:
        TypeError: If ``confidence`` is not a real number.
        ValueError: If ``confidence`` is not in (0, 1).
    """
    confidence = check_real(
        "confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True
    )
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(
    successes: int | NDArray[Any],
    trials: int | NDArray[Any],
    z: float = Z_95,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of a binomial proportion (95 % for the default ``z``).

    Unlike the normal interval it stays inside [0, 1] and is informative at
    0 and ``trials`` successes (Wilson, 1927; Brown, Cai & DasGupta, 2001).
    Elementwise over arrays; NaN where there are no trials.

    Args:
        successes: Successes, one count or an array of counts.
        trials: Trials behind each count, one number or an array.
        z: The normal quantile of the coverage (see :func:`z_value`).

    Returns:
        ``(low, high)``, each shaped like ``successes`` and ``trials`` broadcast.

    Raises:
        ValueError: If a count lies outside [0, trials] or a trial count is
            negative.
    """
    counts = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if np.any(n < 0) or np.any((counts < 0) | (counts > n)):
        raise ValueError(
            f"need 0 <= successes <= trials, got {successes!r} of {trials!r}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts / n
        denominator = 1.0 + z * z / n
        centre = (share + z * z / (2.0 * n)) / denominator
        half = z * np.sqrt(share * (1.0 - share) / n + z * z / (4.0 * n * n))
        half = half / denominator
    # The interval contains the share; at 0 or all successes rounding would
    # otherwise leave it a hair off the share (6.9e-18 for 0 of 40).
    low = np.where(n > 0, np.clip(centre - half, 0.0, share), np.nan)
    high = np.where(n > 0, np.clip(centre + half, share, 1.0), np.nan)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def mean_interval(
    values: NDArray[np.float64], z: float = Z_95
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over the first axis and its normal confidence interval.

    Args:
        values: ``(n, ...)`` samples along the first axis.
        z: The normal quantile of the coverage (95 % by default).

    Returns:
        ``(mean, low, high)``, each shaped like ``values[0]``.
    """
    mean = values.mean(axis=0)
    half = (
        z * values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
        if values.shape[0] > 1
        else np.zeros_like(mean)
    )
    return mean, mean - half, mean + half
