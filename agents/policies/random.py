"""The uniformly random policy among valid actions: the benchmark's score-0 point."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


class RandomPolicy:
    """Uniformly random among the valid actions.

    It is a :class:`~agents.policies.predictor.StochasticPolicy`, so its exact
    value is computed from its probabilities, not from one sampled action.

    Args:
        seed: Seeds the generator ``predict`` draws from.
    """

    def __init__(self, seed: int = 0) -> None:
        """Draw actions from a generator seeded with ``seed``."""
        self.rng = np.random.default_rng(seed)

    def action_probabilities(
        self, state: int, mask: NDArray[Any]
    ) -> NDArray[np.float64]:
        """``(A,)`` uniform over the actions ``mask`` allows."""
        allowed = np.asarray(mask, dtype=float)
        return np.asarray(allowed / allowed.sum(), dtype=np.float64)

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
        action_masks: NDArray[Any] | None = None,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """A uniformly random valid action for one observation.

        Raises:
            ValueError: Without ``action_masks``: the policy cannot know which
                actions exist.
        """
        if action_masks is None:
            raise ValueError(
                "RandomPolicy needs action_masks (the env's info['action_mask'])"
            )
        choice = self.rng.choice(np.flatnonzero(np.asarray(action_masks)))
        return np.asarray(choice), None
