"""Running a benchmark: an agent factory trained and scored on every configuration.

A run scores the factory on every configuration of a suite for each seed
against the configuration's exact optimum (see :mod:`agents.evaluation.scoring`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID
from agents.benchmark.factories import AgentFactory, Checkpoint, Trained
from agents.benchmark.suite import SUITE, Configuration
from agents.evaluation.scoring import PolicyScore, score_policy
from agents.planning import start_value, value_iteration
from agents.policies import AgentError, deterministic_table


def steps_to_zero_regret(
    checkpoints: Sequence[Checkpoint], env_id: str, env_kwargs: dict[str, Any]
) -> int | None:
    """Env steps after which every checkpoint's greedy policy has zero exact regret."""
    if not checkpoints:
        return None
    arrays = gym.make(env_id, **env_kwargs).unwrapped.mdp.arrays  # type: ignore[attr-defined]
    optimal = float(arrays.initial_distribution @ value_iteration(arrays).V)
    first: int | None = None
    for steps, greedy in checkpoints:
        value = start_value(arrays, deterministic_table(greedy, arrays.n_actions))
        if value is not None and abs(optimal - value) <= 1e-9:
            first = steps if first is None else first
        else:
            first = None
    return first


@dataclass
class RunRecord:
    """One agent on one configuration with one seed."""

    agent: str
    configuration: str
    seed: int
    env_id: str
    env_kwargs: dict[str, Any]
    score: PolicyScore
    train_seconds: float
    steps_to_zero_regret: int | None


def run_suite(
    factory: AgentFactory,
    agent_name: str,
    suite: Iterable[Configuration] = SUITE,
    seeds: Iterable[int] = range(10),
    n_episodes: int = 1_000,
    on_run: Callable[[RunRecord], None] | None = None,
    env_id: str = ENV_ID,
) -> list[RunRecord]:
    """Train and score ``factory`` on every configuration for every seed.

    Raises:
        AgentError: If the factory raises, naming agent, configuration and seed.
    """
    records = []
    for configuration in suite:
        for seed in seeds:
            env = gym.make(env_id, **configuration.env_kwargs)
            start = time.perf_counter()
            try:
                result = factory(env, seed)
            except Exception as error:
                raise AgentError(
                    f"agent {agent_name} failed to train on {configuration.name} "
                    f"(seed {seed}): {type(error).__name__}: {error}"
                ) from error
            seconds = time.perf_counter() - start
            trained = result if isinstance(result, Trained) else Trained(result)
            score = score_policy(
                trained.policy,
                configuration.env_kwargs,
                n_episodes=n_episodes,
                seed=seed,
                name=agent_name,
                env_id=env_id,
            )
            record = RunRecord(
                agent=agent_name,
                configuration=configuration.name,
                seed=seed,
                env_id=env_id,
                env_kwargs=dict(configuration.env_kwargs),
                score=score,
                train_seconds=seconds,
                steps_to_zero_regret=steps_to_zero_regret(
                    trained.checkpoints, env_id, configuration.env_kwargs
                ),
            )
            records.append(record)
            if on_run is not None:
                on_run(record)
    return records


def score_matrix(records: Sequence[RunRecord]) -> tuple[list[str], NDArray[np.float64]]:
    """Configuration names and their ``(n_configurations, n_seeds)`` scores."""
    names = list(dict.fromkeys(r.configuration for r in records))
    rows = [
        [r.score.normalized_score for r in records if r.configuration == n]
        for n in names
    ]
    return names, np.array(rows, dtype=float)
