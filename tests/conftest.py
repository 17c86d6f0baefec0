"""Shared fixtures; ``expensive`` tests left out unless asked for; extra skips.

Tests marked ``ray`` or ``interop`` skip, with one line saying why, where
their extra's libraries are missing.
"""

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

INTEROP_LIBRARIES = ("torchrl", "tianshou", "d3rlpy")
INTEROP_SKIP_REASON = (
    "needs the interop extra (TorchRL, Tianshou, d3rlpy): .ci/run runs these in "
    "a venv of their own; see docs/frameworks.md, 'Using it from other frameworks'"
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
    """Skip ``ray``/``interop`` tests without their extras; drop ``expensive`` ones."""
    missing = {
        "ray": importlib.util.find_spec("ray") is None,
        "interop": any(
            importlib.util.find_spec(name) is None for name in INTEROP_LIBRARIES
        ),
    }
    reasons = {"ray": RAY_SKIP_REASON, "interop": INTEROP_SKIP_REASON}
    for marker, absent in missing.items():
        if not absent:
            continue
        skip = pytest.mark.skip(reason=reasons[marker])
        for item in items:
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)
    if "expensive" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("expensive") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(
            items=[item for item in items if item not in kept]
        )
        items[:] = kept
