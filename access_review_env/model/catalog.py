"""The tasks this package registers, each declared once.

Each :class:`~access_review_env.model.declarations.TaskDeclaration` names a
task's id, its keywords (from its table or its parameter list, then the
keywords every model takes) and the model they build; the envs, the vector
envs and the registration read them from here.
"""

from __future__ import annotations

from typing import Any, Final

from access_review_env.model.declarations import MODEL_PARAMETERS, TaskDeclaration
from access_review_env.model.mdp import AccessReviewMDP, AccessReviewRiskMDP
from access_review_env.model.queue_mdp import QueueMDP
from access_review_env.tasks import ACCESS_REVIEW, ACCESS_REVIEW_RISK
from access_review_env.tasks import access_review_queue as queue
from access_review_env.tasks.format import Parameter

MAX_EPISODE_STEPS: Final = 20
"""Any valid route of the table tasks closes within 3 steps; 20 only cuts
episodes stalled on invalid actions, leaving an agent room to recover."""

ACCESS_REVIEW_TASK: Final = TaskDeclaration(
    env_id=ACCESS_REVIEW.name,
    parameters=(*ACCESS_REVIEW.declared_parameters, *MODEL_PARAMETERS),
    build=AccessReviewMDP,
    max_episode_steps=MAX_EPISODE_STEPS,
    # The optimal route's undiscounted return at the defaults: human_review
    # then approve_rotation, -18 + 80; every other policy scores less there.
    reward_threshold=62.0,
)

ACCESS_REVIEW_RISK_TASK: Final = TaskDeclaration(
    env_id=ACCESS_REVIEW_RISK.name,
    parameters=(*ACCESS_REVIEW_RISK.declared_parameters, *MODEL_PARAMETERS),
    build=AccessReviewRiskMDP,
    max_episode_steps=MAX_EPISODE_STEPS,
    # The optimal expected undiscounted return at the defaults: half the
    # requests reviewed and closed right (-18 + 80), half approved at once (70).
    reward_threshold=66.0,
)

QUEUE_LEVEL: Final = Parameter(
    "level",
    queue.DEFAULT_LEVEL,
    "choice",
    "the rung of the ladder whose parameters are the defaults (see "
    "access_review_env.QUEUE_LEVELS)",
    choices=tuple(queue.LEVELS),
)


def _queue_parameter(parameter: Parameter) -> Parameter:
    """A queue parameter whose default is its level's value (None)."""
    return Parameter(
        parameter.name,
        None,
        parameter.kind,
        f"{parameter.doc} (None: the level's value)",
        parameter.low,
        parameter.choices,
    )


def _build_queue(**values: Any) -> QueueMDP:
    overrides = {
        name: values[name] for name in queue.PARAMETER_NAMES if values[name] is not None
    }
    return QueueMDP(
        values["level"],
        overrides,
        values["rewards"],
        values["invalid_action"],
        values["invalid_action_reward"],
    )


QUEUE_TASK: Final = TaskDeclaration(
    env_id=queue.ENV_ID,
    parameters=(
        QUEUE_LEVEL,
        *(_queue_parameter(parameter) for parameter in queue.PARAMETERS),
        *MODEL_PARAMETERS,
    ),
    build=_build_queue,
    max_episode_steps=queue.MAX_EPISODE_STEPS,
)

TASKS: Final = (ACCESS_REVIEW_TASK, ACCESS_REVIEW_RISK_TASK, QUEUE_TASK)
"""Every task, in the order of ``access_review_env.ENV_IDS``."""
