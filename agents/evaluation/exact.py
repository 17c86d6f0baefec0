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
from agents.planning import as_sparse, as_tabular
from agents.planning.sparse_bellman import BellmanOperator, Rows, row_branches

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


def scored_model(model: gym.Env[Any, Any] | SparseMDP) -> SparseMDP:
    """The sparse MDP an env's exact figures are computed on, at any size.

    What :func:`scored_arrays` gives, without the dense arrays: the MDP the
    env's ``step`` samples from, its time limit as the horizon and its
    ``reset``'s start distribution (:func:`~agents.planning.as_sparse`). A
    :class:`SparseMDP` is returned as it is.

    Raises:
        TypeError: If ``model`` is neither a SparseMDP nor an env exposing a
            task model.
    """
    return as_sparse(model)


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

MOMENT_MAX_BRANCHES = 2**23
"""Models of at most this many branches (decision plus event) get the return's
variance from the model (:func:`return_moments`, three sparse sums a step
for each policy); larger ones are checked against the rollouts' own standard
error alone. The queue's medium level has 1.2 million branches, its large
level 9.6 million."""


def moments_affordable(sparse: SparseMDP) -> bool:
    """Whether :func:`return_moments` is run for ``sparse`` (see the threshold)."""
    return sparse.nnz <= MOMENT_MAX_BRANCHES


def _weighted(rows: Rows, values: NDArray[np.float64]) -> Rows:
    """The stage ``rows`` with each branch's probability times ``values``."""
    return Rows(rows.indptr, rows.target, rows.probability * values, rows.n_actions)


def return_moments(
    sparse: SparseMDP,
    table: NDArray[np.float64],
    gamma: float,
    horizon: int | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(S,)`` mean ``V`` and ``(S,)`` second moment ``M`` of a policy's return.

    Backward induction over the two stages of a step (Sobel, 1982, "The
    variance of discounted Markov decision processes"). After a decision
    branch to the post-decision state ``x``, the rest of the step's return
    ``Y = r_e + gamma G'`` has, over the event branches ``e`` of ``x``,
    ``E1(x) = sum p_e (r_e + gamma V(s'_e))`` and
    ``E2(x) = sum p_e (r_e^2 + 2 gamma r_e V(s'_e) + gamma^2 M(s'_e))``
    (``E1 = gamma V(x)``, ``E2 = gamma^2 M(x)`` without an event stage); then
    ``V(s) = sum pi(a|s) p_b (r_b + E1(x_b))`` and
    ``M(s) = sum pi(a|s) p_b (r_b^2 + 2 r_b E1(x_b) + E2(x_b))``. Both are 0
    in and after a terminal state. With a horizon of ``H`` steps, ``H``
    backups from 0; without, until they settle (at most
    :data:`MOMENT_ITERATIONS`). Each sum runs on the planners' sparse
    kernels, so the cost is that of a few policy evaluations.

    Args:
        sparse: The MDP.
        table: ``(S, A)`` the policy's action probabilities.
        gamma: The discount.
        horizon: Steps left, or None.
    """
    n_states, n_actions = table.shape
    operator = BellmanOperator.of(sparse, gamma)
    decisions = Rows.of(sparse.decisions, n_actions)
    one_hot = bool(np.all((table == 0.0) | (table == 1.0)))
    chosen = np.argmax(table, axis=1)
    if one_hot:
        rows = np.arange(n_states, dtype=np.int64) * n_actions + chosen
        branches = row_branches(decisions.indptr, rows)
        lengths = decisions.indptr[rows + 1] - decisions.indptr[rows]
        indptr = np.zeros(n_states + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        decisions = Rows(
            indptr, decisions.target[branches], decisions.probability[branches]
        )
        reward = sparse.decisions.reward[branches]
    else:
        reward = sparse.decisions.reward
    by_reward = _weighted(decisions, reward)
    square = np.bincount(
        decisions.row_of,
        weights=decisions.probability * reward**2,
        minlength=decisions.n_rows,
    )
    mean_reward = np.bincount(
        decisions.row_of,
        weights=decisions.probability * reward,
        minlength=decisions.n_rows,
    )
    events = sparse.events
    if events is not None:
        event_rows = Rows.of(events)
        event_by_reward = _weighted(event_rows, events.reward)
        event_mean = events.expected_reward
        event_square = events.row_sums(events.probability * events.reward**2)
    ends = sparse.terminal
    kernel = operator.kernels.stage_sums

    def sums(rows: Rows, x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty((rows.n_rows, *x.shape[1:]))
        kernel(rows, np.ascontiguousarray(x), out)
        return out

    V = np.zeros(n_states)
    second = np.zeros(n_states)
    for _ in range(MOMENT_ITERATIONS if horizon is None else horizon):
        both = np.stack([V, second], axis=1)
        both[ends] = 0.0
        if events is None:
            first, second_part = gamma * both[:, 0], gamma**2 * both[:, 1]
        else:
            after = sums(event_rows, both)
            first = event_mean + gamma * after[:, 0]
            second_part = (
                event_square
                + 2.0 * gamma * sums(event_by_reward, both[:, 0])
                + gamma**2 * after[:, 1]
            )
        new_v = mean_reward + sums(decisions, first)
        new_m = square + 2.0 * sums(by_reward, first) + sums(decisions, second_part)
        if not one_hot:
            new_v = (table * new_v.reshape(n_states, n_actions)).sum(axis=1)
            new_m = (table * new_m.reshape(n_states, n_actions)).sum(axis=1)
        new_v[ends] = 0.0
        new_m[ends] = 0.0
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
