"""Exact values of fixed policies, on the sparse model.

Pure functions of a model (see :func:`~agents.planning.bellman.as_sparse`).
Conventions are those of :mod:`agents.planning.bellman`. How values are found:

* with a horizon of ``H`` steps: ``H`` backups of the policy from ``V = 0``
  on the sparse model (backward induction; exact);
* without one, where the dense arrays are affordable (``S * A * S`` at most
  :data:`~access_review_env.model.sparse.DENSE_MAX_ENTRIES`): one linear solve
  of ``(I - gamma P_pi) V = R_pi`` over the non-terminal states (exact to
  rounding; ``gamma = 1`` allowed);
* without one on a larger model: the policy's backup iterated from ``V = 0``
  until a sweep changes no value by more than ``tol * (1 - gamma) / gamma``,
  which bounds the error of the values returned by ``tol`` in every state
  (``||V_k - V^pi|| <= gamma / (1 - gamma) ||V_k - V_{k-1}||``, Puterman,
  1994, section 6.3). It needs ``gamma < 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.model.sparse import DENSE_MAX_ENTRIES, SparseMDP
from access_review_env.validation import check_real
from agents.planning.bellman import (
    FloatArray,
    Horizon,
    IntArray,
    Model,
    as_sparse,
    check_gamma,
    horizon_text,
)
from agents.planning.sparse_bellman import (
    Backend,
    BellmanOperator,
    PolicyRows,
    row_branches,
)

DEFAULT_TOL = 1e-10
"""Error bound of iterative policy evaluation (larger models, no horizon)."""

_CHUNK_ENTRIES = 2**24
"""Policies per batched linear solve: as many ``S x S`` matrices as fit in
this many entries (128 MiB), to bound temporary memory."""


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


def check_actions(arrays: TabularMDP | SparseMDP, actions: NDArray[Any]) -> None:
    """Refuse action tables ``(..., S)`` with an action out of range or unavailable.

    Terminal states are exempt from availability: nothing is chosen there.

    Raises:
        ValueError: If an action is not an integer in ``[0, A - 1]``, or names
            the first state whose action has no transition.
    """
    if not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(
            f"a deterministic policy must hold integers, got {actions.dtype}"
        )
    n_actions = arrays.n_actions
    if np.any((actions < 0) | (actions >= n_actions)):
        raise ValueError(f"policy actions must be in [0, {n_actions - 1}]")
    states = np.arange(arrays.n_states)
    bad = ~arrays.available_actions[states, actions] & ~arrays.terminal
    if np.any(bad):
        where = np.argwhere(bad)[0]
        state = int(where[-1])
        _unavailable(state, int(actions[tuple(where)]))


def _unavailable(state: int, action: int) -> None:
    raise ValueError(
        f"policy chooses action {action} in state {state}, which is not "
        "available there (it has no transition)"
    )


def check_available(
    arrays: TabularMDP | SparseMDP, probabilities: NDArray[Any]
) -> None:
    """Refuse policies ``(..., S, A)`` with mass on an unavailable action.

    Terminal states are exempt: nothing is chosen there.

    Raises:
        ValueError: Naming the first such state and action.
    """
    bad = (probabilities > 0) & ~arrays.available_actions & ~arrays.terminal[:, None]
    if np.any(bad):
        state, action = (int(i) for i in np.argwhere(bad)[0][-2:])
        _unavailable(state, action)


def policy_matrix(arrays: TabularMDP | SparseMDP, policy: NDArray[Any]) -> FloatArray:
    """Return ``(S, A)`` action probabilities of a deterministic or stochastic policy.

    Args:
        arrays: The MDP, dense or sparse.
        policy: ``(S,)`` integer actions, or ``(S, A)`` probabilities per state.

    Raises:
        ValueError: If the shape is wrong, an action is out of range, a row is
            not a distribution, or the policy puts mass on an action that is not
            available in a non-terminal state.
    """
    policy = np.asarray(policy)
    n_states, n_actions = arrays.n_states, arrays.n_actions
    if policy.shape == (n_states,):
        check_actions(arrays, policy)
        probabilities = np.zeros((n_states, n_actions))
        probabilities[np.arange(n_states), policy] = 1.0
        return probabilities
    if policy.shape == (n_states, n_actions):
        probabilities = policy.astype(float)
        if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0):
            raise ValueError("each row of a stochastic policy must be a distribution")
        check_available(arrays, probabilities)
        return probabilities
    raise ValueError(
        f"policy must have shape ({n_states},) or ({n_states}, {n_actions}), "
        f"got {policy.shape}"
    )


def policy_dynamics(
    arrays: TabularMDP, probabilities: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A policy's expected rewards and state-to-state probabilities (dense).

    Args:
        arrays: The MDP's dense arrays.
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
    """Values of policies with ``horizon`` and ``horizon - 1`` steps left (dense).

    The planners run backward induction on the sparse model
    (:func:`sweep_values`); this is its dense form, for callers holding
    :func:`policy_dynamics`.

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


def _solve_one(
    arrays: TabularMDP,
    rewards_pi: FloatArray,
    transitions_pi: FloatArray,
    gamma: float,
) -> FloatArray:
    """``V^pi`` ``(S,)`` by one linear solve over the states whose values are not fixed.

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


def dense_values(
    arrays: TabularMDP, probabilities: FloatArray, gamma: float
) -> FloatArray:
    """``(K, S)`` infinite-horizon values of ``K`` policies ``(K, S, A)``, solved.

    With ``gamma < 1`` the policies are solved in batches over the live
    states; with ``gamma = 1`` one by one, as :func:`policy_evaluation`
    describes.

    Raises:
        ValueError: If a policy's values are infinite or undefined.
    """
    live = np.flatnonzero(~arrays.terminal)
    values = np.zeros(probabilities.shape[:-1])
    chunk = max(1, _CHUNK_ENTRIES // arrays.n_states**2)
    for start in range(0, len(values), chunk):
        part = slice(start, start + chunk)
        rewards_pi, transitions_pi = policy_dynamics(arrays, probabilities[part])
        if gamma == 1.0:
            values[part] = [
                _solve_one(arrays, r, t, gamma)
                for r, t in zip(rewards_pi, transitions_pi, strict=True)
            ]
            continue
        system = np.eye(live.size) - gamma * transitions_pi[:, live[:, None], live]
        values[part, live] = np.linalg.solve(system, rewards_pi[:, live, None])[..., 0]
    return values


def dense_solvable(mdp: SparseMDP) -> bool:
    """Whether infinite-horizon values are found by a dense linear solve."""
    return mdp.n_states * mdp.n_actions * mdp.n_states <= DENSE_MAX_ENTRIES


def sweep_values(
    operator: BellmanOperator, policies: PolicyRows, horizon: int
) -> tuple[FloatArray, FloatArray]:
    """``(V_H, V_{H-1})``, each ``(K, S)``: backward induction of ``K`` policies."""
    V = np.zeros(policies.rewards.shape)
    before_last = V
    for _ in range(horizon):
        before_last, V = V, operator.policy_values(policies, V)
    return V, before_last


def iterate_values(
    operator: BellmanOperator, policies: PolicyRows, tol: float
) -> FloatArray:
    """``(K, S)`` infinite-horizon values to within ``tol`` (see the module docstring).

    Raises:
        ValueError: For ``gamma = 1``, or if rounding keeps a sweep's change
            above the stopping threshold (``tol`` below the values' precision).
    """
    gamma = operator.gamma
    if gamma == 1.0:
        raise ValueError(
            "gamma = 1 without a horizon needs the dense linear solve, and this "
            f"model ({operator.n_states:,} states, {operator.n_actions} actions) "
            f"exceeds S * A * S = {DENSE_MAX_ENTRIES:,}: pass a horizon or gamma < 1"
        )
    V = operator.policy_values(policies, np.zeros(policies.rewards.shape))
    if gamma == 0.0:
        return V
    threshold = tol * (1.0 - gamma) / gamma
    # ||V_{k+1} - V_k|| <= gamma^k ||V_1||: the sweeps that must suffice.
    first = float(np.abs(V).max())
    needed = 1 if first <= threshold else math.log(threshold / first) / math.log(gamma)
    for _ in range(math.ceil(needed) + 10):
        previous, V = V, operator.policy_values(policies, V)
        if float(np.abs(V - previous).max()) <= threshold:
            return V
    raise ValueError(
        f"iterative policy evaluation could not reach tol = {tol:g}: rounding of "
        f"values up to {float(np.abs(V).max()):.3g} keeps each sweep's change above "
        f"{threshold:.3g}; pass a larger tol"
    )


def policy_rows(
    operator: BellmanOperator,
    actions: IntArray | None,
    probabilities: FloatArray | None,
) -> PolicyRows:
    """The operator's view of ``(K, S)`` action tables or ``(K, S, A)`` tables."""
    if actions is not None:
        return operator.deterministic(actions)
    assert probabilities is not None
    return operator.stochastic(probabilities)


def policy_evaluation(
    model: Model,
    policy: NDArray[Any],
    gamma: float | None = None,
    horizon: Horizon = "model",
    *,
    tol: float = DEFAULT_TOL,
    backend: Backend = "auto",
) -> PolicyEvaluationResult:
    """``V^pi`` and ``Q^pi`` of a stationary policy (see the module docstring).

    Without a horizon the values solve ``(I - gamma P_pi) V = R_pi`` over the
    non-terminal states (Sutton & Barto, equation 4.4), ``P_pi`` leaving out
    transitions into terminal states; with a horizon of ``H`` steps they are
    ``H`` backups of the policy from ``V = 0``, the value with ``H`` steps left.

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one (an env made by
            ``gym.make`` is evaluated as registered, with its time limit).
        policy: ``(S,)`` integer actions, or ``(S, A)`` action probabilities.
        gamma: Discount in [0, 1]; the task's when None.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.
        tol: Error bound of the iterative method (large models, no horizon).
        backend: The kernels (see :data:`~agents.planning.sparse_bellman.Backend`).

    Raises:
        ValueError: For a malformed policy (see :func:`policy_matrix`), or when
            the values are infinite (``gamma = 1``, no horizon, and the policy
            can stay forever among states that pay nonzero rewards).
    """
    mdp = as_sparse(model, horizon)
    gamma = check_gamma(mdp.gamma if gamma is None else gamma)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    policy = np.asarray(policy)
    probabilities = policy_matrix(mdp, policy)
    deterministic = policy.shape == (mdp.n_states,)
    operator = BellmanOperator.of(mdp, gamma, backend)
    rows = policy_rows(
        operator,
        policy[None] if deterministic else None,
        None if deterministic else probabilities[None],
    )
    if mdp.horizon is not None:
        V, before_last = sweep_values(operator, rows, mdp.horizon)
    elif dense_solvable(mdp):
        arrays = mdp.to_tabular()
        rewards_pi, transitions_pi = policy_dynamics(arrays, probabilities)
        V = _solve_one(arrays, rewards_pi, transitions_pi, gamma)[None]
        before_last = V
    else:
        V = before_last = iterate_values(operator, rows, tol)
    return PolicyEvaluationResult(
        V[0], operator.q_values(before_last[0]), gamma, mdp.horizon
    )


def reachable_states(arrays: Model, table: FloatArray) -> NDArray[np.bool_]:
    """``(S,)`` the states where a policy ``table`` ``(S, A)`` takes a decision.

    A start is any state of positive initial probability; terminal states are
    reached but not left. With a horizon of ``H`` steps, only states reached
    within ``H - 1`` transitions count: the episode is cut before any later one.

    Args:
        arrays: The model (see :func:`~agents.planning.bellman.as_sparse`).
        table: ``(S, A)`` the policy's action probabilities.
    """
    mdp = as_sparse(arrays)
    chosen = np.asarray(table) > 0
    reachable = np.zeros(mdp.n_states, dtype=bool)
    frontier = mdp.initial_distribution > 0
    depth = 0
    while frontier.any() and (mdp.horizon is None or depth < mdp.horizon):
        reachable |= frontier
        states = np.flatnonzero(frontier & ~mdp.terminal)
        rows = (states[:, None] * mdp.n_actions + np.arange(mdp.n_actions))[
            chosen[states]
        ]
        after = _successors(mdp.decisions, rows)
        if mdp.events is not None:
            after = _successors(mdp.events, np.unique(after))
        frontier = np.zeros(mdp.n_states, dtype=bool)
        frontier[after] = True
        frontier &= ~reachable
        depth += 1
    return reachable


def _successors(stage: Any, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """The targets of the positive-probability branches of ``rows``."""
    branches = row_branches(stage.indptr, rows)
    return np.asarray(
        stage.target[branches[stage.probability[branches] > 0]], dtype=np.int64
    )


def start_value(arrays: Model, table: FloatArray) -> float | None:
    """Exact ``V^pi`` of the start distribution, or None if the policy cannot run.

    Only the states the policy reaches from a start matter, so an action with
    no transition (an invalid action under ``invalid_action="raise"``) in a
    state it never reaches is replaced before evaluating. None when such an
    action is taken in a reachable state: there the env would refuse it.

    Args:
        arrays: The model (see :func:`~agents.planning.bellman.as_sparse`).
        table: ``(S, A)`` the policy's action probabilities.
    """
    mdp = as_sparse(arrays)
    reachable = reachable_states(mdp, table)
    runnable = np.array(table, dtype=float)
    unreached = np.flatnonzero(~reachable & ~mdp.terminal)
    runnable[unreached] = 0.0
    runnable[unreached, np.argmax(mdp.available_actions[unreached], axis=1)] = 1.0
    try:
        values = policy_evaluation(mdp, runnable).V
    except ValueError:
        return None
    return float(mdp.initial_distribution @ values)
