"""TorchRL on the tasks: its spec check, an info reader, ActionMask, batched envs.

TorchRL turns a ``Discrete`` observation into a one-hot tensor and a ``Box``
into a float tensor; both modes pass its ``check_env_specs`` on every task.
Where TorchRL batches with Gymnasium's autoreset (``GymEnv(id, num_envs=N)``,
``SAME_STEP``), it fills the final observation of a sub-env that did not finish
with zeros, which is no valid one-hot: those paths take
``observation="features"``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID, TABLE_ENV_IDS
from access_review_env.model.sparse import SparseMDP

pytestmark = pytest.mark.interop

TASKS = [(ENV_ID, {}), (RISK_ENV_ID, {}), (QUEUE_ENV_ID, {"level": "tiny"})]
"""Both table tasks and the queue's smallest level, with their kwargs."""


def info_reader(n_actions: int) -> Any:
    """TorchRL's info reader for ``cost`` (float64) and ``action_mask`` (bool)."""
    import torch
    from torchrl.data import Binary, Unbounded
    from torchrl.envs.libs.gym import default_info_dict_reader

    return default_info_dict_reader(
        ["cost", "action_mask"],
        spec={
            "cost": Unbounded((), dtype=torch.float64),
            "action_mask": Binary(n_actions, dtype=torch.bool),
        },
    )


def made_sparse(env_id: str) -> SparseMDP:
    """The sparse model ``gym.make(env_id)`` samples from."""
    return gym.make(env_id).unwrapped.sparse  # type: ignore[attr-defined,no-any-return]


def branch_costs(
    sparse: SparseMDP, state: int, action: int, target: int, reward: float
) -> set[float]:
    """The costs of the decision branches of ``(state, action)`` to ``target``."""
    stage = sparse.decisions
    row = state * sparse.n_actions + action
    branches = range(int(stage.indptr[row]), int(stage.indptr[row + 1]))
    return {
        float(stage.cost[j])
        for j in branches
        if stage.target[j] == target and stage.reward[j] == reward
    }


@pytest.mark.parametrize("observation", ["index", "features"])
@pytest.mark.parametrize(("env_id", "kwargs"), TASKS)
def test_check_env_specs_passes_on_the_registered_id(
    env_id: str, kwargs: dict[str, Any], observation: str
) -> None:
    """GymEnv by id: the specs agree with the data; Discrete reads as one-hot."""
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    env = GymEnv(env_id, observation=observation, **kwargs)
    check_env_specs(env, seed=0)
    space = gym.make(env_id, observation=observation, **kwargs).observation_space
    # flatdim: a Discrete space's size (TorchRL's one-hot), a Box's length
    assert env.observation_spec["observation"].shape == (gym.spaces.flatdim(space),)
    env.close()


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_an_info_reader_reads_the_float_cost_and_the_bool_mask(env_id: str) -> None:
    """Every step's cost is its transition's, every mask the next state's.

    500 random steps (invalid actions included) from seed 0, resets included.
    """
    import torch
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    sparse = made_sparse(env_id)
    env = GymEnv(env_id)
    env.set_info_dict_reader(info_reader(sparse.n_actions))
    check_env_specs(env, seed=0)
    rollout = env.rollout(500, break_when_any_done=False)
    assert rollout["next", "cost"].dtype == torch.float64
    assert rollout["next", "action_mask"].dtype == torch.bool
    states = rollout["observation"].argmax(-1).numpy()
    actions = rollout["action"].argmax(-1).numpy()
    targets = rollout["next", "observation"].argmax(-1).numpy()
    rewards = rollout["next", "reward"].squeeze(-1).numpy()
    costs = rollout["next", "cost"].numpy()
    masks = rollout["next", "action_mask"].numpy()
    np.testing.assert_array_equal(masks, sparse.valid_action_mask[targets])
    for s, a, t, r, c in zip(states, actions, targets, rewards, costs, strict=True):
        assert branch_costs(sparse, s, a, t, r) == {c}
    assert costs.sum() > 0
    env.close()


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_action_mask_keeps_random_actions_valid(env_id: str) -> None:
    """With TorchRL's ActionMask over the bool mask, 300 random steps are all valid."""
    from torchrl.envs import ActionMask, GymEnv, TransformedEnv

    base = GymEnv(env_id)
    base.set_info_dict_reader(info_reader(made_sparse(env_id).n_actions))
    env = TransformedEnv(base, ActionMask())
    env.set_seed(0)
    rollout = env.rollout(300, break_when_any_done=False)
    taken = rollout["action"].bool()
    assert (taken & rollout["action_mask"]).any(-1).all()
    assert int(rollout["next", "done"].sum()) >= 50
    env.close()


def test_serial_env_batches_the_plain_id() -> None:
    """SerialEnv of three GymEnv: the specs hold for the batch of shape (3,)."""
    from torchrl.envs import GymEnv, SerialEnv
    from torchrl.envs.utils import check_env_specs

    env = SerialEnv(3, partial(GymEnv, ENV_ID))
    check_env_specs(env, seed=0)
    rollout = env.rollout(50, break_when_any_done=False)
    assert tuple(rollout.batch_size) == (3, 50)
    env.close()


def check_wrapped_vector_env(envs: gym.vector.VectorEnv[Any, Any, Any]) -> None:
    """GymWrapper over 4 sub-envs: the specs hold, 40 steps roll out and reset."""
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    env = GymWrapper(envs)
    check_env_specs(env, seed=0)
    rollout = env.rollout(40, break_when_any_done=False)
    assert tuple(rollout.batch_size) == (4, 40)
    assert int(rollout["next", "done"].sum()) >= 4
    env.close()


@pytest.mark.parametrize(
    ("mode", "observation"),
    [
        (AutoresetMode.DISABLED, "index"),
        (AutoresetMode.DISABLED, "features"),
        (AutoresetMode.SAME_STEP, "features"),
    ],
)
@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_gymnasium_sync_vector_env_wraps_in_torchrl_modes(
    env_id: str, mode: AutoresetMode, observation: str
) -> None:
    """GymWrapper takes SyncVectorEnv in the autoreset modes TorchRL accepts."""
    envs = gym.make_vec(
        env_id,
        num_envs=4,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": mode},
        observation=observation,
    )
    check_wrapped_vector_env(envs)


@pytest.mark.parametrize(
    ("mode", "observation"),
    [(AutoresetMode.DISABLED, "index"), (AutoresetMode.SAME_STEP, "features")],
)
@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_native_vector_env_wraps_in_torchrl_modes(
    env_id: str, mode: AutoresetMode, observation: str
) -> None:
    """GymWrapper takes the native vector env made in a mode TorchRL accepts."""
    kwargs: dict[str, Any] = {"autoreset_mode": mode, "observation": observation}
    if observation == "index":
        del kwargs["observation"]
    envs = gym.make_vec(
        env_id, num_envs=4, vectorization_mode="vector_entry_point", **kwargs
    )
    assert envs.autoreset_mode == mode  # type: ignore[attr-defined]
    check_wrapped_vector_env(envs)


@pytest.mark.slow
@pytest.mark.processes
def test_gym_env_with_num_envs_runs_the_module_id_in_spawned_workers() -> None:
    """GymEnv(id, num_envs=4): spawned workers import the package by its id.

    TorchRL starts processes by spawning, and a spawned worker has imported
    nothing of this package: ``"access_review_env:AccessReview-v0"`` makes
    Gymnasium import it there (the plain id is unknown in that process).
    """
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    env = GymEnv(
        "access_review_env:AccessReview-v0", num_envs=4, observation="features"
    )
    try:
        check_env_specs(env, seed=0)
        rollout = env.rollout(30, break_when_any_done=False)
        assert tuple(rollout.batch_size) == (4, 30)
        assert int(rollout["next", "done"].sum()) >= 4
    finally:
        env.close()
