"""The queue's ladder benchmark: every agent, the same experience, exact scores.

One :class:`LadderTask` is one agent trained on one level of
``AccessReviewQueue-v0`` for one seed, with the level's budget of environment
steps; :func:`run_ladder_task` trains it, scores it exactly on the sparse
model (:mod:`agents.evaluation.scoring`: ``V^pi`` from the start
distribution, regret, normalized score, the share of the operations rule's gap
closed, violations and the operations figures) and records its
sample-complexity curve: the exact value of its greedy policy at
:data:`N_CURVE_POINTS` points of its training.

The agents (:data:`LADDER_AGENTS`):

* ``random``: uniform over the valid actions (the normalized score's 0);
* ``operations_rule`` and ``optimum``: reference rows, exact and trained on
  nothing (:func:`~agents.evaluation.queue_operations.operations_rule`, the
  optimal policy of value iteration); one run each per level;
* ``q_learning`` and ``reinforce``: ours, batched on the state index
  (:mod:`agents.learners.batched`, one learner per run: a seed's run is the
  same alone or in a batch), scored by their greedy policy (as their
  curves); REINFORCE trains with exploring starts, as in the small tasks'
  benchmark, and learns from the episodes the 200-step shift
  ends (``ReinforceConfig(horizon_ends_episode=True)``: the queue never
  terminates, and its exact values are over that horizon);
* ``sb3:PPO``, ``sb3:DQN``, ``sb3:MaskablePPO``: Stable-Baselines3 on the
  feature observation (``observation="features"``), with the settings of
  :mod:`agents.integrations.sb3_settings`; each is read greedily, in batches
  over the level's feature matrix: the argmax of its action distribution (of
  its Q values for DQN), which is what its deterministic ``predict`` returns;
* ``module:callable``: a user's factory ``factory(env, seed)``, given the
  level's index env; its budget is printed but not enforced.

Budgets are environment steps (:data:`BUDGETS`): ``budget // 200`` episodes
of the 200-step shift for ours, ``total_timesteps=budget`` for SB3.
"""

from __future__ import annotations

import importlib
import math
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import QUEUE_ENV_ID
from access_review_env.tasks.access_review_queue import LEVELS, MAX_EPISODE_STEPS
from agents.benchmark.factories import Trained
from agents.benchmark.plugins import SB3_AGENTS, load_factory
from agents.evaluation.scoring import PolicyScore, Reference, reference_of
from agents.evaluation.scoring import score_policies as _score_policies
from agents.planning import greedy_regret
from agents.policies import RandomPolicy, deterministic_table

BUDGETS: Mapping[str, int] = {
    "tiny": 20_000,
    "small": 50_000,
    "medium": 80_000,
    "large": 100_000,
    "xlarge": 100_000,
}
"""Environment steps each agent trains for on each level."""

DEFAULT_LEVELS: tuple[str, ...] = ("tiny", "small", "medium")
"""The levels a default run covers; ``large`` and ``xlarge`` are opt-in."""

REFERENCE_ROWS: tuple[str, ...] = ("operations_rule", "optimum")
"""Agents that are exact references: trained on nothing, one run per level."""

LEARNERS: tuple[str, ...] = (
    "q_learning",
    "reinforce",
    "sb3:PPO",
    "sb3:DQN",
    "sb3:MaskablePPO",
)
"""The built-in learners."""

LADDER_AGENTS: tuple[str, ...] = ("random", *REFERENCE_ROWS, *LEARNERS)
"""Every built-in agent of the ladder, in table order."""

LADDER_SB3 = ("PPO", "DQN", "MaskablePPO")
"""The SB3 algorithms of the ladder."""

N_CURVE_POINTS = 8
"""Points of each learner's sample-complexity curve, after the start."""

DEFAULT_EPISODES = 100
"""Monte Carlo episodes per score: a check of the exact value, and the
operations figures of a policy that does not read as a table."""


@dataclass(frozen=True)
class LadderTask:
    """One agent, one level, one seed and the level's budget."""

    agent: str
    level: str
    seed: int
    budget: int
    n_episodes: int = DEFAULT_EPISODES


@dataclass(frozen=True)
class LadderRecord:
    """What one task gave.

    Attributes:
        agent, level, seed, budget: The task.
        steps_used: Environment steps the agent trained for (0 for the
            reference rows and random; None for an external agent).
        seconds: Wall time of training and scoring.
        cpu_seconds: CPU time of the process over the same (one thread:
            what the run costs on an idle core, whatever else ran beside it).
        score: The exact score, None if the run failed.
        curve_steps: Steps at each curve point (0 first).
        curve_values: Exact ``V^pi(rho)`` of the greedy policy there.
        error: Why the run failed, or None.
    """

    agent: str
    level: str
    seed: int
    budget: int
    steps_used: int | None
    seconds: float
    score: PolicyScore | None
    curve_steps: tuple[int, ...] = ()
    curve_values: tuple[float, ...] = ()
    error: str | None = None
    cpu_seconds: float = math.nan


def check_levels(levels: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``levels`` if each is a level of the ladder.

    Raises:
        ValueError: Naming an unknown level and the ladder's.
    """
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        raise ValueError(
            f"unknown level(s) {', '.join(unknown)}; the ladder's are "
            f"{', '.join(LEVELS)}"
        )
    return tuple(dict.fromkeys(levels))


def ladder_tasks(
    agents: list[str] | tuple[str, ...],
    levels: tuple[str, ...],
    seeds: int,
    budgets: Mapping[str, int],
    n_episodes: int = DEFAULT_EPISODES,
) -> list[LadderTask]:
    """Every task of a run: reference rows once per level, others per seed.

    Ordered longest first within a level (SB3, then ours, then the rest) so
    that worker processes finish together.
    """
    tasks: list[LadderTask] = []
    for level in levels:
        for agent in sorted(agents, key=_cost_rank):
            runs = 1 if agent in REFERENCE_ROWS else seeds
            tasks.extend(
                LadderTask(agent, level, seed, budgets[level], n_episodes)
                for seed in range(runs)
            )
    return tasks


def _cost_rank(agent: str) -> int:
    if agent.startswith("sb3:"):
        return 0
    if ":" in agent:
        return 1
    return 2 if agent in LEARNERS else 3


def run_ladder_task(task: LadderTask) -> LadderRecord:
    """Train and score one task; a failure is a record with its error."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        steps, policy, curve = _train(task)
        (score,) = _score_policies(
            [policy],
            {"level": task.level},
            seeds=[task.seed],
            n_episodes=task.n_episodes,
            name=task.agent,
            env_id=QUEUE_ENV_ID,
        )
    except Exception as error:
        return LadderRecord(
            task.agent,
            task.level,
            task.seed,
            task.budget,
            None,
            time.perf_counter() - start,
            None,
            error=f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}",
            cpu_seconds=time.process_time() - cpu,
        )
    return LadderRecord(
        task.agent,
        task.level,
        task.seed,
        task.budget,
        steps,
        time.perf_counter() - start,
        score,
        tuple(int(s) for s, _ in curve),
        tuple(float(v) for _, v in curve),
        cpu_seconds=time.process_time() - cpu,
    )


Curve = list[tuple[int, float]]


def _train(task: LadderTask) -> tuple[int | None, Any, Curve]:
    """``(steps used, policy, curve)`` of one task."""
    reference = reference_of(QUEUE_ENV_ID, {"level": task.level})
    if task.agent == "random":
        return 0, RandomPolicy(task.seed), []
    if task.agent == "operations_rule":
        assert reference.baseline is not None
        return 0, reference.baseline, []
    if task.agent == "optimum":
        masked = np.where(reference.optimal, 1.0, 0.0)
        masked[~reference.live] = reference.masks[~reference.live]
        return 0, np.asarray(np.argmax(masked, axis=1), dtype=np.int64), []
    if task.agent in ("q_learning", "reinforce"):
        return _train_ours(task, reference)
    if task.agent.startswith("sb3:"):
        return _train_sb3(task, reference)
    factory = load_factory(task.agent)
    made = factory(gym.make(QUEUE_ENV_ID, level=task.level), task.seed)
    policy = made.policy if isinstance(made, Trained) else made
    return None, policy, []


def curve_episodes(n_episodes: int) -> NDArray[np.int64]:
    """0 and :data:`N_CURVE_POINTS` episode counts up to ``n_episodes``, geometric."""
    points = np.geomspace(max(1, n_episodes // 64), n_episodes, N_CURVE_POINTS)
    return np.unique(np.concatenate([[0], np.round(points).astype(np.int64)]))


def _train_ours(task: LadderTask, reference: Reference) -> tuple[int, Any, Curve]:
    from agents.learners import ReinforceConfig
    from agents.learners.batched import (
        train_q_learning_batched,
        train_reinforce_batched,
    )

    n_episodes = max(1, task.budget // MAX_EPISODE_STEPS)
    q_learning = task.agent == "q_learning"
    kwargs: dict[str, Any] = {"level": task.level}
    if not q_learning:
        kwargs["exploring_starts"] = True
    envs = gym.make_vec(
        QUEUE_ENV_ID,
        num_envs=1,
        vectorization_mode="vector_entry_point",
        copy=False,
        **kwargs,
    )
    checkpoints = curve_episodes(n_episodes)
    if q_learning:
        result: Any = train_q_learning_batched(
            envs, n_episodes, seeds=[task.seed], checkpoints=checkpoints
        )
    else:
        result = train_reinforce_batched(
            envs,
            n_episodes,
            ReinforceConfig(horizon_ends_episode=True),
            seeds=[task.seed],
            checkpoints=checkpoints,
        )
    envs.close()
    regrets = greedy_regret(
        reference.model,
        result.log.snapshots[:, 0],
        reference.masks,
        optimal=reference.optimal_value,
    )
    steps = result.log.checkpoint_length_sum[:, 0]
    curve = [
        (int(s), reference.optimal_value - float(r))
        for s, r in zip(steps, regrets, strict=True)
    ]
    final = result.q_tables[0] if q_learning else result.logits[0]
    return int(steps[-1]), greedy_actions(final, reference), curve


def greedy_actions(
    table: NDArray[np.float64], reference: Reference
) -> NDArray[np.int64]:
    """``(S,)`` the greedy action among the valid ones of a ``(S, A)`` table.

    What the agent's deterministic ``predict`` returns (the first of a tie),
    read on every state at once.
    """
    masked = np.where(reference.masks, table, -np.inf)
    return np.asarray(np.argmax(masked, axis=1), dtype=np.int64)


SB3_TRAINER = "agents.integrations.ladder_sb3:train_on_features"
"""The SB3 trainer on the queue's features (the ``sb3`` extra), by reference:
glue to an optional library sits above the benchmark, which imports it as it
imports the ``sb3:ALGORITHM`` factories (:mod:`agents.benchmark.plugins`)."""


def _train_sb3(task: LadderTask, reference: Reference) -> tuple[int, Any, Curve]:
    module, _, name = SB3_TRAINER.partition(":")
    train_on_features = getattr(importlib.import_module(module), name)
    algorithm = task.agent.removeprefix("sb3:")
    if algorithm not in SB3_AGENTS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; choose from {', '.join(SB3_AGENTS)}"
        )
    steps, actions, checkpoints = train_on_features(
        algorithm, task.level, task.seed, task.budget, N_CURVE_POINTS
    )
    curve = [
        (s, value_of(reference, greedy))
        for s, greedy in [*checkpoints, (steps, actions)]
    ]
    return steps, actions, curve


def value_of(reference: Reference, actions: NDArray[np.int64]) -> float:
    """Exact ``V^pi(rho)`` of a deterministic policy (NaN if the env refuses it)."""
    value = reference.exact(deterministic_table(actions, reference.model.n_actions))
    return math.nan if value is None else value
