"""Shared fixtures: every test gets a seeded environment or generator."""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest

import access_review_env


@pytest.fixture
def env() -> Iterator[gym.Env[int, int]]:
    """``gym.make("AccessReview-v0")``, reset with seed 0."""
    made = gym.make(access_review_env.ENV_ID)
    made.reset(seed=0)
    yield made
    made.close()


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed."""
    return np.random.default_rng(12345)
