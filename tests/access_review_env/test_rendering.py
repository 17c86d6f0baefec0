"""render_mode="rgb_array" through gym.make: one frame size per task, every step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID

pytestmark = pytest.mark.env

FRAMES = [
    (ENV_ID, {}, (64, 256, 3)),
    (RISK_ENV_ID, {}, (64, 384, 3)),
    (QUEUE_ENV_ID, {"level": "tiny"}, (64, 264, 3)),
    (QUEUE_ENV_ID, {"level": "small"}, (64, 264, 3)),
]
"""Each task's frame size, as docs/envs/access-review.md states it."""


@pytest.mark.parametrize(("env_id", "kwargs", "shape"), FRAMES)
def test_every_frame_of_an_episode_is_a_uint8_image_of_the_task_size(
    env_id: str, kwargs: dict[str, Any], shape: tuple[int, int, int]
) -> None:
    """Frames after reset and after each step keep one shape, so videos can be made.

    A random valid action per step, 20 steps (the time limit) from seed 0.
    """
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    frames = [env.render()]
    for _ in range(20):
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        _, _, terminated, truncated, info = env.step(action)
        frames.append(env.render())
        if terminated or truncated:
            break
    for frame in frames:
        assert isinstance(frame, np.ndarray)
        assert frame.dtype == np.uint8 and frame.shape == shape
    assert len({np.asarray(frame).tobytes() for frame in frames}) > 1
    env.close()
