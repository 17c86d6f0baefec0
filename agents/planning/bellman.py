"""The Bellman backup on a finite MDP, with the planners' conventions.

Every planner in :mod:`agents.planning` reads a model through :func:`as_sparse`:
a :class:`~access_review_env.TabularMDP`, a
:class:`~access_review_env.model.sparse.SparseMDP` or an env exposing one, all
planned on the sparse form (:mod:`.sparse_bellman`). Conventions:

* ``V[s] = 0`` and ``Q[s, :] = 0`` for a terminal state ``s``: no return is
  bootstrapped past a terminal state, whatever its row of ``transitions`` says
  (Sutton & Barto, section 3.4).
* ``Q[s, a] = -inf`` for an action that is not available in a non-terminal
  state, so that an argmax never picks it.
* A greedy policy picks the lowest-index maximizing action, and action 0 in
  terminal states.
* With a ``horizon`` (a time limit of ``H`` steps), values are those of an
  episode with ``H`` steps left, found by backward induction; without one,
  the infinite-horizon values.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.model.sparse import SparseMDP
from access_review_env.validation import check_integer, check_unit_interval
from access_review_env.wrappers import time_limit
from agents.planning.sparse_bellman import BellmanOperator

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


Horizon = int | None | Literal["model"]
"""A planner's ``horizon`` argument: ``"model"`` takes the MDP's own (for an
env, its time limit), None plans without a limit, an int for that many steps."""

Model = TabularMDP | SparseMDP | Any
"""What a planner accepts: a TabularMDP, a SparseMDP, or an env exposing one."""


def _check_horizon(horizon: Horizon) -> int | Literal["model"] | None:
    if horizon == "model" or horizon is None:
        return horizon
    return check_integer("horizon", horizon, low=1)


def as_sparse(model: Model, horizon: Horizon = "model") -> SparseMDP:
    """Return the sparse model of ``model``, the form every planner runs on.

    Args:
        model: A :class:`SparseMDP`; a :class:`TabularMDP` (converted by
            :meth:`SparseMDP.from_tabular`); or an environment (wrapped or not)
            whose ``unwrapped.mdp.sparse`` is one, as every task's env has. An
            env's model is the MDP its ``step`` implements, with its time limit
            (see :func:`time_limit`) as the horizon and, if the env has one,
            ``env.unwrapped.start_distribution`` (what ``reset`` draws from,
            exploring starts included) as the initial distribution.
        horizon: ``"model"`` keeps the horizon just described; None or an int
            replaces it.

    Raises:
        TypeError: If ``model`` is none of these.
        ValueError: For a horizon that is not an integer >= 1, None or "model".
    """
    horizon = _check_horizon(horizon)
    if isinstance(model, SparseMDP):
        mdp = model
    elif isinstance(model, TabularMDP):
        mdp = SparseMDP.from_tabular(model)
    else:
        unwrapped = getattr(model, "unwrapped", None)
        found = getattr(getattr(unwrapped, "mdp", None), "sparse", None)
        if not isinstance(found, SparseMDP):
            raise TypeError(
                "expected a TabularMDP, a SparseMDP or an environment whose "
                "env.unwrapped.mdp.sparse is one (such as AccessReview-v0), got "
                f"{type(model).__name__}"
            )
        start = getattr(unwrapped, "start_distribution", None)
        mdp = _replaced(found, time_limit(model), start)
    if horizon == "model":
        return mdp
    return _replaced(mdp, horizon, None)


def _replaced(
    mdp: SparseMDP, horizon: int | None, start: NDArray[Any] | None
) -> SparseMDP:
    """``mdp`` with another horizon and start, rebuilt only if either differs."""
    changes: dict[str, Any] = {}
    if horizon != mdp.horizon:
        changes["horizon"] = horizon
    if start is not None and not np.array_equal(start, mdp.initial_distribution):
        changes["initial_distribution"] = start
    return mdp.replace(**changes) if changes else mdp


def as_tabular(model: Model, horizon: Horizon = "model") -> TabularMDP:
    """Return the dense arrays of ``model``: a view of :func:`as_sparse`'s model.

    A :class:`TabularMDP` is returned as it is (with ``horizon`` applied);
    anything else as ``as_sparse(model, horizon).to_tabular()``.

    Raises:
        TypeError: If ``model`` is not a model or an env exposing one.
        ValueError: For a horizon that is not an integer >= 1, None or "model".
        ModelTooLargeError: If the dense arrays would exceed
            :data:`~access_review_env.model.sparse.DENSE_MAX_ENTRIES`.
    """
    if not isinstance(model, TabularMDP):
        return as_sparse(model, horizon).to_tabular()
    horizon = _check_horizon(horizon)
    if horizon == "model" or horizon == model.horizon:
        return model
    return dataclasses.replace(model, horizon=horizon)


def horizon_text(horizon: int | None) -> str:
    """How a result says which values it holds."""
    if horizon is None:
        return "infinite horizon"
    return f"finite horizon of {horizon} steps (the time limit)"


def check_gamma(gamma: object) -> float:
    """Return ``gamma`` as a float in [0, 1].

    Raises:
        TypeError: If it is not a real number.
        ValueError: If it lies outside [0, 1].
    """
    return check_unit_interval("gamma", gamma)


def bellman_backup(
    arrays: TabularMDP | SparseMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``.

    Args:
        arrays: The MDP, dense or sparse.
        V: ``(S,)`` state values to bootstrap from; terminal entries are ignored.
        gamma: Discount; the MDP's own when None.

    Returns:
        ``(S, A)`` action values, with the module's conventions for terminal
        states and unavailable actions.
    """
    mdp = as_sparse(arrays)
    gamma = mdp.gamma if gamma is None else check_gamma(gamma)
    return BellmanOperator.of(mdp, gamma).q_values(np.asarray(V, dtype=float))


def greedy_policy(Q: FloatArray) -> IntArray:
    """``(S,)`` lowest-index argmax of ``Q`` ``(S, A)``."""
    return np.asarray(np.argmax(Q, axis=1), dtype=np.int64)


def bellman_optimality_operator(
    arrays: TabularMDP | SparseMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """``(T V)[s] = max_a Q[s, a]``, the operator value iteration iterates."""
    return np.asarray(bellman_backup(arrays, V, gamma).max(axis=1), dtype=np.float64)
