"""Agent factories: how the benchmark trains an agent on a configuration.

An *agent factory* is any callable ``factory(env, seed)`` that trains on (or
just inspects) the given env and returns a policy (anything
:func:`~agents.policies.predictor.as_predictor` accepts) or a :class:`Trained`
with checkpoints of its greedy actions during training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.learners import train_q_learning, train_recording, train_reinforce
from agents.policies import PolicyLike, RandomPolicy

AgentFactory = Callable[[gym.Env[Any, Any], int], Any]
"""``factory(env, seed) -> policy or Trained``."""

Checkpoint = tuple[int, NDArray[np.int64]]
"""``(env steps so far, (S,) greedy action per state)``."""

N_CHECKPOINTS = 50
"""Greedy-action checkpoints our factories record over training."""


@dataclass
class Trained:
    """A trained policy and its greedy actions at checkpoints during training.

    Attributes:
        policy: The final policy.
        checkpoints: ``(env steps so far, (S,) greedy action per state)`` pairs.
    """

    policy: PolicyLike
    checkpoints: list[Checkpoint] = field(default_factory=list)


def _checkpoint(agent: Any) -> Checkpoint:
    return int(sum(agent.log.lengths)), agent.greedy_actions


def train_with_checkpoints(
    train: Callable[..., Any], env: gym.Env[Any, Any], n_episodes: int, seed: int
) -> Trained:
    """Train, recording (env steps, greedy actions) :data:`N_CHECKPOINTS` times."""
    recording = train_recording(
        train,
        env,
        n_episodes,
        _checkpoint,
        rng=np.random.default_rng(seed),
        n_records=N_CHECKPOINTS,
    )
    return Trained(recording.agent, recording.records)


def q_learning_agent(
    env: gym.Env[Any, Any], seed: int, n_episodes: int = 20_000
) -> Trained:
    """The package's Q-learning with the lesson's settings."""
    return train_with_checkpoints(train_q_learning, env, n_episodes, seed)


def reinforce_agent(
    env: gym.Env[Any, Any], seed: int, n_episodes: int = 5_000
) -> Trained:
    """The package's REINFORCE, trained with exploring starts on the configuration."""
    spec = env.spec
    if spec is None:
        raise ValueError("reinforce_agent needs an env made by gym.make (with a spec)")
    explore = gym.make(spec.id, **{**spec.kwargs, "exploring_starts": True})
    return train_with_checkpoints(train_reinforce, explore, n_episodes, seed)


def random_agent(env: gym.Env[Any, Any], seed: int) -> RandomPolicy:
    """Uniformly random among the valid actions (the score-0 reference)."""
    return RandomPolicy(seed)


BUILT_IN: dict[str, AgentFactory] = {
    "q_learning": q_learning_agent,
    "reinforce": reinforce_agent,
    "random": random_agent,
}
"""The package's own agents, by the name the benchmark knows them by."""
