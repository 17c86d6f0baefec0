"""Registration of ``AccessReview-v0`` with Gymnasium."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_ID = "AccessReview-v0"
MAX_EPISODE_STEPS = 20
"""Any valid route closes within 3 steps; 20 only cuts episodes stalled on
invalid actions, leaving an agent room to recover from a few of them."""
REWARD_THRESHOLD = 62.0
"""The undiscounted return of the optimal route at the default configuration
(human_review then approve_rotation: -18 + 80); every other policy scores less
in expectation there."""


def register_access_review() -> None:
    """Register ``AccessReview-v0``; a second call changes nothing and warns nothing."""
    if ENV_ID in registry:
        return
    register(
        id=ENV_ID,
        entry_point="access_review_env.env:AccessReviewEnv",
        max_episode_steps=MAX_EPISODE_STEPS,
        reward_threshold=REWARD_THRESHOLD,
        vector_entry_point="access_review_env.vector.env:AccessReviewVectorEnv",
    )
