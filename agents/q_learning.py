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
from agents.policies import UniformStream, epsilon_greedy, valid_actions
from agents.tabular_policy import TabularPolicy
from agents.training import (
    Callback,
    EpisodeLog,
    Progress,
    check_discrete,
    check_episodes,
    env_metadata,
)


@dataclass(frozen=True)
class QLearningConfig:
    """Hyperparameters of Q-learning; the defaults are the lesson's."""

    gamma: float = RECOMMENDED_GAMMA
    """Discount; the task's recommended 0.9."""
    epsilon: float = 0.15
    """Probability of a uniformly random valid action."""
    alpha: float | None = None
    """Constant learning rate; None for the lesson's ``visits ** -alpha_decay``."""
    alpha_decay: float = 0.6
    """Exponent of the visit-count learning rate (in (0.5, 1] for convergence)."""
    initial_q: float = 0.0
    """Initial value of every Q entry."""

    def __post_init__(self) -> None:
        """Reject values outside their ranges."""
        for name in ("gamma", "epsilon"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.alpha is not None and not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1] or None, got {self.alpha}")
        if not 0.0 < self.alpha_decay <= 1.0:
            raise ValueError(f"alpha_decay must be in (0, 1], got {self.alpha_decay}")


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
            ``callback_every`` episodes; ``agent`` is a snapshot of the tables
            (built only for the call); return False to stop.
        callback_every: Call ``callback`` after every this many episodes.
        progress_bar: Show a tqdm bar (needs the ``progress`` extra).

    Returns:
        The learned :class:`QLearningAgent`.
    """
    config = config or QLearningConfig()
    n_episodes = check_episodes(n_episodes)
    if callback_every < 1:
        raise ValueError(f"callback_every must be >= 1, got {callback_every}")
    n_states, n_actions = check_discrete(env)
    gamma, epsilon, alpha, decay = (
        config.gamma,
        config.epsilon,
        config.alpha,
        config.alpha_decay,
    )
    q = [[config.initial_q] * n_actions for _ in range(n_states)]
    visits = [[0] * n_actions for _ in range(n_states)]
    seen: dict[int, tuple[int, ...]] = {}
    uniform = UniformStream(rng)
    log = EpisodeLog()
    progress = Progress(n_episodes, progress_bar, "Q-learning")

    def snapshot() -> QLearningAgent:
        valid_seen = np.zeros((n_states, n_actions), dtype=bool)
        for s, actions in seen.items():
            valid_seen[s, list(actions)] = True
        env_id, env_kwargs = env_metadata(env)
        return QLearningAgent(
            np.array(q, dtype=float),
            np.array(visits, dtype=np.int64),
            valid_seen,
            config,
            log,
            env_id,
            env_kwargs,
        )

    seed = int(rng.integers(2**31))
    for episode in range(n_episodes):
        state, info = env.reset(seed=seed if episode == 0 else None)
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
                break
            state, valid = next_state, next_valid
        log.append(total, discounted, length)
        progress.update(episode)
        if (
            callback is not None
            and (episode + 1) % callback_every == 0
            and callback(episode, snapshot()) is False
        ):
            break
    progress.close()
    return snapshot()
