"""Scoring one policy on one configuration of a task against its exact optimum.

Unlike most benchmark envs, this one knows its optimum, so a score is exact
regret where the policy can be read as a table, and a Monte Carlo estimate with
a confidence interval in any case. Exact values are those of the env as
``gym.make`` registers it: every action ``step`` accepts (invalid actions too,
under ``"penalize"``) and its time limit as a finite horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID, InvalidActionError
from agents.evaluation.rollouts import evaluate
from agents.planning import (
    as_tabular,
    horizon_text,
    policy_evaluation,
    start_value,
    value_iteration,
)
from agents.policies import (
    PolicyLike,
    RandomPolicy,
    policy_table,
)

Z_95 = 1.959963984540054
"""Two-sided 95 % normal quantile, for Monte Carlo confidence intervals."""


@dataclass(frozen=True)
class PolicyScore:
    """A policy on one configuration, against the configuration's optimum.

    Attributes:
        optimal_value: Exact ``V*(s0)`` of the env as registered.
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
        horizon: The time limit the exact values are computed for (None: none).
        crash_message: What the env said when it refused an action.
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
    horizon: int | None = None
    crash_message: str | None = None

    @property
    def horizon_text(self) -> str:
        """Which values the exact figures are: infinite or finite horizon."""
        return horizon_text(self.horizon)


def prefers(probabilities: NDArray[np.float64], action: int) -> bool:
    """Whether ``action`` is the unique most probable action (a tie is no agreement)."""
    others = np.delete(probabilities, action)
    return bool(probabilities[action] > others.max(initial=-np.inf))


def score_policy(
    policy: PolicyLike,
    env_kwargs: dict[str, Any] | None = None,
    *,
    n_episodes: int = 1_000,
    seed: int = 0,
    name: str = "policy",
    env_id: str = ENV_ID,
) -> PolicyScore:
    """Score ``policy`` on ``gym.make(env_id, **env_kwargs)``.

    Args:
        policy: Anything :func:`~agents.policies.predictor.as_predictor`
            accepts; a :class:`~agents.policies.predictor.StochasticPolicy`
            is scored exactly from its probabilities.
        env_kwargs: The configuration.
        n_episodes: Monte Carlo episodes (evaluated greedily, as SB3 does).
        seed: Seed of the Monte Carlo rollouts.
        name: How errors name the agent.
        env_id: The registered task.

    Raises:
        AgentError: If the policy returns an action outside the action space.
    """
    env_kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, **env_kwargs)
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    arrays = as_tabular(env)
    optimum = value_iteration(arrays)
    start = arrays.initial_distribution
    optimal_value = float(start @ optimum.V)
    random_table = policy_table(RandomPolicy(), mdp)
    assert random_table is not None
    random_value = float(start @ policy_evaluation(arrays, random_table).V)

    agent = f"agent {name}"
    table = policy_table(policy, mdp, agent)
    exact_value: float | None = None
    agreement = None
    if table is not None:
        agreement = {
            mdp.table.state_names[state]: prefers(
                table[state], int(optimum.policy[state])
            )
            for state in mdp.table.non_terminal_states
        }
        exact_value = start_value(arrays, table)
    try:
        rollout = evaluate(env, policy, n_episodes, seed, name=agent)
    except InvalidActionError as error:
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
            horizon=arrays.horizon,
            crash_message=str(error),
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
        horizon=arrays.horizon,
    )
