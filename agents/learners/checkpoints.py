"""Training while recording what the agent looks like along the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import gymnasium as gym
import numpy as np

from access_review_env.validation import check_integer

RecordT = TypeVar("RecordT")


@dataclass
class Recording(Generic[RecordT]):
    """A trained agent and what was recorded about it during training.

    Attributes:
        agent: The final agent.
        episodes: The (0-based) episode after which each record was taken.
        records: ``record(agent)`` at each of those episodes.
        seconds: Wall time of the whole training run.
    """

    agent: Any
    episodes: list[int] = field(default_factory=list)
    records: list[RecordT] = field(default_factory=list)
    seconds: float = 0.0


def train_recording(
    train: Callable[..., Any],
    env: gym.Env[Any, Any],
    n_episodes: int,
    record: Callable[[Any], RecordT],
    *,
    rng: np.random.Generator,
    n_records: int = 100,
    progress_bar: bool = False,
) -> Recording[RecordT]:
    """Train with a learner's ``train_*``, recording the agent ``n_records`` times.

    Args:
        train: ``train_q_learning``, ``train_reinforce`` or any function with
            their signature.
        env: The env to train on.
        n_episodes: Training episodes.
        record: What to keep of the agent snapshot at each record.
        rng: The learner's generator.
        n_records: Records evenly spread over training (every
            ``max(1, n_episodes // n_records)`` episodes).
        progress_bar: Show the learner's progress bar.
    """
    n_records = check_integer("n_records", n_records, low=1)
    recording: Recording[RecordT] = Recording(None)

    def keep(episode: int, agent: Any) -> None:
        recording.episodes.append(episode)
        recording.records.append(record(agent))

    start = time.perf_counter()
    recording.agent = train(
        env,
        n_episodes,
        rng=rng,
        callback=keep,
        callback_every=max(1, n_episodes // n_records),
        progress_bar=progress_bar,
    )
    recording.seconds = time.perf_counter() - start
    return recording
