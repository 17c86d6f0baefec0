"""Exact values and regret of many policies at once: batched policy evaluation.

Pure functions of a :class:`~access_review_env.TabularMDP` (or of an env that
exposes one), with the conventions of :mod:`agents.planning.bellman` and the
arithmetic of :func:`~agents.planning.policy_evaluation` applied to a stack of
policies ``(..., S, A)``: one batched linear solve without a horizon, backward
induction over the steps left with one (an env made by ``gym.make`` is
evaluated as registered, its time limit included).

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

from access_review_env import TabularMDP
from agents.planning.bellman import FloatArray, Horizon, as_tabular, check_gamma
from agents.planning.policy_evaluation import (
    backward_induction,
    check_available,
    policy_dynamics,
)
from agents.planning.value_iteration import value_iteration
from agents.policies.selection import (
    epsilon_greedy_probabilities,
    masked_argmax_rows,
    masked_softmax_rows,
)

_CHUNK = 65_536
"""Policies per linear solve, to bound temporary memory."""


def evaluate_policies(
    model: TabularMDP | Any,
    policies: NDArray[np.float64],
    gamma: float | None = None,
    horizon: Horizon = "model",
) -> FloatArray:
    """``(..., S)`` exact values ``V^pi`` of many policies at once.

    As :func:`~agents.planning.policy_evaluation` does for one policy: without
    a horizon, ``(I - gamma P_pi) V = R_pi`` solved over the non-terminal
    states; with a horizon of ``H`` steps, ``H`` backups of each policy from
    ``V = 0``. Terminal values are 0.

    Args:
        model: A :class:`TabularMDP` or an env exposing one.
        policies: ``(..., S, A)`` action probabilities; rows of non-terminal
            states must be distributions over available actions.
        gamma: Discount in [0, 1]; the MDP's own when None.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.

    Raises:
        ValueError: For a wrong shape, a row that is not a distribution, mass
            on an unavailable action, or infinite values (``gamma = 1``, no
            horizon, and a policy that can run forever).
    """
    arrays = as_tabular(model, horizon)
    gamma = check_gamma(arrays.gamma if gamma is None else gamma)
    policies = np.asarray(policies, dtype=float)
    if policies.shape[-2:] != (arrays.n_states, arrays.n_actions):
        raise ValueError(
            f"policies must have shape (..., {arrays.n_states}, {arrays.n_actions}), "
            f"got {policies.shape}"
        )
    live = ~arrays.terminal
    rows = policies[..., live, :]
    if np.any(rows < 0) or not np.allclose(rows.sum(axis=-1), 1.0):
        raise ValueError(
            "each non-terminal row of a policy must be a distribution over actions"
        )
    check_available(arrays, policies)
    rewards_pi, transitions_pi = policy_dynamics(arrays, policies)
    if arrays.horizon is not None:
        values, _ = backward_induction(
            arrays, rewards_pi, transitions_pi, gamma, arrays.horizon
        )
        return values
    return _solve(arrays, rewards_pi, transitions_pi, gamma)


def _solve(
    arrays: TabularMDP,
    rewards_pi: FloatArray,
    transitions_pi: FloatArray,
    gamma: float,
) -> FloatArray:
    """Infinite-horizon values by batched linear solves over non-terminal states."""
    live = np.flatnonzero(~arrays.terminal)
    batch = rewards_pi.shape[:-1]
    flat_rewards = rewards_pi[..., live].reshape(-1, live.size)
    flat_transitions = transitions_pi[..., live[:, None], live].reshape(
        -1, live.size, live.size
    )
    identity = np.eye(live.size)
    values = np.empty(flat_rewards.shape)
    for start in range(0, values.shape[0], _CHUNK):
        part = slice(start, start + _CHUNK)
        try:
            values[part] = np.linalg.solve(
                identity - gamma * flat_transitions[part], flat_rewards[part, :, None]
            )[..., 0]
        except np.linalg.LinAlgError:
            raise ValueError(
                "a policy's values are infinite: with gamma = 1 it can run "
                "forever without reaching a terminal state"
            ) from None
    result = np.zeros((*batch, arrays.n_states))
    result[..., live] = values.reshape(*batch, live.size)
    return result


def optimal_start_value(model: TabularMDP | Any, horizon: Horizon = "model") -> float:
    """``V*(rho)``: the optimal value of the start distribution."""
    arrays = as_tabular(model, horizon)
    return float(arrays.initial_distribution @ value_iteration(arrays).V)


def policy_regret(
    model: TabularMDP | Any,
    policies: NDArray[np.float64],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret ``V*(rho) - V^pi(rho)`` of each policy ``(..., S, A)``.

    ``rho`` is the MDP's start distribution; both values are for the same
    horizon (an env's time limit, for a made env).

    Args:
        model: A :class:`TabularMDP` or an env exposing one.
        policies: ``(..., S, A)`` action probabilities.
        horizon: As :func:`evaluate_policies`.
        optimal: ``V*(rho)`` if the caller has it (callers that evaluate many
            batches pass it once instead of planning again each time).
    """
    arrays = as_tabular(model, horizon)
    values = evaluate_policies(arrays, policies) @ arrays.initial_distribution
    if optimal is None:
        optimal = optimal_start_value(arrays)
    return np.asarray(optimal - values, dtype=np.float64)


def greedy_regret(
    model: TabularMDP | Any,
    tables: NDArray[np.float64],
    valid: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret of each table's greedy policy (0 means optimal).

    Args:
        model: A :class:`TabularMDP` or an env exposing one.
        tables: ``(..., S, A)`` Q values or logits.
        valid: ``(S, A)`` the actions the greedy policy chooses among (the
            env's valid actions, as a benchmark reads a policy).
        horizon: As :func:`evaluate_policies`.
        optimal: ``V*(rho)``, as in :func:`policy_regret`.
    """
    arrays = as_tabular(model, horizon)
    greedy = masked_argmax_rows(tables, _live_valid(arrays, valid))
    return policy_regret(arrays, np.eye(arrays.n_actions)[greedy], optimal=optimal)


def behaviour_regret_q_learning(
    model: TabularMDP | Any,
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
    arrays = as_tabular(model, horizon)
    policies = epsilon_greedy_probabilities(
        q_tables, _live_valid(arrays, valid), epsilon
    )
    return policy_regret(arrays, policies, optimal=optimal)


def behaviour_regret_reinforce(
    model: TabularMDP | Any,
    logits: NDArray[np.float64],
    valid: NDArray[Any],
    horizon: Horizon = "model",
    *,
    optimal: float | None = None,
) -> FloatArray:
    """``(...)`` exact regret of the masked softmax of each logit table.

    ``optimal`` is ``V*(rho)`` if known (see :func:`policy_regret`).
    """
    arrays = as_tabular(model, horizon)
    policies = masked_softmax_rows(logits, _live_valid(arrays, valid))
    return policy_regret(arrays, policies, optimal=optimal)


def _live_valid(arrays: TabularMDP, valid: NDArray[Any]) -> NDArray[np.bool_]:
    """``valid`` ``(S, A)`` as booleans with terminal rows emptied.

    Raises:
        ValueError: For a wrong shape.
    """
    mask = np.asarray(valid) != 0
    if mask.shape != (arrays.n_states, arrays.n_actions):
        raise ValueError(
            f"valid must have shape ({arrays.n_states}, {arrays.n_actions}), "
            f"got {mask.shape}"
        )
    return np.asarray(mask & ~arrays.terminal[:, None])
