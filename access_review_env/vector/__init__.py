"""Native vector envs: a task's step table applied to whole batches with NumPy."""

from access_review_env.vector.env import (
    AccessReviewRiskVectorEnv,
    AccessReviewVectorEnv,
    TaskVectorEnv,
)
from access_review_env.vector.step_table import (
    StepLayout,
    StepTable,
    compile_step_table,
)

__all__ = [
    "AccessReviewRiskVectorEnv",
    "AccessReviewVectorEnv",
    "StepLayout",
    "StepTable",
    "TaskVectorEnv",
    "compile_step_table",
]
