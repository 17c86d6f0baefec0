"""What every row of ``access-review speed`` is made of: a row, rounds, a rate.

Shared by the speed job and its row modules (:mod:`.speed_vector`,
:mod:`.speed_solver`), so that each can be run alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np


@dataclass
class Row:
    """One comparison: ours against a baseline, in the same unit."""

    name: str
    unit: str
    ours: float
    baseline: float
    baseline_name: str
    target: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times faster ours is (for rates: ours / baseline)."""
        return self.ours / self.baseline


def median_rates(
    contenders: dict[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Call each contender in turn, ``repeats`` rounds; return every rate seen."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            rates[name].append(measure())
    return rates


def vector_rate(envs: gym.vector.VectorEnv, actions: np.ndarray, n_steps: int) -> float:
    """Env-steps per second (batched steps times ``num_envs``, reset slots included)."""
    envs.reset(seed=0)
    envs.step(actions[0])
    start = time.perf_counter()
    for step in range(n_steps):
        envs.step(actions[step % len(actions)])
    return n_steps * envs.num_envs / (time.perf_counter() - start)
