"""Shared fixtures; ``expensive`` tests left out unless asked for; ``ray`` skips."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import gymnasium as gym
import pytest

import access_review_env

RAY_SKIP_REASON = (
    "needs the ray extra (Ray RLlib pins gymnasium 1.2.2): .ci/run runs these "
    "in a venv of their own; pip install torch==2.13.0, then "
    "pip install 'access-review-env[ray]'"
)


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
    """Skip ``ray`` tests without Ray; leave out ``expensive`` ones unless asked."""
    if importlib.util.find_spec("ray") is None:
        skip = pytest.mark.skip(reason=RAY_SKIP_REASON)
        for item in items:
            if item.get_closest_marker("ray") is not None:
                item.add_marker(skip)
    if "expensive" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("expensive") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item not in kept]
        )
        items[:] = kept
