"""Running a benchmark: an agent factory trained and scored on every configuration.

The unit of work is one :class:`RunSpec` (agent, configuration, seed, settings).
:func:`run_one` trains and scores it against the configuration's exact optimum
(see :mod:`agents.evaluation.scoring`) and always returns a :class:`RunRecord`:
an agent that raises, returns something that is not a policy, or takes an
action the env refuses gives a failed record with the error, never an
exception that would end the other runs.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID
from agents.benchmark.factories import AgentFactory, Checkpoint, Trained
from agents.benchmark.plugins import resolve_agent
from agents.benchmark.suite import SUITE, Configuration
from agents.evaluation.scoring import PolicyScore, score_policy
from agents.planning import as_tabular, start_value, value_iteration
from agents.policies import deterministic_table


def steps_to_zero_regret(
    checkpoints: Sequence[Checkpoint], env_id: str, env_kwargs: Mapping[str, Any]
) -> int | None:
    """Env steps after which every checkpoint's greedy policy has zero exact regret.

    Exact values are those of the env as registered (its time limit included).
    """
    if not checkpoints:
        return None
    arrays = as_tabular(gym.make(env_id, **env_kwargs))
    optimal = float(arrays.initial_distribution @ value_iteration(arrays).V)
    first: int | None = None
    for steps, greedy in checkpoints:
        value = start_value(arrays, deterministic_table(greedy, arrays.n_actions))
        if value is not None and abs(optimal - value) <= 1e-9:
            first = steps if first is None else first
        else:
            first = None
    return first


@dataclass(frozen=True)
class RunSpec:
    """One run to do: which agent, where, with which seed and settings.

    Small and picklable, so that a run can be sent to another process.
    """

    agent: str
    configuration: Configuration
    seed: int
    n_episodes: int = 1_000
    env_id: str = ENV_ID

    @property
    def key(self) -> str:
        """Identifies the run: two specs with the same key compute the same thing."""
        return run_key(
            self.agent,
            self.configuration.name,
            self.configuration.env_kwargs,
            self.seed,
            self.n_episodes,
            self.env_id,
        )


def run_key(
    agent: str,
    configuration: str,
    env_kwargs: Mapping[str, Any],
    seed: int,
    n_episodes: int,
    env_id: str,
) -> str:
    """The key of a run, as text (a JSON array)."""
    return json.dumps(
        [agent, configuration, dict(env_kwargs), seed, n_episodes, env_id],
        sort_keys=True,
    )


@dataclass
class RunRecord:
    """One agent on one configuration with one seed, or how that run failed.

    Attributes:
        agent: The agent's name (built-in, ``sb3:...`` or ``module:callable``).
        configuration: The configuration's name.
        seed: The seed of training and of the scoring rollouts.
        env_id: The registered task.
        env_kwargs: The configuration's ``gym.make`` kwargs.
        n_episodes: Monte Carlo episodes of the score.
        score: The score, or None when the run failed before scoring.
        train_seconds: Time the factory took.
        steps_to_zero_regret: Training steps after which every checkpoint's
            greedy policy has zero regret (None when not reached or not reported).
        error: Why the run failed (exception type and message), or None.
    """

    agent: str
    configuration: str
    seed: int
    env_id: str
    env_kwargs: dict[str, Any]
    n_episodes: int
    score: PolicyScore | None
    train_seconds: float
    steps_to_zero_regret: int | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """The agent failed: it raised, returned no policy, or crashed the env."""
        return self.error is not None

    @property
    def key(self) -> str:
        """See :attr:`RunSpec.key`."""
        return run_key(
            self.agent,
            self.configuration,
            self.env_kwargs,
            self.seed,
            self.n_episodes,
            self.env_id,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record back from its JSON form (nulls for non-finite numbers).

        Raises:
            KeyError, TypeError, ValueError: If ``data`` is not a record.
        """
        values = {field.name: data[field.name] for field in fields(cls)}
        if values["score"] is not None:
            values["score"] = score_from_json(values["score"])
        return cls(**values)


def score_from_json(data: Mapping[str, Any]) -> PolicyScore:
    """A :class:`PolicyScore` back from its JSON form; null floats become NaN."""
    values = {field.name: data[field.name] for field in fields(PolicyScore)}
    for name in (
        "exact_value",
        "mc_value",
        "regret",
        "violations_per_episode",
        "invalid_action_rate",
    ):
        if values[name] is None and name != "exact_value":
            values[name] = float("nan")
    values["mc_ci"] = tuple(
        float("nan") if bound is None else bound for bound in values["mc_ci"]
    )
    return PolicyScore(**values)


def run_one(spec: RunSpec, factory: AgentFactory | None = None) -> RunRecord:
    """Train ``spec.agent`` on its configuration and score it.

    Never raises for the agent's faults: they become the record's ``error``.

    Args:
        spec: The run.
        factory: The agent's factory; found from ``spec.agent`` when None (as
            a worker process does).

    Returns:
        The record; ``error`` says why the run failed, if it did.
    """
    configuration = spec.configuration
    record = RunRecord(
        agent=spec.agent,
        configuration=configuration.name,
        seed=spec.seed,
        env_id=spec.env_id,
        env_kwargs=dict(configuration.env_kwargs),
        n_episodes=spec.n_episodes,
        score=None,
        train_seconds=0.0,
        steps_to_zero_regret=None,
    )
    start = time.perf_counter()
    try:
        factory = factory or resolve_agent(spec.agent)
        result = factory(gym.make(spec.env_id, **configuration.env_kwargs), spec.seed)
        record.train_seconds = time.perf_counter() - start
        trained = result if isinstance(result, Trained) else Trained(result)
        record.score = score_policy(
            trained.policy,
            configuration.env_kwargs,
            n_episodes=spec.n_episodes,
            seed=spec.seed,
            name=spec.agent,
            env_id=spec.env_id,
        )
        if record.score.crashed:
            record.error = f"InvalidActionError: {record.score.crash_message}"
        record.steps_to_zero_regret = steps_to_zero_regret(
            trained.checkpoints, spec.env_id, configuration.env_kwargs
        )
    except Exception as error:  # the agent's fault: record it, go on
        record.train_seconds = record.train_seconds or time.perf_counter() - start
        frame = traceback.extract_tb(error.__traceback__)[-1]
        record.error = (
            f"{type(error).__name__}: {error} "
            f"(at {frame.filename}:{frame.lineno} in {frame.name})"
        )
    return record


def run_suite(
    factory: AgentFactory,
    agent_name: str,
    suite: Iterable[Configuration] = SUITE,
    seeds: Iterable[int] = range(10),
    n_episodes: int = 1_000,
    on_run: Callable[[RunRecord], None] | None = None,
    env_id: str = ENV_ID,
) -> list[RunRecord]:
    """Train and score ``factory`` on every configuration for every seed, serially.

    A failing run is recorded (see :func:`run_one`) and the others go on.
    """
    records = []
    for configuration in suite:
        for seed in seeds:
            spec = RunSpec(agent_name, configuration, seed, n_episodes, env_id)
            record = run_one(spec, factory)
            records.append(record)
            if on_run is not None:
                on_run(record)
    return records


def score_rows(
    records: Sequence[RunRecord],
) -> tuple[list[str], list[NDArray[np.float64]]]:
    """Configuration names and each one's normalized scores over its seeds.

    Only successful runs count, so rows may differ in length.
    """
    good = [(r.configuration, r.score) for r in records if not r.failed]
    names = list(dict.fromkeys(name for name, score in good if score is not None))
    rows = [
        np.array(
            [s.normalized_score for n, s in good if n == name and s is not None],
            dtype=np.float64,
        )
        for name in names
    ]
    return names, rows
