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
    Horizon,
    as_tabular,
    bellman_backup,
    check_gamma,
    horizon_text,
)


@dataclass(frozen=True)
class PolicyEvaluationResult:
    """Exact values of a fixed policy.

    Attributes:
        V: ``(S,)`` ``V^pi`` (with ``horizon`` steps left, if set).
        Q: ``(S, A)`` ``Q^pi``: the value of taking ``a`` first, then following
            the policy (``-inf`` for unavailable actions).
        gamma: The discount used.
        horizon: The steps evaluated, or None for an infinite horizon.
    """

    V: FloatArray
    Q: FloatArray
    gamma: float
    horizon: int | None = None

    @property
    def horizon_text(self) -> str:
        """Which values these are: infinite horizon, or the finite horizon used."""
        return horizon_text(self.horizon)


def policy_matrix(arrays: TabularMDP, policy: NDArray[Any]) -> FloatArray:
    """Return ``(S, A)`` action probabilities of a deterministic or stochastic policy.

    Args:
        arrays: The MDP.
        policy: ``(S,)`` integer actions, or ``(S, A)`` probabilities per state.

    Raises:
        ValueError: If the shape is wrong, an action is out of range, a row is
            not a distribution, or the policy puts mass on an action that is not
            available in a non-terminal state.
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
    check_available(arrays, probabilities)
    return probabilities


def check_available(arrays: TabularMDP, probabilities: FloatArray) -> None:
    """Refuse policies ``(..., S, A)`` with mass on an unavailable action.

    Terminal states are exempt: nothing is chosen there.

    Raises:
        ValueError: Naming the first such state and action.
    """
    bad = (probabilities > 0) & ~arrays.available_actions & ~arrays.terminal[:, None]
    if np.any(bad):
        state, action = (int(i) for i in np.argwhere(bad)[0][-2:])
        raise ValueError(
            f"policy chooses action {action} in state {state}, which is not "
            "available there (it has no transition)"
        )


def policy_dynamics(
    arrays: TabularMDP, probabilities: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A policy's expected rewards and state-to-state probabilities.

    Args:
        arrays: The MDP.
        probabilities: ``(..., S, A)`` one policy's action probabilities, or many.

    Returns:
        ``rewards_pi`` ``(..., S)`` (0 in terminal states) and ``transitions_pi``
        ``(..., S, S)``.
    """
    rewards_pi = np.einsum("...sa,sa->...s", probabilities, arrays.rewards)
    rewards_pi[..., arrays.terminal] = 0.0
    transitions_pi = np.einsum("...sa,sat->...st", probabilities, arrays.transitions)
    return rewards_pi, transitions_pi


def backward_induction(
    arrays: TabularMDP,
    rewards_pi: FloatArray,
    transitions_pi: FloatArray,
    gamma: float,
    horizon: int,
) -> tuple[FloatArray, FloatArray]:
    """Values of policies with ``horizon`` and ``horizon - 1`` steps left.

    Args:
        arrays: The MDP (for its terminal states, where no value is carried).
        rewards_pi: ``(..., S)`` expected rewards, from :func:`policy_dynamics`.
        transitions_pi: ``(..., S, S)`` state-to-state probabilities.
        gamma: The discount.
        horizon: Steps left, at least 1.

    Returns:
        ``(V_H, V_{H-1})``, each ``(..., S)``.
    """
    continuation = transitions_pi * ~arrays.terminal
    continuation[..., arrays.terminal, :] = 0.0
    V = np.zeros(rewards_pi.shape)
    before_last = V
    for _ in range(horizon):
        before_last = V
        V = rewards_pi + gamma * np.einsum("...st,...t->...s", continuation, V)
    return V, before_last


def can_reach_terminal(
    arrays: TabularMDP, transitions_pi: FloatArray
) -> NDArray[np.bool_]:
    """``(S,)`` the states from which a policy reaches a terminal state with p > 0.

    Args:
        arrays: The MDP.
        transitions_pi: ``(S, S)`` the policy's state-to-state probabilities.
    """
    flow = transitions_pi > 0
    reach = arrays.terminal.copy()
    while True:
        grown = reach | flow[:, reach].any(axis=1)
        if np.array_equal(grown, reach):
            return reach
        reach = grown


def _solve_infinite_horizon(
    arrays: TabularMDP,
    rewards_pi: FloatArray,
    transitions_pi: FloatArray,
    gamma: float,
) -> FloatArray:
    """``V^pi`` by one linear solve over the states whose values are not fixed.

    With ``gamma = 1`` a policy can circle forever among live states that never
    reach a terminal state. Their values are 0 when every reward there is 0;
    otherwise the sum of rewards diverges (or oscillates) and this raises.
    """
    V = np.zeros(arrays.n_states)
    unknown = ~arrays.terminal
    if gamma == 1.0:
        stuck = unknown & ~can_reach_terminal(arrays, transitions_pi)
        earning = stuck & (rewards_pi != 0.0)
        if earning.any():
            names = arrays.state_names or tuple(map(str, range(arrays.n_states)))
            where = ", ".join(names[s] for s in np.flatnonzero(earning))
            raise ValueError(
                "the policy's values are infinite or undefined: with gamma = 1 it "
                f"stays forever among states that pay nonzero rewards ({where})"
            )
        unknown &= ~stuck
    inner = np.ix_(unknown, unknown)
    system = np.eye(int(unknown.sum())) - gamma * transitions_pi[inner]
    V[unknown] = np.linalg.solve(system, rewards_pi[unknown])
    return V


def policy_evaluation(
    model: TabularMDP | Any,
    policy: NDArray[Any],
    gamma: float | None = None,
    horizon: Horizon = "model",
) -> PolicyEvaluationResult:
    """Exact ``V^pi`` and ``Q^pi`` of a stationary policy.

    Without a horizon: one linear solve of ``(I - gamma P_pi) V = R_pi`` over
    the non-terminal states (Sutton & Barto, equation 4.4), ``P_pi`` leaving
    out transitions into terminal states. With a horizon of ``H`` steps:
    ``H`` backups of the policy from ``V = 0``, the value with ``H`` steps left.

    Args:
        model: A :class:`TabularMDP` or an env exposing one (an env made by
            ``gym.make`` is evaluated as registered, with its time limit).
        policy: ``(S,)`` integer actions, or ``(S, A)`` action probabilities.
        gamma: Discount in [0, 1]; the task's when None.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.

    Raises:
        ValueError: For a malformed policy (see :func:`policy_matrix`), or when
            the values are infinite (``gamma = 1``, no horizon, and the policy
            can stay forever among states that pay nonzero rewards).
    """
    arrays = as_tabular(model, horizon)
    gamma = check_gamma(arrays.gamma if gamma is None else gamma)
    probabilities = policy_matrix(arrays, policy)
    rewards_pi, transitions_pi = policy_dynamics(arrays, probabilities)
    if arrays.horizon is None:
        V = _solve_infinite_horizon(arrays, rewards_pi, transitions_pi, gamma)
        before_last = V
    else:
        V, before_last = backward_induction(
            arrays, rewards_pi, transitions_pi, gamma, arrays.horizon
        )
    return PolicyEvaluationResult(
        V, bellman_backup(arrays, before_last, gamma), gamma, arrays.horizon
    )


def reachable_states(arrays: TabularMDP, table: FloatArray) -> NDArray[np.bool_]:
    """``(S,)`` the states where a policy ``table`` ``(S, A)`` takes a decision.

    A start is any state of positive initial probability; terminal states are
    reached but not left. With a horizon of ``H`` steps, only states reached
    within ``H - 1`` transitions count: the episode is cut before any later one.
    """
    flow = np.einsum("sa,sat->st", table, arrays.transitions) > 0
    reachable = np.zeros(arrays.n_states, dtype=bool)
    frontier = arrays.initial_distribution > 0
    depth = 0
    while frontier.any() and (arrays.horizon is None or depth < arrays.horizon):
        reachable |= frontier
        frontier = flow[frontier & ~arrays.terminal].any(axis=0) & ~reachable
        depth += 1
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
            np.argmax(arrays.available_actions[state])
        ]
    try:
        values = policy_evaluation(arrays, runnable).V
    except ValueError:
        return None
    return float(arrays.initial_distribution @ values)
