"""The MDP every exact figure of an env is computed on, and its optimal actions.

An env made by ``gym.make`` is scored as made: the MDP its ``step`` samples
from, its time limit as a finite horizon, and the start distribution its
``reset`` draws from (uniform over the non-terminal states under
``exploring_starts=True``), so that exact values and rollouts of the same
configuration estimate the same number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import SparseMDP, TabularMDP
from access_review_env.wrappers import time_limit
from agents.planning import as_tabular

TIE_TOLERANCE = 1e-9
"""Actions whose ``Q*`` is within this of ``V*`` are all optimal (a tie)."""


def scored_arrays(model: gym.Env[Any, Any] | TabularMDP) -> TabularMDP:
    """The MDP an env's exact figures are computed on, as ``gym.make`` made it.

    The MDP its ``step`` samples from, its time limit as the horizon (see
    :func:`~agents.planning.as_tabular`), and the start distribution its
    ``reset`` draws from (``env.unwrapped.start_distribution``: exploring
    starts included). A :class:`TabularMDP` is returned as it is.

    Raises:
        TypeError: If ``model`` is neither a TabularMDP nor an env exposing a
            task model (``env.unwrapped.sparse``).
        ModelTooLargeError: If the env's dense arrays would be too large.
    """
    if isinstance(model, TabularMDP):
        return model
    unwrapped = getattr(model, "unwrapped", None)
    sparse = getattr(unwrapped, "sparse", None)
    if not isinstance(sparse, SparseMDP):
        raise TypeError(
            "expected a TabularMDP or an env of a task (whose env.unwrapped.sparse "
            f"is a SparseMDP, such as AccessReview-v0), got {type(model).__name__}"
        )
    arrays = as_tabular(sparse.to_tabular(), horizon=time_limit(model))
    start = np.asarray(unwrapped.start_distribution, dtype=np.float64)  # type: ignore[union-attr]
    return dataclasses.replace(arrays, initial_distribution=start)


def optimal_action_mask(
    Q: NDArray[np.float64], V: NDArray[np.float64], terminal: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """``(S, A)`` every action whose ``Q*`` is within :data:`TIE_TOLERANCE` of ``V*``.

    Several at a tie; none in terminal states, nor for unavailable actions
    (their ``Q`` is ``-inf``).

    Args:
        Q: ``(S, A)`` optimal action values.
        V: ``(S,)`` optimal state values.
        terminal: ``(S,)`` the terminal states.
    """
    optimal = (V[:, None] - TIE_TOLERANCE <= Q) & ~terminal[:, None]
    return np.asarray(optimal, dtype=bool)
