"""Stable-Baselines3 on the tasks: train, read values, compare with the optimum.

Importable only with the ``sb3`` extra (``pip install 'access-review-env[sb3]'``).
The settings (:mod:`agents.integrations.sb3_settings`, data importable without
SB3) are the ones that learned the optimal policy at both abandonment
probabilities on seed after seed (``scripts/sb3_crosscheck.py``); they are
ordinary SB3 hyperparameters plus two env choices:

* rewards scaled by 0.01 with Gymnasium's ``TransformReward`` (SB3's DQN Huber
  loss and A2C's critic fail on returns of order 100); values read back from a
  model are divided by the scale before comparing them with exact ones;
* exploring starts for A2C, so that it sees the state the optimal policy never
  visits (``evidence_ready`` at p = 0.25, ``review_queue`` at p = 0).

A trained model is scored in one of two modes (:data:`SCORING_MODES`), both
exact: ``"greedy"`` (the default: the model itself, asked for its
deterministic action, ``predict(..., deterministic=True)``) or
``"stochastic"`` (:class:`SB3StochasticPolicy`: the model's own action
distribution, read exactly from ``model.policy.get_distribution(obs)``, masked
for MaskablePPO; for DQN, which has no distribution, the epsilon-greedy
distribution its ``predict(..., deterministic=False)`` samples from).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

try:
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import A2C, DQN, PPO
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "agents.sb3 needs stable-baselines3 and sb3-contrib: "
        "pip install torch==2.13.0 'access-review-env[sb3]' (install torch first; "
        "see the README, Quickstart, for CPU-only machines)"
    ) from error

from access_review_env import ENV_ID, RECOMMENDED_GAMMA, TaskModel
from agents.benchmark.factories import N_CHECKPOINTS, Trained
from agents.integrations.sb3_settings import REWARD_SCALE, SETTINGS
from agents.planning import value_iteration
from agents.policies import PolicyLike, read_policy

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "PPO": PPO,
    "MaskablePPO": MaskablePPO,
    "A2C": A2C,
    "DQN": DQN,
}
"""The SB3 class of each algorithm named in :data:`SETTINGS`."""


def _scale_rewards(env: gym.Env[Any, Any], scale: float) -> gym.Env[Any, Any]:
    return gym.wrappers.TransformReward(env, lambda reward: float(reward) * scale)


def make_sb3_env(
    n_envs: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    reward_scale: float = REWARD_SCALE,
    env_id: str = ENV_ID,
) -> VecEnv:
    """An SB3 ``VecEnv`` of a task with rewards scaled by ``reward_scale``.

    ``Monitor`` (added by ``make_vec_env``) sits inside the scaling, so episode
    statistics stay in the task's units.
    """
    return make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=env_kwargs or {},
        wrapper_class=partial(_scale_rewards, scale=reward_scale),
    )


def train_sb3(
    name: str,
    abandonment_prob: float = 0.25,
    seed: int = 0,
    total_timesteps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    *,
    env_id: str = ENV_ID,
    callback: BaseCallback | None = None,
) -> tuple[BaseAlgorithm, float]:
    """Train one SB3 algorithm of :data:`SETTINGS`; return the model and seconds taken.

    Args:
        name: A key of :data:`SETTINGS`.
        abandonment_prob: The env's ``p``.
        seed: Seed of the env and the model.
        total_timesteps: Training budget; the setting's when None.
        env_kwargs: Further env kwargs (they override ``abandonment_prob``).
        env_id: The registered task.
        callback: An SB3 callback for ``learn``.

    Raises:
        ValueError: For an algorithm name not in :data:`SETTINGS`.
    """
    if name not in SETTINGS:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(SETTINGS)}"
        )
    setting = SETTINGS[name]
    torch.set_num_threads(1)
    env_kwargs = {"abandonment_prob": abandonment_prob, **(env_kwargs or {})}
    if setting.exploring_starts:
        env_kwargs["exploring_starts"] = True
    env = make_sb3_env(setting.n_envs, seed, env_kwargs, env_id=env_id)
    model = ALGORITHMS[name](  # type: ignore[call-arg]
        "MlpPolicy",
        env,
        gamma=RECOMMENDED_GAMMA,
        seed=seed,
        device="cpu",
        policy_kwargs={"net_arch": [64, 64]},
        verbose=0,
        **setting.hyperparameters,
    )
    start = time.perf_counter()
    model.learn(
        total_timesteps=total_timesteps or setting.total_timesteps, callback=callback
    )
    seconds = time.perf_counter() - start
    env.close()
    return model, seconds


def greedy_actions(model: BaseAlgorithm, mdp: TaskModel) -> NDArray[np.int64]:
    """``(S,)`` the model's deterministic action in each state (0 in terminal ones).

    Read through :func:`agents.policies.read_policy`, which hands MaskablePPO
    each state's mask (without it, its greedy action can be invalid).
    """
    sparse = mdp.sparse
    reading = read_policy(
        model,
        np.asarray(sparse.valid_action_mask, dtype=bool),
        ~sparse.terminal,
        rng=np.random.default_rng(0),
        probes=1,
        name=type(model).__name__,
    )
    if reading.table is None:
        raise RuntimeError(
            f"{type(model).__name__} could not be queried state by state: "
            f"{reading.reason}"
        )
    return np.asarray(np.argmax(reading.table, axis=1), dtype=np.int64)


SCORING_MODES = ("greedy", "stochastic")
"""How a trained SB3 model is scored; ``"greedy"`` is the default."""

Observe = Callable[[NDArray[np.int64]], NDArray[Any]]
"""``observe(states) -> observations``: what the env shows in each state."""


class SB3StochasticPolicy:
    """An SB3 model's own action distribution, as a stochastic policy.

    PPO and A2C: the probabilities of ``model.policy.get_distribution(obs)``;
    MaskablePPO: the same distribution masked with each state's mask (as its
    ``predict`` masks it); DQN: the epsilon-greedy distribution its
    ``predict(..., deterministic=False)`` samples from, ``model.exploration_rate``
    spread uniformly over the whole action space (SB3 draws
    ``action_space.sample()``) and the rest on the largest Q value. Read once
    per state, these numbers give the exact value, and the rollouts sample
    from them.

    Args:
        model: A trained PPO, A2C, DQN or MaskablePPO with discrete actions.
        observe: The observations of a batch of states (None: the states
            themselves, for index observations).

    Raises:
        TypeError: For another algorithm or a model without discrete actions.
    """

    def __init__(self, model: BaseAlgorithm, observe: Observe | None = None) -> None:
        """Read probabilities from ``model``."""
        if not isinstance(model, tuple(ALGORITHMS.values())) or not isinstance(
            model.action_space, gym.spaces.Discrete
        ):
            raise TypeError(
                "SB3StochasticPolicy reads the discrete action distribution of "
                f"{', '.join(ALGORITHMS)}; got {type(model).__name__} with "
                f"{model.action_space}"
            )
        self.model = model
        self.observe = observe

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """``(n, A)`` the model's probability of each action in each of ``states``."""
        model = self.model
        states = np.asarray(states, dtype=np.int64)
        observations = states if self.observe is None else self.observe(states)
        tensor, _ = model.policy.obs_to_tensor(observations)
        with torch.no_grad():
            if isinstance(model, DQN):
                values = model.q_net(tensor).cpu().numpy()
                n_actions = values.shape[1]
                greedy = np.eye(n_actions)[np.argmax(values, axis=1)]
                epsilon = float(model.exploration_rate)
                return np.asarray(epsilon / n_actions + (1.0 - epsilon) * greedy)
            if isinstance(model, MaskablePPO):
                distribution = model.policy.get_distribution(
                    tensor, action_masks=np.asarray(masks, dtype=bool)
                )
            else:
                distribution = model.policy.get_distribution(tensor)  # type: ignore[operator]
            probabilities = distribution.distribution.probs.cpu().numpy()  # type: ignore[union-attr]
        return np.asarray(probabilities, dtype=np.float64)

    def predict(
        self,
        observation: NDArray[Any] | dict[str, NDArray[Any]],
        state: tuple[NDArray[Any], ...] | None = None,
        episode_start: NDArray[Any] | None = None,
        deterministic: bool = False,
    ) -> tuple[NDArray[Any], tuple[NDArray[Any], ...] | None]:
        """The model's own ``predict``."""
        return self.model.predict(observation, state, episode_start, deterministic)  # type: ignore[no-any-return]


def scored_policy(
    model: BaseAlgorithm, mode: str = "greedy", observe: Observe | None = None
) -> PolicyLike | SB3StochasticPolicy:
    """``model`` as the benchmark scores it in ``mode`` (see :data:`SCORING_MODES`).

    Raises:
        ValueError: For a mode not in :data:`SCORING_MODES`.
    """
    if mode not in SCORING_MODES:
        raise ValueError(
            f"unknown scoring mode {mode!r}; choose from {', '.join(SCORING_MODES)}"
        )
    if mode == "greedy":
        return model  # type: ignore[no-any-return]
    return SB3StochasticPolicy(model, observe)


def learned_value(
    model: BaseAlgorithm, state: int, reward_scale: float = REWARD_SCALE
) -> float:
    """The model's value of ``state`` in the task's units.

    The critic's ``V`` for actor-critics, ``max_a Q`` for DQN.
    """
    observation, _ = model.policy.obs_to_tensor(np.array([state]))
    with torch.no_grad():
        if isinstance(model, DQN):
            value = model.q_net(observation).max()
        else:
            value = model.policy.predict_values(observation)  # type: ignore[operator]
    return float(value) / reward_scale


@dataclass(frozen=True)
class CrossCheck:
    """One trained model against value iteration.

    Attributes:
        algorithm: SB3 algorithm name.
        abandonment_prob: The env's ``p``.
        seed: Training seed.
        greedy: ``(S,)`` the model's greedy actions.
        optimal: ``(S,)`` value iteration's policy.
        value: The model's value of the start distribution (``new_request``
            in AccessReview-v0).
        exact_value: ``V*`` of the start distribution.
        timesteps: Training steps.
        seconds: Training time.
        agrees: The greedy action is optimal in every non-terminal state.
    """

    algorithm: str
    abandonment_prob: float
    seed: int
    greedy: list[int]
    optimal: list[int]
    value: float
    exact_value: float
    timesteps: int
    seconds: float

    agrees: bool


def cross_check(
    name: str,
    abandonment_prob: float = 0.25,
    seed: int = 0,
    *,
    env_id: str = ENV_ID,
    env_kwargs: dict[str, Any] | None = None,
) -> CrossCheck:
    """Train ``name`` on a task and compare it with value iteration.

    Args:
        name: A key of :data:`SETTINGS`.
        abandonment_prob: The env's ``p``.
        seed: Seed of training.
        env_id: The registered task.
        env_kwargs: Further env kwargs (they override ``abandonment_prob``).
    """
    kwargs = {"abandonment_prob": abandonment_prob, **(env_kwargs or {})}
    env = gym.make(env_id, **kwargs)
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    exact = value_iteration(env)
    model, seconds = train_sb3(name, seed=seed, env_kwargs=kwargs, env_id=env_id)
    greedy = greedy_actions(model, mdp)
    start = mdp.start_distribution
    return CrossCheck(
        algorithm=name,
        abandonment_prob=float(kwargs["abandonment_prob"]),
        seed=seed,
        greedy=greedy.tolist(),
        optimal=exact.policy.tolist(),
        value=float(
            sum(start[s] * learned_value(model, int(s)) for s in np.flatnonzero(start))
        ),
        exact_value=float(start @ exact.V),
        timesteps=int(model.num_timesteps),
        seconds=seconds,
        agrees=all(greedy[s] == exact.policy[s] for s in mdp.table.non_terminal_states),
    )


class GreedyCheckpoints(BaseCallback):  # type: ignore[misc]
    """Records the model's greedy action per state every ``every`` timesteps.

    Args:
        mdp: The task's model, for its states and action masks.
        every: Timesteps between checkpoints.
    """

    def __init__(self, mdp: TaskModel, every: int) -> None:
        """Record nothing yet."""
        super().__init__()
        self.mdp = mdp
        self.every = every
        self.next_checkpoint = every
        self.checkpoints: list[tuple[int, NDArray[np.int64]]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_checkpoint:
            self.checkpoints.append(
                (int(self.num_timesteps), greedy_actions(self.model, self.mdp))
            )
            self.next_checkpoint += self.every
        return True


def sb3_agent(
    name: str, mode: str = "greedy"
) -> Callable[[gym.Env[Any, Any], int], Trained]:
    """An agent factory (see :mod:`agents.benchmark.factories`) for SB3's ``name``.

    It trains on the configuration of the env it is given, and records the
    greedy actions at :data:`~agents.benchmark.factories.N_CHECKPOINTS`
    checkpoints, so the benchmark reports its training steps to zero regret.
    Only MaskablePPO can keep to the valid actions while exploring, so the
    others train with invalid actions penalized even where the configuration
    raises on them; they are scored under the configuration's own rule, in
    ``mode`` (:func:`scored_policy`).

    Raises:
        ValueError: For an algorithm not in :data:`SETTINGS` or a mode not in
            :data:`SCORING_MODES`.
    """
    if name not in SETTINGS:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(SETTINGS)}"
        )
    if mode not in SCORING_MODES:
        raise ValueError(
            f"unknown scoring mode {mode!r}; choose from {', '.join(SCORING_MODES)}"
        )

    def factory(env: gym.Env[Any, Any], seed: int) -> Trained:
        spec = env.spec
        kwargs = dict(spec.kwargs) if spec is not None else {}
        kwargs.pop("render_mode", None)
        if name != "MaskablePPO":
            kwargs["invalid_action"] = "penalize"
        budget = SETTINGS[name].total_timesteps
        unwrapped: Any = env.unwrapped
        checkpoints = GreedyCheckpoints(unwrapped.mdp, max(1, budget // N_CHECKPOINTS))
        model, _ = train_sb3(
            name,
            seed=seed,
            env_kwargs=kwargs,
            env_id=spec.id if spec is not None else ENV_ID,
            callback=checkpoints,
        )
        observe = (
            None
            if getattr(unwrapped, "observation_mode", "index") == "index"
            else unwrapped.mdp.features
        )
        return Trained(scored_policy(model, mode, observe), checkpoints.checkpoints)

    factory.__name__ = f"sb3_{name}" + ("" if mode == "greedy" else f"_{mode}")
    return factory


sb3_ppo = sb3_agent("PPO")
sb3_maskable_ppo = sb3_agent("MaskablePPO")
sb3_a2c = sb3_agent("A2C")
sb3_dqn = sb3_agent("DQN")
"""The benchmark's ``sb3:ALGORITHM`` agents, scored greedily, which it imports
by reference (:data:`agents.benchmark.plugins.SB3_AGENTS`)."""

sb3_ppo_stochastic = sb3_agent("PPO", "stochastic")
sb3_maskable_ppo_stochastic = sb3_agent("MaskablePPO", "stochastic")
sb3_a2c_stochastic = sb3_agent("A2C", "stochastic")
sb3_dqn_stochastic = sb3_agent("DQN", "stochastic")
"""The benchmark's ``sb3:ALGORITHM:stochastic`` agents, scored by their own
action distribution."""
