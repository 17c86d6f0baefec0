"""The tasks as data, one table per task, all in the format of :mod:`.format`."""

from access_review_env.tasks.access_review import TABLE as ACCESS_REVIEW
from access_review_env.tasks.format import (
    Factor,
    StartRule,
    TaskTable,
    TransitionRule,
    probability_text,
    probability_value,
    rest,
    share,
)

__all__ = [
    "ACCESS_REVIEW",
    "Factor",
    "StartRule",
    "TaskTable",
    "TransitionRule",
    "probability_text",
    "probability_value",
    "rest",
    "share",
]
