"""The MDP every exact figure of an env is computed on, and its optimal actions.

An env made by ``gym.make`` is scored as made: the MDP its ``step`` samples
from, its time limit as a finite horizon, and the start distribution its
``reset`` draws from (uniform over the non-terminal states under
``exploring_starts=True``), so that exact values and rollouts of the same
configuration estimate the same number. The model also gives the spread of
one episode's return (:func:`return_deviation`), against which rollouts are
checked.
"""

from __future__ import annotations

import dataclasses
import math
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


MOMENT_ITERATIONS = 100_000
"""Backups at most of :func:`return_moments` without a horizon (it stops
earlier once the values settle)."""


def return_moments(
    sparse: SparseMDP,
    table: NDArray[np.float64],
    gamma: float,
    horizon: int | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(S,)`` mean ``V`` and ``(S,)`` second moment ``M`` of a policy's return.

    Backward induction over the composed transitions (one entry per
    decision and event branch, with its own reward, :meth:`SparseMDP.transitions`):
    ``V(s) = sum pi(a|s) p (r + gamma V(s'))`` and
    ``M(s) = sum pi(a|s) p (r^2 + 2 gamma r V(s') + gamma^2 M(s'))``, both 0
    in and after a terminal state (Sobel, 1982, "The variance of discounted
    Markov decision processes"). With a horizon of ``H`` steps, ``H``
    backups from 0; without, until they settle (at most
    :data:`MOMENT_ITERATIONS`).

    Args:
        sparse: The MDP.
        table: ``(S, A)`` the policy's action probabilities.
        gamma: The discount.
        horizon: Steps left, or None.
    """
    n_states, n_actions = table.shape
    composed = sparse.transitions()
    rows = np.repeat(
        np.arange(n_states * n_actions, dtype=np.int64), np.diff(composed.indptr)
    )
    weight = table.reshape(-1)[rows] * composed.probability
    source = rows // n_actions
    target = composed.target
    reward = composed.reward
    ends = sparse.terminal[target]
    V = np.zeros(n_states)
    second = np.zeros(n_states)
    for _ in range(MOMENT_ITERATIONS if horizon is None else horizon):
        after_v = np.where(ends, 0.0, V[target])
        after_m = np.where(ends, 0.0, second[target])
        new_v = np.bincount(
            source, weight * (reward + gamma * after_v), minlength=n_states
        ).astype(np.float64)
        new_m = np.bincount(
            source,
            weight * (reward**2 + 2 * gamma * reward * after_v + gamma**2 * after_m),
            minlength=n_states,
        ).astype(np.float64)
        new_v[sparse.terminal] = 0.0
        new_m[sparse.terminal] = 0.0
        settled = np.allclose(new_v, V, rtol=0.0, atol=1e-12) and np.allclose(
            new_m, second, rtol=1e-12, atol=1e-12
        )
        V, second = new_v, new_m
        if horizon is None and settled:
            break
    return V, second


def return_deviation(
    sparse: SparseMDP,
    table: NDArray[np.float64],
    start: NDArray[np.float64],
    gamma: float,
    horizon: int | None,
) -> float:
    """The standard deviation of one episode's discounted return, from the model.

    Over the start distribution too (the law of total variance): the
    variance is ``start @ M - (start @ V)**2`` with :func:`return_moments`.

    Args:
        sparse: The MDP.
        table: ``(S, A)`` the policy's action probabilities.
        start: ``(S,)`` the start distribution.
        gamma: The discount.
        horizon: Steps in an episode at most, or None.
    """
    V, second = return_moments(sparse, table, gamma, horizon)
    mean = float(start @ V)
    return math.sqrt(max(float(start @ second) - mean * mean, 0.0))
