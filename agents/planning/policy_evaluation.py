"""Exact values of a fixed policy: policy evaluation by one linear solve.

Pure functions of a :class:`~access_review_env.TabularMDP` (or of an env that
exposes one). Conventions are those of :mod:`agents.planning.bellman`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from agents.planning.bellman import (
    FloatArray,
    as_tabular,
    bellman_backup,
    check_gamma,
)


@dataclass(frozen=True)
class PolicyEvaluationResult:
    """Exact values of a fixed policy.

    Attributes:
        V: ``(S,)`` ``V^pi``.
        Q: ``(S, A)`` ``Q^pi`` (``-inf`` for invalid actions).
        gamma: The discount used.
    """

    V: FloatArray
    Q: FloatArray
    gamma: float


def policy_matrix(arrays: TabularMDP, policy: NDArray[Any]) -> FloatArray:
    """Return ``(S, A)`` action probabilities of a deterministic or stochastic policy.

    Args:
        arrays: The MDP.
        policy: ``(S,)`` integer actions, or ``(S, A)`` probabilities per state.

    Raises:
        ValueError: If the shape is wrong, an action is out of range, a row is
            not a distribution, or the policy puts mass on an action that has no
            transition in a non-terminal state.
    """
    policy = np.asarray(policy)
    n_states, n_actions = arrays.n_states, arrays.n_actions
    if policy.shape == (n_states,):
        if not np.issubdtype(policy.dtype, np.integer):
            raise ValueError(
                f"a deterministic policy must hold integers, got {policy.dtype}"
            )
        if np.any((policy < 0) | (policy >= n_actions)):
            raise ValueError(f"policy actions must be in [0, {n_actions - 1}]")
        probabilities = np.zeros((n_states, n_actions))
        probabilities[np.arange(n_states), policy] = 1.0
    elif policy.shape == (n_states, n_actions):
        probabilities = policy.astype(float)
        if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0):
            raise ValueError("each row of a stochastic policy must be a distribution")
    else:
        raise ValueError(
            f"policy must have shape ({n_states},) or ({n_states}, {n_actions}), "
            f"got {policy.shape}"
        )
    has_transition = np.isclose(arrays.transitions.sum(axis=2), 1.0)
    bad = (probabilities > 0) & ~has_transition & ~arrays.terminal[:, None]
    if np.any(bad):
        state, action = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"policy chooses action {action} in state {state}, which has no transition"
        )
    return probabilities


def policy_evaluation(
    model: TabularMDP | Any, policy: NDArray[Any], gamma: float | None = None
) -> PolicyEvaluationResult:
    """Exact ``V^pi`` and ``Q^pi`` by one linear solve (Sutton & Barto, equation 4.4).

    Solves ``(I - gamma P_pi) V = R_pi`` over the non-terminal states, where
    ``P_pi`` leaves out transitions into terminal states.

    Args:
        model: A :class:`TabularMDP` or an env exposing one.
        policy: ``(S,)`` integer actions, or ``(S, A)`` action probabilities.
        gamma: Discount in [0, 1]; the task's when None.

    Raises:
        ValueError: For a malformed policy (see :func:`policy_matrix`), or when
            the values are infinite (``gamma = 1`` and the policy can run forever).
    """
    arrays = as_tabular(model)
    gamma = check_gamma(arrays.gamma if gamma is None else gamma)
    probabilities = policy_matrix(arrays, policy)
    live = ~arrays.terminal
    rewards_pi = np.einsum("sa,sa->s", probabilities, arrays.rewards)
    transitions_pi = np.einsum("sa,sat->st", probabilities, arrays.transitions)
    inner = np.ix_(live, live)
    system = np.eye(int(live.sum())) - gamma * transitions_pi[inner]
    try:
        values = np.linalg.solve(system, rewards_pi[live])
    except np.linalg.LinAlgError:
        raise ValueError(
            "the policy's values are infinite: with gamma = 1 it can run forever "
            "without reaching a terminal state"
        ) from None
    V = np.zeros(arrays.n_states)
    V[live] = values
    return PolicyEvaluationResult(V, bellman_backup(arrays, V, gamma), gamma)


def reachable_states(arrays: TabularMDP, table: FloatArray) -> NDArray[np.bool_]:
    """``(S,)`` the states a policy ``table`` ``(S, A)`` can reach from the start.

    A start is any state of positive initial probability; terminal states are
    reached but not left.
    """
    flow = np.einsum("sa,sat->st", table, arrays.transitions) > 0
    reachable = np.zeros(arrays.n_states, dtype=bool)
    frontier = arrays.initial_distribution > 0
    while frontier.any():
        reachable |= frontier
        frontier = flow[frontier & ~arrays.terminal].any(axis=0) & ~reachable
    return reachable


def start_value(arrays: TabularMDP, table: FloatArray) -> float | None:
    """Exact ``V^pi`` of the start distribution, or None if the policy cannot run.

    Only the states the policy reaches from a start matter, so an action with
    no transition (an invalid action under ``invalid_action="raise"``) in a
    state it never reaches is replaced before evaluating. None when such an
    action is taken in a reachable state: there the env would refuse it.

    Args:
        arrays: The MDP.
        table: ``(S, A)`` the policy's action probabilities.
    """
    reachable = reachable_states(arrays, table)
    runnable = table.copy()
    for state in np.flatnonzero(~reachable & ~arrays.terminal):
        runnable[state] = np.eye(arrays.n_actions)[
            np.argmax(arrays.valid_actions[state])
        ]
    try:
        values = policy_evaluation(arrays, runnable).V
    except ValueError:
        return None
    return float(arrays.initial_distribution @ values)
