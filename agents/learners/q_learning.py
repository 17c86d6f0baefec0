"""Tabular Q-learning through the Gymnasium API (Watkins & Dayan, 1992).

The learner sees the env only through ``reset``, ``step`` and ``info``: it
explores epsilon-greedily among the actions ``info["action_mask"]`` allows and
applies the update of Sutton & Barto, equation 6.8::

    Q(s, a) += alpha * (r + gamma * max_a' Q(s', a') - Q(s, a))

The bootstrap term is dropped on a *terminated* step and kept on a *truncated*
one: a time limit ends the episode, not the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import RECOMMENDED_GAMMA
from access_review_env.validation import check_real, check_unit_interval
from agents.learners.episodes import (
    Callback,
    EpisodeLog,
    check_discrete,
    env_metadata,
    train_episodes,
)
from agents.policies.preference_table import TabularPolicy
from agents.policies.selection import UniformStream, epsilon_greedy, valid_actions


@dataclass(frozen=True)
class QLearningConfig:
    """Hyperparameters of Q-learning; the defaults are the lesson's.

    Raises:
        TypeError: If a value is not a real number.
        ValueError: If a value lies outside its range.
    """

    gamma: float = RECOMMENDED_GAMMA
    """Discount in [0, 1]; the task's recommended 0.9."""
    epsilon: float = 0.15
    """Probability in [0, 1] of a uniformly random valid action."""
    alpha: float | None = None
    """Constant learning rate in (0, 1]; None for ``visits ** -alpha_decay``."""
    alpha_decay: float = 0.6
    """Exponent of the visit-count step size, in (0, 1] ((0.5, 1] converges)."""
    initial_q: float = 0.0
    """Initial value of every Q entry (finite)."""

    def __post_init__(self) -> None:
        """Reject values outside their ranges."""
        object.__setattr__(self, "gamma", check_unit_interval("gamma", self.gamma))
        object.__setattr__(
            self, "epsilon", check_unit_interval("epsilon", self.epsilon)
        )
        if self.alpha is not None:
            object.__setattr__(
                self, "alpha", check_unit_interval("alpha", self.alpha, low_open=True)
            )
        object.__setattr__(
            self,
            "alpha_decay",
            check_unit_interval("alpha_decay", self.alpha_decay, low_open=True),
        )
        object.__setattr__(self, "initial_q", check_real("initial_q", self.initial_q))


@dataclass
class QLearningAgent(TabularPolicy):
    """A Q table learned by :func:`train_q_learning`, usable as a policy.

    Attributes:
        q_table: ``(S, A)`` learned action values.
        visits: ``(S, A)`` updates applied to each entry.
        valid_seen: ``(S, A)`` the action masks the env reported in each state
            (all False for a state never seen).
        config: The hyperparameters.
        log: Per-episode returns and lengths.
        env_id: The registered id of the env it learned on, if any.
        env_kwargs: That env's make-kwargs.
    """

    ALGORITHM = "q_learning"

    q_table: NDArray[np.float64]
    visits: NDArray[np.int64]
    valid_seen: NDArray[np.bool_]
    config: QLearningConfig = field(default_factory=QLearningConfig)
    log: EpisodeLog = field(default_factory=EpisodeLog)
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def preferences(self) -> NDArray[np.float64]:
        """The Q table: the greedy action maximizes it.

        The learned policy is the greedy one, so ``predict`` ignores
        ``deterministic`` (accepted for SB3 compatibility).
        """
        return self.q_table


class _QLearner:
    """The per-step algorithm; Q stays in Python lists, which is fastest here."""

    def __init__(
        self, env: gym.Env[Any, Any], config: QLearningConfig, rng: np.random.Generator
    ) -> None:
        n_states, n_actions = check_discrete(env)
        self.config = config
        self.q = [[config.initial_q] * n_actions for _ in range(n_states)]
        self.visits = [[0] * n_actions for _ in range(n_states)]
        self.seen: dict[int, tuple[int, ...]] = {}
        self.uniform = UniformStream(rng)
        self.env_id, self.env_kwargs = env_metadata(env)

    def run_episode(
        self, env: gym.Env[Any, Any], seed: int | None
    ) -> tuple[float, float, int]:
        q, visits, seen, uniform = self.q, self.visits, self.seen, self.uniform
        gamma, epsilon = self.config.gamma, self.config.epsilon
        alpha, decay = self.config.alpha, self.config.alpha_decay
        state, info = env.reset(seed=seed)
        valid = seen[state] = valid_actions(info["action_mask"])
        total = discounted = 0.0
        weight = 1.0
        length = 0
        while True:
            action = epsilon_greedy(q[state], valid, epsilon, uniform)
            next_state, reward, terminated, truncated, info = env.step(action)
            next_valid = seen[next_state] = valid_actions(info["action_mask"])
            reward = float(reward)
            target = reward
            if not terminated and next_valid:
                target += gamma * max(map(q[next_state].__getitem__, next_valid))
            count = visits[state][action] = visits[state][action] + 1
            row = q[state]
            row[action] += (alpha if alpha is not None else count**-decay) * (
                target - row[action]
            )
            total += reward
            discounted += weight * reward
            weight *= gamma
            length += 1
            if terminated or truncated:
                return total, discounted, length
            state, valid = next_state, next_valid

    def snapshot(self, log: EpisodeLog) -> QLearningAgent:
        n_states, n_actions = len(self.q), len(self.q[0])
        valid_seen = np.zeros((n_states, n_actions), dtype=bool)
        for state, actions in self.seen.items():
            valid_seen[state, list(actions)] = True
        return QLearningAgent(
            np.array(self.q, dtype=float),
            np.array(self.visits, dtype=np.int64),
            valid_seen,
            self.config,
            log,
            self.env_id,
            dict(self.env_kwargs),
        )


def train_q_learning(
    env: gym.Env[Any, Any],
    n_episodes: int,
    config: QLearningConfig | None = None,
    *,
    rng: np.random.Generator,
    callback: Callback | None = None,
    callback_every: int = 1,
    progress_bar: bool = False,
) -> QLearningAgent:
    """Learn a Q table by interacting with ``env`` for ``n_episodes`` episodes.

    Args:
        env: An env with Discrete spaces and ``info["action_mask"]``, such as
            ``gym.make("AccessReview-v0")``. Its first reset is seeded from ``rng``.
        n_episodes: Episodes to train for.
        config: Hyperparameters; the lesson's when None.
        rng: The only source of the learner's randomness (and the env's seed).
        callback: Called as ``callback(episode, agent)`` after every
            ``callback_every`` episodes with a snapshot of the agent; return
            False to stop.
        callback_every: Call ``callback`` after every this many episodes.
        progress_bar: Show a tqdm bar (needs the ``progress`` extra).

    Returns:
        The learned :class:`QLearningAgent`.
    """
    learner = _QLearner(env, config or QLearningConfig(), rng)
    return train_episodes(
        env,
        learner,
        n_episodes,
        rng=rng,
        callback=callback,
        callback_every=callback_every,
        progress_bar=progress_bar,
        description="Q-learning",
    )
