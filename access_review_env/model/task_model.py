"""What the envs need of a task's model, whatever the task.

Both single and vector envs are mechanism over a :class:`TaskModel`: they sample
``step`` from its :attr:`~TaskModel.sparse` model, show states as indices or as
features, and name states and outcomes through it. The table tasks
(:class:`~access_review_env.model.mdp.TaskMDP`) and the queue
(:class:`~access_review_env.model.queue_mdp.QueueMDP`) both satisfy it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP

OBSERVATION_MODES = ("index", "features")
"""How an env shows a state: its index (``Discrete``, for tabular agents) or a
feature vector (``Box`` in [0, 1], for function approximation)."""


@runtime_checkable
class TaskModel(Protocol):
    """A task's model for one configuration, as the envs read it."""

    @property
    def name(self) -> str:
        """The task's registered id, e.g. ``"AccessReviewQueue-v0"``."""
        ...

    @property
    def sparse(self) -> SparseMDP:
        """The MDP ``step`` samples from (no time limit)."""
        ...

    @property
    def feature_names(self) -> tuple[str, ...]:
        """What each entry of a feature observation measures."""
        ...

    def features(self, states: NDArray[np.int64]) -> NDArray[np.float32]:
        """``(..., d)`` the feature observation of each of ``states`` ``(...)``."""
        ...

    def state_label(self, state: int) -> str:
        """A state as a person reads it (its name, or its counts)."""
        ...

    def render_text(
        self,
        state: int,
        last_action: int | None,
        last_reward: float | None,
        outcome: int,
    ) -> str:
        """The task, the current state and the last step as text."""
        ...

    def render_rgb(self, state: int, outcome: int) -> NDArray[np.uint8]:
        """The current state as an RGB image ``(64, width, 3)``."""
        ...
