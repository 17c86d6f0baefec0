"""The Bellman backup on a finite MDP given as arrays, with the planners' conventions.

Conventions for every planner in :mod:`agents.planning`:

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
from access_review_env.validation import check_integer, check_unit_interval
from access_review_env.wrappers import time_limit

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


Horizon = int | None | Literal["model"]
"""A planner's ``horizon`` argument: ``"model"`` takes the MDP's own (for an
env, its time limit), None plans without a limit, an int for that many steps."""


def as_tabular(model: TabularMDP | Any, horizon: Horizon = "model") -> TabularMDP:
    """Return the planning arrays of ``model``: a TabularMDP, or an env exposing one.

    Args:
        model: A :class:`TabularMDP`, or an environment (wrapped or not) whose
            ``unwrapped.mdp.arrays`` is one, as every task's env has. An env's
            arrays are the MDP its ``step`` implements, with its time limit
            (see :func:`time_limit`) as the horizon.
        horizon: ``"model"`` keeps the horizon just described; None or an int
            replaces it.

    Raises:
        TypeError: If ``model`` is neither.
        ValueError: For a horizon that is not an integer >= 1, None or "model".
    """
    if isinstance(model, TabularMDP):
        arrays = model
    else:
        found = getattr(
            getattr(getattr(model, "unwrapped", None), "mdp", None), "arrays", None
        )
        if not isinstance(found, TabularMDP):
            raise TypeError(
                "expected a TabularMDP or an environment whose env.unwrapped.mdp."
                f"arrays is one (such as AccessReview-v0), got {type(model).__name__}"
            )
        arrays = dataclasses.replace(found, horizon=time_limit(model))
    if horizon == "model":
        return arrays
    if horizon is not None:
        horizon = check_integer("horizon", horizon, low=1)
    return dataclasses.replace(arrays, horizon=horizon)


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


def backup_arrays(arrays: TabularMDP) -> tuple[FloatArray, FloatArray]:
    """Rewards and transitions with the module's conventions built in.

    Returns ``(base, continuation)`` such that ``base + gamma * continuation @ V``
    is the backup: ``base`` ``(S, A)`` is ``-inf`` for actions a policy may not
    choose and 0 in terminal states; ``continuation`` ``(S, A, S)`` drops every
    transition into or out of a terminal state.
    """
    live = ~arrays.terminal
    base = np.where(arrays.available_actions, arrays.rewards, -np.inf)
    base[arrays.terminal] = 0.0
    continuation = arrays.transitions * live[None, None, :]
    continuation[arrays.terminal] = 0.0
    return base, continuation


def bellman_backup(
    arrays: TabularMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``.

    Args:
        arrays: The MDP.
        V: ``(S,)`` state values to bootstrap from; terminal entries are ignored.
        gamma: Discount; the MDP's own when None.

    Returns:
        ``(S, A)`` action values, with the module's conventions for terminal
        states and unavailable actions.
    """
    gamma = arrays.gamma if gamma is None else check_gamma(gamma)
    base, continuation = backup_arrays(arrays)
    return np.asarray(base + gamma * (continuation @ np.asarray(V, dtype=float)))


def greedy_policy(Q: FloatArray) -> IntArray:
    """``(S,)`` lowest-index argmax of ``Q`` ``(S, A)``."""
    return np.asarray(np.argmax(Q, axis=1), dtype=np.int64)


def bellman_optimality_operator(
    arrays: TabularMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """``(T V)[s] = max_a Q[s, a]``, the operator value iteration iterates."""
    return np.asarray(bellman_backup(arrays, V, gamma).max(axis=1), dtype=np.float64)
