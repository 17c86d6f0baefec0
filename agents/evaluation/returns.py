"""Discounted returns (Sutton & Barto, equation 3.8)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_unit_interval


def discounted_return(rewards: Iterable[float], gamma: float) -> float:
    """``sum_t gamma**t * rewards[t]``.

    Args:
        rewards: Rewards of one episode, first step first.
        gamma: Discount in [0, 1].

    Raises:
        TypeError, ValueError: If ``gamma`` is not a number in [0, 1].
    """
    gamma = check_unit_interval("gamma", gamma)
    total, weight = 0.0, 1.0
    for reward in rewards:
        total += weight * float(reward)
        weight *= gamma
    return total


def returns_to_go(rewards: list[float], gamma: float) -> list[float]:
    """``G_t`` for every step ``t`` of one episode, computed backwards."""
    result = [0.0] * len(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        result[t] = running
    return result


def returns_to_go_rows(
    rewards: NDArray[np.float64], gamma: float
) -> NDArray[np.float64]:
    """``(N, T)`` :func:`returns_to_go` of ``N`` episodes at once.

    Each row holds one episode's rewards, padded with zeros after its end; the
    padding adds exactly 0, so every ``G_t`` inside an episode has the bits
    :func:`returns_to_go` gives it.

    Args:
        rewards: ``(N, T)`` rewards, first step first.
        gamma: The discount.
    """
    result = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        result[:, t] = running
    return result
