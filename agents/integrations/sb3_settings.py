"""How each Stable-Baselines3 algorithm is trained on the tasks: data only.

Importable without SB3, so that command lines can list the algorithms and
say which extra to install before anything is trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REWARD_SCALE = 0.01
"""Factor applied to rewards during SB3 training; learned values are divided by it."""


@dataclass(frozen=True)
class SB3Setting:
    """How one SB3 algorithm is trained on the tasks.

    Attributes:
        name: The algorithm's SB3 class name, e.g. ``"PPO"``.
        n_envs: Parallel envs of SB3's ``make_vec_env``.
        total_timesteps: The training budget.
        hyperparameters: Keyword arguments of the algorithm's constructor.
        exploring_starts: Train with exploring starts.
    """

    name: str
    n_envs: int
    total_timesteps: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    exploring_starts: bool = False


_ON_POLICY = {
    "n_steps": 64,
    "batch_size": 128,
    "n_epochs": 10,
    "learning_rate": 1e-3,
    "ent_coef": 0.01,
}

SETTINGS: dict[str, SB3Setting] = {
    "PPO": SB3Setting("PPO", 8, 6_144, _ON_POLICY),
    "MaskablePPO": SB3Setting("MaskablePPO", 8, 6_144, _ON_POLICY),
    "A2C": SB3Setting(
        "A2C",
        8,
        8_192,
        {"n_steps": 8, "learning_rate": 1e-3, "normalize_advantage": True},
        exploring_starts=True,
    ),
    "DQN": SB3Setting(
        "DQN",
        4,
        6_000,
        {
            "learning_rate": 1e-3,
            "buffer_size": 20_000,
            "learning_starts": 500,
            "batch_size": 64,
            "train_freq": 1,
            "target_update_interval": 250,
            "exploration_fraction": 0.5,
            "exploration_final_eps": 0.05,
        },
    ),
}
"""The four cross-checked learners and their settings."""
