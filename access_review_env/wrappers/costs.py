"""``CostCounter``: count what an agent's steps cost, the safety-gymnasium way."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym


class CostCounter(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Sum ``info["cost"]`` over every step, per episode and in total.

    Wrap the env an agent trains on to count the violations it commits while
    learning, which its returns alone do not show.

    Attributes:
        total_cost: ``info["cost"]`` summed over every step since wrapping.
        episode_costs: One sum per finished episode.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        """Wrap ``env`` with every count at zero."""
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.total_cost = 0.0
        self.episode_costs: list[float] = []
        self._episode_cost = 0.0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start a new episode's count."""
        self._episode_cost = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(
        self, action: Any
    ) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and add ``info["cost"]``."""
        observation, reward, terminated, truncated, info = self.env.step(action)
        cost = float(info.get("cost", 0.0))
        self.total_cost += cost
        self._episode_cost += cost
        if terminated or truncated:
            self.episode_costs.append(self._episode_cost)
        return observation, reward, terminated, truncated, info
