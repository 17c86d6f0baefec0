"""Exact planning on a finite MDP given as arrays: value iteration, policy evaluation.

Pure functions of a :class:`~access_review_env.TabularMDP`; they never step an
environment. Conventions for every result:

* ``V[s] = 0`` and ``Q[s, :] = 0`` for a terminal state ``s``: no return is
  bootstrapped past a terminal state, whatever its row of ``transitions`` says
  (Sutton & Barto, section 3.4).
* ``Q[s, a] = -inf`` for an action invalid in a non-terminal state, so that an
  argmax never picks it.
* A greedy policy picks the lowest-index maximizing action, and action 0 in
  terminal states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def as_tabular(model: TabularMDP | Any) -> TabularMDP:
    """Return the planning arrays of ``model``: a TabularMDP, or an env exposing one.

    Args:
        model: A :class:`TabularMDP`, or an environment (wrapped or not) whose
            ``unwrapped.mdp.arrays`` is one, as ``AccessReviewEnv``'s is.

    Raises:
        TypeError: If ``model`` is neither.
    """
    if isinstance(model, TabularMDP):
        return model
    arrays = getattr(
        getattr(getattr(model, "unwrapped", None), "mdp", None), "arrays", None
    )
    if isinstance(arrays, TabularMDP):
        return arrays
    raise TypeError(
        "expected a TabularMDP or an environment whose env.unwrapped.mdp.arrays is "
        f"one (such as AccessReview-v0), got {type(model).__name__}"
    )


def _backup_arrays(mdp: TabularMDP) -> tuple[FloatArray, FloatArray]:
    """Rewards and transitions with the module's conventions built in.

    Returns ``(base, continuation)`` such that ``base + gamma * continuation @ V``
    is the backup: ``base`` is ``-inf`` for invalid actions and 0 in terminal
    states; ``continuation`` drops every transition into or out of a terminal state.
    """
    live = ~mdp.terminal
    base = np.where(mdp.valid_actions, mdp.rewards, -np.inf)
    base[mdp.terminal] = 0.0
    continuation = mdp.transitions * live[None, None, :]
    continuation[mdp.terminal] = 0.0
    return base, continuation


def bellman_backup(
    mdp: TabularMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """One Bellman backup: ``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``.

    Args:
        mdp: The MDP arrays.
        V: ``(S,)`` state values to bootstrap from; terminal entries are ignored.
        gamma: Discount; the MDP's own when None.

    Returns:
        ``(S, A)`` action values, with the module's conventions for terminal
        states and invalid actions.
    """
    gamma = mdp.gamma if gamma is None else gamma
    base, continuation = _backup_arrays(mdp)
    return np.asarray(base + gamma * (continuation @ np.asarray(V, dtype=float)))


def greedy_policy(Q: FloatArray) -> IntArray:
    """``(S,)`` lowest-index argmax of ``Q`` ``(S, A)``."""
    return np.asarray(np.argmax(Q, axis=1), dtype=np.int64)


def bellman_optimality_operator(
    mdp: TabularMDP, V: FloatArray, gamma: float | None = None
) -> FloatArray:
    """``(T V)[s] = max_a Q[s, a]``, the operator value iteration iterates."""
    return np.asarray(bellman_backup(mdp, V, gamma).max(axis=1), dtype=np.float64)


@dataclass(frozen=True)
class ValueIterationResult:
    """What value iteration found.

    Attributes:
        V: ``(S,)`` optimal state values.
        Q: ``(S, A)`` optimal action values (``-inf`` for invalid actions).
        policy: ``(S,)`` a greedy, hence optimal, deterministic policy.
        history: ``(n_sweeps, S)`` V after each sweep (row 0 is after sweep 1).
        converged: Whether a sweep changed no value by more than the tolerance.
        gamma: The discount used.
    """

    V: FloatArray
    Q: FloatArray
    policy: IntArray
    history: FloatArray
    converged: bool
    gamma: float

    @property
    def n_sweeps(self) -> int:
        """Number of sweeps run."""
        return int(self.history.shape[0])


def value_iteration(
    model: TabularMDP | Any,
    gamma: float | None = None,
    tol: float = 1e-10,
    max_sweeps: int = 10_000,
) -> ValueIterationResult:
    """Synchronous value iteration from ``V = 0``, as in the lesson.

    Each sweep computes every state's new value from the previous sweep's
    values (Sutton & Barto, equation 4.10). It stops after the first sweep that
    changes no value by more than ``tol``, or after ``max_sweeps``.

    Args:
        model: A :class:`TabularMDP` or an env exposing one (see :func:`as_tabular`).
        gamma: Discount in [0, 1]; the task's (0.9 for AccessReview-v0) when None.
        tol: Stopping tolerance on the largest change of a value in one sweep.
        max_sweeps: Upper bound on sweeps.

    Returns:
        A :class:`ValueIterationResult`.

    Raises:
        ValueError: If ``gamma``, ``tol`` or ``max_sweeps`` is out of range.
    """
    mdp = as_tabular(model)
    gamma = _check_gamma(mdp.gamma if gamma is None else gamma)
    if not tol >= 0.0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if max_sweeps < 1:
        raise ValueError(f"max_sweeps must be >= 1, got {max_sweeps}")
    base, continuation = _backup_arrays(mdp)
    discounted = gamma * continuation
    V = np.zeros(mdp.n_states)
    history = []
    converged = False
    for _ in range(max_sweeps):
        updated = (base + discounted @ V).max(axis=1)
        history.append(updated)
        change = float(np.abs(updated - V).max())
        V = updated
        if change <= tol:
            converged = True
            break
    Q = base + discounted @ V
    return ValueIterationResult(
        V, Q, greedy_policy(Q), np.array(history), converged, gamma
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


def policy_matrix(mdp: TabularMDP, policy: NDArray[Any]) -> FloatArray:
    """Return ``(S, A)`` action probabilities of a deterministic or stochastic policy.

    Args:
        mdp: The MDP arrays.
        policy: ``(S,)`` integer actions, or ``(S, A)`` probabilities per state.

    Raises:
        ValueError: If the shape is wrong, an action is out of range, a row is
            not a distribution, or the policy puts mass on an action that has no
            transition in a non-terminal state.
    """
    policy = np.asarray(policy)
    n_states, n_actions = mdp.n_states, mdp.n_actions
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
    has_transition = np.isclose(mdp.transitions.sum(axis=2), 1.0)
    bad = (probabilities > 0) & ~has_transition & ~mdp.terminal[:, None]
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
    mdp = as_tabular(model)
    gamma = _check_gamma(mdp.gamma if gamma is None else gamma)
    probabilities = policy_matrix(mdp, policy)
    live = ~mdp.terminal
    rewards_pi = np.einsum("sa,sa->s", probabilities, mdp.rewards)
    transitions_pi = np.einsum("sa,sat->st", probabilities, mdp.transitions)
    inner = np.ix_(live, live)
    system = np.eye(int(live.sum())) - gamma * transitions_pi[inner]
    try:
        values = np.linalg.solve(system, rewards_pi[live])
    except np.linalg.LinAlgError:
        raise ValueError(
            "the policy's values are infinite: with gamma = 1 it can run forever "
            "without reaching a terminal state"
        ) from None
    V = np.zeros(mdp.n_states)
    V[live] = values
    return PolicyEvaluationResult(V, bellman_backup(mdp, V, gamma), gamma)


def _check_gamma(gamma: float) -> float:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    return float(gamma)
