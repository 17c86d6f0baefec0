"""The vector env beyond the table tasks: the queue's levels and any sparse model."""

from __future__ import annotations

import tracemalloc
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from gymnasium.wrappers import TimeLimit
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import access_review_env.vector.env as vector_env_module
from access_review_env import QUEUE_ENV_ID, QueueMDP, TaskEnv, TaskVectorEnv
from access_review_env.model.random_sparse import random_sparse_mdp
from access_review_env.vector import kernels_numpy
from tests.access_review_env.vector_helpers import (
    LEVEL,
    RandomTask,
    assert_same_info,
    native,
    rollout,
    same_distribution,
    sync,
)

pytestmark = pytest.mark.env


def _open_requests(level: str) -> Any:
    """A state's number of open requests (a statistic whose law both must share)."""
    shape = QueueMDP(level).shape
    return lambda state: int(shape.counts(np.asarray(state)).sum())


@pytest.mark.parametrize(
    ("level", "mode"),
    [
        ("tiny", AutoresetMode.NEXT_STEP),
        ("tiny", AutoresetMode.SAME_STEP),
        ("small", AutoresetMode.NEXT_STEP),
    ],
)
def test_the_queue_matches_sync_vector_env_in_distribution(
    level: str, mode: AutoresetMode
) -> None:
    """Transitions, rewards, outcomes and returns have the same laws.

    Chi-square on (open requests, action, open requests after, reward) per
    step and on (outcome, event outcome) per step; Kolmogorov-Smirnov on
    20-step returns; each at level LEVEL, 64 sub-envs x 600 steps a side.
    """
    kwargs = {"level": level, "max_episode_steps": 20, "autoreset_mode": mode}
    observe = _open_requests(level)
    ours = rollout(native(64, QUEUE_ENV_ID, **kwargs), 600, seed=1, observe=observe)
    mode_kwargs = {k: v for k, v in kwargs.items() if k != "autoreset_mode"}
    reference = rollout(
        sync(64, QUEUE_ENV_ID, mode, **mode_kwargs), 600, seed=2, observe=observe
    )
    for key in ("moves", "step_outcomes"):
        assert same_distribution(ours[key], reference[key]) > LEVEL, key
    assert stats.ks_2samp(ours["returns"], reference["returns"]).pvalue > LEVEL
    assert len(ours["returns"]) > 1_000


def test_feature_observations_are_the_models_features() -> None:
    """observation='features': float32 rows of model.features, final ones too."""
    envs = native(
        8,
        QUEUE_ENV_ID,
        level="tiny",
        observation="features",
        max_episode_steps=3,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    features = envs.mdp.features
    width = len(envs.mdp.feature_names)
    assert envs.single_observation_space == gym.spaces.Box(
        0.0, 1.0, (width,), np.float32
    )
    observations, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(6):
        assert observations.dtype == np.float32 and observations.shape == (8, width)
        np.testing.assert_array_equal(observations, features(info["state"]))
        assert envs.observation_space.contains(observations)
        observations, _, _, _, info = envs.step(rng.integers(0, 16, 8))
    ended = np.flatnonzero(info["_final_obs"])
    assert ended.size == 8
    for k in ended:
        np.testing.assert_array_equal(
            info["final_obs"][k], features(info["final_info"]["state"][k])
        )


@pytest.mark.slow
def test_the_largest_level_steps_without_copying_its_model() -> None:
    """The xlarge level (over a million states): the env does not copy its model.

    The model is built first (about 10 s); making a vector env of it then
    allocates a small fraction of the model's arrays.
    """
    sparse = QueueMDP("xlarge").sparse
    assert sparse.events is not None
    model_bytes = sum(
        int(array.nbytes)
        for stage in (sparse.decisions, sparse.events)
        for array in (stage.indptr, stage.target, stage.probability, stage.reward)
    )
    tracemalloc.start()
    envs = native(1_024, QUEUE_ENV_ID, level="xlarge")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sparse.n_states > 10**6
    assert peak < model_bytes / 20
    observations, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        observations, reward, terminated, _, info = envs.step(
            rng.integers(0, 16, 1_024)
        )
        assert observations.min() >= 0 and observations.max() < sparse.n_states
        np.testing.assert_array_equal(
            info["action_mask"], sparse.valid_action_mask[observations]
        )
        assert np.isfinite(reward).all() and not terminated.any()
    assert info["event_outcome"].dtype == np.int64


def _random_task(seed: int, events: bool) -> RandomTask:
    """A random sparse MDP with terminal states, every action available."""
    return RandomTask(
        random_sparse_mdp(
            12,
            3,
            np.random.default_rng(seed),
            branches=3,
            event_branches=4 if events else None,
            terminal_share=0.2,
            unavailable_share=0.0,
        )
    )


@pytest.mark.parametrize("events", [False, True])
def test_any_model_matches_sync_vector_env_of_its_single_env(events: bool) -> None:
    """TaskVectorEnv(model) and SyncVectorEnv of TaskEnv.from_model share laws."""
    model = _random_task(seed=4, events=events)
    ours = TaskVectorEnv(64, model, max_episode_steps=6)
    reference = SyncVectorEnv(
        [lambda: TimeLimit(TaskEnv.from_model(model), 6) for _ in range(64)]
    )
    a, b = rollout(ours, 800, seed=1), rollout(reference, 800, seed=2)
    for key in ("moves", "lengths", "outcomes", "step_outcomes"):
        assert same_distribution(a[key], b[key]) > LEVEL, key


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    events=st.booleans(),
    mode=st.sampled_from(list(AutoresetMode)),
    staged=st.booleans(),
)
def test_the_kernels_agree_on_random_models(
    seed: int, events: bool, mode: AutoresetMode, staged: bool
) -> None:
    """On any model, numba's loop and the NumPy operations return the same bits."""
    if vector_env_module.step_kernels() is kernels_numpy:
        pytest.skip("needs numba (the fast extra)")
    model = _random_task(seed, events)
    actions = np.random.default_rng(seed).integers(0, 3, (40, 16))
    runs = []
    for use_numpy in (False, True):
        original = vector_env_module.step_kernels
        limit = vector_env_module.STAGED_MIN_BYTES
        try:
            if use_numpy:
                vector_env_module.step_kernels = lambda: kernels_numpy  # type: ignore[assignment]
            vector_env_module.STAGED_MIN_BYTES = 0 if staged else 2**62
            envs = TaskVectorEnv(16, model, max_episode_steps=5, autoreset_mode=mode)
            run: list[Any] = [envs.reset(seed=seed)]
            for step_actions in actions:
                run.append(envs.step(step_actions))
                ended = run[-1][2] | run[-1][3]
                if mode == AutoresetMode.DISABLED and ended.any():
                    run.append(envs.reset(options={"reset_mask": ended}))
            runs.append(run)
        finally:
            vector_env_module.step_kernels = original  # type: ignore[assignment]
            vector_env_module.STAGED_MIN_BYTES = limit
    for a, b in zip(*runs, strict=True):
        for x, y in zip(a[:-1], b[:-1], strict=True):
            np.testing.assert_array_equal(x, y)
        assert_same_info(a[-1], b[-1])
