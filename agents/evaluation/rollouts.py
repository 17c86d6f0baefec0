"""Scoring a policy by rolling it out through the Gymnasium API."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from access_review_env import RECOMMENDED_GAMMA
from access_review_env.validation import check_integer
from access_review_env.wrappers import time_limit
from agents.policies.predictor import (
    PolicyLike,
    accepts_action_masks,
    as_predictor,
    predict_action,
)
from agents.policies.preference_table import TabularPolicy


@dataclass(frozen=True)
class EvaluationResult:
    """Monte Carlo scores of a policy.

    Attributes:
        n_episodes: Episodes rolled out.
        mean_return: Mean undiscounted return.
        return_se: Its standard error.
        mean_discounted_return: Mean return discounted by ``gamma``; estimates
            ``V^pi`` of the start distribution.
        discounted_return_se: Its standard error.
        violations: Total ``info["cost"]``: policy violations (unsupported
            approvals) over all episodes.
        invalid_actions: Steps whose action was invalid in its state.
        outcomes: Episodes per ``info["outcome"]`` at the end (``"pending"`` for
            an episode cut by the time limit).
        mean_length: Mean steps per episode.
        gamma: The discount used.
        returns: ``(n_episodes,)`` each episode's undiscounted return.
        discounted_returns: ``(n_episodes,)`` each episode's discounted return.
    """

    n_episodes: int
    mean_return: float
    return_se: float
    mean_discounted_return: float
    discounted_return_se: float
    violations: float
    invalid_actions: int
    outcomes: dict[str, int] = field(default_factory=dict)
    mean_length: float = 0.0
    gamma: float = RECOMMENDED_GAMMA
    returns: np.ndarray = field(default_factory=lambda: np.zeros(0))
    discounted_returns: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def violations_per_episode(self) -> float:
        """Mean policy violations per episode."""
        return self.violations / self.n_episodes


DEFAULT_MAX_STEPS = 1_000
"""The episode cut of :func:`evaluate` for an env with no time limit at all."""


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean (0 for fewer than two values)."""
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) / math.sqrt(values.size))


def evaluate(
    env: gym.Env[Any, Any],
    policy: PolicyLike,
    n_episodes: int,
    seed: int,
    *,
    gamma: float | None = None,
    deterministic: bool = True,
    name: str = "policy",
    max_steps: int | None = None,
) -> EvaluationResult:
    """Roll ``policy`` out for ``n_episodes`` episodes and score it.

    Args:
        env: The env, e.g. ``gym.make("AccessReview-v0")``; reset once with ``seed``.
        policy: Anything :func:`~agents.policies.predictor.as_predictor` accepts: our
            agents, an SB3 model, a function ``state -> action``, an action table.
            Predictors whose ``predict`` takes ``action_masks=`` get the env's mask.
        n_episodes: Episodes to roll out.
        seed: Seed of the env's first reset.
        gamma: Discount of ``mean_discounted_return``; the task's when None.
        deterministic: Ask the policy for its greedy action.
        name: How an error names the policy.
        max_steps: Steps after which an episode is cut (counted as truncated),
            so that an env without a time limit (``env.unwrapped``) cannot hang
            the evaluation. Default: the env's ``TimeLimit``, else its spec's
            ``max_episode_steps``, else :data:`DEFAULT_MAX_STEPS`.

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        AgentError: If the policy returns anything but one valid action index.
        ValueError: For one of our agents learned on a task of another shape.
    """
    n_episodes = check_integer("n_episodes", n_episodes, low=1)
    if max_steps is None:
        spec = getattr(env, "spec", None)
        max_steps = (
            time_limit(env)
            or (spec.max_episode_steps if spec is not None else None)
            or DEFAULT_MAX_STEPS
        )
    max_steps = check_integer("max_steps", max_steps, low=1)
    if gamma is None:
        gamma = getattr(getattr(env.unwrapped, "mdp", None), "gamma", RECOMMENDED_GAMMA)
    outcome_names: tuple[str, ...] = getattr(env.unwrapped, "outcomes", ())
    predictor = as_predictor(policy)
    if isinstance(predictor, TabularPolicy):
        predictor.check_task(
            env.spec.id if env.spec else None,
            int(env.observation_space.n),  # type: ignore[attr-defined]
            int(env.action_space.n),  # type: ignore[attr-defined]
        )
    masked = accepts_action_masks(predictor)
    returns = np.zeros(n_episodes)
    discounted = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes)
    outcomes: Counter[str] = Counter()
    violations = 0.0
    invalid = 0
    for episode in range(n_episodes):
        state, info = env.reset(seed=seed if episode == 0 else None)
        weight = 1.0
        while True:
            action = predict_action(
                predictor, state, info["action_mask"], deterministic, masked, name
            )
            state, reward, terminated, truncated, info = env.step(action)
            returns[episode] += float(reward)
            discounted[episode] += weight * float(reward)
            weight *= gamma
            lengths[episode] += 1
            violations += info["cost"]
            invalid += bool(info.get("invalid_action", False))
            if terminated or truncated or lengths[episode] >= max_steps:
                outcome = info["outcome"]
                outcomes[outcome_names[outcome] if outcome_names else str(outcome)] += 1
                break
    return EvaluationResult(
        n_episodes=n_episodes,
        mean_return=float(returns.mean()),
        return_se=standard_error(returns),
        mean_discounted_return=float(discounted.mean()),
        discounted_return_se=standard_error(discounted),
        violations=violations,
        invalid_actions=invalid,
        outcomes=dict(outcomes),
        mean_length=float(lengths.mean()),
        gamma=float(gamma),
        returns=returns,
        discounted_returns=discounted,
    )
