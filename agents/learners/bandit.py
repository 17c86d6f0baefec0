"""Epsilon-greedy on a one-state problem: the lesson's exploration demonstration.

Each pull of an arm returns that arm's value; estimates are sample averages
(Sutton & Barto, section 2.4). With ``epsilon = 0`` an early estimate can lock
the learner onto a worse arm for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from access_review_env.validation import check_integer, check_unit_interval
from agents.policies.selection import UniformStream, epsilon_greedy


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
        TypeError, ValueError: If ``epsilon`` is not in [0, 1] or ``n_pulls``
            not an integer >= 1.
    """
    epsilon = check_unit_interval("epsilon", epsilon)
    n_pulls = check_integer("n_pulls", n_pulls, low=1)
    arms = tuple(range(len(arm_values)))
    estimates = [0.0] * len(arms)
    visits = [0] * len(arms)
    uniform = UniformStream(rng)
    for _ in range(n_pulls):
        arm = epsilon_greedy(estimates, arms, epsilon, uniform)
        visits[arm] += 1
        estimates[arm] += (arm_values[arm] - estimates[arm]) / visits[arm]
    return BanditResult(visits, estimates, max(arms, key=estimates.__getitem__))
