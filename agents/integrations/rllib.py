"""Ray RLlib's PPO and Ray Tune on either task, checked against the exact optimum.

Importable only with the ``ray`` extra (``pip install torch==2.13.0`` first, then
``pip install 'access-review-env[ray]'``; Ray RLlib 2.60 pins gymnasium 1.2.2).
The comparison with the optimum needs no Ray
(:mod:`agents.evaluation.policy_check`); starting Ray is
:mod:`agents.common.ray_session`'s. What it takes to make RLlib learn
the exact optimum here, measured with ``access-review rllib``:

* RLlib's default encoder has no config for ``Discrete`` observations, so the
  env-to-module connector ``FlattenObservations`` one-hot encodes them.
* Rewards scaled by :data:`REWARD_SCALE` with Gymnasium's ``TransformReward``
  in the env creator; learned values are divided back before comparing. Unscaled,
  the critic stayed near 0 (V(new_request) -1.8 after 15 iterations at seed 0,
  against 54), though the greedy policy was optimal.
* Exploring starts, so that the critic and the policy see the states the
  optimal policy never visits (at seed 0 PPO's early, stochastic policy visited
  them anyway: without them the critic was as close, 54.01 after 15 iterations).
* The task's own discount (0.9) and small batches.

The greedy action and the critic's value per state are read from the
*learner's* RLModule: ``Algorithm.get_module()`` returns the EnvRunner's
inference-only copy, which has no value head.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from agents.common.ray_session import RAY_INSTALL

try:
    import torch
    from ray import tune
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPO, PPOConfig
    from ray.rllib.connectors.env_to_module import FlattenObservations
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.utils.numpy import flatten_inputs_to_1d_tensor
    from ray.tune.registry import register_env
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        f"agents.integrations.rllib needs Ray RLlib and PyTorch: {RAY_INSTALL} "
        "(Ray RLlib pins gymnasium==1.2.2, so use a virtual environment of its own)"
    ) from error

from access_review_env import ENV_ID
from access_review_env.validation import check_integer, check_real
from agents.benchmark.runner import holds_from
from agents.evaluation.policy_check import PolicyCheck, check_against_optimum
from agents.planning import as_tabular

RLLIB_ENV_NAME = "access_review_rllib"
"""The name :func:`make_env` is registered under with Ray."""
REWARD_SCALE = 0.01
"""Factor applied to rewards during training; learned values are divided by it."""
POLICY_CHECK_KEY = "policy_check"
"""Key of the per-iteration :class:`PolicyCheck` in ``Algorithm.train()`` results."""


@dataclass(frozen=True)
class PPOSettings:
    """How RLlib's PPO is trained on a task of this package.

    With the defaults at p = 0.25 the greedy policy was optimal from iteration
    1, 4, 4 and 3 on for seeds 0 to 3, and V(new_request) after 15 iterations
    was within 1.2 of V* (``access-review rllib --seed S``). The critic lags the
    policy: it values the current stochastic policy, and needed about 15
    iterations to come within a point of V* at seed 0.

    Attributes:
        train_batch_size: Env steps sampled per training iteration.
        minibatch_size: SGD minibatch size.
        num_epochs: Passes over each batch.
        lr: Adam learning rate.
        entropy_coeff: Entropy bonus.
        hidden_sizes: Hidden layers of the policy and of the (separate) critic.
        reward_scale: Factor on rewards during training.
        exploring_starts: Start every training episode in a random non-terminal
            state (passed to the env as ``exploring_starts=True``).
    """

    train_batch_size: int = 512
    minibatch_size: int = 128
    num_epochs: int = 10
    lr: float = 1e-3
    entropy_coeff: float = 0.0
    hidden_sizes: tuple[int, ...] = (64, 64)
    reward_scale: float = REWARD_SCALE
    exploring_starts: bool = True

    def __post_init__(self) -> None:
        """Reject values outside their ranges, naming them."""
        for name in ("train_batch_size", "minibatch_size", "num_epochs"):
            check_integer(name, getattr(self, name), low=1)
        check_integer("minibatch_size", self.minibatch_size, high=self.train_batch_size)
        check_real("lr", self.lr, low=0.0, low_open=True)
        check_real("reward_scale", self.reward_scale, low=0.0, low_open=True)
        check_real("entropy_coeff", self.entropy_coeff, low=0.0)


def env_config(
    env_id: str = ENV_ID,
    env_kwargs: Mapping[str, Any] | None = None,
    settings: PPOSettings | None = None,
) -> dict[str, Any]:
    """The ``env_config`` :func:`make_env` reads.

    Exploring starts are kept apart from ``env_kwargs``: they are how PPO
    trains, not the task it is checked on, so :func:`check_policy` scores the
    policy from the start distribution of the task as ``env_kwargs`` make it.
    """
    settings = settings or PPOSettings()
    return {
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs or {}),
        "reward_scale": settings.reward_scale,
        "exploring_starts": settings.exploring_starts,
    }


ENV_CONFIG_KEYS = ("env_id", "env_kwargs", "reward_scale", "exploring_starts")
"""The keys :func:`make_env` reads from RLlib's ``env_config``."""


def make_env(config: Mapping[str, Any]) -> gym.Env[Any, Any]:
    """Ray's env creator: ``gym.make(env_id, **env_kwargs)`` with scaled rewards.

    Args:
        config: RLlib's ``env_config`` (an ``EnvContext``) with keys ``env_id``
            (any registered id; default ``AccessReview-v0``), ``env_kwargs``,
            ``reward_scale`` and ``exploring_starts`` (see :func:`env_config`).

    Raises:
        KeyError: For a key other than those four.
    """
    unknown = sorted(set(config) - set(ENV_CONFIG_KEYS))
    if unknown:
        raise KeyError(
            f"unknown env_config key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(map(repr, ENV_CONFIG_KEYS))}"
        )
    import access_review_env  # noqa: F401  (registers the ids in this worker)

    kwargs = dict(config.get("env_kwargs", {}))
    if config.get("exploring_starts", False):
        kwargs["exploring_starts"] = True
    env = gym.make(config.get("env_id", ENV_ID), **kwargs)
    scale = float(config.get("reward_scale", REWARD_SCALE))
    return gym.wrappers.TransformReward(env, lambda reward: float(reward) * scale)


def register_rllib_env(name: str = RLLIB_ENV_NAME) -> str:
    """Register :func:`make_env` with Ray under ``name``; return the name."""
    register_env(name, make_env)
    return name


def ppo_config(
    env_id: str = ENV_ID,
    env_kwargs: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    settings: PPOSettings | None = None,
    num_env_runners: int = 0,
) -> PPOConfig:
    """RLlib PPO (new API stack, torch) on ``env_id`` with this module's settings.

    Every ``train()`` result carries a :class:`PolicyCheck` (as a dict under
    :data:`POLICY_CHECK_KEY`), so Tune trials report optimality per iteration.

    Args:
        env_id: A registered task (its env exposes ``unwrapped.mdp``).
        env_kwargs: Keyword arguments of ``gym.make``.
        seed: Seed of RLlib (networks, sampling, env resets).
        settings: Hyperparameters; :class:`PPOSettings`' defaults when None.
        num_env_runners: Remote sampling actors; 0 samples in the algorithm's
            own process (fastest for an env this small).
    """
    settings = settings or PPOSettings()
    gamma = as_tabular(gym.make(env_id, **dict(env_kwargs or {}))).gamma
    return (
        PPOConfig()
        .api_stack(
            enable_rl_module_and_learner=True,
            enable_env_runner_and_connector_v2=True,
        )
        .environment(
            register_rllib_env(),
            env_config=env_config(env_id, env_kwargs, settings),
        )
        .framework("torch")
        .env_runners(
            num_env_runners=num_env_runners,
            env_to_module_connector=_flatten_observations,
        )
        .training(
            gamma=gamma,
            lr=settings.lr,
            train_batch_size_per_learner=settings.train_batch_size,
            minibatch_size=settings.minibatch_size,
            num_epochs=settings.num_epochs,
            entropy_coeff=settings.entropy_coeff,
        )
        .rl_module(
            model_config=DefaultModelConfig(fcnet_hiddens=list(settings.hidden_sizes))
        )
        .callbacks(on_train_result=_report_policy_check)
        .reporting(metrics_num_episodes_for_smoothing=100)
        .debugging(seed=seed, log_level="ERROR")
    )


def _flatten_observations(
    env: Any = None, spaces: Any = None, device: Any = None
) -> FlattenObservations:
    return FlattenObservations()


def _report_policy_check(
    *, algorithm: Algorithm, result: dict[str, Any], **kwargs: Any
) -> None:
    result[POLICY_CHECK_KEY] = asdict(check_policy(algorithm))


def state_observations(env_id: str, env_kwargs: Mapping[str, Any]) -> NDArray[Any]:
    """``(S, S)`` every state of a ``Discrete(S)`` task as the RLModule sees it.

    ``FlattenObservations`` one-hot encodes a ``Discrete`` observation with
    RLlib's ``flatten_inputs_to_1d_tensor``; this applies the same function.

    Raises:
        TypeError: If the observation space is not ``Discrete``.
    """
    env = gym.make(env_id, **dict(env_kwargs))
    space = env.observation_space
    env.close()  # type: ignore[no-untyped-call]
    if not isinstance(space, gym.spaces.Discrete):
        raise TypeError(f"expected a Discrete observation space, got {space}")
    states = np.arange(int(space.n)) + int(space.start)
    flat = flatten_inputs_to_1d_tensor(states, spaces_struct=space, batch_axis=True)
    return np.asarray(flat, dtype=np.float32)


def _trained_env(algorithm: Algorithm) -> tuple[str, dict[str, Any], float]:
    """Env id, the task's env kwargs and the reward scale an algorithm trains on.

    The kwargs are the task's, without the exploring starts of training.
    """
    config = algorithm.config.env_config
    return (
        config.get("env_id", ENV_ID),
        dict(config.get("env_kwargs", {})),
        float(config.get("reward_scale", REWARD_SCALE)),
    )


def module_outputs(
    algorithm: Algorithm,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The learner's RLModule's action logits and critic values in every state.

    ``Algorithm.get_module()`` would return the EnvRunner's inference-only copy,
    which has no value head; the learner's module has both.

    Returns:
        ``(S, A)`` action logits and ``(S,)`` critic values, in training units
        (rewards times the reward scale).
    """
    env_id, env_kwargs, _ = _trained_env(algorithm)
    observations = state_observations(env_id, env_kwargs)

    def compute(learner: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        module = learner.module[DEFAULT_MODULE_ID]
        batch = {Columns.OBS: torch.as_tensor(observations)}
        with torch.no_grad():
            logits = module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS]
            values = module.compute_values(batch)
        return (
            logits.numpy().astype(np.float64),
            values.numpy().astype(np.float64).reshape(-1),
        )

    # One result per Learner; all hold the same weights after an update.
    results = algorithm.learner_group.foreach_learner(compute)
    outputs: tuple[NDArray[np.float64], NDArray[np.float64]] = next(iter(results)).get()
    return outputs


def greedy_actions(algorithm: Algorithm) -> NDArray[np.int64]:
    """``(S,)`` the policy's deterministic action (argmax of its logits) per state."""
    logits, _ = module_outputs(algorithm)
    return np.asarray(np.argmax(logits, axis=1), dtype=np.int64)


def critic_values(algorithm: Algorithm) -> NDArray[np.float64]:
    """``(S,)`` the critic's value of every state, in the task's units."""
    _, values = module_outputs(algorithm)
    return values / _trained_env(algorithm)[2]


def check_policy(algorithm: Algorithm) -> PolicyCheck:
    """Read the trained policy and critic and compare them with value iteration."""
    env_id, env_kwargs, scale = _trained_env(algorithm)
    logits, values = module_outputs(algorithm)
    return check_against_optimum(
        np.asarray(np.argmax(logits, axis=1), dtype=np.int64),
        values / scale,
        env_id,
        env_kwargs,
    )


def save_checkpoint(algorithm: Algorithm, directory: str | os.PathLike[str]) -> Path:
    """Save the whole algorithm (learner, env runner, config) under ``directory``.

    ``Algorithm.from_checkpoint(path)`` restores it in a process that has
    imported this module (which registers the env creator). The full RLModule,
    critic included, is under ``learner_group/learner/rl_module/default_policy``.
    """
    path = Path(directory).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return Path(algorithm.save_to_path(str(path)))


@dataclass(frozen=True)
class TrainedPPO:
    """The outcome of :func:`train_ppo`.

    Attributes:
        checks: One :class:`PolicyCheck` per training iteration.
        iterations: Training iterations run.
        env_steps: Env steps sampled in total.
        seconds: Wall time of building and training the algorithm.
    """

    checks: list[PolicyCheck]
    iterations: int
    env_steps: int
    seconds: float

    @property
    def final(self) -> PolicyCheck:
        """The check after the last iteration."""
        return self.checks[-1]

    @property
    def first_optimal_iteration(self) -> int | None:
        """The first iteration (1-based) after which the policy stayed optimal."""
        return holds_from(
            range(1, len(self.checks) + 1), [check.agrees for check in self.checks]
        )


def train_ppo(
    config: PPOConfig, iterations: int, *, torch_threads: int | None = 1
) -> tuple[Algorithm, TrainedPPO]:
    """Build ``config`` and train it for ``iterations`` iterations.

    Ray must be running (:func:`~agents.common.ray_session.start_ray`).
    With ``num_env_runners=0`` the learner and the sampler run in this process.

    Args:
        config: E.g. :func:`ppo_config`'s.
        iterations: Training iterations.
        torch_threads: PyTorch threads of this process (None leaves it). One is
            fastest for networks this small, and far faster when other
            processes load the machine (5.9 s against 23.9 s for 5 iterations
            on a busy 2-core machine).

    Returns:
        The algorithm (stop it with ``algorithm.stop()``) and a
        :class:`TrainedPPO` with each iteration's :class:`PolicyCheck`.

    Raises:
        ValueError: If ``iterations`` < 1.
    """
    check_integer("iterations", iterations, low=1)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    start = time.perf_counter()
    algorithm = config.build_algo()
    checks = []
    result: dict[str, Any] = {}
    try:
        for _ in range(iterations):
            result = algorithm.train()
            checks.append(PolicyCheck(**result[POLICY_CHECK_KEY]))
    except BaseException:
        algorithm.stop()  # its actors and learner; the caller never gets it
        raise
    seconds = time.perf_counter() - start
    env_steps = int(
        result.get("env_runners", {}).get("num_env_steps_sampled_lifetime", 0)
    )
    return algorithm, TrainedPPO(checks, iterations, env_steps, seconds)


@dataclass(frozen=True)
class TrialCheck:
    """One Tune trial of :func:`tune_grid`.

    Attributes:
        env_kwargs: The trial's env kwargs (the grid point and the base ones).
        seed: The trial's RLlib seed.
        check: The :class:`PolicyCheck` after the last iteration, or None if the
            trial failed.
        iterations: Iterations the trial ran.
        seconds: The trial's training time as Tune reports it.
        error: The trial's error, if it failed.
    """

    env_kwargs: dict[str, Any]
    seed: int
    check: PolicyCheck | None
    iterations: int
    seconds: float
    error: str | None = None


def tune_grid(
    grid: Mapping[str, Sequence[Any]],
    *,
    env_id: str = ENV_ID,
    env_kwargs: Mapping[str, Any] | None = None,
    seeds: Sequence[int] = (0,),
    iterations: int = 15,
    settings: PPOSettings | None = None,
    storage_path: str | os.PathLike[str] = "runs/rllib_tune",
    max_concurrent_trials: int | None = None,
) -> list[TrialCheck]:
    """A Ray Tune grid of PPO trials over env kwargs and seeds; each one's optimality.

    Example: ``tune_grid({"abandonment_prob": [0.0, 0.04, 0.05, 0.25]})``. Every
    combination of the grid's values and the seeds is one trial. Ray must be
    running (:func:`~agents.common.ray_session.start_ray`, or a cluster);
    each trial takes one CPU.

    Args:
        grid: Env kwarg name to the values to try, e.g. a second task's shares.
        env_id: The task.
        env_kwargs: Kwargs shared by every trial (the grid's override them).
        seeds: RLlib seeds; each grid point runs once per seed.
        iterations: Training iterations per trial.
        settings: PPO hyperparameters.
        storage_path: Where Tune writes its trial directories.
        max_concurrent_trials: Upper bound on trials run at once (Ray's CPUs
            bound it anyway).

    Returns:
        One :class:`TrialCheck` per (grid point, seed), grid order then seed.

    Raises:
        ValueError: If the grid, a list of values or the seeds are empty, or
            ``iterations`` < 1.
    """
    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ValueError(f"grid needs at least one value per key, got {dict(grid)}")
    if not seeds:
        raise ValueError("seeds must not be empty")
    check_integer("iterations", iterations, low=1)
    settings = settings or PPOSettings()
    config = ppo_config(env_id, env_kwargs, seed=seeds[0], settings=settings)
    base = env_config(env_id, env_kwargs, settings)
    base["env_kwargs"].update(
        {name: tune.grid_search(list(values)) for name, values in grid.items()}
    )
    config.environment(env_config=base)
    param_space = config.to_dict()
    param_space["seed"] = tune.grid_search([int(seed) for seed in seeds])
    # Tune resolves an algorithm given by name through RLlib's registry, which
    # imports every algorithm (DreamerV3 needs PIL); the class needs nothing.
    tuner = tune.Tuner(
        PPO,
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent_trials),
        run_config=tune.RunConfig(
            stop={"training_iteration": iterations},
            storage_path=str(Path(storage_path).resolve()),
            verbose=0,
        ),
    )
    results = tuner.fit()
    trials = []
    for index in range(len(results)):
        result = results[index]
        metrics = result.metrics or {}
        check = metrics.get(POLICY_CHECK_KEY)
        trials.append(
            TrialCheck(
                env_kwargs=dict(result.config["env_config"]["env_kwargs"]),
                seed=int(result.config["seed"]),
                check=None if check is None else PolicyCheck(**check),
                iterations=int(metrics.get("training_iteration", 0)),
                seconds=float(metrics.get("time_total_s", 0.0)),
                error=None if result.error is None else repr(result.error),
            )
        )
    points = [_point_key(point) for point in _grid_points(grid)]
    return sorted(
        trials,
        key=lambda t: (
            points.index(_point_key({k: t.env_kwargs[k] for k in grid})),
            list(seeds).index(t.seed),
        ),
    )


def _grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = [{}]
    for name, values in grid.items():
        points = [{**point, name: value} for point in points for value in values]
    return points


def _point_key(point: Mapping[str, Any]) -> str:
    return json.dumps(point, sort_keys=True, default=repr)


__all__ = [
    "ENV_CONFIG_KEYS",
    "POLICY_CHECK_KEY",
    "REWARD_SCALE",
    "RLLIB_ENV_NAME",
    "PPOSettings",
    "TrainedPPO",
    "TrialCheck",
    "check_policy",
    "critic_values",
    "env_config",
    "greedy_actions",
    "make_env",
    "module_outputs",
    "ppo_config",
    "register_rllib_env",
    "save_checkpoint",
    "state_observations",
    "train_ppo",
    "tune_grid",
]
