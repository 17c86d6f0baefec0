"""access-review-env: the access-review routing task as a Gymnasium environment.

Importing this package registers ``AccessReview-v0``::

    import gymnasium as gym
    import access_review_env

    gym.register_envs(access_review_env)  # a no-op that keeps the import "used"
    env = gym.make("AccessReview-v0")

``gym.make("access_review_env:AccessReview-v0")`` works without the import.
"""

from access_review_env.actions import InvalidActionError
from access_review_env.env import AccessReviewEnv
from access_review_env.mdp import AccessReviewMDP, resolve_rewards
from access_review_env.registration import (
    ENV_ID,
    MAX_EPISODE_STEPS,
    REWARD_THRESHOLD,
    register_access_review,
)
from access_review_env.table import (
    ACTIONS,
    NON_TERMINAL_STATES,
    OUTCOMES,
    RECOMMENDED_GAMMA,
    REWARD_PRESETS,
    START_STATE,
    STATES,
    TERMINAL_STATE,
    TRANSITION_NAMES,
)
from access_review_env.tabular import TabularMDP
from access_review_env.vector_env import AccessReviewVectorEnv

__version__ = "0.1.0"

__all__ = [
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
    "InvalidActionError",
    "TabularMDP",
    "__version__",
    "register_access_review",
    "resolve_rewards",
]

register_access_review()
