"""Registration of the tasks: ``AccessReview-v0`` and ``AccessReviewRisk-v0``."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_ID = "AccessReview-v0"
RISK_ENV_ID = "AccessReviewRisk-v0"
ENV_IDS = (ENV_ID, RISK_ENV_ID)
"""Every task this package registers."""
MAX_EPISODE_STEPS = 20
"""Any valid route closes within 3 steps; 20 only cuts episodes stalled on
invalid actions, leaving an agent room to recover from a few of them."""
REWARD_THRESHOLD = 62.0
"""The undiscounted return of the optimal route of AccessReview-v0 at the
default configuration (human_review then approve_rotation: -18 + 80); every
other policy scores less in expectation there."""
RISK_REWARD_THRESHOLD = 66.0
"""The optimal expected undiscounted return of AccessReviewRisk-v0 at the
defaults: half the requests are reviewed and closed right (-18 + 80), half
approved at once on clear evidence (70)."""


def register_access_review() -> None:
    """Register every task; a second call changes nothing and warns nothing."""
    for env_id, entry, vector, threshold in (
        (ENV_ID, "env:AccessReviewEnv", "AccessReviewVectorEnv", REWARD_THRESHOLD),
        (
            RISK_ENV_ID,
            "risk_env:AccessReviewRiskEnv",
            "AccessReviewRiskVectorEnv",
            RISK_REWARD_THRESHOLD,
        ),
    ):
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"access_review_env.{entry}",
            max_episode_steps=MAX_EPISODE_STEPS,
            reward_threshold=threshold,
            vector_entry_point=f"access_review_env.vector.env:{vector}",
        )
