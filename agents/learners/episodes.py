"""The episode loop every learner shares: seeding, logs, callbacks, progress.

A learner supplies how one episode is played and learned from
(:class:`EpisodeLearner`); :func:`train_episodes` runs it for a budget of
episodes, so seeding, the per-episode log, callbacks and the progress bar
behave the same for every learner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import gymnasium as gym
import numpy as np

from access_review_env.validation import check_integer
from agents.learners.progress import Progress

AgentT = TypeVar("AgentT")
AgentT_co = TypeVar("AgentT_co", covariant=True)

Callback = Callable[[int, Any], "bool | None"]
"""``callback(episode, agent)``: called after every ``callback_every`` episodes
with a snapshot of the agent (the learner never changes it afterwards);
returning ``False`` stops training."""


@dataclass
class EpisodeLog:
    """Per-episode records of a training run, for learning curves.

    Attributes:
        returns: Undiscounted return of each episode.
        discounted_returns: Return discounted by the learner's gamma.
        lengths: Steps in each episode.
    """

    returns: list[float] = field(default_factory=list)
    discounted_returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def append(self, ret: float, discounted: float, length: int) -> None:
        """Record one episode."""
        self.returns.append(ret)
        self.discounted_returns.append(discounted)
        self.lengths.append(length)

    def copy(self) -> EpisodeLog:
        """An independent copy."""
        return EpisodeLog(
            list(self.returns), list(self.discounted_returns), list(self.lengths)
        )

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The log as arrays, for saving."""
        return {
            "returns": np.asarray(self.returns, dtype=float),
            "discounted_returns": np.asarray(self.discounted_returns, dtype=float),
            "lengths": np.asarray(self.lengths, dtype=np.int64),
        }


class EpisodeLearner(Protocol[AgentT_co]):
    """One learning algorithm's part of the loop: play an episode, learn from it."""

    def run_episode(
        self, env: gym.Env[Any, Any], seed: int | None
    ) -> tuple[float, float, int]:
        """Play one episode (reset with ``seed``) and learn from it.

        Returns:
            The episode's undiscounted return, discounted return and length.
        """
        ...

    def snapshot(self, log: EpisodeLog) -> AgentT_co:
        """The agent as it is now, as an independent object holding ``log``."""
        ...


def train_episodes(
    env: gym.Env[Any, Any],
    learner: EpisodeLearner[AgentT],
    n_episodes: int,
    *,
    rng: np.random.Generator,
    callback: Callback | None = None,
    callback_every: int = 1,
    progress_bar: bool = False,
    description: str = "training",
) -> AgentT:
    """Train ``learner`` on ``env`` for ``n_episodes`` episodes; return the agent.

    The env's first reset is seeded from ``rng`` (one draw, before the first
    episode); later resets continue the env's generator.

    Args:
        env: The env.
        learner: The algorithm.
        n_episodes: Episodes to train for (an integer >= 1).
        rng: Seeds the env's first reset.
        callback: See :data:`Callback`.
        callback_every: Call ``callback`` after every this many episodes.
        progress_bar: Show a tqdm bar (needs the ``progress`` extra).
        description: The bar's label.

    Raises:
        TypeError, ValueError: For a budget or period that is not an integer >= 1.
    """
    n_episodes = check_integer("n_episodes", n_episodes, low=1)
    callback_every = check_integer("callback_every", callback_every, low=1)
    seed = int(rng.integers(2**31))
    log = EpisodeLog()
    progress = Progress(n_episodes, progress_bar, description)
    try:
        for episode in range(n_episodes):
            log.append(*learner.run_episode(env, seed if episode == 0 else None))
            progress.update(episode)
            if (
                callback is not None
                and (episode + 1) % callback_every == 0
                and callback(episode, learner.snapshot(log.copy())) is False
            ):
                break
    finally:
        progress.close()
    return learner.snapshot(log)


def env_metadata(
    env: gym.Env[Any, Any] | gym.vector.VectorEnv[Any, Any, Any],
) -> tuple[str | None, dict[str, Any]]:
    """The env's registered id and make-kwargs, as recorded with learned tables."""
    spec = env.spec
    if spec is None:
        return None, {}
    return spec.id, {
        key: value for key, value in spec.kwargs.items() if key != "render_mode"
    }


def check_discrete(env: gym.Env[Any, Any]) -> tuple[int, int]:
    """Return ``(n_states, n_actions)`` of an env with Discrete spaces.

    Raises:
        TypeError: If either space is not ``gymnasium.spaces.Discrete``.
    """
    return check_discrete_spaces(env.observation_space, env.action_space)


def check_discrete_spaces(
    observation_space: gym.Space[Any], action_space: gym.Space[Any]
) -> tuple[int, int]:
    """Return ``(n_states, n_actions)`` if both spaces are Discrete.

    Raises:
        TypeError: If either space is not ``gymnasium.spaces.Discrete``.
    """
    if not isinstance(observation_space, gym.spaces.Discrete) or not isinstance(
        action_space, gym.spaces.Discrete
    ):
        raise TypeError(
            "tabular learners need Discrete observation and action spaces, got "
            f"{observation_space} and {action_space}"
        )
    return int(observation_space.n), int(action_space.n)
