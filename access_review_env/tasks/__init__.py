"""The tasks as data, one table per task, all in the format of :mod:`.format`.

* :mod:`.access_review`: ``AccessReview-v0``, the lesson's first model.
* :mod:`.access_review_risk`: ``AccessReviewRisk-v0``, request kinds, hidden
  justification and ``deny_request``, from the lesson's practice tasks.
"""

from access_review_env.tasks.access_review import TABLE as ACCESS_REVIEW
from access_review_env.tasks.access_review_risk import TABLE as ACCESS_REVIEW_RISK
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
    "ACCESS_REVIEW_RISK",
    "Factor",
    "StartRule",
    "TaskTable",
    "TransitionRule",
    "probability_text",
    "probability_value",
    "rest",
    "share",
]
