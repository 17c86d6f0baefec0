"""Aggregate scores over runs: interquartile mean, optimality gap, stratified bootstrap.

The estimators follow rliable (Agarwal et al., 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"); they are reimplemented here
in NumPy so that the benchmark adds no dependency.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_integer, check_real

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


def binomial_upper_bound(trials: int, p: float, confidence: float) -> int:
    """The smallest ``m`` with ``P(X <= m) >= confidence``, ``X ~ Binomial(trials, p)``.

    How many of ``trials`` independent checks that each fail with
    probability ``p`` may fail together by chance alone.

    Raises:
        TypeError, ValueError: For a negative ``trials``, ``p`` outside [0, 1]
            or ``confidence`` outside (0, 1).
    """
    trials = check_integer("trials", trials, low=0)
    p = check_real("p", p, low=0.0, high=1.0)
    confidence = check_real(
        "confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if p in (0.0, 1.0):
        return 0 if p == 0.0 else trials
    log_pmf = trials * math.log1p(-p)
    cumulative = 0.0
    for m in range(trials + 1):
        cumulative += math.exp(log_pmf)
        if cumulative >= confidence - 1e-12:  # rounding of an exact tie
            return m
        log_pmf += math.log((trials - m) / (m + 1)) + math.log(p / (1.0 - p))
    return trials


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


T_EXACT_MAX_DF = 1_000
"""Degrees of freedom up to which :func:`t_value` sums the exact series; above,
its Cornish-Fisher expansion is exact to double precision."""


def _t_coverage(theta: float, df: int) -> float:
    """``P(|T| <= sqrt(df) tan(theta))`` for Student's t with ``df`` degrees of freedom.

    The finite series of Abramowitz & Stegun 26.7.3 (odd ``df``) and 26.7.4
    (even ``df``), exact for integer degrees of freedom.
    """
    sine, cosine = math.sin(theta), math.cos(theta)
    squared = cosine * cosine
    if df % 2 == 0:
        j = np.arange(1, df // 2, dtype=np.float64)
        terms = np.cumprod((2 * j - 1) / (2 * j) * squared)
        return sine * (1.0 + float(terms.sum()))
    if df == 1:
        return 2.0 * theta / math.pi
    j = np.arange(1, (df - 1) // 2, dtype=np.float64)
    terms = np.cumprod(2 * j / (2 * j + 1) * squared)
    return 2.0 / math.pi * (theta + sine * cosine * (1.0 + float(terms.sum())))


@lru_cache(maxsize=256)
def t_value(confidence: float, df: int) -> float:
    """The two-sided Student's t quantile of ``confidence``, ``df`` degrees of freedom.

    The half-width of a ``confidence`` interval of a mean of ``df + 1``
    samples is ``t_value(confidence, df)`` standard errors (2.262 for 95 %
    and 10 samples, 1.154 times the normal 1.960). Computed without SciPy:
    up to :data:`T_EXACT_MAX_DF` degrees of freedom by bisection on the exact
    finite series of the t distribution function; above, by the
    Cornish-Fisher expansion of Abramowitz & Stegun 26.7.5 (its first
    omitted term is below 1e-12 there). Agrees with ``scipy.stats.t.ppf`` to
    1e-9 (tested).

    Raises:
        TypeError: If ``confidence`` is not a real number or ``df`` not an
            integer.
        ValueError: If ``confidence`` is not in (0, 1) or ``df`` < 1.
    """
    z = z_value(confidence)
    df = check_integer("df", df, low=1)
    if df > T_EXACT_MAX_DF:
        z2 = z * z
        terms = (
            (z2 + 1) / 4,
            ((5 * z2 + 16) * z2 + 3) / 96,
            (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384,
            ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92_160,
        )
        correction = sum(term / df**power for power, term in enumerate(terms, 1))
        return float(z * (1.0 + correction))
    low, high = 0.0, math.pi / 2
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if _t_coverage(middle, df) < confidence:
            low = middle
        else:
            high = middle
    return math.sqrt(df) * math.tan((low + high) / 2)


def mean_interval(
    values: NDArray[np.float64], confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean over the first axis and its Student's t confidence interval.

    The samples are few (seeds, say), so the interval is Student's t with
    ``n - 1`` degrees of freedom (:func:`t_value`), not the normal one.

    Args:
        values: ``(n, ...)`` samples along the first axis.
        confidence: The coverage, in (0, 1).

    Returns:
        ``(mean, low, high)``, each shaped like ``values[0]``; the bounds are
        NaN for a single sample, which gives no interval.
    """
    mean = values.mean(axis=0)
    n = values.shape[0]
    if n < 2:
        nan = np.full_like(mean, np.nan, dtype=np.float64)
        return mean, nan, nan
    half = t_value(confidence, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half
