"""Batched Q-learning and REINFORCE: semantics, bookkeeping, backends, agents."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from access_review_env import ENV_ID, RISK_ENV_ID, Action, State
from agents import (
    QLearningAgent,
    QLearningConfig,
    ReinforceAgent,
    evaluate,
    load_agent,
    save_agent,
    value_iteration,
)
from agents.learners.batched import (
    Backend,
    BatchedQLearning,
    BatchedReinforce,
    numba_available,
    resolve_backend,
    train_q_learning_batched,
    train_reinforce_batched,
)

NEW, EVIDENCE, REVIEW, CLOSED = State
AUTO, REQUEST, HUMAN, ROTATION = Action
BACKENDS = [
    "numpy",
    pytest.param(
        "numba",
        marks=pytest.mark.skipif(
            not numba_available(), reason="needs the fast extra (numba)"
        ),
    ),
]
TRAINERS = [train_q_learning_batched, train_reinforce_batched]
needs_numba = pytest.mark.skipif(
    not numba_available(), reason="needs the fast extra (numba)"
)


def make_vec(num_envs: int, env_id: str = ENV_ID, **kwargs: Any) -> Any:
    """The native vector env, with reused buffers as a fast caller would use it."""
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        copy=False,
        **kwargs,
    )


def tables_of(result: BatchedQLearning | BatchedReinforce) -> np.ndarray:
    """The learned tables: Q values or logits."""
    return result.tables


class TerminalMaskWrapper(gym.vector.VectorWrapper):
    """Reports every action as valid in terminal observations.

    The native env reports an empty mask there, which alone would stop a
    bootstrap; with this wrapper only the ``terminated`` flag can.
    """

    def step(self, actions: Any) -> Any:
        """Step, then widen the masks of terminated sub-envs."""
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        masks = np.array(info["action_mask"])
        masks[terminated] = 1
        return (
            observations,
            rewards,
            terminated,
            truncated,
            info | {"action_mask": masks},
        )


class ResetRewardWrapper(gym.vector.VectorWrapper):
    """Pays a huge reward on ``NEXT_STEP`` reset steps, which no learner may see."""

    def reset(self, **kwargs: Any) -> Any:
        """Reset, remembering that no sub-env has ended."""
        self.ended = np.zeros(self.num_envs, dtype=bool)
        return self.env.reset(**kwargs)

    def step(self, actions: Any) -> Any:
        """Step; a sub-env whose last step ended gets reward 1e6."""
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        rewards = np.where(self.ended, 1e6, rewards)
        self.ended = terminated | truncated
        return observations, rewards, terminated, truncated, info


class StallWrapper(gym.vector.VectorWrapper):
    """Lists approve_rotation as the only valid action in every state.

    In new_request it is invalid, so the env penalizes it and stays: every
    episode runs until the time limit.
    """

    def _stalled(self, info: dict[str, Any]) -> dict[str, Any]:
        masks = np.zeros_like(info["action_mask"])
        masks[:, ROTATION] = 1
        return info | {"action_mask": masks}

    def reset(self, **kwargs: Any) -> Any:
        """Reset with the stalling mask."""
        observations, info = self.env.reset(**kwargs)
        return observations, self._stalled(info)

    def step(self, actions: Any) -> Any:
        """Step with the stalling mask."""
        observations, rewards, terminated, truncated, info = self.env.step(actions)
        return observations, rewards, terminated, truncated, self._stalled(info)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reinforce_grows_its_buffers_for_long_episodes(backend: Backend) -> None:
    """100-step episodes (beyond the initial 32-step buffers), all truncated.

    Truncated episodes teach REINFORCE nothing; they are logged in full.
    """
    envs = StallWrapper(make_vec(4, max_episode_steps=100))
    result = train_reinforce_batched(
        envs, 5, rng=np.random.default_rng(0), record_curves=True, backend=backend
    )
    assert result.log.lengths is not None and result.log.returns is not None
    assert np.all(result.log.lengths == 100)
    np.testing.assert_allclose(result.log.returns, -10.0 * 100)
    assert np.all(result.logits == 0.0) and np.all(result.baseline == 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_q_learning_bootstraps_through_truncation_but_not_termination(
    backend: Backend,
) -> None:
    """A 1-step limit cuts every episode, yet Q(new, human_review) reaches 54.

    Cutting at truncation would leave it at -18. Terminal observations report
    every action valid here, so only the terminated flag keeps Q(new,
    auto_approve) at -120 against an optimistic initial Q of 50 (bootstrapping
    through it would give -120 + 0.9 * 50).
    """
    envs = TerminalMaskWrapper(make_vec(8, max_episode_steps=1, exploring_starts=True))
    config = QLearningConfig(epsilon=1.0, initial_q=50.0)
    result = train_q_learning_batched(
        envs, 6_000, config, rng=np.random.default_rng(0), backend=backend
    )
    q = result.q_tables
    assert np.all(q[:, REVIEW, ROTATION] == 80.0)
    np.testing.assert_allclose(q[:, NEW, HUMAN], 54.0, atol=0.5)
    assert np.all(q[:, NEW, AUTO] == -120.0)
    assert np.all(q[:, EVIDENCE, AUTO] == 70.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("train", TRAINERS)
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_reset_steps_are_never_learned_from(
    train: Any, backend: str, env_id: str
) -> None:
    """Reset steps pay 1e6 here; no return or table may show it.

    Q-learning's visits count exactly the transitions learned from: one per
    logged step.
    """
    envs = ResetRewardWrapper(make_vec(16, env_id, exploring_starts=True))
    result = train(envs, 300, rng=np.random.default_rng(3), backend=backend)
    assert np.abs(tables_of(result)).max() < 1e3
    assert result.log.return_sum.max() < 1e3 * 300
    if isinstance(result, BatchedQLearning):
        np.testing.assert_array_equal(
            result.visits.sum(axis=(1, 2)), result.log.length_sum
        )


@pytest.mark.parametrize("train", TRAINERS)
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_budgets_logs_and_checkpoints_agree(train: Any, env_id: str) -> None:
    """Per-learner budgets are met exactly; sums, curves and checkpoints agree."""
    budgets = np.array([40, 55, 70, 85])
    result = train(
        make_vec(4, env_id),
        budgets,
        rng=np.random.default_rng(1),
        checkpoints=[0, 10, 40],
        record_curves=True,
    )
    log = result.log
    np.testing.assert_array_equal(log.episodes, budgets)
    assert log.returns is not None and log.lengths is not None
    assert log.discounted_returns is not None
    for k, budget in enumerate(budgets):
        assert np.isnan(log.returns[k, budget:]).all()
        assert math.isclose(log.returns[k, :budget].sum(), log.return_sum[k])
        assert math.isclose(
            log.discounted_returns[k, :budget].sum(), log.discounted_return_sum[k]
        )
        assert log.lengths[k, :budget].sum() == log.length_sum[k]
        assert math.isclose(log.checkpoint_return_sum[1, k], log.returns[k, :10].sum())
        assert log.checkpoint_length_sum[1, k] == log.lengths[k, :10].sum()
    assert np.all(log.snapshots[0] == 0.0)
    np.testing.assert_array_equal(log.snapshots[2, 0], tables_of(result)[0])
    bins = log.checkpoint_mean_returns()
    np.testing.assert_allclose(bins[1], log.returns[:, 10:40].mean(axis=1))


def test_memory_is_proportional_to_k_by_default() -> None:
    """Without curves or checkpoints every per-seed record is (K,)."""
    result = train_q_learning_batched(make_vec(8), 50, rng=np.random.default_rng(0))
    log = result.log
    assert log.returns is None and log.lengths is None
    assert log.snapshots.shape == (0, 8, 4, 4)
    for array in (log.episodes, log.return_sum, log.discounted_return_sum):
        assert array.shape == (8,)


@needs_numba
@pytest.mark.parametrize(
    ("env_id", "env_kwargs"),
    [
        (ENV_ID, {}),
        (ENV_ID, {"exploring_starts": True, "invalid_action": "raise"}),
        (ENV_ID, {"max_episode_steps": 2, "abandonment_prob": 0.5}),
        (RISK_ENV_ID, {}),
        (RISK_ENV_ID, {"exploring_starts": True}),
    ],
)
def test_numba_and_numpy_q_learning_are_identical(
    env_id: str, env_kwargs: dict[str, Any]
) -> None:
    """Both backends draw the same numbers and do the same arithmetic: equal bits."""
    results = [
        train_q_learning_batched(
            make_vec(32, env_id, **env_kwargs),
            np.arange(150, 182),
            rng=np.random.default_rng(7),
            checkpoints=[0, 75, 150],
            record_curves=True,
            backend=backend,
        )
        for backend in ("numpy", "numba")
    ]
    first, second = results
    assert (first.backend, second.backend) == ("numpy", "numba")
    for name in ("q_tables", "visits", "valid_seen"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    for name in ("returns", "discounted_returns", "lengths", "snapshots"):
        np.testing.assert_array_equal(
            getattr(first.log, name), getattr(second.log, name)
        )
    np.testing.assert_array_equal(
        first.log.checkpoint_length_sum, second.log.checkpoint_length_sum
    )
    assert first.n_steps == second.n_steps


@needs_numba
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_numba_and_numpy_reinforce_agree(env_id: str) -> None:
    """Same actions, returns and baselines; logits equal to rounding.

    The softmax's exp is the only operation whose last bit may differ
    (NumPy's vectorized exp against the C library's).
    """
    first, second = (
        train_reinforce_batched(
            make_vec(32, env_id, exploring_starts=True, max_episode_steps=3),
            400,
            rng=np.random.default_rng(8),
            record_curves=True,
            backend=backend,
        )
        for backend in ("numpy", "numba")
    )
    assert first.log.returns is not None and second.log.returns is not None
    np.testing.assert_array_equal(first.log.returns, second.log.returns)
    np.testing.assert_array_equal(first.log.lengths, second.log.lengths)
    np.testing.assert_array_equal(first.valid_seen, second.valid_seen)
    np.testing.assert_allclose(first.logits, second.logits, rtol=0, atol=1e-12)
    np.testing.assert_allclose(first.baseline, second.baseline, rtol=0, atol=1e-12)


@pytest.mark.slow
@needs_numba
def test_threads_do_not_change_the_result() -> None:
    """Two threads split the learners; every table and log bit is the same."""
    first, second = (
        train_q_learning_batched(
            make_vec(33),
            120,
            rng=np.random.default_rng(4),
            checkpoints=[0, 60, 120],
            record_curves=True,
            backend="numba",
            threads=threads,
        )
        for threads in (1, 2)
    )
    np.testing.assert_array_equal(first.q_tables, second.q_tables)
    np.testing.assert_array_equal(first.visits, second.visits)
    np.testing.assert_array_equal(first.log.returns, second.log.returns)
    np.testing.assert_array_equal(first.log.snapshots, second.log.snapshots)


def test_same_generator_same_result_and_seeds_are_distinct() -> None:
    """Reproducible from the generator; learners within a batch differ."""
    first, second = (
        train_q_learning_batched(make_vec(16), 300, rng=np.random.default_rng(11))
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.q_tables, second.q_tables)
    request = first.q_tables[:, NEW, REQUEST]
    assert np.unique(request).size == request.size


def test_learned_tables_match_the_lesson() -> None:
    """5,000 episodes: every seed's greedy policy is optimal at p = 0.25."""
    result = train_q_learning_batched(
        make_vec(16), 5_000, rng=np.random.default_rng(13)
    )
    assert np.all(result.greedy_policies[:, :3] == [HUMAN, AUTO, ROTATION])
    np.testing.assert_allclose(result.q_tables[:, NEW, AUTO], -120.0)
    np.testing.assert_allclose(result.q_tables[:, NEW, HUMAN], 54.0, atol=1e-6)


@pytest.mark.parametrize("train", TRAINERS)
def test_both_learners_find_the_risk_aware_policy_on_the_second_task(
    train: Any,
) -> None:
    """AccessReviewRisk-v0, exploring starts: every seed's greedy action is optimal.

    Review required requests, approve clear ones, deny after an adverse finding;
    the start distribution and the review's three branches come from the
    native vector env.
    """
    optimal = value_iteration(gym.make(RISK_ENV_ID)).policy
    budget = 20_000 if train is train_q_learning_batched else 5_000
    result = train(
        make_vec(8, RISK_ENV_ID, exploring_starts=True),
        budget,
        rng=np.random.default_rng(0),
    )
    live = list(gym.make(RISK_ENV_ID).unwrapped.mdp.table.non_terminal_states)  # type: ignore[attr-defined]
    assert np.all(result.greedy_policies[:, live] == optimal[live])


def test_q_agent_of_one_seed_predicts_saves_and_loads(tmp_path: Path) -> None:
    """agent(k) is an ordinary QLearningAgent: predict, evaluate, persistence."""
    result = train_q_learning_batched(
        make_vec(4), 2_000, rng=np.random.default_rng(2), record_curves=True
    )
    agent = result.agent(3)
    assert isinstance(agent, QLearningAgent)
    np.testing.assert_array_equal(agent.q_table, result.q_tables[3])
    np.testing.assert_array_equal(agent.greedy_actions, result.greedy_policies[3])
    assert len(agent.log.returns) == 2_000
    assert agent.env_id == ENV_ID and agent.env_kwargs == {}
    actions, _ = agent.predict(np.array([NEW, EVIDENCE, REVIEW]))
    assert actions.tolist() == [HUMAN, AUTO, ROTATION]
    loaded = load_agent(save_agent(agent, tmp_path / "seed3.npz"))
    assert isinstance(loaded, QLearningAgent)
    np.testing.assert_array_equal(loaded.q_table, agent.q_table)
    env = gym.make(str(agent.env_id), **agent.env_kwargs)
    assert evaluate(env, loaded, n_episodes=20, seed=0).mean_return == 62.0


def test_reinforce_agent_of_one_seed(tmp_path: Path) -> None:
    """agent(k) is an ordinary ReinforceAgent whose probabilities come from seed k."""
    result = train_reinforce_batched(
        make_vec(4, exploring_starts=True), 3_000, rng=np.random.default_rng(0)
    )
    agent = result.agent(1)
    assert isinstance(agent, ReinforceAgent)
    assert agent.greedy_actions[:3].tolist() == [HUMAN, AUTO, ROTATION]
    assert agent.probabilities(NEW)[HUMAN] > 0.9
    assert agent.env_kwargs == {"exploring_starts": True}
    assert len(agent.log.returns) == 0  # no full curves were asked for
    loaded = load_agent(save_agent(agent, tmp_path / "seed1.npz"))
    assert isinstance(loaded, ReinforceAgent)
    np.testing.assert_array_equal(loaded.logits, result.logits[1])


def test_works_on_sync_vector_env_of_the_single_env() -> None:
    """Any NEXT_STEP vector env with action masks will do, not only the native one."""
    envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync")
    result = train_q_learning_batched(
        envs, 500, rng=np.random.default_rng(0), backend="numpy"
    )
    np.testing.assert_array_equal(result.log.episodes, [500, 500, 500])
    assert np.all(result.q_tables[:, REVIEW, ROTATION] == 80.0)


class _Recorder:
    """An episode observer that keeps what it is shown."""

    def __init__(self) -> None:
        self.started: np.ndarray | None = None
        self.ended: list[tuple[list[int], list[int]]] = []

    def start(self, tables: np.ndarray) -> None:
        self.started = tables.copy()

    def episodes_ended(
        self, learners: np.ndarray, episodes: np.ndarray, tables: np.ndarray
    ) -> None:
        self.ended.append((learners.tolist(), episodes.tolist()))


@pytest.mark.parametrize("train", TRAINERS)
def test_an_observer_sees_every_episode_end_once(train: Any) -> None:
    """Each learner's ends arrive in order, 1 to its budget, and never again."""
    recorder = _Recorder()
    budgets = np.array([5, 9, 3])
    train(make_vec(3), budgets, rng=np.random.default_rng(0), observer=recorder)
    assert recorder.started is not None and np.all(recorder.started == 0.0)
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for learners, episodes in recorder.ended:
        for k, e in zip(learners, episodes, strict=True):
            seen[k].append(e)
    assert seen == {k: list(range(1, b + 1)) for k, b in enumerate(budgets)}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: train_q_learning_batched(
                gym.make(ENV_ID), 5, rng=np.random.default_rng(0)
            ),
            TypeError,
            "VectorEnv",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), 0, rng=np.random.default_rng(0)
            ),
            ValueError,
            "n_episodes must be an integer >= 1",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), [5, 5, 5], rng=np.random.default_rng(0)
            ),
            ValueError,
            "one per sub-env",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2),
                2.5,  # type: ignore[arg-type]
                rng=np.random.default_rng(0),
            ),
            TypeError,
            "integer",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), 5, rng=np.random.default_rng(0), checkpoints=[3, 2]
            ),
            ValueError,
            "strictly increasing",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), 5, rng=np.random.default_rng(0), checkpoints=[9]
            ),
            ValueError,
            r"\[0, 5\]",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), 5, rng=np.random.default_rng(0), threads=0
            ),
            ValueError,
            "threads must be an integer >= 1",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2), 5, rng=np.random.default_rng(0), backend="numpy", threads=2
            ),
            ValueError,
            "needs the numba or fused backend",
        ),
        (
            lambda: train_q_learning_batched(
                make_vec(2),
                5,
                rng=np.random.default_rng(0),
                backend="cuda",  # type: ignore[arg-type]
            ),
            ValueError,
            "backend must be one of",
        ),
        (
            lambda: train_q_learning_batched(
                gym.make_vec(
                    ENV_ID,
                    num_envs=2,
                    vectorization_mode="sync",
                    vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                ),
                5,
                rng=np.random.default_rng(0),
            ),
            ValueError,
            "autoreset_mode",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(
    call: Any, error: type[Exception], message: str
) -> None:
    """Every bad argument is an error naming the value and what is allowed."""
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("train", TRAINERS)
@pytest.mark.parametrize("rng", [0, np.random.RandomState(0), "0"])
def test_rng_must_be_a_generator(train: Any, rng: Any) -> None:
    """A seed or a legacy RandomState as rng: TypeError naming what is allowed.

    Before, rng=0 ended in "'int' object has no attribute 'integers'".
    """
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        train(make_vec(2), 5, rng=rng)


@pytest.mark.parametrize("train", TRAINERS)
@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({}, TypeError, "seeds=.* or rng=.*not both and not neither"),
        (
            {"seeds": [1, 2], "rng": np.random.default_rng(0)},
            TypeError,
            "not both and not neither",
        ),
        ({"seeds": [1, 2, 3]}, ValueError, "one seed per sub-env"),
        ({"seeds": [1, None]}, TypeError, "None would draw a seed nobody can rerun"),
        ({"seeds": [1, -2]}, ValueError, r"seed\[1\] must be in \[0, 2\*\*64\)"),
        ({"seeds": [1.0, 2.0]}, TypeError, r"seed\[0\] must be one of integers"),
        ({"seeds": 2**64 - 1}, ValueError, r"seed must be an integer in"),
    ],
)
def test_seeds_are_checked(
    train: Any, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Seeds or a generator, exactly one; seeds are K integers in [0, 2**64)."""
    with pytest.raises(error, match=message):
        train(make_vec(2), 5, **arguments)


@pytest.mark.parametrize("train", TRAINERS)
def test_learners_that_would_not_fit_in_memory_are_refused_first(
    train: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K = 4,096 learners with full curves against a 1 MiB limit: refused at once.

    The message names the learners, the estimate and the limit; the error is
    both a MemoryError and a ValueError.
    """
    monkeypatch.setattr(
        "agents.common.memory.memory_limit", lambda: (1 << 20, "this test's limit")
    )
    with pytest.raises(
        MemoryError, match="4,096 learners of 4 states x 4 actions"
    ) as error:
        train(make_vec(4096), 1_000, rng=np.random.default_rng(0), record_curves=True)
    assert isinstance(error.value, ValueError)
    assert "more than the 1.0 MiB available (this test's limit)" in str(error.value)


def test_agent_index_out_of_range() -> None:
    """agent(k) names the allowed range."""
    result = train_q_learning_batched(make_vec(2), 5, rng=np.random.default_rng(0))
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        result.agent(2)


def test_backend_resolution() -> None:
    """The auto choice is numba when installed; NumPy can always be forced."""
    assert resolve_backend("numpy") == "numpy"
    assert resolve_backend("auto") == ("numba" if numba_available() else "numpy")
