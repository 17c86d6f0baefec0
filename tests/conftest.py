"""Shared fixtures, and the ``expensive`` tests left out unless asked for."""

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


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Leave out tests marked ``expensive`` unless ``-m`` names that marker."""
    if "expensive" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("expensive") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item not in kept]
        )
        items[:] = kept
