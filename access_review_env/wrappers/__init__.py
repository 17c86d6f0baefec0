"""Gymnasium wrappers for the tasks.

* :mod:`.shield`: :class:`SafetyShield` blocks or reroutes unsafe actions.
* :mod:`.costs`: :class:`CostCounter` counts ``info["cost"]`` while an agent acts.
* :mod:`.limits`: reading an env's time limit.
"""

from access_review_env.wrappers.costs import CostCounter
from access_review_env.wrappers.limits import time_limit
from access_review_env.wrappers.shield import (
    SHIELD_MODES,
    SafetyShield,
    blocking_actions,
    unsafe_actions,
)

__all__ = [
    "SHIELD_MODES",
    "CostCounter",
    "SafetyShield",
    "blocking_actions",
    "time_limit",
    "unsafe_actions",
]
