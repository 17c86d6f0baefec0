"""The native vector env: Gymnasium semantics and equivalence with SyncVectorEnv."""

from __future__ import annotations

import copy
import inspect
import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from scipy import stats

import access_review_env.vector.env as vector_env_module
import access_review_env.vector.parameters as vector_parameters_module
from access_review_env import (
    ENV_ID,
    OUTCOMES,
    QUEUE_ENV_ID,
    RISK_ENV_ID,
    AccessReviewEnv,
    AccessReviewQueueVectorEnv,
    AccessReviewRiskVectorEnv,
    AccessReviewVectorEnv,
    InvalidActionError,
)
from access_review_env.vector import VECTOR_PARAMETERS, kernels_numpy
from tests.access_review_env.vector_helpers import (
    LEVEL,
    assert_same_info,
    assert_same_step,
    native,
    rollout,
    same_distribution,
    sync,
)

pytestmark = pytest.mark.env

MODES = list(AutoresetMode)


def test_make_vec_returns_the_native_env_with_gymnasium_spaces() -> None:
    """The registered vector entry point builds our env, with batched spaces."""
    envs = native(8)
    assert isinstance(envs, AccessReviewVectorEnv)
    assert envs.single_observation_space == gym.spaces.Discrete(4)
    assert envs.single_action_space == gym.spaces.Discrete(4)
    assert envs.observation_space == gym.spaces.MultiDiscrete([4] * 8)
    assert envs.action_space == gym.spaces.MultiDiscrete([4] * 8)
    assert envs.autoreset_mode == AutoresetMode.NEXT_STEP
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.max_episode_steps == gym.spec(ENV_ID).max_episode_steps


@pytest.mark.parametrize(
    ("env_id", "cls"),
    [
        (ENV_ID, AccessReviewVectorEnv),
        (RISK_ENV_ID, AccessReviewRiskVectorEnv),
        (QUEUE_ENV_ID, AccessReviewQueueVectorEnv),
    ],
)
def test_every_task_registers_its_vector_env(env_id: str, cls: type) -> None:
    """Each id's vector entry point is its task's class, with the registered limit."""
    envs = native(2, env_id)
    assert envs.max_episode_steps == gym.spec(env_id).max_episode_steps
    assert type(envs) is cls


@pytest.mark.parametrize("mode", [*MODES, "SameStep"])
def test_make_vec_passes_the_autoreset_mode_through(mode: Any) -> None:
    """``make_vec(..., autoreset_mode=...)`` reaches the env (vector_kwargs cannot)."""
    envs = native(2, autoreset_mode=mode)
    expected = AutoresetMode(mode)
    assert envs.autoreset_mode is expected
    assert envs.metadata["autoreset_mode"] is expected
    with pytest.raises(gym.error.Error, match="vector_kwargs"):
        gym.make_vec(
            ENV_ID,
            num_envs=2,
            vectorization_mode="vector_entry_point",
            vector_kwargs={"autoreset_mode": mode},
        )


def test_a_task_class_declares_its_keywords_once() -> None:
    """The signature and manual list the task's, the env's and the vector keywords."""
    parameters = inspect.signature(AccessReviewQueueVectorEnv).parameters
    names = list(parameters)
    assert names[:2] == ["num_envs", "level"]
    assert names[-len(VECTOR_PARAMETERS) :] == [p.name for p in VECTOR_PARAMETERS]
    assert parameters["max_episode_steps"].default == 200
    doc = AccessReviewQueueVectorEnv.__doc__ or ""
    assert 'gym.make_vec(\n        "AccessReviewQueue-v0",' in doc
    assert "autoreset_mode=<AutoresetMode.NEXT_STEP" in doc
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'levle'"):
        AccessReviewQueueVectorEnv(2, levle="tiny")


def test_kwargs_reach_the_shared_model() -> None:
    """Env kwargs configure the same model the single env uses."""
    envs = native(4, abandonment_prob=1.0, rewards={"abandoned": -77.0})
    envs.reset(seed=0)
    _, reward, terminated, _, info = envs.step(np.ones(4, dtype=np.int64))
    assert reward.tolist() == [-77.0] * 4 and terminated.all()
    assert [OUTCOMES[code] for code in info["outcome"]] == ["abandoned"] * 4


def _deterministic_run(
    env_id: str, mode: AutoresetMode, n_steps: int, **kwargs: Any
) -> dict[str, int]:
    """Step ours and SyncVectorEnv with the same random actions; compare all."""
    n_envs = 16
    ours = native(n_envs, env_id, autoreset_mode=mode, **kwargs)
    reference = sync(n_envs, env_id, autoreset_mode=mode, **kwargs)
    a, b = ours.reset(seed=0), reference.reset(seed=0)
    np.testing.assert_array_equal(a[0], b[0])
    assert_same_info(a[1], b[1])
    assert a[1].keys() == b[1].keys() | a[1].keys()
    rng = np.random.default_rng(0)
    n_actions = int(ours.single_action_space.n)
    saw = {"terminated": 0, "truncated": 0, "resets": 0}
    for _ in range(n_steps):
        actions = rng.integers(0, n_actions, n_envs)
        a, b = ours.step(actions), reference.step(actions)
        assert_same_step(a, b)
        saw["terminated"] += int(a[2].sum())
        saw["truncated"] += int(a[3].sum())
        ended = a[2] | a[3]
        if mode == AutoresetMode.DISABLED and ended.any():
            saw["resets"] += 1
            a = ours.reset(options={"reset_mask": ended.copy()})
            b = reference.reset(options={"reset_mask": ended.copy()})
            np.testing.assert_array_equal(a[0], b[0])
            assert_same_info(a[1], b[1])
    return saw


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("max_episode_steps", [3, 20])
def test_deterministic_dynamics_match_sync_vector_env_exactly(
    mode: AutoresetMode, p: float, max_episode_steps: int
) -> None:
    """With no randomness left, every array equals SyncVectorEnv's, in each mode.

    Random actions (invalid ones included) exercise termination, truncation by
    the time limit, the autoreset mode (final_obs and final_info in SAME_STEP,
    reset_mask in DISABLED) and infos key by key, dtypes included.
    """
    saw = _deterministic_run(
        ENV_ID,
        mode,
        300,
        abandonment_prob=p,
        max_episode_steps=max_episode_steps,
    )
    assert saw["terminated"] > 0
    assert saw["truncated"] > 0 or max_episode_steps == 20


@pytest.mark.parametrize("mode", MODES)
def test_a_deterministic_queue_matches_sync_vector_env_exactly(
    mode: AutoresetMode,
) -> None:
    """The queue with one request and certain events: event_outcome included."""
    saw = _deterministic_run(
        QUEUE_ENV_ID,
        mode,
        60,
        level="tiny",
        start="one_request",
        arrival_prob=0.0,
        leave_prob=0.0,
        response_prob=1.0,
        review_prob=1.0,
        clear_evidence_share=0.0,
        unjustified_share=0.0,
        abandonment_prob=0.0,
        max_episode_steps=7,
    )
    assert saw["truncated"] > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "kwargs", [{}, {"max_episode_steps": 2}, {"exploring_starts": True}]
)
def test_random_policy_statistics_match_sync_vector_env(
    mode: AutoresetMode, kwargs: dict[str, Any]
) -> None:
    """Returns, lengths, outcomes and transitions have the same laws (chi-square)."""
    ours = rollout(native(64, autoreset_mode=mode, **kwargs), 1_500, seed=1)
    reference = rollout(sync(64, autoreset_mode=mode, **kwargs), 1_500, seed=2)
    for key in ("returns", "lengths", "outcomes", "moves"):
        assert same_distribution(ours[key], reference[key]) > LEVEL, key


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"exploring_starts": True},
        {"unjustified_share": 0.5, "max_episode_steps": 3},
        {"autoreset_mode": AutoresetMode.SAME_STEP},
    ],
)
def test_the_second_task_matches_sync_vector_env(kwargs: dict[str, Any]) -> None:
    """AccessReviewRisk-v0 (two start states, three-branch rows): same laws."""
    mode = kwargs.pop("autoreset_mode", AutoresetMode.NEXT_STEP)
    ours = rollout(native(64, RISK_ENV_ID, autoreset_mode=mode, **kwargs), 1_500, 3)
    reference = rollout(sync(64, RISK_ENV_ID, mode, **kwargs), 1_500, seed=4)
    for key in ("returns", "lengths", "outcomes", "moves"):
        assert same_distribution(ours[key], reference[key]) > LEVEL, key


def test_every_reset_draws_the_request_kind_from_the_start_distribution() -> None:
    """Resets and autoresets start clear requests with probability c = 0.3."""
    envs = native(4_096, RISK_ENV_ID, clear_evidence_share=0.3)
    observations, _ = envs.reset(seed=5)
    starts = list(observations)
    for _ in range(3):
        following, *_ = envs.step(np.full(4_096, 0))  # auto_approve closes
        following, *_ = envs.step(np.full(4_096, 0))  # the autoreset step
        starts += list(following)
    clear = sum(s == 1 for s in starts)
    assert set(starts) <= {0, 1}
    assert stats.binomtest(clear, len(starts), 0.3).pvalue > LEVEL


def test_next_step_autoreset_ignores_the_action_and_pays_nothing() -> None:
    """The step after termination returns the start state, reward 0, no flags."""
    envs = native(2)
    envs.reset(seed=0)
    _, _, terminated, _, _ = envs.step(np.array([0, 2]))
    assert terminated.tolist() == [True, False]
    observations, reward, terminated, truncated, info = envs.step(np.array([3, 3]))
    assert observations.tolist() == [0, 3]
    assert reward.tolist() == [0.0, 80.0]
    assert terminated.tolist() == [False, True] and not truncated.any()
    assert info["action_mask"][0].tolist() == [True, True, True, False]


def test_same_step_returns_the_next_start_and_the_final_step_in_info() -> None:
    """SAME_STEP: reward and flags of the ended step, the new episode's start."""
    envs = native(2, autoreset_mode=AutoresetMode.SAME_STEP)
    envs.reset(seed=0)
    observations, reward, terminated, _, info = envs.step(np.array([0, 2]))
    assert observations.tolist() == [0, 2]
    assert reward.tolist() == [-120.0, -18.0]
    assert terminated.tolist() == [True, False]
    assert info["final_obs"].tolist() == [3, None]
    assert info["_final_obs"].tolist() == [True, False]
    assert info["final_info"]["outcome"][0] == OUTCOMES.index("unsupported_approval")
    assert info["final_info"]["cost"][0] == 1.0
    assert info["outcome"][0] == 0 and info["cost"][0] == 0.0
    assert "final_obs" not in envs.step(np.array([2, 2]))[4]


def test_disabled_refuses_to_step_an_ended_episode_until_reset() -> None:
    """DISABLED: ended sub-envs must be reset with reset_mask, as SyncVectorEnv."""
    ours = native(2, autoreset_mode=AutoresetMode.DISABLED)
    reference = sync(2, autoreset_mode=AutoresetMode.DISABLED)
    for envs in (ours, reference):
        envs.reset(seed=0)
        assert envs.step(np.array([0, 2]))[2].tolist() == [True, False]
    with pytest.raises(ResetNeeded, match="sub-env 0 ended its episode"):
        ours.step(np.array([3, 3]))
    with pytest.raises(AssertionError):
        reference.step(np.array([3, 3]))
    observations, info = ours.reset(options={"reset_mask": np.array([True, False])})
    assert observations.tolist() == [0, 2]
    assert info["_state"].tolist() == [True, False]
    assert ours.step(np.array([2, 3]))[1].tolist() == [-18.0, 80.0]


def test_truncation_counts_steps_per_sub_env() -> None:
    """Each sub-env's time limit runs from its own reset."""
    envs = native(2, max_episode_steps=2)
    envs.reset(seed=0)
    assert envs.step(np.array([0, 3]))[3].tolist() == [False, False]
    assert envs.step(np.array([3, 3]))[3].tolist() == [False, True]
    assert envs.step(np.array([3, 3]))[3].tolist() == [False, False]
    assert envs.step(np.array([3, 3]))[3].tolist() == [True, False]


@pytest.mark.parametrize("env_id", [ENV_ID, QUEUE_ENV_ID])
def test_info_keys_and_dtypes_are_the_same_in_every_call(env_id: str) -> None:
    """Numeric infos, every key in reset and step, bool masks, int64 indices."""
    kwargs = {"level": "tiny"} if env_id == QUEUE_ENV_ID else {}
    envs = native(5, env_id, max_episode_steps=2, **kwargs)
    n_actions = int(envs.single_action_space.n)
    infos = [envs.reset(seed=0)[1]]
    infos += [envs.step(np.zeros(5, dtype=np.int64))[4] for _ in range(4)]
    expected = {
        "state": np.int64,
        "action_mask": np.bool_,
        "cost": np.float64,
        "outcome": np.int64,
        "invalid_action": np.bool_,
        "prob": np.float64,
    }
    if env_id == QUEUE_ENV_ID:
        expected["event_outcome"] = np.int64
    for info in infos:
        assert info.keys() == expected.keys() | {f"_{key}" for key in expected}
        for key, dtype in expected.items():
            assert info[key].dtype == dtype, key
            assert info[f"_{key}"].dtype == np.bool_
            assert info[key].shape == ((5, n_actions) if key == "action_mask" else (5,))


def test_invalid_actions_are_penalized_like_the_single_env() -> None:
    """An invalid action keeps the state, pays the penalty and is flagged."""
    envs = native(3, invalid_action_reward=-3.0)
    envs.reset(seed=0)
    observations, reward, _, _, info = envs.step(np.array([3, 3, 2]))
    assert observations.tolist() == [0, 0, 2]
    assert reward.tolist() == [-3.0, -3.0, -18.0]
    assert info["invalid_action"].tolist() == [True, True, False]


def test_invalid_actions_raise_when_asked_naming_the_sub_env() -> None:
    """Under invalid_action='raise' the error names the sub-env and its state."""
    envs = native(3, invalid_action="raise")
    envs.reset(seed=0)
    with pytest.raises(
        InvalidActionError, match=r"sub-env 1: action 3 \(approve_rotation\)"
    ):
        envs.step(np.array([2, 3, 2]))


@pytest.mark.parametrize(
    ("actions", "error", "message"),
    [
        (np.array([0.0, 1.0, 2.0]), TypeError, "integers"),
        (np.array([True, False, True]), TypeError, "integers"),
        (np.array([0, 1]), ValueError, r"shape \(3,\)"),
        (np.array([[0, 1, 2]]), ValueError, r"shape \(3,\)"),
        (np.array([0, 4, 1]), ValueError, "sub-env 1: action 4 is out of range"),
        (np.array([0, -1, 1]), ValueError, "sub-env 1: action -1 is out of range"),
        (np.array([0, 2**63, 1], dtype=np.uint64), ValueError, "out of range"),
    ],
)
def test_bad_action_batches_raise_clear_errors(
    actions: np.ndarray, error: type, message: str
) -> None:
    """Wrong dtype, shape or range is refused before anything moves."""
    envs = native(3)
    envs.reset(seed=0)
    with pytest.raises(error, match=message):
        envs.step(actions)


def _allow_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``threads=2`` through on a one-core machine too.

    Results do not depend on the thread count, so these tests need not run on
    two cores.
    """
    monkeypatch.setattr(vector_parameters_module, "available_cores", lambda: 2)


def test_the_same_seeds_give_the_same_trajectories_whatever_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reseeding reproduces the trajectories, whatever the worker threads."""
    _allow_two_threads(monkeypatch)

    def roll(threads: int) -> list[Any]:
        envs = AccessReviewVectorEnv(2**18, exploring_starts=True, threads=threads)
        envs.reset(seed=9)
        rng = np.random.default_rng(0)
        result = []
        for _ in range(6):
            observations, reward, *_ = envs.step(rng.integers(0, 4, envs.num_envs))
            result += [observations.copy(), reward.copy()]
        envs.close()
        return result

    for a, b in zip(roll(1), roll(2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_copy_false_reuses_buffers_and_copy_true_does_not() -> None:
    """As in SyncVectorEnv, copy=False returns arrays the next step overwrites."""
    fresh, reused = native(4), native(4, copy=False)
    for envs in (fresh, reused):
        envs.reset(seed=0)
    first = fresh.step(np.zeros(4, dtype=np.int64))
    second = fresh.step(np.zeros(4, dtype=np.int64))
    assert second[0] is not first[0] and second[1] is not first[1]
    assert second[4]["cost"] is not first[4]["cost"]
    first = reused.step(np.zeros(4, dtype=np.int64))
    second = reused.step(np.zeros(4, dtype=np.int64))
    assert second[0] is first[0] and second[1] is first[1]
    assert second[4]["cost"] is first[4]["cost"]


def test_exploring_starts_and_start_state_option() -> None:
    """Resets start in each non-terminal state with equal frequency, or where asked."""
    envs = native(30_000, exploring_starts=True)
    observations, _ = envs.reset(seed=0)
    counts = np.bincount(observations, minlength=4)
    assert counts[3] == 0 and stats.chisquare(counts[:3]).pvalue > LEVEL
    observations, info = native(3).reset(
        seed=0, options={"start_state": "review_queue"}
    )
    assert observations.tolist() == [2, 2, 2]
    assert info["action_mask"].tolist() == [[False, False, False, True]] * 3


def test_abandonment_frequency_matches_the_table() -> None:
    """request_evidence from new_request abandons with probability p (chi-square)."""
    envs = native(40_000, abandonment_prob=0.3)
    envs.reset(seed=4)
    observations = envs.step(np.ones(envs.num_envs, dtype=np.int64))[0]
    counts = np.array([(observations == 1).sum(), (observations == 3).sum()])
    assert counts.sum() == envs.num_envs
    assert stats.chisquare(counts, [0.7 * 40_000, 0.3 * 40_000]).pvalue > LEVEL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, "num_envs must be an integer >= 1"),
        ({"num_envs": 2, "max_episode_steps": 0}, "max_episode_steps"),
        ({"num_envs": 2, "max_episode_steps": 2**31}, "max_episode_steps"),
        ({"num_envs": 2, "threads": 0}, "threads"),
        ({"num_envs": 2, "render_mode": "ansi"}, "not supported by the vector env"),
        ({"num_envs": 2, "abandonment_prob": 2.0}, "abandonment_prob"),
        ({"num_envs": 2, "observation": "pixels"}, "observation must be one of"),
        ({"num_envs": 2, "autoreset_mode": "next"}, "autoreset_mode must be one of"),
    ],
)
def test_bad_constructor_arguments_are_rejected(
    kwargs: dict[str, Any], message: str
) -> None:
    """Bad arguments are errors naming the argument."""
    with pytest.raises(ValueError, match=message):
        AccessReviewVectorEnv(**kwargs)


@pytest.mark.parametrize("mode", ["vector_entry_point", "sync"])
def test_step_before_reset_raises_reset_needed(mode: str) -> None:
    """Like SyncVectorEnv (whose sub-envs refuse it), a step before reset raises."""
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode=mode)
    with pytest.raises(ResetNeeded, match="reset"):
        envs.step(np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"options": {"start_state": "closed"}}, ValueError, "start_state 'closed'"),
        ({"options": {"start": 1}}, ValueError, "unknown reset option"),
        ({"options": 5}, TypeError, "options must be a dict .* got 5"),
        ({"seed": [1, 2]}, ValueError, "one seed per sub-env"),
        ({"seed": -1}, ValueError, "seed must be an integer in"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        (
            {"options": {"reset_mask": np.zeros(64, dtype=bool)}},
            ValueError,
            "at least one sub-env",
        ),
        ({"options": {"reset_mask": [True] * 64}}, TypeError, "NumPy bool array"),
    ],
)
def test_a_rejected_reset_leaves_the_streams_and_needs_a_reset(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    """A rejected reset does not seed: the next good reset continues the streams.

    Until that reset, step raises ResetNeeded (the episodes in progress ended).
    """
    envs, twin = native(64, exploring_starts=True), native(64, exploring_starts=True)
    actions = np.ones(64, dtype=np.int64)
    for each in (envs, twin):
        each.reset(seed=0)
        each.step(actions)
    with pytest.raises(error, match=message):
        envs.reset(seed=kwargs.get("seed", 5), options=kwargs.get("options"))
    with pytest.raises(ResetNeeded):
        envs.step(actions)
    np.testing.assert_array_equal(envs.reset()[0], twin.reset()[0])
    for a, b in zip(envs.step(actions)[:4], twin.step(actions)[:4], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reward", [1e39, -1e300, -54.3, 1e-45])
def test_rewards_are_float64_and_equal_the_single_envs(reward: float) -> None:
    """Rewards float32 cannot hold (1e39 would become inf) come back unchanged."""
    kwargs: dict[str, Any] = {"abandonment_prob": 1.0, "rewards": {"abandoned": reward}}
    envs = native(3, **kwargs)
    envs.reset(seed=0)
    _, rewards, *_ = envs.step(np.ones(3, dtype=np.int64))
    single = AccessReviewEnv(**kwargs)
    single.reset(seed=0)
    assert rewards.dtype == np.float64
    assert rewards.tolist() == [single.step(1)[1]] * 3 == [reward] * 3
    reference = sync(3, **kwargs)
    reference.reset(seed=0)
    assert reference.step(np.ones(3, dtype=np.int64))[1].dtype == rewards.dtype


def test_threads_are_bounded_by_the_cores_available() -> None:
    """threads=2**40 (terabytes of chunk bounds) is an error naming the bound."""
    cores = vector_parameters_module.available_cores()
    for threads in (2**40, cores + 1):
        with pytest.raises(
            ValueError, match=rf"threads .* in \[1, {cores}\], got {threads}"
        ):
            AccessReviewVectorEnv(2, threads=threads)
    assert AccessReviewVectorEnv(2, threads=cores).threads == cores


@pytest.mark.parametrize("clone", [pickle.dumps, copy.deepcopy])
def test_parallel_env_pickles_after_stepping_and_continues_identically(
    clone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a threaded step (a live thread pool), a copy steps like the original."""
    _allow_two_threads(monkeypatch)
    envs = AccessReviewVectorEnv(2**18, exploring_starts=True, threads=2)
    envs.reset(seed=1)
    rng = np.random.default_rng(0)
    envs.step(rng.integers(0, 4, envs.num_envs))
    copied = clone(envs)
    twin = pickle.loads(copied) if isinstance(copied, bytes) else copied
    for _ in range(3):
        actions = rng.integers(0, 4, envs.num_envs)
        for a, b in zip(envs.step(actions)[:4], twin.step(actions)[:4], strict=True):
            np.testing.assert_array_equal(a, b)
    for each in (envs, twin):
        each.close()


def test_copy_false_buffers_survive_pickling() -> None:
    """A pickled copy=False env still reuses its buffers and keeps them apart."""
    envs = native(4, copy=False)
    envs.reset(seed=0)
    twin = pickle.loads(pickle.dumps(envs))
    first = twin.step(np.zeros(4, dtype=np.int64))[0]
    assert twin.step(np.zeros(4, dtype=np.int64))[0] is first
    assert envs.step(np.zeros(4, dtype=np.int64))[0] is not first
    assert not twin.step(np.zeros(4, dtype=np.int64))[4]["_cost"].flags.writeable


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"copy": "False"}, "copy must be True or False, got 'False'"),
        ({"copy": 0}, "copy must be True or False, got 0"),
        ({"exploring_starts": "yes"}, "exploring_starts must be True or False"),
        ({"threads": 1.0}, "threads .* must be an integer"),
        ({"max_episode_steps": 2.0}, "max_episode_steps must be an integer"),
    ],
)
def test_flags_are_type_checked(kwargs: dict[str, Any], message: str) -> None:
    """A string such as 'False' is refused, not read as True."""
    with pytest.raises(TypeError, match=message):
        AccessReviewVectorEnv(2, **kwargs)


@pytest.mark.parametrize(
    "name",
    [
        "mdp",
        "exploring_starts",
        "observation_mode",
        "max_episode_steps",
        "copy",
        "threads",
        "autoreset_mode",
    ],
)
def test_configuration_is_read_only(name: str) -> None:
    """The step's tables are set up once, so their inputs cannot be reassigned."""
    envs = native(2)
    with pytest.raises(AttributeError):
        setattr(envs, name, getattr(envs, name))


def test_np_random_is_refused_with_the_way_to_seed() -> None:
    """There is no one generator to read or replace: each sub-env has a stream."""
    envs = native(2)
    with pytest.raises(AttributeError, match=r"own stream, seeded by reset\(seed"):
        _ = envs.np_random
    with pytest.raises(AttributeError, match="reset"):
        envs.np_random = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            5,
            TypeError,
            r"options must be a dict \(allowed keys: start_state, reset_mask\) .*got 5",
        ),
        (
            {"start_state": "closed"},
            ValueError,
            r"start_state 'closed' is not a non-terminal state; allowed: 0 "
            r"\(new_request\)",
        ),
        (
            {"reset_mask": np.ones(3, dtype=bool)},
            ValueError,
            r"reset_mask'\] must have shape \(2,\), got \(3,\)",
        ),
    ],
)
def test_bad_reset_options_are_named_as_written(
    options: Any, error: type, message: str
) -> None:
    """Messages repeat the value the caller gave, not an internal index."""
    with pytest.raises(error, match=message):
        native(2).reset(options=options)


def test_a_masked_reset_restarts_only_the_masked_sub_envs() -> None:
    """As SyncVectorEnv, reset_mask restarts some; the others report nothing."""
    ours, reference = native(3), sync(3)
    for envs in (ours, reference):
        envs.reset(seed=0)
        envs.step(np.array([2, 2, 2]))
    mask = np.array([False, True, False])
    a = ours.reset(seed=7, options={"reset_mask": mask.copy()})
    b = reference.reset(seed=7, options={"reset_mask": mask.copy()})
    assert a[0].tolist() == [2, 0, 2]
    np.testing.assert_array_equal(a[0], b[0])
    assert_same_info(a[1], b[1])
    after = ours.step(np.array([3, 2, 3]))
    assert after[1].tolist() == [80.0, -18.0, 80.0]


def _roll_kernels(
    env_id: str,
    kwargs: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, list[Any]]:
    """The same seeded run through numba's fused and staged loops and NumPy."""
    runs = {}
    for path in ("fused", "staged", "numpy"):
        with monkeypatch.context() as patch:
            if path == "numpy":
                patch.setattr(vector_env_module, "step_kernels", lambda: kernels_numpy)
            patch.setattr(
                vector_env_module, "STAGED_MIN_BYTES", 0 if path == "staged" else 2**62
            )
            envs = native(97, env_id, **kwargs)
            n_actions = int(envs.single_action_space.n)
            rng = np.random.default_rng(5)
            observations, info = envs.reset(seed=3)
            run: list[Any] = [observations.copy(), copy.deepcopy(info)]
            for _ in range(150):
                if kwargs.get("invalid_action") == "raise":
                    with pytest.raises(InvalidActionError):
                        envs.step(np.full(97, 3))  # approve_rotation, unreviewed
                    weights = rng.random((97, n_actions)) * info["action_mask"]
                    actions = weights.argmax(axis=1).astype(np.int32)
                else:
                    actions = rng.integers(0, n_actions, 97, dtype=np.int64)
                with pytest.raises(ValueError, match="out of range"):
                    envs.step(np.full(97, n_actions))
                *arrays, info = envs.step(actions)
                run += [a.copy() for a in arrays]
                run.append(copy.deepcopy(info))
                ended = arrays[2] | arrays[3]
                if envs.autoreset_mode == AutoresetMode.DISABLED and ended.any():
                    observations, info = envs.reset(options={"reset_mask": ended})
                    run += [observations.copy(), copy.deepcopy(info)]
            runs[path] = run
    return runs


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        (ENV_ID, {}),
        (ENV_ID, {"exploring_starts": True}),
        (ENV_ID, {"invalid_action": "raise"}),
        (ENV_ID, {"max_episode_steps": 2, "copy": False}),
        (ENV_ID, {"max_episode_steps": None, "abandonment_prob": 0.9}),
        (ENV_ID, {"autoreset_mode": AutoresetMode.SAME_STEP, "max_episode_steps": 3}),
        (ENV_ID, {"autoreset_mode": AutoresetMode.DISABLED, "max_episode_steps": 3}),
        (RISK_ENV_ID, {}),
        (RISK_ENV_ID, {"invalid_action": "raise", "exploring_starts": True}),
        (RISK_ENV_ID, {"autoreset_mode": AutoresetMode.SAME_STEP}),
        (QUEUE_ENV_ID, {"level": "tiny", "max_episode_steps": 5}),
        (
            QUEUE_ENV_ID,
            {
                "level": "tiny",
                "exploring_starts": True,
                "observation": "features",
                "autoreset_mode": AutoresetMode.SAME_STEP,
                "max_episode_steps": 4,
                "copy": False,
            },
        ),
        (
            QUEUE_ENV_ID,
            {
                "level": "tiny",
                "autoreset_mode": AutoresetMode.DISABLED,
                "max_episode_steps": 4,
            },
        ),
    ],
)
def test_both_compiled_loops_and_numpy_return_the_same_bits(
    env_id: str, kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both compiled loops and the NumPy operations return exactly the same arrays.

    Every array, dtype and info key (final infos included) is compared, after
    refused steps too (they change nothing on any path).
    """
    if vector_env_module.step_kernels() is kernels_numpy:
        pytest.skip("needs numba (the fast extra)")
    runs = _roll_kernels(env_id, kwargs, monkeypatch)
    for other in ("staged", "numpy"):
        for a, b in zip(runs["fused"], runs[other], strict=True):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                assert_same_info(a, b)
            else:
                np.testing.assert_array_equal(a, b)
                assert a.dtype == b.dtype


def test_action_masks_are_the_current_states_masks() -> None:
    """``action_masks()`` equals the last info's masks (MaskablePPO's convention)."""
    envs = native(6)
    envs.reset(seed=0)
    for _ in range(5):
        *_, info = envs.step(np.random.default_rng(0).integers(0, 4, 6))
        np.testing.assert_array_equal(envs.action_masks(), info["action_mask"])
        assert envs.action_masks().dtype == np.bool_
