"""A benchmark suite: agent factories scored over named configurations and seeds.

An *agent factory* is any callable ``factory(env, seed)`` that trains on (or
just inspects) the given env and returns a policy (anything
:func:`~agents.policies.as_predictor` accepts) or a :class:`Trained` with
checkpoints of its greedy policy during training. A run scores the factory on
every configuration of a suite for each seed and aggregates normalized scores
(0 = uniform random among valid actions, 1 = optimal) as rliable does.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID, START_STATE, AccessReviewMDP
from agents.planning import value_iteration
from agents.policies import PolicyLike
from agents.q_learning import train_q_learning
from agents.reinforce import train_reinforce
from agents.scoring import AgentError, RandomPolicy, score_policy, start_value
from agents.statistics import (
    interquartile_mean,
    mean_score,
    optimality_gap,
    stratified_bootstrap_ci,
)

AgentFactory = Callable[[gym.Env[Any, Any], int], Any]
"""``factory(env, seed) -> policy or Trained``."""


@dataclass(frozen=True)
class Configuration:
    """One env configuration of a suite, and what it probes."""

    name: str
    probes: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


SUITE: tuple[Configuration, ...] = (
    Configuration("default", "the lesson's task, p = 0.25", {}),
    Configuration(
        "below_crossover",
        "p = 0.04, just under 5/113: request_evidence wins by 0.48",
        {"abandonment_prob": 0.04},
    ),
    Configuration(
        "above_crossover",
        "p = 0.05, just over 5/113: human_review wins by 0.65",
        {"abandonment_prob": 0.05},
    ),
    Configuration(
        "no_abandonment", "p = 0: evidence always arrives", {"abandonment_prob": 0.0}
    ),
    Configuration("high_abandonment", "p = 0.5", {"abandonment_prob": 0.5}),
    Configuration(
        "speed_only",
        "misspecified reward: its optimum violates policy every episode",
        {"rewards": "speed_only"},
    ),
    Configuration(
        "invalid_raise",
        "invalid actions raise instead of being penalized",
        {"invalid_action": "raise"},
    ),
)
"""The default suite."""


@dataclass
class Trained:
    """A trained policy and its greedy policy at checkpoints during training.

    Attributes:
        policy: The final policy.
        checkpoints: ``(env steps so far, (S,) greedy action per state)`` pairs.
    """

    policy: PolicyLike
    checkpoints: list[tuple[int, NDArray[np.int64]]] = field(default_factory=list)


_CHECKPOINTS = 50
"""Greedy-policy checkpoints our factories record over training."""


def _train_with_checkpoints(
    train: Callable[..., Any], env: gym.Env[Any, Any], n_episodes: int, seed: int
) -> Trained:
    """Train, recording (env steps so far, greedy policy) :data:`_CHECKPOINTS` times."""
    checkpoints: list[tuple[int, NDArray[np.int64]]] = []

    def record(episode: int, agent: Any) -> None:
        checkpoints.append((int(sum(agent.log.lengths)), agent.greedy_policy))

    agent = train(
        env,
        n_episodes,
        rng=np.random.default_rng(seed),
        callback=record,
        callback_every=max(1, n_episodes // _CHECKPOINTS),
    )
    return Trained(agent, checkpoints)


def q_learning_agent(
    env: gym.Env[Any, Any], seed: int, n_episodes: int = 20_000
) -> Trained:
    """The package's Q-learning with the lesson's settings."""
    return _train_with_checkpoints(train_q_learning, env, n_episodes, seed)


def reinforce_agent(
    env: gym.Env[Any, Any], seed: int, n_episodes: int = 5_000
) -> Trained:
    """The package's REINFORCE, trained with exploring starts on the configuration."""
    spec = env.spec
    kwargs = dict(spec.kwargs) if spec is not None else {}
    explore = gym.make(
        spec.id if spec is not None else ENV_ID, **{**kwargs, "exploring_starts": True}
    )
    return _train_with_checkpoints(train_reinforce, explore, n_episodes, seed)


def random_agent(env: gym.Env[Any, Any], seed: int) -> RandomPolicy:
    """Uniformly random among the valid actions (the score-0 reference)."""
    return RandomPolicy(seed)


def load_factory(spec: str) -> AgentFactory:
    """Import an agent factory named ``"package.module:callable"``.

    Raises:
        ValueError: If ``spec`` is not of that form.
        ImportError: If the module cannot be imported.
        AttributeError: If the module has no such attribute.
        TypeError: If the attribute is not callable.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ValueError(
            f"agent spec {spec!r} must look like 'package.module:callable'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"cannot import module {module_name!r} of agent spec {spec!r}: {error}"
        ) from error
    try:
        factory = getattr(module, attribute)
    except AttributeError:
        raise AttributeError(
            f"module {module_name!r} has no attribute {attribute!r} "
            f"(agent spec {spec!r})"
        ) from None
    if not callable(factory):
        raise TypeError(
            f"{spec!r} is a {type(factory).__name__}, not a callable factory(env, seed)"
        )
    return factory  # type: ignore[no-any-return]


def steps_to_zero_regret(
    checkpoints: Sequence[tuple[int, NDArray[np.int64]]], env_kwargs: dict[str, Any]
) -> int | None:
    """Env steps after which every checkpoint's greedy policy has zero exact regret."""
    if not checkpoints:
        return None
    mdp = AccessReviewMDP(**env_kwargs).arrays
    optimal = value_iteration(mdp).V[START_STATE]
    first: int | None = None
    for steps, greedy in checkpoints:
        table = np.eye(mdp.n_actions)[np.asarray(greedy)]
        value = start_value(mdp, table)
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
    score: dict[str, Any]
    train_seconds: float
    steps_to_zero_regret: int | None


def run_suite(
    factory: AgentFactory,
    agent_name: str,
    suite: Iterable[Configuration] = SUITE,
    seeds: Iterable[int] = range(10),
    n_episodes: int = 1_000,
    on_run: Callable[[RunRecord], None] | None = None,
) -> list[RunRecord]:
    """Train and score ``factory`` on every configuration for every seed.

    Raises:
        AgentError: If the factory raises, naming agent, configuration and seed.
    """
    records = []
    for configuration in suite:
        for seed in seeds:
            env = gym.make(ENV_ID, **configuration.env_kwargs)
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
            )
            record = RunRecord(
                agent=agent_name,
                configuration=configuration.name,
                seed=seed,
                env_id=ENV_ID,
                env_kwargs=dict(configuration.env_kwargs),
                score=asdict(score),
                train_seconds=seconds,
                steps_to_zero_regret=steps_to_zero_regret(
                    trained.checkpoints, configuration.env_kwargs
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
        [r.score["normalized_score"] for r in records if r.configuration == n]
        for n in names
    ]
    return names, np.array(rows, dtype=float)


def summarize(records: Sequence[RunRecord], rng: np.random.Generator) -> dict[str, Any]:
    """Per-configuration and aggregate statistics of one agent's records."""
    names, scores = score_matrix(records)
    aggregates = {}
    for label, statistic in (
        ("mean", mean_score),
        ("iqm", interquartile_mean),
        ("optimality_gap", optimality_gap),
    ):
        low, high = stratified_bootstrap_ci(scores, statistic, rng)
        aggregates[label] = {"value": statistic(scores), "ci": [low, high]}
    per_configuration = {}
    for name, row in zip(names, scores, strict=True):
        runs = [r for r in records if r.configuration == name]
        reached = [
            r.steps_to_zero_regret for r in runs if r.steps_to_zero_regret is not None
        ]
        per_configuration[name] = {
            "mean_score": float(row.mean()),
            "iqm_score": interquartile_mean(row[None, :]),
            "zero_regret_rate": float(
                np.mean([abs(r.score["regret"]) <= 1e-9 for r in runs])
            ),
            "optimal_in_every_state_rate": float(
                np.mean(
                    [
                        bool(r.score["agreement"])
                        and all(r.score["agreement"].values())
                        for r in runs
                    ]
                )
            ),
            "violations_per_episode": float(
                np.nanmean([r.score["violations_per_episode"] for r in runs])
            ),
            "invalid_action_rate": float(
                np.nanmean([r.score["invalid_action_rate"] for r in runs])
            ),
            "crashed_runs": sum(bool(r.score["crashed"]) for r in runs),
            "median_steps_to_zero_regret": float(np.median(reached))
            if reached
            else None,
        }
    return {
        "agent": records[0].agent,
        "aggregate": aggregates,
        "configurations": per_configuration,
    }
