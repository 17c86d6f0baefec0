"""Epsilon-greedy on a one-state problem: the lesson's exploration demonstration.

Each pull of an arm returns that arm's value; estimates are sample averages
(Sutton & Barto, section 2.4). With ``epsilon = 0`` an early estimate can lock
the learner onto a worse arm for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.policies import UniformStream, epsilon_greedy


@dataclass(frozen=True)
class BanditResult:
    """Pull counts per arm, final estimates, and the arm finally selected."""

    visits: list[int]
    estimates: list[float]
    selected: int


def epsilon_greedy_bandit(
    arm_values: Sequence[float],
    n_pulls: int,
    epsilon: float,
    rng: np.random.Generator,
) -> BanditResult:
    """Pull ``n_pulls`` times, epsilon-greedily, arms that return ``arm_values``.

    Args:
        arm_values: What each arm returns when pulled.
        n_pulls: Number of pulls.
        epsilon: Exploration probability in [0, 1].
        rng: Source of the exploration draws.

    Raises:
        ValueError: If ``epsilon`` is outside [0, 1] or ``n_pulls`` < 1.
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if n_pulls < 1:
        raise ValueError(f"n_pulls must be >= 1, got {n_pulls}")
    arms = tuple(range(len(arm_values)))
    estimates = [0.0] * len(arms)
    visits = [0] * len(arms)
    uniform = UniformStream(rng)
    for _ in range(n_pulls):
        arm = epsilon_greedy(estimates, arms, epsilon, uniform)
        visits[arm] += 1
        estimates[arm] += (arm_values[arm] - estimates[arm]) / visits[arm]
    return BanditResult(visits, estimates, max(arms, key=estimates.__getitem__))
