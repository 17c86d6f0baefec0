"""Seeds that stand alone: each sub-env of the vector env draws from its own stream."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from scipy import stats

import access_review_env.vector.env as vector_env_module
from access_review_env import ENV_ID, QUEUE_ENV_ID, RISK_ENV_ID
from access_review_env.vector import kernels_numpy
from access_review_env.vector.streams import (
    GAMMA,
    mix64,
    stream_keys,
    uniforms,
)
from tests.access_review_env.vector_helpers import LEVEL, native

pytestmark = pytest.mark.env

TASKS = [
    (ENV_ID, {"max_episode_steps": 3, "exploring_starts": True}),
    (RISK_ENV_ID, {"autoreset_mode": AutoresetMode.SAME_STEP}),
    (QUEUE_ENV_ID, {"level": "tiny", "max_episode_steps": 9}),
]


def _sub_env(result: tuple[Any, ...], k: int) -> list[Any]:
    """Sub-env ``k``'s part of a step's arrays and info, its final info included."""
    *arrays, info = result
    part = [array[k] for array in arrays]
    ended = "final_info" in info and info["_final_info"][k]
    for key, value in info.items():
        if key == "final_info":
            if ended:
                part += [(f"final_{name}", v[k]) for name, v in value.items()]
        elif key not in ("final_obs", "_final_info", "_final_obs") or ended:
            part.append((key, value[k]))
    return part


def _assert_same(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, tuple):
            assert x[0] == y[0]
            np.testing.assert_array_equal(x[1], y[1], err_msg=x[0])
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("env_id", "kwargs"), TASKS)
def test_a_sub_env_steps_alike_alone_and_in_a_batch_of_1000(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    """Seed s at position k of 1,000 sub-envs equals seed s alone, bit for bit."""
    seeds = list(range(10_000, 11_000))
    batch = native(1_000, env_id, **kwargs)
    batch_start = batch.reset(seed=seeds)
    n_actions = int(batch.single_action_space.n)
    actions = np.random.default_rng(0).integers(0, n_actions, (200, 1_000))
    batch_run = [batch.step(step_actions) for step_actions in actions]
    for k in (0, 1, 517, 999):
        alone = native(1, env_id, **kwargs)
        _assert_same(
            _sub_env(alone.reset(seed=[seeds[k]]), 0), _sub_env(batch_start, k)
        )
        for step_actions, result in zip(actions, batch_run, strict=True):
            _assert_same(
                _sub_env(alone.step(step_actions[k : k + 1]), 0), _sub_env(result, k)
            )


def test_the_numpy_path_gives_a_sub_env_the_same_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without numba a seed's trajectory is the same: the streams are one function."""
    seeds = [3, 99, 2**64 - 1]
    actions = np.random.default_rng(1).integers(0, 16, (60, 3))
    runs = []
    for use_numpy in (False, True):
        with monkeypatch.context() as patch:
            if use_numpy:
                patch.setattr(vector_env_module, "step_kernels", lambda: kernels_numpy)
            envs = native(3, QUEUE_ENV_ID, level="tiny", max_episode_steps=7)
            envs.reset(seed=seeds)
            runs.append([envs.step(a)[:4] for a in actions])
    for a, b in zip(*runs, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_an_int_seed_is_the_list_of_consecutive_seeds() -> None:
    """As in SyncVectorEnv, reset(seed=s) seeds sub-env k with s + k."""
    envs, twin = native(50, exploring_starts=True), native(50, exploring_starts=True)
    np.testing.assert_array_equal(
        envs.reset(seed=7)[0], twin.reset(seed=list(range(7, 57)))[0]
    )
    assert envs.seeds.tolist() == list(range(7, 57))
    actions = np.random.default_rng(0).integers(0, 4, 50)
    for a, b in zip(envs.step(actions)[:4], twin.step(actions)[:4], strict=True):
        np.testing.assert_array_equal(a, b)


def test_reset_without_a_seed_continues_every_stream() -> None:
    """reset() draws each start from where its stream stands; reseeding repeats."""
    envs = native(2_000, exploring_starts=True)
    first = envs.reset(seed=1)[0].copy()
    second = envs.reset()[0].copy()
    assert (first != second).mean() > 0.5
    np.testing.assert_array_equal(envs.reset(seed=1)[0], first)
    np.testing.assert_array_equal(envs.reset()[0], second)


def test_none_in_a_list_draws_a_fresh_seed_for_that_sub_env() -> None:
    """None seeds one sub-env from the OS; the others keep theirs."""
    envs = native(3)
    envs.reset(seed=[5, None, 6])
    seeds = envs.seeds
    assert seeds[0] == 5 and seeds[2] == 6
    envs.reset(seed=[5, None, 6])
    assert envs.seeds[1] != seeds[1]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (2**64 - 2, r"seed must be an integer in \[0, 2\*\*64 - 3\]"),
        ([0, 1, 2**64], r"seed\[2\] must be in \[0, 2\*\*64\)"),
        ([0, 1, True], r"seed\[2\] must be one of integers"),
        (np.array([0.5, 1.0, 2.0]), "seed must be an int, None or integers"),
    ],
)
def test_seeds_outside_64_bits_are_refused(seed: Any, message: str) -> None:
    """Seeds are integers in [0, 2**64): an int seed's last sub-env's included."""
    with pytest.raises((ValueError, TypeError), match=message):
        native(3).reset(seed=seed)


def test_mix64_is_splitmix64s_output_function() -> None:
    """SplitMix64 seeded with 0 first outputs 0xE220A8397B1DCDAF (its reference)."""
    assert mix64(np.array([GAMMA], dtype=np.uint64))[0] == 0xE220A8397B1DCDAF


def test_streams_are_uniform_and_uncorrelated() -> None:
    """1,000 consecutive seeds x 1,000 draws: uniform, and no pair is related.

    Kolmogorov-Smirnov on all draws; chi-square of 16 x 16 cells on pairs of
    consecutive draws of a stream and on pairs of neighbouring seeds' draws at
    the same counter; each at level LEVEL.
    """
    keys = stream_keys(np.arange(1_000, dtype=np.uint64))
    counters = np.arange(1_000, dtype=np.uint64)
    u = uniforms(np.repeat(keys, counters.size), np.tile(counters, keys.size)).reshape(
        1_000, 1_000
    )
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u.reshape(-1), "uniform").pvalue > LEVEL
    for first, second in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:])):
        cells = (first * 16).astype(int) * 16 + (second * 16).astype(int)
        counts = np.bincount(cells.reshape(-1), minlength=256)
        assert stats.chisquare(counts).pvalue > LEVEL


def test_the_compiled_draw_is_the_numpy_draw() -> None:
    """The compiled scalar draw returns the bits of the vectorized one."""
    kernels = vector_env_module.step_kernels()
    if kernels is kernels_numpy:
        pytest.skip("needs numba (the fast extra)")
    seeds = np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64)
    streams = np.zeros((2, 4), dtype=np.uint64)
    streams[0] = stream_keys(seeds)
    streams[1] = [0, 5, 2**40, 2**64 - 2]
    expected = uniforms(streams[0], streams[1])
    drawn = [kernels._draw(streams, np.uint64(k)) for k in range(4)]
    np.testing.assert_array_equal(drawn, expected)
    assert streams[1].tolist() == [1, 6, 2**40 + 1, 2**64 - 1]
