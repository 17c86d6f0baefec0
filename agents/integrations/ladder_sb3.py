"""SB3 on the queue's feature observation, read greedily in batches (the sb3 extra).

A level of the queue has up to a million states: asking a model state by
state, several times each, is what a small task affords and a large level
does not. :func:`greedy_actions_batched` reads the model's deterministic
choice in every state at once from the level's feature matrix: the argmax of
its action distribution (PPO; MaskablePPO's masked with each state's valid
actions) or of its Q values (DQN), which is what SB3's ``predict(...,
deterministic=True)`` returns.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import NDArray
from stable_baselines3.common.callbacks import BaseCallback

from access_review_env import QUEUE_ENV_ID
from agents.integrations.sb3 import SB3StochasticPolicy, train_sb3

READ_BATCH = 65_536
"""States read per forward pass of the network."""

Checkpoints = list[tuple[int, NDArray[np.int64]]]


def greedy_actions_batched(model: Any, mdp: Any) -> NDArray[np.int64]:
    """``(S,)`` the model's deterministic action in every state of a queue model.

    Args:
        model: A trained PPO, DQN or MaskablePPO on ``observation="features"``.
        mdp: The level's model (``env.unwrapped.mdp``).
    """
    sparse = mdp.sparse
    masks = np.asarray(sparse.valid_action_mask, dtype=bool)
    reader = SB3StochasticPolicy(model, mdp.features)
    actions = np.zeros(sparse.n_states, dtype=np.int64)
    with torch.no_grad():
        for start in range(0, sparse.n_states, READ_BATCH):
            states = np.arange(start, min(start + READ_BATCH, sparse.n_states))
            probabilities = reader.action_probabilities(states, masks[states])
            actions[states] = np.argmax(probabilities, axis=1)
    return actions


class GreedyAt(BaseCallback):  # type: ignore[misc]
    """Records the model's greedy actions once each of ``steps`` is passed."""

    def __init__(self, mdp: Any, steps: NDArray[np.int64]) -> None:
        """Record nothing yet."""
        super().__init__()
        self.mdp = mdp
        self.steps = [int(s) for s in steps]
        self.checkpoints: Checkpoints = []

    def _on_training_start(self) -> None:
        if self.steps and self.steps[0] == 0:
            self.checkpoints.append((0, greedy_actions_batched(self.model, self.mdp)))
            self.steps.pop(0)

    def _on_step(self) -> bool:
        while self.steps and self.num_timesteps >= self.steps[0]:
            self.steps.pop(0)
            self.checkpoints.append(
                (
                    int(self.num_timesteps),
                    greedy_actions_batched(self.model, self.mdp),
                )
            )
        return True


def train_on_features(
    algorithm: str, level: str, seed: int, budget: int, n_points: int
) -> tuple[int, NDArray[np.int64], Checkpoints]:
    """Train ``algorithm`` on a level's features for ``budget`` env steps.

    Invalid actions are penalized in training for all but MaskablePPO (only it
    can keep to the valid ones), as in the small tasks' benchmark.

    Returns:
        ``(steps taken, (S,) final greedy actions, checkpoints)``: the
        checkpoints at 0 and ``n_points - 1`` geometric steps before the end.
    """
    env_kwargs: dict[str, Any] = {"level": level, "observation": "features"}
    if algorithm != "MaskablePPO":
        env_kwargs["invalid_action"] = "penalize"
    mdp: Any = gym.make(QUEUE_ENV_ID, level=level).unwrapped
    mdp = mdp.mdp
    points = np.geomspace(max(1, budget // 64), budget, n_points)[:-1]
    steps = np.unique(np.concatenate([[0], np.round(points).astype(np.int64)]))
    callback = GreedyAt(mdp, steps)
    model, _ = train_sb3(
        algorithm,
        seed=seed,
        total_timesteps=budget,
        env_kwargs=env_kwargs,
        env_id=QUEUE_ENV_ID,
        callback=callback,
    )
    return (
        int(model.num_timesteps),
        greedy_actions_batched(model, mdp),
        callback.checkpoints,
    )
