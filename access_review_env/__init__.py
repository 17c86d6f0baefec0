"""access-review-env: the access-review routing task as a Gymnasium environment.

Importing this package registers ``AccessReview-v0`` (the lesson's first model)
and ``AccessReviewRisk-v0`` (request kinds, hidden justification, denials)::

    import gymnasium as gym
    import access_review_env

    gym.register_envs(access_review_env)  # a no-op that keeps the import "used"
    env = gym.make("AccessReview-v0")

``gym.make("access_review_env:AccessReview-v0")`` works without the import.

Layout: :mod:`.tasks` holds each task as data (one table), :mod:`.model`
resolves a table for one configuration (``P``, dense arrays), and the envs
(:mod:`.env`, :mod:`.vector`) are mechanism that samples from it.
"""

from access_review_env.actions import InvalidActionError
from access_review_env.env import AccessReviewEnv, TaskEnv
from access_review_env.model import (
    AccessReviewMDP,
    AccessReviewRiskMDP,
    Branch,
    TabularMDP,
    TaskMDP,
    resolve_rewards,
)
from access_review_env.registration import (
    ENV_ID,
    ENV_IDS,
    MAX_EPISODE_STEPS,
    REWARD_THRESHOLD,
    RISK_ENV_ID,
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
from access_review_env.vector import (
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
    "RECOMMENDED_GAMMA",
    "REWARD_PRESETS",
    "REWARD_THRESHOLD",
    "RISK_ENV_ID",
    "START_STATE",
    "STATES",
    "TERMINAL_STATE",
    "TRANSITION_NAMES",
    "AccessReviewEnv",
    "AccessReviewMDP",
    "AccessReviewRiskEnv",
    "AccessReviewRiskMDP",
    "AccessReviewRiskVectorEnv",
    "AccessReviewVectorEnv",
    "Action",
    "Branch",
    "CostCounter",
    "InvalidActionError",
    "SafetyShield",
    "State",
    "TabularMDP",
    "TaskEnv",
    "TaskMDP",
    "TaskTable",
    "TaskVectorEnv",
    "__version__",
    "register_access_review",
    "resolve_rewards",
]

register_access_review()
