"""Plumbing the learners share: episode logs, progress bars, callbacks, env metadata."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

Callback = Callable[[int, Any], "bool | None"]
"""``callback(episode, agent)``, called after every ``callback_every`` episodes
with the agent so far; returning ``False`` stops training early."""


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

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The log as arrays, for saving."""
        return {
            "returns": np.asarray(self.returns, dtype=float),
            "discounted_returns": np.asarray(self.discounted_returns, dtype=float),
            "lengths": np.asarray(self.lengths, dtype=np.int64),
        }


class Progress:
    """A tqdm progress bar over episodes, or nothing; updated in 1 % steps."""

    def __init__(self, total: int, enabled: bool, description: str) -> None:
        """Show a bar of ``total`` episodes when ``enabled``.

        Raises:
            ImportError: If ``enabled`` and tqdm is not installed.
        """
        self._bar: Any = None
        self._every = max(1, total // 100)
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError as error:
                raise ImportError(
                    "progress_bar=True needs tqdm: pip install "
                    "'access-review-env[progress]'"
                ) from error
            self._bar = tqdm(total=total, desc=description, unit="episode")

    def update(self, episode: int) -> None:
        """Advance the bar once ``episode`` (0-based) ends a 1 % step."""
        if self._bar is not None and (episode + 1) % self._every == 0:
            self._bar.update(self._every)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.update(self._bar.total - self._bar.n)
            self._bar.close()


def env_metadata(env: gym.Env[Any, Any]) -> tuple[str | None, dict[str, Any]]:
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
    spaces = (env.observation_space, env.action_space)
    if not all(isinstance(space, gym.spaces.Discrete) for space in spaces):
        raise TypeError(
            "tabular learners need Discrete observation and action spaces, got "
            f"{env.observation_space} and {env.action_space}"
        )
    return int(env.observation_space.n), int(env.action_space.n)  # type: ignore[attr-defined]


def check_episodes(n_episodes: int) -> int:
    """Return ``n_episodes`` if it is a positive integer.

    Raises:
        TypeError: If it is not an integer.
        ValueError: If it is below 1.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int | np.integer):
        raise TypeError(f"n_episodes must be an integer, got {n_episodes!r}")
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    return int(n_episodes)
