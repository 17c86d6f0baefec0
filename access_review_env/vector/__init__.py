"""Native vector envs: a task's sparse model stepped for whole batches of sub-envs."""

from access_review_env.vector.env import (
    AccessReviewQueueVectorEnv,
    AccessReviewRiskVectorEnv,
    AccessReviewVectorEnv,
    TaskVectorEnv,
)
from access_review_env.vector.parameters import VECTOR_PARAMETERS

__all__ = [
    "VECTOR_PARAMETERS",
    "AccessReviewQueueVectorEnv",
    "AccessReviewRiskVectorEnv",
    "AccessReviewVectorEnv",
    "TaskVectorEnv",
]
