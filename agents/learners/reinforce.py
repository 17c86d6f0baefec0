"""REINFORCE with a baseline, for a tabular softmax policy (Williams, 1992).

The policy has one logit per (state, action); actions the env's
``info["action_mask"]`` rules out get probability 0. After each complete
episode, every step ``t`` moves the logits of its state along (Sutton & Barto,
section 13.4)::

    logits[s_t] += learning_rate * gamma**t * (G_t - b(s_t)) * (onehot(a_t) - pi(s_t))

The baseline ``b(s)`` is a per-state running estimate of the return from ``s``
(``b(s) += baseline_rate * (G_t - b(s))``): it depends on the state only, so it
lowers the variance of the update without biasing it.

States the optimal policy never visits (``evidence_ready`` at p = 0.25) are only
learned with exploring starts: train on ``gym.make("AccessReview-v0",
exploring_starts=True)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import RECOMMENDED_GAMMA
from access_review_env.validation import check_real, check_unit_interval
from agents.evaluation.returns import returns_to_go
from agents.learners.episodes import (
    Callback,
    EpisodeLog,
    check_discrete,
    env_metadata,
    train_episodes,
)
from agents.policies.preference_table import TabularPolicy
from agents.policies.selection import masked_softmax, sample_index


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyperparameters of tabular REINFORCE.

    Raises:
        TypeError: If a value is not a real number.
        ValueError: If a value lies outside its range.
    """

    gamma: float = RECOMMENDED_GAMMA
    """Discount in [0, 1]; the task's recommended 0.9."""
    learning_rate: float = 0.002
    """Step size of the logits, finite and > 0 (returns here are of order 100)."""
    baseline_rate: float = 0.05
    """Step size of the per-state baseline, in [0, 1]."""
    horizon_ends_episode: bool = False
    """Learn from episodes the time limit truncates too, as complete ones.

    Right where the time limit is the task's horizon, as the queue's 200-step
    shift is (its exact values are over exactly that horizon, and it never
    terminates, so without this REINFORCE learns nothing there). Off by
    default: the small tasks terminate, and a truncated episode there has no
    complete return."""

    def __post_init__(self) -> None:
        """Reject values outside their ranges."""
        object.__setattr__(self, "gamma", check_unit_interval("gamma", self.gamma))
        object.__setattr__(
            self,
            "learning_rate",
            check_real("learning_rate", self.learning_rate, low=0.0, low_open=True),
        )
        object.__setattr__(
            self,
            "baseline_rate",
            check_unit_interval("baseline_rate", self.baseline_rate),
        )


@dataclass
class ReinforceAgent(TabularPolicy):
    """A softmax policy learned by :func:`train_reinforce`.

    Stochastic ``predict`` (``deterministic=False``) draws from ``rng``, a
    generator the agent owns:

    - :func:`train_reinforce` spawns it from the caller's generator
      (``rng.spawn(1)``, which draws nothing from it), so training and the
      agent's actions are reproducible from the caller's seed, yet sampling
      from the agent never advances the caller's generator, and using the
      caller's generator never changes the agent's actions. Every callback
      snapshot and the returned agent start from the same state of it.
    - :func:`~agents.persistence.save_agent` stores its state, so a loaded
      agent draws exactly the actions the original would have drawn from
      the moment it was saved (and two loads of one file draw alike).

    Assign ``agent.rng`` to sample from a generator of your choice.

    Attributes:
        logits: ``(S, A)`` action preferences.
        baseline: ``(S,)`` the per-state baseline.
        valid_seen: ``(S, A)`` the action masks the env reported in each state.
        config: The hyperparameters.
        log: Per-episode returns and lengths.
        env_id: The registered id of the env it learned on, if any.
        env_kwargs: That env's make-kwargs.
        rng: Draws the actions of ``predict(..., deterministic=False)``.
    """

    ALGORITHM = "reinforce"

    logits: NDArray[np.float64]
    baseline: NDArray[np.float64]
    valid_seen: NDArray[np.bool_]
    config: ReinforceConfig = field(default_factory=ReinforceConfig)
    log: EpisodeLog = field(default_factory=EpisodeLog)
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def preferences(self) -> NDArray[np.float64]:
        """The logits: the most probable action maximizes them."""
        return self.logits

    def probabilities(
        self, state: int, mask: NDArray[Any] | None = None
    ) -> NDArray[np.float64]:
        """``(A,)`` the policy's action probabilities in ``state``."""
        return masked_softmax(self.logits[state], self.state_mask(state, mask))

    def act(self, state: int, mask: NDArray[Any] | None, deterministic: bool) -> int:
        """The most probable action, or one drawn from the policy with ``rng``."""
        if deterministic:
            return super().act(state, mask, deterministic)
        probabilities = self.probabilities(state, mask)
        return int(self.rng.choice(len(probabilities), p=probabilities))


def policy_gradient_step(
    logits: NDArray[np.float64],
    actions: NDArray[np.int64],
    returns: NDArray[np.float64],
    step_size: float,
) -> NDArray[np.float64]:
    """One REINFORCE update of a single state's logits from a batch of routes.

    The baseline is the batch's mean return; the gradient is the batch mean of
    ``(G_i - mean G) * (onehot(a_i) - pi)``, the lesson's single update.

    Args:
        logits: ``(A,)`` logits before the update.
        actions: ``(N,)`` the action each route took.
        returns: ``(N,)`` each route's return.
        step_size: The learning rate.

    Returns:
        ``(A,)`` the updated logits.
    """
    logits = np.asarray(logits, dtype=float)
    returns = np.asarray(returns, dtype=float)
    probabilities = masked_softmax(logits, np.ones_like(logits))
    advantages = returns - returns.mean()
    scores = np.eye(logits.size)[np.asarray(actions)] - probabilities
    gradient = (scores * advantages[:, None]).mean(axis=0)
    return np.asarray(logits + step_size * gradient, dtype=np.float64)


class _Reinforce:
    """The per-episode algorithm: play with the softmax policy, then update."""

    def __init__(
        self,
        env: gym.Env[Any, Any],
        config: ReinforceConfig,
        rng: np.random.Generator,
    ) -> None:
        n_states, n_actions = check_discrete(env)
        self.config = config
        self.rng = rng
        self.policy_rng = _own_generator(rng)
        self.logits = np.zeros((n_states, n_actions))
        self.baseline = np.zeros(n_states)
        self.valid_seen = np.zeros((n_states, n_actions), dtype=bool)
        self.env_id, self.env_kwargs = env_metadata(env)

    def run_episode(
        self, env: gym.Env[Any, Any], seed: int | None
    ) -> tuple[float, float, int]:
        logits, baseline, rng = self.logits, self.baseline, self.rng
        gamma = self.config.gamma
        state, info = env.reset(seed=seed)
        states, actions, rewards, policies = [], [], [], []
        while True:
            mask = info["action_mask"]
            self.valid_seen[state] = mask != 0
            probabilities = masked_softmax(logits[state], mask)
            action = sample_index(probabilities, rng.random())
            state_next, reward, terminated, truncated, info = env.step(action)
            states.append(state)
            actions.append(action)
            rewards.append(float(reward))
            policies.append(probabilities)
            if terminated or truncated:
                break
            state = state_next
        returns = returns_to_go(rewards, gamma)
        # A truncated episode has no complete return; REINFORCE learns only from
        # episodes that reached a terminal state, unless the time limit is the
        # task's horizon.
        if terminated or (truncated and self.config.horizon_ends_episode):
            learning_rate, baseline_rate = (
                self.config.learning_rate,
                self.config.baseline_rate,
            )
            weight = 1.0
            for s, a, g, pi in zip(states, actions, returns, policies, strict=True):
                advantage = g - baseline[s]
                baseline[s] += baseline_rate * advantage
                score = -pi
                score[a] += 1.0
                logits[s] += learning_rate * weight * advantage * score
                weight *= gamma
        return sum(rewards), returns[0], len(rewards)

    def snapshot(self, log: EpisodeLog) -> ReinforceAgent:
        return ReinforceAgent(
            self.logits.copy(),
            self.baseline.copy(),
            self.valid_seen.copy(),
            self.config,
            log,
            self.env_id,
            dict(self.env_kwargs),
            copy.deepcopy(self.policy_rng),
        )


def _own_generator(rng: np.random.Generator) -> np.random.Generator:
    """A generator of the agent's own, derived from ``rng`` without drawing from it.

    A generator built without a ``SeedSequence`` cannot spawn; one draw from it
    seeds the agent's generator instead.
    """
    try:
        return rng.spawn(1)[0]
    except TypeError:
        return np.random.default_rng(int(rng.integers(2**63)))


def train_reinforce(
    env: gym.Env[Any, Any],
    n_episodes: int,
    config: ReinforceConfig | None = None,
    *,
    rng: np.random.Generator,
    callback: Callback | None = None,
    callback_every: int = 1,
    progress_bar: bool = False,
) -> ReinforceAgent:
    """Learn a softmax policy from complete episodes of ``env``.

    Args:
        env: An env with Discrete spaces and ``info["action_mask"]``; its first
            reset is seeded from ``rng``.
        n_episodes: Episodes to train for.
        config: Hyperparameters.
        rng: The only source of the learner's randomness (and the env's seed).
            The agent's own generator is spawned from it (see
            :class:`ReinforceAgent`); the agent never keeps ``rng`` itself.
        callback: Called as ``callback(episode, agent)`` after every
            ``callback_every`` episodes with a snapshot of the agent; return
            False to stop.
        callback_every: Call ``callback`` after every this many episodes.
        progress_bar: Show a tqdm bar (needs the ``progress`` extra).

    Returns:
        The learned :class:`ReinforceAgent`.
    """
    learner = _Reinforce(env, config or ReinforceConfig(), rng)
    return train_episodes(
        env,
        learner,
        n_episodes,
        rng=rng,
        callback=callback,
        callback_every=callback_every,
        progress_bar=progress_bar,
        description="REINFORCE",
    )
