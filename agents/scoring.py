"""Scoring one policy on one configuration of AccessReview-v0 against its exact optimum.

Unlike most benchmark envs, this one knows its optimum, so a score is exact
regret where the policy can be read as a table, and a Monte Carlo estimate with
a confidence interval in any case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import (
    ENV_ID,
    NON_TERMINAL_STATES,
    START_STATE,
    STATES,
    InvalidActionError,
    TabularMDP,
)
from agents.evaluation import evaluate
from agents.planning import policy_evaluation, value_iteration
from agents.policies import (
    AgentError,
    PolicyLike,
    accepts_action_masks,
    as_predictor,
    predict_action,
)

__all__ = [
    "AgentError",
    "PolicyScore",
    "RandomPolicy",
    "policy_table",
    "score_policy",
    "start_value",
]

Z_95 = 1.959963984540054
"""Two-sided 95 % normal quantile, for Monte Carlo confidence intervals."""


class RandomPolicy:
    """Uniformly random among the valid actions: the benchmark's score-0 baseline."""

    def __init__(self, seed: int = 0) -> None:
        """Draw actions from a generator seeded with ``seed``."""
        self.rng = np.random.default_rng(seed)

    def action_probabilities(
        self, state: int, mask: NDArray[Any]
    ) -> NDArray[np.float64]:
        """``(A,)`` uniform over the actions ``mask`` allows."""
        allowed = np.asarray(mask, dtype=float)
        return np.asarray(allowed / allowed.sum(), dtype=np.float64)

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
        action_masks: NDArray[Any] | None = None,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """A uniformly random valid action (all actions when no mask is given)."""
        mask = np.ones(4) if action_masks is None else np.asarray(action_masks)
        choice = self.rng.choice(np.flatnonzero(mask))
        return np.asarray(choice), None


def policy_table(
    policy: PolicyLike, mdp: Any, name: str = "policy"
) -> NDArray[np.float64] | None:
    """``(S, A)`` action probabilities of ``policy`` in every state, or None.

    A policy with ``action_probabilities(state, mask)`` is read as stochastic;
    any other is queried for its deterministic action in each non-terminal state
    (SB3 models included, MaskablePPO with the state's mask). None when the
    policy cannot be queried that way (it raised).

    Raises:
        AgentError: If the policy answers with an action outside the space.
    """
    n_states, n_actions = mdp.valid_action_mask.shape
    table = np.zeros((n_states, n_actions))
    table[:, 0] = 1.0
    try:
        if hasattr(policy, "action_probabilities"):
            for state in NON_TERMINAL_STATES:
                table[state] = policy.action_probabilities(
                    state, mdp.valid_action_mask[state]
                )
            return table
        predictor = as_predictor(policy)
        masked = accepts_action_masks(predictor)
        for state in NON_TERMINAL_STATES:
            # A fresh, writable mask, as the env hands out (torch warns on
            # read-only arrays).
            mask = mdp.valid_action_mask[state].copy()
            action = predict_action(predictor, state, mask, True, masked, name)
            table[state] = 0.0
            table[state, action] = 1.0
    except (IndexError, TypeError, ValueError):
        return None
    return table


@dataclass(frozen=True)
class PolicyScore:
    """A policy on one configuration, against the configuration's optimum.

    Attributes:
        optimal_value: Exact ``V*(s0)``.
        random_value: Exact value of :class:`RandomPolicy`, the score-0 point.
        exact_value: Exact ``V^pi(s0)``, when the policy reads as a table and
            runs from the start (see :func:`start_value`).
        mc_value: Monte Carlo mean discounted return.
        mc_ci: Its 95 % confidence interval.
        regret: ``V* - V^pi`` (exact where available, else Monte Carlo).
        normalized_score: ``(V^pi - V_random) / (V* - V_random)``; 0 for a policy
            that crashed the env.
        agreement: Per non-terminal state, whether an optimal action is the
            policy's unique most probable one (None when it does not read as a
            table).
        violations_per_episode: Mean ``info["cost"]`` per episode.
        invalid_action_rate: Invalid actions per step.
        outcomes: Episodes per outcome.
        crashed: During the rollouts the policy took an action the env refused
            (``invalid_action="raise"``).
        n_episodes: Monte Carlo episodes.
    """

    optimal_value: float
    random_value: float
    exact_value: float | None
    mc_value: float
    mc_ci: tuple[float, float]
    regret: float
    normalized_score: float
    agreement: dict[str, bool] | None
    violations_per_episode: float
    invalid_action_rate: float
    outcomes: dict[str, int] = field(default_factory=dict)
    crashed: bool = False
    n_episodes: int = 0


def prefers(probabilities: NDArray[np.float64], action: int) -> bool:
    """Whether ``action`` is the unique most probable action (a tie is no agreement)."""
    others = np.delete(probabilities, action)
    return bool(probabilities[action] > others.max(initial=-np.inf))


def start_value(mdp: TabularMDP, table: NDArray[np.float64]) -> float | None:
    """Exact ``V^pi`` of the start state, or None if the policy cannot run from it.

    Only the states the policy reaches from the start matter, so an action with
    no transition (an invalid action under ``invalid_action="raise"``) in a
    state it never reaches is replaced before evaluating. None when such an
    action is taken in a reachable state: there the env would refuse it.
    """
    flow = np.einsum("sa,sat->st", table, mdp.transitions) > 0
    reachable = np.zeros(mdp.n_states, dtype=bool)
    frontier = np.zeros(mdp.n_states, dtype=bool)
    frontier[START_STATE] = True
    while frontier.any():
        reachable |= frontier
        frontier = flow[frontier & ~mdp.terminal].any(axis=0) & ~reachable
    runnable = table.copy()
    for state in np.flatnonzero(~reachable & ~mdp.terminal):
        runnable[state] = np.eye(mdp.n_actions)[np.argmax(mdp.valid_actions[state])]
    try:
        return float(policy_evaluation(mdp, runnable).V[START_STATE])
    except ValueError:
        return None


def score_policy(
    policy: PolicyLike,
    env_kwargs: dict[str, Any] | None = None,
    *,
    n_episodes: int = 1_000,
    seed: int = 0,
    name: str = "policy",
) -> PolicyScore:
    """Score ``policy`` on ``gym.make("AccessReview-v0", **env_kwargs)``.

    Args:
        policy: Anything :func:`~agents.policies.as_predictor` accepts, or an
            object with ``action_probabilities(state, mask)``.
        env_kwargs: The configuration.
        n_episodes: Monte Carlo episodes (evaluated greedily, as SB3 does).
        seed: Seed of the Monte Carlo rollouts.
        name: How errors name the agent.

    Raises:
        AgentError: If the policy returns an action outside the action space.
    """
    env_kwargs = dict(env_kwargs or {})
    env = gym.make(ENV_ID, **env_kwargs)
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    optimum = value_iteration(mdp.arrays)
    optimal_value = float(optimum.V[START_STATE])
    random_table = policy_table(RandomPolicy(), mdp)
    assert random_table is not None
    random_value = float(policy_evaluation(mdp.arrays, random_table).V[START_STATE])

    agent = f"agent {name}"
    table = policy_table(policy, mdp, agent)
    exact_value: float | None = None
    agreement = None
    if table is not None:
        agreement = {
            STATES[state]: prefers(table[state], int(optimum.policy[state]))
            for state in NON_TERMINAL_STATES
        }
        exact_value = start_value(mdp.arrays, table)
    try:
        rollout = evaluate(env, policy, n_episodes, seed, name=agent)
    except InvalidActionError:
        rollout = None
    if rollout is None:
        return PolicyScore(
            optimal_value=optimal_value,
            random_value=random_value,
            exact_value=None,
            mc_value=math.nan,
            mc_ci=(math.nan, math.nan),
            regret=math.nan,
            normalized_score=0.0,
            agreement=agreement,
            violations_per_episode=math.nan,
            invalid_action_rate=math.nan,
            crashed=True,
        )
    half_width = Z_95 * rollout.discounted_return_se
    value = exact_value if exact_value is not None else rollout.mean_discounted_return
    span = optimal_value - random_value
    normalized = (value - random_value) / span if span > 0 else 1.0
    return PolicyScore(
        optimal_value=optimal_value,
        random_value=random_value,
        exact_value=exact_value,
        mc_value=rollout.mean_discounted_return,
        mc_ci=(
            rollout.mean_discounted_return - half_width,
            rollout.mean_discounted_return + half_width,
        ),
        regret=optimal_value - value,
        normalized_score=normalized,
        agreement=agreement,
        violations_per_episode=rollout.violations_per_episode,
        invalid_action_rate=rollout.invalid_actions
        / (rollout.mean_length * n_episodes),
        outcomes=rollout.outcomes,
        n_episodes=n_episodes,
    )
