"""SB3's PPO, DQN and MaskablePPO train on the queue's features without a wrapper."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import QUEUE_ENV_ID

pytestmark = [pytest.mark.sb3, pytest.mark.slow]


@pytest.mark.parametrize("algorithm", ["PPO", "DQN", "MaskablePPO"])
def test_sb3_learns_on_the_feature_observation_as_made(algorithm: str) -> None:
    """A short run of each algorithm on gym.make(...) as is, then a masked predict.

    The model reads the Box of features; MaskablePPO finds the env's
    ``action_masks`` through Gymnasium's wrappers; every predicted action is
    one the env accepts.
    """
    stable_baselines3 = pytest.importorskip("stable_baselines3")
    sb3_contrib = pytest.importorskip("sb3_contrib")
    classes: dict[str, Any] = {
        "PPO": stable_baselines3.PPO,
        "DQN": stable_baselines3.DQN,
        "MaskablePPO": sb3_contrib.MaskablePPO,
    }
    env = gym.make(QUEUE_ENV_ID, level="tiny", observation="features")
    kwargs: dict[str, Any] = {"seed": 0, "verbose": 0}
    if algorithm != "DQN":
        kwargs["n_steps"] = 64
        kwargs["batch_size"] = 32
    else:
        kwargs["learning_starts"] = 32
    model = classes[algorithm]("MlpPolicy", env, **kwargs)
    model.learn(256)
    observation, info = env.reset(seed=1)
    for _ in range(20):
        if algorithm == "MaskablePPO":
            action, _ = model.predict(observation, action_masks=info["action_mask"])
        else:
            action, _ = model.predict(observation, deterministic=True)
        assert env.action_space.contains(int(action))
        observation, _, terminated, _, info = env.step(int(action))
        assert observation.dtype == np.float32 and not terminated
        if algorithm == "MaskablePPO":
            assert not info["invalid_action"]
