"""A task's model for one configuration: the sparse MDP and its dense views.

* :mod:`.sparse`: :class:`SparseMDP`, the one form every env and planner reads.
* :mod:`.tabular`: :class:`TabularMDP`, dense arrays, where affordable.
* :mod:`.mdp`: the table tasks' models (:class:`TaskMDP`).
* :mod:`.queue` and :mod:`.queue_mdp`: the queue task's model.
* :mod:`.task_model`: what the envs need of a model (:class:`TaskModel`).
* :mod:`.declarations` and :mod:`.catalog`: each task's keywords, declared once.
* :mod:`.random_sparse`: random sparse MDPs for tests and speed runs.
"""

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
from access_review_env.model.queue_mdp import QueueMDP
from access_review_env.model.sparse import (
    ModelTooLargeError,
    SparseMDP,
    SparseStage,
    Transitions,
)
from access_review_env.model.tabular import TabularMDP
from access_review_env.model.task_model import OBSERVATION_MODES, TaskModel

__all__ = [
    "INVALID_ACTION_RULES",
    "OBSERVATION_MODES",
    "AccessReviewMDP",
    "AccessReviewRiskMDP",
    "Branch",
    "GymTransition",
    "InvalidActionRule",
    "ModelTooLargeError",
    "QueueMDP",
    "RewardSpec",
    "SparseMDP",
    "SparseStage",
    "TabularMDP",
    "TaskMDP",
    "TaskModel",
    "Transitions",
    "resolve_rewards",
]
