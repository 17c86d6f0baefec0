"""Agent factories: how the benchmark trains an agent on a configuration.

An *agent factory* is any callable ``factory(env, seed)`` that trains on (or
just inspects) the given env and returns a policy (anything
:func:`~agents.policies.predictor.as_predictor` accepts) or a :class:`Trained`
with checkpoints of its greedy actions during training.

A factory that can train many seeds at once also has a ``train_many(env_id,
env_kwargs, seeds)`` method (:class:`ManySeedFactory`); the runner then hands
it every seed of one (agent, configuration) in one call. Ours do: they train
the batched learners on the native vector env, and report a
:class:`TrainingTrace` per seed, the exact regret of their greedy and behaviour
policies at checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.common.json_values import float_from_json
from agents.evaluation.exact import scored_arrays
from agents.evaluation.training_regret import (
    EpsilonGreedyRegret,
    RegretOf,
    RegretTracker,
    softmax_regret,
)
from agents.learners import (
    QLearningConfig,
    train_q_learning,
    train_recording,
    train_reinforce,
)
from agents.learners.batched import (
    BatchedQLearning,
    BatchedReinforce,
    train_q_learning_batched,
    train_reinforce_batched,
)
from agents.planning import greedy_regret
from agents.policies import PolicyLike, RandomPolicy

AgentFactory = Callable[[gym.Env[Any, Any], int], Any]
"""``factory(env, seed) -> policy or Trained``."""

Checkpoint = tuple[int, NDArray[np.int64]]
"""``(env steps so far, (S,) greedy action per state)``."""

N_CHECKPOINTS = 50
"""Greedy-action checkpoints our factories record over training."""


N_CURVE_POINTS = 30
"""Extra checkpoints, spaced geometrically, that the batched factories add so
that curves over training episodes are resolved early on, where they move."""


TRACE_DECIMALS = 9
"""Decimal places a :class:`TrainingTrace` keeps of each regret."""


@dataclass(frozen=True)
class TrainingTrace:
    """One seed's training at checkpoints, against the exact optimum.

    Exact values are those of the configuration as made, from the start
    distribution its ``reset`` draws from (the configuration's own, also when
    training used exploring starts).

    Attributes:
        episodes: Training episodes completed at each checkpoint (0 first).
        steps: Env steps taken by then.
        greedy_regret: Exact regret of the greedy policy there (among the
            env's valid actions, as the score reads a policy); 0 is optimal.
        behaviour_regret: Exact regret of the behaviour policy the next
            episode is played with (epsilon-greedy, or the softmax).
        cumulative_regret: Exact expected regret of the behaviour policies,
            summed over every episode before the checkpoint.
    """

    episodes: tuple[int, ...]
    steps: tuple[int, ...]
    greedy_regret: tuple[float, ...]
    behaviour_regret: tuple[float, ...]
    cumulative_regret: tuple[float, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingTrace:
        """A trace back from its JSON form (nulls become NaN)."""
        floats = ("greedy_regret", "behaviour_regret", "cumulative_regret")
        return cls(
            episodes=tuple(int(v) for v in data["episodes"]),
            steps=tuple(int(v) for v in data["steps"]),
            **{name: tuple(float_from_json(v) for v in data[name]) for name in floats},
        )


@dataclass
class Trained:
    """A trained policy and what was recorded while it trained.

    Attributes:
        policy: The final policy.
        checkpoints: ``(env steps so far, (S,) greedy action per state)`` pairs.
        trace: The exact regret at checkpoints (batched factories give it).
    """

    policy: PolicyLike
    checkpoints: list[Checkpoint] = field(default_factory=list)
    trace: TrainingTrace | None = None


@runtime_checkable
class ManySeedFactory(Protocol):
    """An agent factory that can also train many seeds of a configuration at once."""

    def __call__(self, env: gym.Env[Any, Any], seed: int) -> Any:
        """Train one seed on ``env`` (see :data:`AgentFactory`)."""
        ...

    def train_many(
        self, env_id: str, env_kwargs: Mapping[str, Any], seeds: Sequence[int]
    ) -> list[Trained]:
        """Train one agent per seed on ``gym.make(env_id, **env_kwargs)``.

        Returns:
            One :class:`Trained` per seed, in the order of ``seeds``.
        """
        ...


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


def checkpoint_grid(n_episodes: int) -> NDArray[np.int64]:
    """The checkpoints of a batched run over ``n_episodes`` episodes.

    They are 0, the scalar factories' :data:`N_CHECKPOINTS` evenly spaced
    ones, and :data:`N_CURVE_POINTS` geometrically spaced ones from 1.
    """
    even = np.linspace(0, n_episodes, N_CHECKPOINTS + 1)
    early = np.geomspace(1, n_episodes, N_CURVE_POINTS)
    return np.unique(np.round(np.concatenate([even, early])).astype(np.int64))


@dataclass(frozen=True)
class BatchedFactory:
    """One of our learners: one seed through ``gym.make``, or many at once.

    Called as ``factory(env, seed)`` it is the scalar learner (as
    :func:`q_learning_agent` and :func:`reinforce_agent`). ``train_many``
    trains every seed together on the native vector env
    (:mod:`agents.learners.batched`) and traces each against the exact
    optimum (see :class:`TrainingTrace`).

    Random numbers: one generator, seeded by the whole list of seeds, drives
    the batch (see :mod:`agents.learners.batched.lockstep`), so a seed's run is
    reproducible from the seeds trained with it, not from its own seed alone.

    Attributes:
        algorithm: ``"q_learning"`` or ``"reinforce"``.
        n_episodes: Training episodes per seed.
        exploring_starts: Train with exploring starts (REINFORCE does, so that
            it learns states the optimal policy never visits).
    """

    algorithm: Literal["q_learning", "reinforce"]
    n_episodes: int
    exploring_starts: bool = False

    def __call__(self, env: gym.Env[Any, Any], seed: int) -> Trained:
        """Train one seed with the scalar learner."""
        if self.algorithm == "q_learning":
            return q_learning_agent(env, seed, self.n_episodes)
        return reinforce_agent(env, seed, self.n_episodes)

    def train_many(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any],
        seeds: Sequence[int] | NDArray[Any],
    ) -> list[Trained]:
        """Train one learner per seed, all at once; trace each one.

        Each seed's agent and trace depend on that seed alone, not on the
        seeds trained with it (see :mod:`agents.learners.batched.streams`).

        Args:
            env_id: The registered task.
            env_kwargs: The configuration.
            seeds: Integers >= 0: a sequence or a 1-D NumPy integer array.

        Raises:
            TypeError: For seeds that are not integers (floats, strings and
                booleans are refused, never converted), or kwargs the env
                refuses.
            ValueError: For no seeds, negative ones, or kwargs the env refuses.
        """
        seeds = check_seeds(seeds)
        kwargs = dict(env_kwargs)
        scored = gym.make(env_id, **kwargs)
        arrays = scored_arrays(scored)
        valid = scored.unwrapped.mdp.valid_action_mask  # type: ignore[attr-defined]
        envs = gym.make_vec(
            env_id,
            num_envs=len(seeds),
            vectorization_mode="vector_entry_point",
            copy=False,
            **(
                {**kwargs, "exploring_starts": True}
                if self.exploring_starts
                else kwargs
            ),
        )
        checkpoints = checkpoint_grid(self.n_episodes)
        q_learning = self.algorithm == "q_learning"
        regret_of: RegretOf = (
            EpsilonGreedyRegret(arrays, valid, QLearningConfig().epsilon)
            if q_learning
            else softmax_regret(arrays, valid)
        )
        tracker = RegretTracker(regret_of, len(seeds), checkpoints)
        train = train_q_learning_batched if q_learning else train_reinforce_batched
        result: BatchedQLearning | BatchedReinforce = train(
            envs,
            self.n_episodes,
            seeds=seeds,
            checkpoints=checkpoints,
            observer=tracker,
        )
        envs.close()
        greedy = greedy_regret(arrays, result.log.snapshots, valid)
        steps = result.log.checkpoint_length_sum
        return [
            Trained(
                _seed_agent(result, k, int(seed)),
                trace=TrainingTrace(
                    episodes=tuple(int(e) for e in checkpoints),
                    steps=tuple(int(n) for n in steps[:, k]),
                    greedy_regret=_rounded(greedy[:, k]),
                    behaviour_regret=_rounded(tracker.regret[:, k]),
                    cumulative_regret=_rounded(tracker.cumulative[:, k]),
                ),
            )
            for k, seed in enumerate(seeds)
        ]


def check_seeds(seeds: Sequence[int] | NDArray[Any]) -> list[int]:
    """``seeds`` as a list of Python ints, if each is an integer >= 0.

    Python and NumPy integers are accepted (an integer array too); booleans,
    floats (even ``2.0``), strings and anything else are refused rather than
    converted, as a seed that silently changes gives another run.

    Raises:
        TypeError: Naming the first seed that is not an integer.
        ValueError: For no seeds, a negative one, or an array not 1-D.
    """
    if isinstance(seeds, str | bytes) or np.ndim(seeds) != 1:
        raise ValueError(
            "seeds must be a sequence or 1-D array of integers >= 0, got "
            f"{type(seeds).__name__} {seeds!r}"
        )
    if len(seeds) == 0:
        raise ValueError("train_many needs at least one seed")
    checked = []
    for position, seed in enumerate(seeds):
        if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer):
            raise TypeError(
                f"seeds must be integers >= 0; seed {position} is "
                f"{type(seed).__name__} {seed!r}"
            )
        if seed < 0:
            raise ValueError(f"seeds must be integers >= 0; seed {position} is {seed}")
        checked.append(int(seed))
    return checked


def _rounded(values: NDArray[np.float64]) -> tuple[float, ...]:
    """Regrets rounded to :data:`TRACE_DECIMALS` places (short in JSON).

    The rounding is far below the zero-regret tolerance.
    """
    return tuple(round(float(v), TRACE_DECIMALS) for v in values)


def _seed_agent(
    result: BatchedQLearning | BatchedReinforce, k: int, seed: int
) -> PolicyLike:
    """Seed ``k`` of a batched result as an ordinary agent.

    A REINFORCE agent's own generator is seeded by its seed.
    """
    if isinstance(result, BatchedReinforce):
        return result.agent(k, rng=np.random.default_rng(seed))
    return result.agent(k)


def random_agent(env: gym.Env[Any, Any], seed: int) -> RandomPolicy:
    """Uniformly random among the valid actions (the score-0 reference)."""
    return RandomPolicy(seed)


BUILT_IN: dict[str, AgentFactory] = {
    "q_learning": BatchedFactory("q_learning", 20_000),
    "reinforce": BatchedFactory("reinforce", 5_000, exploring_starts=True),
    "random": random_agent,
}
"""The package's own agents, by the name the benchmark knows them by."""
