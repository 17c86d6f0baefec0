"""What the batched learners need from a Gymnasium vector env, checked once.

The learners see a vector env only through ``reset`` / ``step`` and
``info["action_mask"]``, under Gymnasium's ``NEXT_STEP`` autoreset: the step
after a sub-env's terminated or truncated step resets it and ignores its action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from access_review_env.validation import check_integer
from access_review_env.vector.env import TaskVectorEnv
from agents.learners.episodes import check_discrete_spaces, env_metadata

VECTOR_ONLY_KWARGS = frozenset(
    {
        "num_envs",
        "vectorization_mode",
        "vector_kwargs",
        "wrappers",
        "copy",
        "threads",
        "autoreset_mode",
    }
)
"""``make_vec`` keyword arguments (and the native vector env's own) that mean
nothing to a single env."""


def check_vector_env(envs: Any) -> tuple[int, int, int]:
    """Return ``(num_envs, n_states, n_actions)`` of a usable vector env.

    Args:
        envs: A Gymnasium vector env with Discrete single spaces in ``NEXT_STEP``
            autoreset mode, e.g. ``gym.make_vec("AccessReview-v0", num_envs=K,
            vectorization_mode="vector_entry_point")``.

    Raises:
        TypeError: If ``envs`` is not a vector env or its spaces are not Discrete.
        ValueError: If its autoreset mode is not ``NEXT_STEP``.
    """
    if not isinstance(envs, gym.vector.VectorEnv):
        raise TypeError(
            "batched learners need a gymnasium.vector.VectorEnv (gym.make_vec(...)), "
            f"got {type(envs).__name__}"
        )
    n_states, n_actions = check_discrete_spaces(
        envs.single_observation_space, envs.single_action_space
    )
    mode = (envs.metadata or {}).get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.NEXT_STEP.value):
        raise ValueError(
            f"the vector env's autoreset_mode is {mode!r}; batched learners need "
            f"{AutoresetMode.NEXT_STEP!r} (Gymnasium's default)"
        )
    return int(envs.num_envs), n_states, n_actions


def fused_unsupported(envs: Any) -> str | None:
    """Why the fused backend cannot train on ``envs``, or None if it can.

    The fused loop steps the sub-envs itself from the task's model, so it
    needs the native vector env as it is (a wrapper could change what the
    learners see) and state-index observations.
    """
    if not isinstance(envs, TaskVectorEnv) or any(
        getattr(type(envs), name) is not getattr(TaskVectorEnv, name)
        for name in ("reset", "step")
    ):
        return (
            "the fused backend steps the task's model itself, so it needs the "
            "native vector env unwrapped (gym.make_vec(..., vectorization_mode="
            f'"vector_entry_point")), got {type(envs).__name__}'
        )
    if envs.observation_mode != "index":
        return (
            "the fused backend needs state-index observations, got "
            f"observation={envs.observation_mode!r}"
        )
    return None


def action_masks(info: dict[str, Any], num_envs: int, n_actions: int) -> NDArray[Any]:
    """``info["action_mask"]`` as a ``(num_envs, n_actions)`` array.

    Raises:
        KeyError: If the env reports no ``action_mask``.
        ValueError: If the masks have the wrong shape.
    """
    if "action_mask" not in info:
        raise KeyError(
            "the vector env's info has no 'action_mask'; batched learners choose "
            "among the valid actions it lists"
        )
    masks = np.asarray(info["action_mask"])
    if masks.shape != (num_envs, n_actions):
        raise ValueError(
            f"info['action_mask'] has shape {masks.shape}; expected "
            f"({num_envs}, {n_actions})"
        )
    return masks


def check_budgets(
    n_episodes: int | Sequence[int] | NDArray[Any], num_envs: int
) -> NDArray[np.int64]:
    """Return each learner's episode budget as a ``(num_envs,)`` int64 array.

    Args:
        n_episodes: One integer >= 1 for every learner, or one per learner.
        num_envs: The number of learners ``K``.

    Raises:
        TypeError: If the budgets are not integers.
        ValueError: If one is below 1 or the shape is not ``(num_envs,)``.
    """
    if np.ndim(n_episodes) == 0:
        budget = check_integer("n_episodes", n_episodes, low=1)
        return np.full(num_envs, budget, dtype=np.int64)
    budgets = np.asarray(n_episodes)
    if budgets.dtype.kind not in "iu":
        raise TypeError(f"n_episodes must be integers, got {n_episodes!r}")
    if budgets.shape != (num_envs,):
        raise ValueError(
            f"n_episodes must be one integer or {num_envs} of them (one per "
            f"sub-env), got shape {budgets.shape}"
        )
    check_integer("n_episodes", int(budgets.min()), low=1)
    return budgets.astype(np.int64)


def check_checkpoints(
    checkpoints: Sequence[int] | NDArray[Any] | None, budgets: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Return checkpoint episode counts as a strictly increasing int64 array.

    Raises:
        ValueError: If they are not strictly increasing integers in
            ``[0, min(budgets)]`` (every learner must reach every checkpoint).
    """
    if checkpoints is None:
        return np.zeros(0, dtype=np.int64)
    values = np.asarray(checkpoints)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(
            f"checkpoints must be a 1-D sequence of integers, got {checkpoints!r}"
        )
    limit = int(budgets.min())
    if values.min() < 0 or values.max() > limit:
        raise ValueError(
            f"checkpoints must lie in [0, {limit}] (the smallest episode budget), "
            f"got {values.min()} .. {values.max()}"
        )
    if np.any(np.diff(values) <= 0):
        raise ValueError("checkpoints must be strictly increasing")
    return values.astype(np.int64)


def single_env_metadata(envs: Any) -> tuple[str | None, dict[str, Any]]:
    """The registered id and the single env's make-kwargs of a vector env.

    ``make_vec``'s own arguments (``num_envs``, ``copy``, ...) are dropped, and
    so is a ``max_episode_steps`` equal to the registered one, so that
    ``gym.make(env_id, **kwargs)`` rebuilds one sub-env, as saved agents record
    it.
    """
    env_id, kwargs = env_metadata(envs)
    if env_id is None:
        return None, {}
    registered = gym.spec(env_id).max_episode_steps
    return env_id, {
        key: value
        for key, value in kwargs.items()
        if key not in VECTOR_ONLY_KWARGS
        and not (key == "max_episode_steps" and value == registered)
    }
