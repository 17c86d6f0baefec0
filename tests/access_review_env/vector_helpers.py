"""Shared helpers of the vector env's tests: the two vector envs, rollouts, checks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray
from scipy import stats

from access_review_env import ENV_ID
from access_review_env.model.sparse import SparseMDP

LEVEL = 0.001
"""Significance level of each distribution test (fixed seeds: a pass repeats)."""


def native(num_envs: int, env_id: str = ENV_ID, **kwargs: Any) -> Any:
    """``gym.make_vec`` in vector_entry_point mode (kwargs as make_vec takes them)."""
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )


def sync(
    num_envs: int,
    env_id: str = ENV_ID,
    autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP,
    **kwargs: Any,
) -> Any:
    """``SyncVectorEnv`` over ``gym.make`` (with its wrappers) in ``autoreset_mode``."""
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": autoreset_mode},
        **kwargs,
    )


def assert_same_info(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    """Every key of ``reference`` has the same values, dtype and mask in ``ours``.

    ``ours`` may hold more keys (its keys are present in every call): each
    of them must be reported by no sub-env (an all-False ``_key`` mask).
    """
    for key, expected in reference.items():
        observed = ours[key]
        if key == "final_info":
            assert_same_info(observed, expected)
        elif key == "final_obs":
            assert len(observed) == len(expected)
            for a, b in zip(observed, expected, strict=True):
                np.testing.assert_array_equal(a, b)
                assert type(a) is type(b) or np.asarray(a).dtype == np.asarray(b).dtype
        else:
            np.testing.assert_array_equal(observed, expected, err_msg=key)
            assert observed.dtype == expected.dtype, key
    for key in ours.keys() - reference.keys():
        if not key.startswith("_"):
            assert not ours[f"_{key}"].any(), key


def assert_same_step(ours: tuple[Any, ...], reference: tuple[Any, ...]) -> None:
    """Observations, rewards, flags and infos of one step are the same."""
    for a, b in zip(ours[:-1], reference[:-1], strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert_same_info(ours[-1], reference[-1])


def rollout(
    envs: Any,
    n_steps: int,
    seed: int,
    observe: Any = None,
) -> dict[str, list[Any]]:
    """Roll a uniformly random policy in the env's autoreset mode; collect statistics.

    Every real transition (``NEXT_STEP`` reset slots left out; a ``SAME_STEP``
    episode's last observation read from ``final_obs``; ``DISABLED`` episodes
    restarted with ``reset_mask``) adds a ``move`` (observation, action, next
    observation, reward) and its ``step_outcomes`` (``info["outcome"]`` and
    ``info["event_outcome"]``, -1 without one); every ended episode adds its
    return, length and last outcome.

    Args:
        envs: A vector env with Discrete spaces.
        n_steps: Batched steps.
        seed: The env's seed; the policy's generator is seeded apart.
        observe: Maps an observation (a state index) to what ``moves`` record
            (default: itself).
    """
    observe = observe or (lambda state: int(state))
    mode = envs.metadata["autoreset_mode"]
    n_envs = envs.num_envs
    observations, _ = envs.reset(seed=seed)
    # Gymnasium's np_random(seed) is default_rng(seed): a policy generator with
    # the env's seed would draw the very bits a sub-env of SyncVectorEnv draws.
    rng = np.random.default_rng([seed, 1])
    returns = np.zeros(n_envs)
    lengths = np.zeros(n_envs, dtype=int)
    resetting = np.zeros(n_envs, dtype=bool)
    record: dict[str, list[Any]] = {
        "returns": [],
        "lengths": [],
        "outcomes": [],
        "moves": [],
        "step_outcomes": [],
    }
    for _ in range(n_steps):
        actions = rng.integers(0, envs.single_action_space.n, n_envs)
        following, reward, terminated, truncated, info = envs.step(actions)
        ended = terminated | truncated
        for i in np.flatnonzero(~resetting):
            last, step_info = following[i], info
            if mode == AutoresetMode.SAME_STEP and ended[i]:
                last, step_info = info["final_obs"][i], info["final_info"]
            outcome = int(step_info["outcome"][i])
            event = step_info.get("event_outcome", np.full(n_envs, -1))[i]
            record["moves"].append(
                (observe(observations[i]), int(actions[i]), observe(last), reward[i])
            )
            record["step_outcomes"].append((outcome, int(event)))
            returns[i] += reward[i]
            lengths[i] += 1
            if ended[i]:
                record["returns"].append(float(returns[i]))
                record["lengths"].append(int(lengths[i]))
                record["outcomes"].append(int(outcome))
                returns[i], lengths[i] = 0.0, 0
        if mode == AutoresetMode.NEXT_STEP:
            resetting = ended
        elif mode == AutoresetMode.DISABLED and ended.any():
            following, _ = envs.reset(options={"reset_mask": ended})
        observations = following
    return record


def same_distribution(a: list[Any], b: list[Any]) -> float:
    """p-value of a chi-square test that two categorical samples share a law.

    Categories seen fewer than 10 times in both samples together are left out.
    """
    categories = sorted(set(a) | set(b), key=str)
    counts_a, counts_b = (
        np.array([sample.count(c) for c in categories]) for sample in (a, b)
    )
    table = np.array([counts_a, counts_b])
    table = table[:, table.sum(axis=0) >= 10]
    return float(stats.chi2_contingency(table).pvalue)


class RandomTask:
    """A random sparse MDP as a task model (index and one-hot features), for tests."""

    def __init__(self, sparse: SparseMDP) -> None:
        """Wrap ``sparse``."""
        self._sparse = sparse

    @property
    def name(self) -> str:
        """Not registered."""
        return "RandomSparse"

    @property
    def sparse(self) -> SparseMDP:
        """The model."""
        return self._sparse

    @property
    def feature_names(self) -> tuple[str, ...]:
        """One per state."""
        return tuple(f"s{s}" for s in range(self._sparse.n_states))

    def features(self, states: NDArray[np.int64]) -> NDArray[np.float32]:
        """One-hot rows."""
        return np.eye(self._sparse.n_states, dtype=np.float32)[np.asarray(states)]

    def state_label(self, state: int) -> str:
        """``s<index>``."""
        return f"s{state}"

    def render_text(
        self,
        state: int,
        last_action: int | None,
        last_reward: float | None,
        outcome: int,
    ) -> str:
        """The state's label."""
        return self.state_label(state)

    def render_rgb(self, state: int, outcome: int) -> NDArray[np.uint8]:
        """A blank image."""
        return np.zeros((64, 64, 3), dtype=np.uint8)
