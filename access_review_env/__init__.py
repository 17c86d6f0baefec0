"""access-review-env: the access-review routing task as a Gymnasium environment.

Importing this package registers ``AccessReview-v0``::

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
    Branch,
    TabularMDP,
    TaskMDP,
    resolve_rewards,
)
from access_review_env.registration import (
    ENV_ID,
    MAX_EPISODE_STEPS,
    REWARD_THRESHOLD,
    register_access_review,
)
from access_review_env.tasks import ACCESS_REVIEW, TaskTable
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
from access_review_env.vector import AccessReviewVectorEnv, TaskVectorEnv

__version__ = "0.1.0"

__all__ = [
    "ACCESS_REVIEW",
    "ACTIONS",
    "ENV_ID",
    "MAX_EPISODE_STEPS",
    "NON_TERMINAL_STATES",
    "OUTCOMES",
    "RECOMMENDED_GAMMA",
    "REWARD_PRESETS",
    "REWARD_THRESHOLD",
    "START_STATE",
    "STATES",
    "TERMINAL_STATE",
    "TRANSITION_NAMES",
    "AccessReviewEnv",
    "AccessReviewMDP",
    "AccessReviewVectorEnv",
    "Action",
    "Branch",
    "InvalidActionError",
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
