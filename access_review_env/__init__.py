"""access-review-env: the access-review routing task as a Gymnasium environment.

Importing this package registers ``AccessReview-v0`` (the lesson's first model),
``AccessReviewRisk-v0`` (request kinds, hidden justification, denials) and
``AccessReviewQueue-v0`` (a reviewer team's queue, a ladder of levels from 90
to over a million states)::

    import gymnasium as gym
    import access_review_env

    gym.register_envs(access_review_env)  # a no-op that keeps the import "used"
    env = gym.make("AccessReview-v0")

``gym.make("access_review_env:AccessReview-v0")`` works without the import.

Layout: :mod:`.tasks` holds each task as data, :mod:`.model` builds its sparse
model for one configuration (with ``P`` and dense arrays where affordable) and
declares each task's keywords once, and the envs (:mod:`.env`, :mod:`.vector`)
are mechanism that samples from it.
"""

from access_review_env.actions import InvalidActionError
from access_review_env.env import AccessReviewEnv, TaskEnv
from access_review_env.model import (
    AccessReviewMDP,
    AccessReviewRiskMDP,
    Branch,
    QueueMDP,
    SparseMDP,
    TabularMDP,
    TaskMDP,
    TaskModel,
    resolve_rewards,
)
from access_review_env.queue_env import AccessReviewQueueEnv
from access_review_env.registration import (
    ENV_ID,
    ENV_IDS,
    MAX_EPISODE_STEPS,
    QUEUE_ENV_ID,
    REWARD_THRESHOLD,
    RISK_ENV_ID,
    TABLE_ENV_IDS,
    register_access_review,
)
from access_review_env.risk_env import AccessReviewRiskEnv
from access_review_env.tasks import ACCESS_REVIEW, ACCESS_REVIEW_RISK, TaskTable
from access_review_env.tasks.access_review import (
    ACTIONS,
    NON_TERMINAL_STATES,
    OUTCOMES,
    RECOMMENDED_GAMMA,
    REWARD_PRESETS,
    START_STATE,
    STATES,
    TERMINAL_STATE,
    TRANSITION_NAMES,
    Action,
    State,
)
from access_review_env.tasks.access_review_queue import LEVELS as QUEUE_LEVELS
from access_review_env.tasks.access_review_queue import (
    REWARD_TERMS as QUEUE_REWARD_TERMS,
)
from access_review_env.tasks.access_review_queue import QueueAction
from access_review_env.vector import (
    AccessReviewQueueVectorEnv,
    AccessReviewRiskVectorEnv,
    AccessReviewVectorEnv,
    TaskVectorEnv,
)
from access_review_env.wrappers import CostCounter, SafetyShield

__version__ = "0.1.0"

__all__ = [
    "ACCESS_REVIEW",
    "ACCESS_REVIEW_RISK",
    "ACTIONS",
    "ENV_ID",
    "ENV_IDS",
    "MAX_EPISODE_STEPS",
    "NON_TERMINAL_STATES",
    "OUTCOMES",
    "QUEUE_ENV_ID",
    "QUEUE_LEVELS",
    "QUEUE_REWARD_TERMS",
    "RECOMMENDED_GAMMA",
    "REWARD_PRESETS",
    "REWARD_THRESHOLD",
    "RISK_ENV_ID",
    "START_STATE",
    "STATES",
    "TABLE_ENV_IDS",
    "TERMINAL_STATE",
    "TRANSITION_NAMES",
    "AccessReviewEnv",
    "AccessReviewMDP",
    "AccessReviewQueueEnv",
    "AccessReviewQueueVectorEnv",
    "AccessReviewRiskEnv",
    "AccessReviewRiskMDP",
    "AccessReviewRiskVectorEnv",
    "AccessReviewVectorEnv",
    "Action",
    "Branch",
    "CostCounter",
    "InvalidActionError",
    "QueueAction",
    "QueueMDP",
    "SafetyShield",
    "SparseMDP",
    "State",
    "TabularMDP",
    "TaskEnv",
    "TaskMDP",
    "TaskModel",
    "TaskTable",
    "TaskVectorEnv",
    "__version__",
    "register_access_review",
    "resolve_rewards",
]

register_access_review()
