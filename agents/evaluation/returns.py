"""Discounted returns (Sutton & Barto, equation 3.8)."""

from __future__ import annotations

from collections.abc import Iterable

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
