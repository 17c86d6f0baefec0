"""Registration of the tasks, from their declarations (``model.catalog``)."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from access_review_env.model.catalog import (
    ACCESS_REVIEW_RISK_TASK,
    ACCESS_REVIEW_TASK,
    MAX_EPISODE_STEPS,
    QUEUE_TASK,
    TASKS,
)

ENV_ID = ACCESS_REVIEW_TASK.env_id
RISK_ENV_ID = ACCESS_REVIEW_RISK_TASK.env_id
QUEUE_ENV_ID = QUEUE_TASK.env_id
ENV_IDS = tuple(task.env_id for task in TASKS)
"""Every task this package registers."""
TABLE_ENV_IDS = (ENV_ID, RISK_ENV_ID)
"""The tasks written as one table (``env.unwrapped.mdp`` is a ``TaskMDP``): a
request at a time, a handful of states."""
REWARD_THRESHOLD = ACCESS_REVIEW_TASK.reward_threshold
RISK_REWARD_THRESHOLD = ACCESS_REVIEW_RISK_TASK.reward_threshold

_ENTRY_POINTS: dict[str, tuple[str, str | None]] = {
    ENV_ID: ("env:AccessReviewEnv", "AccessReviewVectorEnv"),
    RISK_ENV_ID: ("risk_env:AccessReviewRiskEnv", "AccessReviewRiskVectorEnv"),
    QUEUE_ENV_ID: ("queue_env:AccessReviewQueueEnv", "AccessReviewQueueVectorEnv"),
}

__all__ = [
    "ENV_ID",
    "ENV_IDS",
    "MAX_EPISODE_STEPS",
    "QUEUE_ENV_ID",
    "REWARD_THRESHOLD",
    "RISK_ENV_ID",
    "RISK_REWARD_THRESHOLD",
    "TABLE_ENV_IDS",
    "register_access_review",
]


def register_access_review() -> None:
    """Register every task; a second call changes nothing and warns nothing."""
    for task in TASKS:
        if task.env_id in registry:
            continue
        entry, vector = _ENTRY_POINTS[task.env_id]
        register(
            id=task.env_id,
            entry_point=f"access_review_env.{entry}",
            max_episode_steps=task.max_episode_steps,
            reward_threshold=task.reward_threshold,
            vector_entry_point=(
                None if vector is None else f"access_review_env.vector.env:{vector}"
            ),
        )
