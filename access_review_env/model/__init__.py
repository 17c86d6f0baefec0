"""A task's table resolved for one configuration: branches, ``P`` and dense arrays."""

from access_review_env.model.mdp import (
    INVALID_ACTION_RULES,
    AccessReviewMDP,
    AccessReviewRiskMDP,
    Branch,
    GymTransition,
    InvalidActionRule,
    RewardSpec,
    TaskMDP,
    resolve_rewards,
)
from access_review_env.model.tabular import TabularMDP

__all__ = [
    "INVALID_ACTION_RULES",
    "AccessReviewMDP",
    "AccessReviewRiskMDP",
    "Branch",
    "GymTransition",
    "InvalidActionRule",
    "RewardSpec",
    "TabularMDP",
    "TaskMDP",
    "resolve_rewards",
]
