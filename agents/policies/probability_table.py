"""Reading any policy as an ``(S, A)`` table of action probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TaskMDP
from agents.policies.predictor import (
    PolicyLike,
    StochasticPolicy,
    accepts_action_masks,
    as_predictor,
    predict_action,
)


def policy_table(
    policy: PolicyLike | StochasticPolicy, mdp: TaskMDP, name: str = "policy"
) -> NDArray[np.float64] | None:
    """``(S, A)`` action probabilities of ``policy`` in every state, or None.

    A :class:`StochasticPolicy` is read from its probabilities; any other policy
    is queried for its deterministic action in each non-terminal state (SB3
    models included, MaskablePPO with the state's mask). Terminal rows put all
    mass on action 0. None when the policy cannot be queried that way (it
    raised).

    Raises:
        AgentError: If the policy answers with an action outside the space.
    """
    mask_of = mdp.valid_action_mask
    table = np.zeros(mask_of.shape)
    table[:, 0] = 1.0
    states = mdp.table.non_terminal_states
    try:
        if isinstance(policy, StochasticPolicy):
            for state in states:
                table[state] = policy.action_probabilities(state, mask_of[state])
            return table
        predictor = as_predictor(policy)
        masked = accepts_action_masks(predictor)
        for state in states:
            # A fresh, writable mask, as the env hands out (torch warns on
            # read-only arrays).
            mask = mask_of[state].copy()
            action = predict_action(predictor, state, mask, True, masked, name)
            table[state] = 0.0
            table[state, action] = 1.0
    except (IndexError, TypeError, ValueError):
        return None
    return table


def deterministic_table(actions: Any, n_actions: int) -> NDArray[np.float64]:
    """``(S, A)`` one-hot table of a deterministic ``(S,)`` policy."""
    return np.asarray(np.eye(n_actions)[np.asarray(actions)], dtype=np.float64)
