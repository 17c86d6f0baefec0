"""The native vector env: Gymnasium semantics and equivalence with SyncVectorEnv."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode
from scipy import stats

import access_review_env.vector.env as vector_env_module
from access_review_env import (
    ENV_ID,
    OUTCOMES,
    RISK_ENV_ID,
    AccessReviewEnv,
    AccessReviewVectorEnv,
    InvalidActionError,
)

pytestmark = pytest.mark.env

LEVEL = 0.001
"""Significance level of the distribution tests (fixed seeds: a pass repeats)."""


def native(num_envs: int, env_id: str = ENV_ID, **kwargs: Any) -> Any:
    """``gym.make_vec`` in vector_entry_point mode."""
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )


def sync(num_envs: int, env_id: str = ENV_ID, **kwargs: Any) -> Any:
    """``gym.make_vec`` in sync mode, over ``gym.make`` with its wrappers."""
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)


def test_make_vec_returns_the_native_env_with_gymnasium_spaces() -> None:
    """The registered vector entry point builds our env, with batched spaces."""
    envs = native(8)
    assert isinstance(envs, AccessReviewVectorEnv)
    assert envs.single_observation_space == gym.spaces.Discrete(4)
    assert envs.single_action_space == gym.spaces.Discrete(4)
    assert envs.observation_space == gym.spaces.MultiDiscrete([4] * 8)
    assert envs.action_space == gym.spaces.MultiDiscrete([4] * 8)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.max_episode_steps == gym.spec(ENV_ID).max_episode_steps


def test_kwargs_reach_the_shared_table() -> None:
    """Env kwargs configure the same MDP the single env uses."""
    envs = native(4, abandonment_prob=1.0, rewards={"abandoned": -77.0})
    envs.reset(seed=0)
    _, reward, terminated, _, info = envs.step(np.ones(4, dtype=np.int64))
    assert reward.tolist() == [-77.0] * 4 and terminated.all()
    assert [OUTCOMES[code] for code in info["outcome"]] == ["abandoned"] * 4


@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("max_episode_steps", [3, 20])
def test_deterministic_dynamics_match_sync_vector_env_exactly(
    p: float, max_episode_steps: int
) -> None:
    """With no randomness left, every array equals SyncVectorEnv's, step by step.

    Random actions (invalid ones included) exercise termination, truncation by
    the time limit and NEXT_STEP autoreset.
    """
    n_envs = 16
    ours = native(n_envs, abandonment_prob=p, max_episode_steps=max_episode_steps)
    reference = sync(n_envs, abandonment_prob=p, max_episode_steps=max_episode_steps)
    observed, reference_obs = ours.reset(seed=0)[0], reference.reset(seed=0)[0]
    np.testing.assert_array_equal(observed, reference_obs)
    rng = np.random.default_rng(0)
    saw = {"terminated": 0, "truncated": 0}
    for _ in range(300):
        actions = rng.integers(0, 4, n_envs)
        a = ours.step(actions)
        b = reference.step(actions)
        for index in range(4):
            np.testing.assert_array_equal(a[index], b[index])
        np.testing.assert_array_equal(a[4]["action_mask"], b[4]["action_mask"])
        np.testing.assert_array_equal(a[4]["cost"], b[4]["cost"])
        np.testing.assert_array_equal(a[4]["invalid_action"], b[4]["invalid_action"])
        assert [OUTCOMES[c] for c in a[4]["outcome"]] == list(b[4]["outcome"])
        saw["terminated"] += int(a[2].sum())
        saw["truncated"] += int(a[3].sum())
    assert saw["terminated"] > 0
    assert saw["truncated"] > 0 or max_episode_steps == 20


def _episodes(envs: Any, n_steps: int, seed: int) -> dict[str, list[Any]]:
    """Roll a uniform random policy; collect episode and transition statistics."""
    n_envs = envs.num_envs
    observations, _ = envs.reset(seed=seed)
    # Gymnasium's np_random(seed) is default_rng(seed): a policy generator with
    # the env's seed would draw the very bits the env draws, correlating them.
    rng = np.random.default_rng([seed, 1])
    returns = np.zeros(n_envs)
    lengths = np.zeros(n_envs, dtype=int)
    resetting = np.zeros(n_envs, dtype=bool)
    record: dict[str, list[Any]] = {
        "returns": [],
        "lengths": [],
        "outcomes": [],
        "moves": [],
    }
    for _ in range(n_steps):
        actions = rng.integers(0, envs.single_action_space.n, n_envs)
        following, reward, terminated, truncated, info = envs.step(actions)
        names = envs.metadata.get("outcomes", OUTCOMES)
        outcomes = [
            code if isinstance(code, str) else names[code] for code in info["outcome"]
        ]
        for i in np.flatnonzero(~resetting):
            record["moves"].append(
                (int(observations[i]), int(actions[i]), int(following[i]))
            )
            returns[i] += reward[i]
            lengths[i] += 1
            if terminated[i] or truncated[i]:
                record["returns"].append(float(returns[i]))
                record["lengths"].append(int(lengths[i]))
                record["outcomes"].append(outcomes[i])
                returns[i], lengths[i] = 0.0, 0
        resetting = terminated | truncated
        observations = following
    return record


def _same_distribution(a: list[Any], b: list[Any]) -> float:
    """p-value of a chi-square test that two categorical samples share a law."""
    categories = sorted(set(a) | set(b), key=str)
    table = np.array(
        [[a.count(c) for c in categories], [b.count(c) for c in categories]]
    )
    table = table[:, table.sum(axis=0) >= 10]
    return float(stats.chi2_contingency(table).pvalue)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs", [{}, {"max_episode_steps": 2}, {"exploring_starts": True}]
)
def test_random_policy_statistics_match_sync_vector_env(kwargs: dict[str, Any]) -> None:
    """Returns, lengths, outcomes and transitions have the same distributions."""
    ours = _episodes(native(64, **kwargs), 1_500, seed=1)
    reference = _episodes(sync(64, **kwargs), 1_500, seed=2)
    for key in ("returns", "lengths", "outcomes", "moves"):
        assert _same_distribution(ours[key], reference[key]) > LEVEL, key


@pytest.mark.slow
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"exploring_starts": True},
        {"unjustified_share": 0.5, "max_episode_steps": 3},
    ],
)
def test_the_second_task_matches_sync_vector_env(kwargs: dict[str, Any]) -> None:
    """AccessReviewRisk-v0 (two start states, three-branch rows): same laws."""
    ours = _episodes(native(64, RISK_ENV_ID, **kwargs), 1_500, seed=3)
    reference = _episodes(sync(64, RISK_ENV_ID, **kwargs), 1_500, seed=4)
    for key in ("returns", "lengths", "outcomes", "moves"):
        assert _same_distribution(ours[key], reference[key]) > LEVEL, key


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
    assert info["action_mask"][0].tolist() == [1, 1, 1, 0]


def test_truncation_counts_steps_per_sub_env() -> None:
    """Each sub-env's time limit runs from its own reset."""
    envs = native(2, max_episode_steps=2)
    envs.reset(seed=0)
    assert envs.step(np.array([0, 3]))[3].tolist() == [False, False]
    assert envs.step(np.array([3, 3]))[3].tolist() == [False, True]
    assert envs.step(np.array([3, 3]))[3].tolist() == [False, False]
    assert envs.step(np.array([3, 3]))[3].tolist() == [True, False]


def test_info_follows_the_vector_convention() -> None:
    """Every key has a boolean _key array; masks are int8 (N, 4)."""
    envs = native(5)
    for info in (envs.reset(seed=0)[1], envs.step(np.zeros(5, dtype=np.int64))[4]):
        for key in ("action_mask", "cost", "outcome", "invalid_action"):
            assert info[f"_{key}"].dtype == bool and info[f"_{key}"].all()
        assert info["action_mask"].dtype == np.int8
        assert info["action_mask"].shape == (5, 4)
        assert info["cost"].dtype == np.float32


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
        (np.array([0, 4, 1]), ValueError, "action 4 is out of range"),
        (np.array([0, -1, 1]), ValueError, "action -1 is out of range"),
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


def test_same_seed_same_batch_of_trajectories(monkeypatch: pytest.MonkeyPatch) -> None:
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
    first = fresh.step(np.zeros(4, dtype=np.int64))[0]
    assert fresh.step(np.zeros(4, dtype=np.int64))[0] is not first
    first = reused.step(np.zeros(4, dtype=np.int64))[0]
    assert reused.step(np.zeros(4, dtype=np.int64))[0] is first


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
    assert info["action_mask"].tolist() == [[0, 0, 0, 1]] * 3


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
        ({"num_envs": 2, "threads": 0}, "threads"),
        ({"num_envs": 2, "render_mode": "ansi"}, "not supported by the vector env"),
        ({"num_envs": 2, "abandonment_prob": 2.0}, "abandonment_prob"),
    ],
)
def test_bad_constructor_arguments_are_rejected(
    kwargs: dict[str, Any], message: str
) -> None:
    """Bad arguments are errors naming the argument."""
    with pytest.raises(ValueError, match=message):
        AccessReviewVectorEnv(**kwargs)


def test_a_list_of_seeds_is_refused() -> None:
    """One generator serves every sub-env, so one int seed is the only seed."""
    with pytest.raises(TypeError, match="one int seed"):
        native(2).reset(seed=[1, 2])


def _allow_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``threads=2`` through on a one-core machine too.

    Results do not depend on the thread count, so these tests need not run on
    two cores.
    """
    monkeypatch.setattr(vector_env_module, "available_cores", lambda: 2)


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
        ({"seed": [1, 2]}, TypeError, "one int seed"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0, got -1"),
    ],
)
def test_a_rejected_reset_leaves_the_generator_and_needs_a_reset(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    """A rejected reset does not seed: the next good reset continues the generator.

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
    single = AccessReviewEnv(**kwargs)  # type: ignore[arg-type]
    single.reset(seed=0)
    assert rewards.dtype == np.float64
    assert rewards.tolist() == [single.step(1)[1]] * 3 == [reward] * 3
    reference = sync(3, **kwargs)
    reference.reset(seed=0)
    assert reference.step(np.ones(3, dtype=np.int64))[1].dtype == rewards.dtype


def test_threads_are_bounded_by_the_cores_available() -> None:
    """threads=2**40 (terabytes of chunk bounds) is an error naming the bound."""
    cores = vector_env_module.available_cores()
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
    ],
)
def test_flags_are_type_checked(kwargs: dict[str, Any], message: str) -> None:
    """A string such as 'False' is refused, not read as True."""
    with pytest.raises(TypeError, match=message):
        AccessReviewVectorEnv(2, **kwargs)


@pytest.mark.parametrize(
    "name", ["mdp", "exploring_starts", "max_episode_steps", "copy", "threads"]
)
def test_configuration_is_read_only(name: str) -> None:
    """The step table is compiled once, so its inputs cannot be reassigned."""
    envs = native(2)
    with pytest.raises(AttributeError):
        setattr(envs, name, getattr(envs, name))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (5, TypeError, r"options must be a dict \(allowed keys: start_state\) .*got 5"),
        (
            {"start_state": "closed"},
            ValueError,
            r"start_state 'closed' is not a non-terminal state; allowed: 0 "
            r"\(new_request\)",
        ),
    ],
)
def test_bad_reset_options_are_named_as_written(
    options: Any, error: type, message: str
) -> None:
    """Messages repeat the value the caller gave, not an internal index."""
    with pytest.raises(error, match=message):
        native(2).reset(options=options)


def _roll_both_paths(
    env_id: str, kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> list[list[Any]]:
    """The same seeded run through the compiled loop and through NumPy."""
    runs = []
    for compiled in (True, False):
        with monkeypatch.context() as patch:
            if not compiled:
                patch.setattr(vector_env_module, "_compiled_step", lambda: None)
            envs = native(97, env_id, **kwargs)
            n_actions = int(envs.single_action_space.n)
            rng = np.random.default_rng(5)
            observations, info = envs.reset(seed=3)
            run: list[Any] = [
                observations.copy(),
                {k: v.copy() for k, v in info.items()},
            ]
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
                run.append({k: v.copy() for k, v in info.items()})
            runs.append(run)
    return runs


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"exploring_starts": True},
        {"invalid_action": "raise"},
        {"max_episode_steps": 2, "copy": False},
        {"max_episode_steps": None, "abandonment_prob": 0.9},
    ],
)
def test_the_compiled_loop_and_numpy_return_the_same_bits(
    env_id: str, kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled loop returns exactly what the NumPy operations return.

    With numba installed, small batches step in one compiled loop; every
    array, dtype and info key equals the NumPy path's, refused steps included
    (they change nothing on either path).
    """
    if vector_env_module._compiled_step() is None:
        pytest.skip("needs numba (the fast extra)")
    compiled, plain = _roll_both_paths(env_id, kwargs, monkeypatch)
    for a, b in zip(compiled, plain, strict=True):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
                assert a[key].dtype == b[key].dtype
        else:
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype


def test_a_32_bit_generator_set_by_the_user_still_draws_every_sub_env() -> None:
    """With MT19937 as np_random, odd and even sub-envs abandon at the same rate p."""
    envs = native(4_000, abandonment_prob=0.5)
    envs.reset(seed=0)
    envs.np_random = np.random.Generator(np.random.MT19937(7))
    _, _, terminated, *_ = envs.step(np.ones(4_000, dtype=np.int64))
    for half in (terminated[0::2], terminated[1::2]):
        assert stats.binomtest(int(half.sum()), half.size, 0.5).pvalue > LEVEL
