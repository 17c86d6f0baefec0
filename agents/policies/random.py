"""The uniformly random policy among valid actions: the benchmark's score-0 point."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


class RandomPolicy:
    """Uniformly random among the valid actions.

    It is a :class:`~agents.policies.predictor.StochasticPolicy`: scoring
    reads its probabilities (exact value) and samples its rollouts from them
    with the harness's generator; ``predict`` draws from its own.

    Args:
        seed: Seeds the generator ``predict`` draws from.
    """

    def __init__(self, seed: int = 0) -> None:
        """Draw actions from a generator seeded with ``seed``."""
        self.rng = np.random.default_rng(seed)

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """``(n, A)`` uniform over the actions each of ``masks`` allows."""
        allowed = np.asarray(masks, dtype=np.float64).reshape(len(states), -1)
        return np.asarray(allowed / allowed.sum(axis=1, keepdims=True))

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
