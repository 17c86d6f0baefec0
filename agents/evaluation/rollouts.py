"""Scoring a policy by rolling it out through the Gymnasium API."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import RECOMMENDED_GAMMA
from access_review_env.validation import check_integer
from access_review_env.wrappers import time_limit
from agents.policies.global_random import seeded_global_random
from agents.policies.predictor import (
    PolicyLike,
    StochasticPolicy,
    accepts_action_masks,
    as_predictor,
    predict_action,
)
from agents.policies.preference_table import TabularPolicy
from agents.policies.probability_table import checked_probabilities
from agents.policies.selection import UniformStream


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
        state_actions: Every distinct ``(info["state"], action)`` pair the
            policy chose (empty where the rollouts do not record them).
        tallies: ``(n_episodes, k)`` each episode's sums of what a ``tally``
            counted per step (``(0, 0)`` without one).
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
    state_actions: frozenset[tuple[int, int]] = frozenset()
    tallies: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def violations_per_episode(self) -> float:
        """Mean policy violations per episode."""
        return self.violations / self.n_episodes


Tally = Callable[[dict[str, Any], dict[str, Any]], Sequence[float]]
"""``tally(info_before, info_after) -> quantities``: what one step counted, from
the ``info`` before the action and the one the step returned."""

DEFAULT_MAX_STEPS = 1_000
"""The episode cut of :func:`evaluate` for an env with no time limit at all."""


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean (0 for fewer than two values)."""
    if values.size < 2:
        return 0.0
    return float(values.std(ddof=1) / math.sqrt(values.size))


def action_generator(seed: int) -> np.random.Generator:
    """The harness's own generator for rollouts seeded with ``seed``.

    A stream independent of the env's (which ``reset(seed=seed)`` seeds):
    both derive from ``seed``, but by different ``SeedSequence`` paths.
    """
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


def evaluate(
    env: gym.Env[Any, Any],
    policy: PolicyLike | StochasticPolicy,
    n_episodes: int,
    seed: int,
    *,
    gamma: float | None = None,
    deterministic: bool = True,
    name: str = "policy",
    max_steps: int | None = None,
    rng: np.random.Generator | None = None,
    tally: Tally | None = None,
) -> EvaluationResult:
    """Roll ``policy`` out for ``n_episodes`` episodes and score it.

    Args:
        env: The env, e.g. ``gym.make("AccessReview-v0")``; reset once with ``seed``.
        policy: A :class:`~agents.policies.predictor.StochasticPolicy`, whose
            every action is sampled from its ``action_probabilities`` of the
            true state (``info["state"]``, asked once per state) with ``rng``;
            or anything
            :func:`~agents.policies.predictor.as_predictor` accepts: our
            agents, an SB3 model, a function ``state -> action``, an action
            table. Predictors whose ``predict`` takes ``action_masks=`` get
            the env's mask.
        n_episodes: Episodes to roll out.
        seed: Seed of the env's first reset.
        gamma: Discount of ``mean_discounted_return``; the task's when None.
        deterministic: Ask a predictor for its greedy action.
        name: How an error names the policy.
        max_steps: Steps after which an episode is cut (counted as truncated),
            so that an env without a time limit (``env.unwrapped``) cannot hang
            the evaluation. Default: the env's ``TimeLimit``, else its spec's
            ``max_episode_steps``, else :data:`DEFAULT_MAX_STEPS`.
        rng: The harness's generator (default :func:`action_generator` of
            ``seed``): it draws a stochastic policy's actions, and seeds
            Python's and NumPy's global generators (and torch's, if imported)
            for the rollouts, so that a function drawing from them is
            reproducible; their states are restored afterwards.
        tally: Counts quantities in each step; their sums per episode are
            ``tallies`` (e.g.
            :class:`~agents.evaluation.queue_operations.QueueTally`).

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        AgentError: If the policy returns anything but one valid action index,
            or states probabilities that are not distributions.
        ValueError: For one of our agents learned on a task of another shape.
        TypeError: For a stochastic policy on an env whose ``info`` has no
            ``"state"``.
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
    rng = action_generator(seed) if rng is None else rng
    choose = _chooser(env, policy, deterministic, name, rng)
    returns = np.zeros(n_episodes)
    discounted = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes)
    outcomes: Counter[str] = Counter()
    violations = 0.0
    invalid = 0
    taken: set[tuple[int, int]] = set()
    counted: list[NDArray[np.float64]] = []
    with seeded_global_random(rng):
        for episode in range(n_episodes):
            observation, info = env.reset(seed=seed if episode == 0 else None)
            weight = 1.0
            sums: NDArray[np.float64] | None = None
            while True:
                action = choose(observation, info)
                if "state" in info:
                    taken.add((int(info["state"]), action))
                before = info
                observation, reward, terminated, truncated, info = env.step(action)
                if tally is not None:
                    step = np.asarray(tally(before, info), dtype=np.float64)
                    sums = step if sums is None else sums + step

                returns[episode] += float(reward)
                discounted[episode] += weight * float(reward)
                weight *= gamma
                lengths[episode] += 1
                violations += info["cost"]
                invalid += bool(info.get("invalid_action", False))
                if terminated or truncated or lengths[episode] >= max_steps:
                    outcome = info["outcome"]
                    outcomes[
                        outcome_names[outcome] if outcome_names else str(outcome)
                    ] += 1
                    if sums is not None:
                        counted.append(sums)
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
        state_actions=frozenset(taken),
        tallies=np.array(counted) if counted else np.zeros((0, 0)),
    )


Chooser = Callable[[Any, dict[str, Any]], int]
"""``choose(observation, info) -> action`` for one step."""


def _chooser(
    env: gym.Env[Any, Any],
    policy: PolicyLike | StochasticPolicy,
    deterministic: bool,
    name: str,
    rng: np.random.Generator,
) -> Chooser:
    """How :func:`evaluate` picks each action of ``policy``."""
    if isinstance(policy, StochasticPolicy):
        n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
        uniform = UniformStream(rng)
        # The protocol's probabilities depend on the state alone: each state
        # is asked once, its cumulative probabilities kept.
        cumulative: dict[int, tuple[list[float], int]] = {}

        def sample(observation: Any, info: dict[str, Any]) -> int:
            if "state" not in info:
                raise TypeError(
                    f"{name} states action probabilities per state, but the "
                    "env's info has no 'state' to ask them for"
                )
            state = int(info["state"])
            found = cumulative.get(state)
            if found is None:
                states = np.array([state], dtype=np.int64)
                masks = np.asarray(info["action_mask"], dtype=bool)[None]
                row = checked_probabilities(
                    policy.action_probabilities(states, masks), states, n_actions, name
                )[0]
                last = int(np.flatnonzero(row > 0)[-1])
                found = cumulative[state] = (np.cumsum(row).tolist(), last)
            sums, last = found
            # Rounding can put a draw at the very top: the last possible action.
            return min(bisect_right(sums, uniform() * sums[-1]), last)

        return sample
    predictor = as_predictor(policy)
    if isinstance(predictor, TabularPolicy):
        predictor.check_task(
            env.spec.id if env.spec else None,
            int(env.observation_space.n),  # type: ignore[attr-defined]
            int(env.action_space.n),  # type: ignore[attr-defined]
        )
    masked = accepts_action_masks(predictor)

    def ask(observation: Any, info: dict[str, Any]) -> int:
        return predict_action(
            predictor, observation, info["action_mask"], deterministic, masked, name
        )

    return ask
