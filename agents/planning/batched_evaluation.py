"""Exact values and regret of many policies at once: batched policy evaluation.

Pure functions of a model (see :func:`~agents.planning.bellman.as_sparse`),
with the conventions of :mod:`agents.planning.bellman` and the methods of
:mod:`agents.planning.policy_evaluation` applied to a stack of policies,
``(..., S)`` action tables or ``(..., S, A)`` action probabilities: backward
induction over the steps left with a horizon (an env made by ``gym.make`` is
evaluated as registered, its time limit included), batched linear solves
without one where the dense arrays are affordable, else the iterative method
to ``tol``.

The regret of a policy is ``V*(rho) - V^pi(rho)``, ``rho`` the start
distribution and both values for the same horizon. The behaviour policies of
the learners are built from their tables by
:func:`~agents.policies.selection.epsilon_greedy_probabilities` (Q-learning)
and :func:`~agents.policies.selection.masked_softmax_rows` (REINFORCE), over
the actions the env lists as valid, which is what the learners choose among.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP
from agents.planning.bellman import FloatArray, Horizon, Model, as_sparse, check_gamma
from agents.planning.policy_evaluation import (
    DEFAULT_TOL,
    check_actions,
    check_available,
    dense_solvable,
    dense_values,
    iterate_values,
    policy_rows,
    sweep_values,
)
from agents.planning.sparse_bellman import Backend, BellmanOperator
from agents.planning.value_iteration import value_iteration
from agents.policies.selection import (
    epsilon_greedy_probabilities,
    masked_argmax_rows,
    masked_softmax_rows,
)


def evaluate_policies(
    model: Model,
    policies: NDArray[Any],
    gamma: float | None = None,
    horizon: Horizon = "model",
    *,
    tol: float = DEFAULT_TOL,
    backend: Backend = "auto",
) -> FloatArray:
    """``(...)`` + ``(S,)`` exact values ``V^pi`` of many policies at once.

    As :func:`~agents.planning.policy_evaluation.policy_evaluation` does for
    one policy; terminal values are 0.

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        policies: ``(..., S)`` integer action tables, or ``(..., S, A)`` action
            probabilities whose rows of non-terminal states are distributions
            over available actions. The dtype decides: integers are actions.
        gamma: Discount in [0, 1]; the MDP's own when None.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.
        tol: Error bound of the iterative method (large models, no horizon).
        backend: The kernels (see :data:`~agents.planning.sparse_bellman.Backend`).

    Raises:
        ValueError: For a wrong shape, an action out of range, a row that is
            not a distribution, mass on an unavailable action, or infinite
            values (``gamma = 1``, no horizon, and a policy that can run
            forever).
    """
    mdp = as_sparse(model, horizon)
    gamma = check_gamma(mdp.gamma if gamma is None else gamma)
    policies = np.asarray(policies)
    deterministic = np.issubdtype(policies.dtype, np.integer)
    actions, probabilities = _checked(mdp, policies, deterministic)
    batch = policies.shape[: -1 if deterministic else -2]
    if mdp.horizon is None and dense_solvable(mdp):
        if probabilities is None:
            assert actions is not None
            probabilities = np.eye(mdp.n_actions)[actions]
        values = dense_values(mdp.to_tabular(), probabilities, gamma)
    else:
        operator = BellmanOperator.of(mdp, gamma, backend)
        rows = policy_rows(operator, actions, probabilities)
        if mdp.horizon is None:
            values = iterate_values(operator, rows, tol)
        else:
            values, _ = sweep_values(operator, rows, mdp.horizon)
    return np.asarray(values.reshape(*batch, mdp.n_states))


def _checked(
    mdp: SparseMDP, policies: NDArray[Any], deterministic: bool
) -> tuple[NDArray[np.int64] | None, FloatArray | None]:
    """``(K, S)`` actions or ``(K, S, A)`` probabilities of valid policies."""
    n_states, n_actions = mdp.n_states, mdp.n_actions
    if deterministic:
        if policies.ndim < 1 or policies.shape[-1] != n_states:
            raise ValueError(
                f"action tables must have shape (..., {n_states}), got {policies.shape}"
            )
        check_actions(mdp, policies)
        return policies.reshape(-1, n_states).astype(np.int64), None
    if policies.shape[-2:] != (n_states, n_actions):
        raise ValueError(
            f"policies must have shape (..., {n_states}, {n_actions}), "
            f"got {policies.shape}"
        )
    policies = policies.astype(float)
    rows = policies[..., ~mdp.terminal, :]
    if np.any(rows < 0) or not np.allclose(rows.sum(axis=-1), 1.0):
        raise ValueError(
            "each non-terminal row of a policy must be a distribution over actions"
        )
    check_available(mdp, policies)
    return None, policies.reshape(-1, n_states, n_actions)


def optimal_start_value(model: Model, horizon: Horizon = "model") -> float:
    """``V*(rho)``: the optimal value of the start distribution."""
    mdp = as_sparse(model, horizon)
    return float(mdp.initial_distribution @ value_iteration(mdp).V)


def policy_regret(
    model: Model,
    policies: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret ``V*(rho) - V^pi(rho)`` of each policy.

    ``rho`` is the MDP's start distribution; both values are for the same
    horizon (an env's time limit, for a made env).

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        policies: ``(..., S)`` action tables or ``(..., S, A)`` action
            probabilities, as :func:`evaluate_policies` takes them.
        horizon: As :func:`evaluate_policies`.
        optimal: ``V*(rho)`` if the caller has it (callers that evaluate many
            batches pass it once instead of planning again each time).
    """
    mdp = as_sparse(model, horizon)
    values = evaluate_policies(mdp, policies) @ mdp.initial_distribution
    if optimal is None:
        optimal = optimal_start_value(mdp)
    return np.asarray(optimal - values, dtype=np.float64)


def greedy_regret(
    model: Model,
    tables: NDArray[np.float64],
    valid: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret of each table's greedy policy (0 means optimal).

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        tables: ``(..., S, A)`` Q values or logits.
        valid: ``(S, A)`` the actions the greedy policy chooses among (the
            env's valid actions, as a benchmark reads a policy).
        horizon: As :func:`evaluate_policies`.
        optimal: ``V*(rho)``, as in :func:`policy_regret`.
    """
    mdp = as_sparse(model, horizon)
    greedy = masked_argmax_rows(tables, _live_valid(mdp, valid))
    return policy_regret(mdp, greedy, optimal=optimal)


def behaviour_regret_q_learning(
    model: Model,
    q_tables: NDArray[np.float64],
    epsilon: float,
    valid: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret of epsilon-greedy over each Q table ``(..., S, A)``.

    ``valid`` ``(S, A)`` is what the env's masks report (so a state the learner
    never visited is still acted in as the learner would act there);
    ``optimal`` is ``V*(rho)`` if known (see :func:`policy_regret`).
    """
    mdp = as_sparse(model, horizon)
    policies = epsilon_greedy_probabilities(q_tables, _live_valid(mdp, valid), epsilon)
    return policy_regret(mdp, policies, optimal=optimal)


def behaviour_regret_reinforce(
    model: Model,
    logits: NDArray[np.float64],
    valid: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret of the masked softmax of each logit table.

    ``optimal`` is ``V*(rho)`` if known (see :func:`policy_regret`).
    """
    mdp = as_sparse(model, horizon)
    policies = masked_softmax_rows(logits, _live_valid(mdp, valid))
    return policy_regret(mdp, policies, optimal=optimal)


def _live_valid(mdp: SparseMDP, valid: NDArray[Any]) -> NDArray[np.bool_]:
    """``valid`` ``(S, A)`` as booleans with terminal rows emptied.

    Raises:
        ValueError: For a wrong shape.
    """
    mask = np.asarray(valid) != 0
    if mask.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"valid must have shape ({mdp.n_states}, {mdp.n_actions}), got {mask.shape}"
        )
    return np.asarray(mask & ~mdp.terminal[:, None])
