"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import pytest

import access_review_env


@pytest.fixture
def env() -> Iterator[gym.Env[int, int]]:
    """``gym.make("AccessReview-v0")``, reset with seed 0."""
    made = gym.make(access_review_env.ENV_ID)
    made.reset(seed=0)
    yield made
    made.close()
