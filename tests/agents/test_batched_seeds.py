"""Seeds that stand alone: a batched seed's results depend on its own seed only.

Every built-in batched agent (Q-learning on the fused, numba and NumPy
backends; REINFORCE on numba and NumPy) must give seed 17 the same tables,
visits, masks, logs, checkpoints and snapshots, bit for bit, whether it
trains alone or among other seeds; and the fused loop must give the lockstep
path's results for the same seeds, bit for bit, on every task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, QUEUE_ENV_ID, QUEUE_LEVELS, RISK_ENV_ID
from agents.benchmark.fanout import run_tasks
from agents.learners.batched import (
    BatchedQLearning,
    BatchedReinforce,
    numba_available,
    resolve_backend,
    train_q_learning_batched,
    train_reinforce_batched,
)
from agents.learners.batched.streams import learner_keys
from tests.agents.test_batched_learners import make_vec

needs_numba = pytest.mark.skipif(
    not numba_available(), reason="needs the fast extra (numba)"
)
with_numba = [needs_numba]

AGENTS = [
    pytest.param(train_q_learning_batched, "fused", marks=with_numba, id="q-fused"),
    pytest.param(train_q_learning_batched, "numba", marks=with_numba, id="q-numba"),
    pytest.param(train_q_learning_batched, "numpy", id="q-numpy"),
    pytest.param(
        train_reinforce_batched, "numba", marks=with_numba, id="reinforce-numba"
    ),
    pytest.param(train_reinforce_batched, "numpy", id="reinforce-numpy"),
]
TASKS = [
    pytest.param(ENV_ID, {}, 60, id="access-review"),
    pytest.param(
        ENV_ID,
        {"exploring_starts": True, "max_episode_steps": 3, "abandonment_prob": 0.3},
        60,
        id="access-review-limit-3",
    ),
    pytest.param(RISK_ENV_ID, {"exploring_starts": True}, 60, id="risk"),
    pytest.param(QUEUE_ENV_ID, {"level": "tiny"}, 12, id="queue-tiny"),
]
CHECKPOINTS = [0, 5, 12]


def seed_records(
    result: BatchedQLearning | BatchedReinforce, k: int
) -> dict[str, np.ndarray]:
    """Everything a batched run keeps of learner ``k``."""
    log = result.log
    records = {
        "tables": result.tables[k],
        "valid_seen": result.valid_seen[k],
        "seed": result.seeds[k : k + 1],
        "episodes": log.episodes[k : k + 1],
        "return_sum": log.return_sum[k : k + 1],
        "discounted_return_sum": log.discounted_return_sum[k : k + 1],
        "length_sum": log.length_sum[k : k + 1],
        "checkpoint_return_sum": log.checkpoint_return_sum[:, k],
        "checkpoint_discounted_return_sum": log.checkpoint_discounted_return_sum[:, k],
        "checkpoint_length_sum": log.checkpoint_length_sum[:, k],
        "snapshots": log.snapshots[:, k],
    }
    for name in ("returns", "discounted_returns", "lengths"):
        curve = getattr(log, name)
        if curve is not None:  # as wide as the batch's largest budget
            records[name] = curve[k, : log.episodes[k]]
    if isinstance(result, BatchedQLearning):
        records["visits"] = result.visits[k]
    else:
        records["baseline"] = result.baseline[k]
    return records


def assert_same_seed(
    first: BatchedQLearning | BatchedReinforce,
    k: int,
    second: BatchedQLearning | BatchedReinforce,
    m: int,
) -> None:
    """Learner ``k`` of ``first`` and learner ``m`` of ``second`` are equal bits."""
    a, b = seed_records(first, k), seed_records(second, m)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize(("train", "backend"), AGENTS)
@pytest.mark.parametrize(("env_id", "env_kwargs", "budget"), TASKS)
def test_a_seed_alone_equals_the_same_seed_among_seven(
    train: Callable[..., Any],
    backend: str,
    env_id: str,
    env_kwargs: dict[str, Any],
    budget: int,
) -> None:
    """K = 1 against K = 7: seed 17's records are the same bits at position 2.

    The other seeds span the range (0 and 2**64 - 1 included); full curves,
    three checkpoints and table snapshots are compared.
    """
    settings = {
        "checkpoints": CHECKPOINTS,
        "record_curves": True,
        "backend": backend,
    }
    alone = train(make_vec(1, env_id, **env_kwargs), budget, seeds=[17], **settings)
    among = train(
        make_vec(7, env_id, **env_kwargs),
        budget,
        seeds=[5, 2**64 - 1, 17, 0, 18, 16, 123_456_789],
        **settings,
    )
    assert alone.backend == among.backend == backend
    assert_same_seed(alone, 0, among, 2)


@pytest.mark.parametrize(("train", "backend"), AGENTS)
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_seed_17_alone_equals_seed_17_in_a_batch_of_1000(
    train: Callable[..., Any], backend: str, env_id: str
) -> None:
    """Seeds 0 .. 999 shuffled (17 at position 731) against seed 17 alone.

    Budgets differ per learner in the batch (10 to 109 episodes), so the
    batch runs on long after seed 17 has finished its 60 episodes.
    """
    order = np.random.default_rng(0).permutation(1_000)
    order[[np.flatnonzero(order == 17)[0], 731]] = order[
        [731, np.flatnonzero(order == 17)[0]]
    ]
    assert order[731] == 17
    budgets = 10 + order % 100
    budgets[731] = 60
    kwargs = {"exploring_starts": True}
    alone = train(
        make_vec(1, env_id, **kwargs),
        60,
        seeds=[17],
        checkpoints=[0, 10],
        record_curves=True,
        backend=backend,
    )
    batch = train(
        make_vec(1_000, env_id, **kwargs),
        budgets,
        seeds=order,
        checkpoints=[0, 10],
        record_curves=True,
        backend=backend,
    )
    assert_same_seed(alone, 0, batch, 731)


def seed_17_records(seeds: tuple[int, ...]) -> dict[str, list[Any]]:
    """Seed 17's records when trained with ``seeds`` (a task of the workers)."""
    result = train_q_learning_batched(
        make_vec(len(seeds), RISK_ENV_ID, exploring_starts=True),
        40,
        seeds=list(seeds),
        checkpoints=[0, 20],
        record_curves=True,
    )
    records = seed_records(result, seeds.index(17))
    return {name: array.tolist() for name, array in records.items()}


@pytest.mark.processes
@pytest.mark.parametrize(
    "fan_out",
    [
        pytest.param({"jobs": 2}, id="jobs-2"),
        pytest.param(
            {"jobs": 2, "ray_address": "local"}, marks=pytest.mark.ray, id="ray"
        ),
    ],
)
def test_seed_17_is_the_same_in_worker_processes_and_on_ray(
    fan_out: dict[str, Any],
) -> None:
    """Seed 17 alone here equals seed 17 in three batches run by workers."""
    alone = seed_17_records((17,))
    batches = [(17,), (3, 17, 99), (2**64 - 1, 0, 17)]
    results = run_tasks(seed_17_records, batches, **fan_out)
    for result in results:
        assert result.ok, result.failure
        assert result.value == alone


def test_an_int_seed_seeds_learner_k_with_seed_plus_k() -> None:
    """seeds=s means s, s + 1, ...: learner 1 of seeds=16 is seed 17 alone."""
    first = train_q_learning_batched(make_vec(3), 20, seeds=16, backend="numpy")
    second = train_q_learning_batched(make_vec(1), 20, seeds=[17], backend="numpy")
    assert first.seeds.tolist() == [16, 17, 18]
    assert_same_seed(first, 1, second, 0)


def test_learner_keys_differ_from_the_sub_envs_keys() -> None:
    """A learner's stream is another stream than its sub-env's, for one seed."""
    from access_review_env.vector.streams import stream_keys

    seeds = np.arange(1_000, dtype=np.uint64)
    keys = learner_keys(seeds)
    assert np.unique(keys).size == seeds.size
    assert not np.isin(keys, stream_keys(seeds)).any()


def test_seeds_drawn_from_a_generator_reproduce_with_it() -> None:
    """rng= draws the K seeds, kept in result.seeds; rerunning them repeats."""
    drawn = train_q_learning_batched(
        make_vec(4), 30, rng=np.random.default_rng(5), backend="numpy"
    )
    again = train_q_learning_batched(
        make_vec(4), 30, seeds=drawn.seeds, backend="numpy"
    )
    np.testing.assert_array_equal(drawn.q_tables, again.q_tables)
    assert np.unique(drawn.seeds).size == 4
    assert len({table.tobytes() for table in drawn.q_tables}) == 4


class _Recorder:
    """Keeps, per learner, every episode count and table it was shown."""

    def __init__(self) -> None:
        self.started: np.ndarray | None = None
        self.seen: dict[int, list[tuple[int, np.ndarray]]] = {}

    def start(self, tables: np.ndarray) -> None:
        self.started = tables.copy()

    def episodes_ended(
        self, learners: np.ndarray, episodes: np.ndarray, tables: np.ndarray
    ) -> None:
        for k, e in zip(learners.tolist(), episodes.tolist(), strict=True):
            self.seen.setdefault(k, []).append((e, tables[k].copy()))


@needs_numba
@pytest.mark.parametrize(("env_id", "env_kwargs", "budget"), TASKS)
@pytest.mark.parametrize("threads", [1, 2])
def test_the_fused_loop_gives_the_lockstep_results_bit_for_bit(
    env_id: str, env_kwargs: dict[str, Any], budget: int, threads: int
) -> None:
    """Fused against lockstep (numba and NumPy), 9 seeds of different budgets.

    Tables, visits, masks, curves, sums, checkpoints, snapshots and the
    number of batched steps are equal, and an observer sees every learner's
    episode ends with the same tables.
    """
    budgets = budget + np.arange(9) % 4
    results, recorders = {}, {}
    for backend in ("fused", "numba", "numpy"):
        recorders[backend] = _Recorder()
        results[backend] = train_q_learning_batched(
            make_vec(9, env_id, **env_kwargs),
            budgets,
            seeds=np.arange(100, 109),
            checkpoints=CHECKPOINTS,
            record_curves=True,
            backend=backend,
            threads=1 if backend == "numpy" else threads,
            observer=recorders[backend],
        )
    fused = results["fused"]
    assert fused.backend == "fused"
    for backend in ("numba", "numpy"):
        other = results[backend]
        for k in range(9):
            assert_same_seed(fused, k, other, k)
        assert fused.n_steps == other.n_steps
        assert recorders[backend].seen.keys() == recorders["fused"].seen.keys()
        for k, ends in recorders["fused"].seen.items():
            expected = recorders[backend].seen[k]
            assert [e for e, _ in ends] == [e for e, _ in expected]
            for (_, table), (_, reference) in zip(ends, expected, strict=True):
                np.testing.assert_array_equal(table, reference)


@needs_numba
def test_the_fused_loop_grows_its_step_sizes_as_the_lockstep_path() -> None:
    """Over 4,096 updates per learner: the step-size table (1,024) grows twice.

    The fused loop stops a learner whose next update could count past the
    table, and resumes it after the table grew: the same bits as the lockstep
    path, which grows the table between batched steps.
    """
    fused, lockstep = (
        train_q_learning_batched(make_vec(3), 3_000, seeds=[1, 2, 3], backend=backend)
        for backend in ("fused", "numba")
    )
    assert fused.log.length_sum.min() > 4_096
    for k in range(3):
        assert_same_seed(fused, k, lockstep, k)


@needs_numba
def test_auto_picks_the_fused_loop_where_it_applies() -> None:
    """The native env: fused; a wrapped or Sync env, or REINFORCE: numba."""
    assert resolve_backend("auto", make_vec(2)) == "fused"
    wrapped = gym.wrappers.vector.RecordEpisodeStatistics(make_vec(2))
    assert resolve_backend("auto", wrapped) == "numba"
    sync = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync")
    assert resolve_backend("auto", sync) == "numba"
    features = make_vec(2, QUEUE_ENV_ID, level="tiny", observation="features")
    assert resolve_backend("auto", features) == "numba"
    assert resolve_backend("auto", make_vec(2), fused=False) == "numba"
    result = train_reinforce_batched(make_vec(2), 3, seeds=0)
    assert result.backend == "numba"


@needs_numba
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: train_q_learning_batched(
                gym.wrappers.vector.RecordEpisodeStatistics(make_vec(2)),
                3,
                seeds=0,
                backend="fused",
            ),
            "needs the native vector env unwrapped.*RecordEpisodeStatistics",
        ),
        (
            lambda: train_reinforce_batched(make_vec(2), 3, seeds=0, backend="fused"),
            "this learner has no fused loop",
        ),
    ],
)
def test_the_fused_backend_says_why_it_cannot_run(
    call: Callable[[], Any], message: str
) -> None:
    """backend='fused' where it cannot run: ValueError naming the reason."""
    with pytest.raises(ValueError, match=message):
        call()


QUEUE_LEVEL_PARAMS = [
    pytest.param(level, marks=[pytest.mark.slow, pytest.mark.expensive])
    if QUEUE_LEVELS[level].n_states > 100_000
    else level
    for level in QUEUE_LEVELS
]
"""The large and xlarge levels take 10 to 25 s to build: ``-m expensive``."""


@pytest.mark.parametrize("level", QUEUE_LEVEL_PARAMS)
def test_q_learning_trains_on_every_queue_level(level: str) -> None:
    """The state index of every level, two seeds, two episodes of 200 steps.

    Each seed's visits count its 400 updates; only the states it met are
    marked seen.
    """
    result = train_q_learning_batched(
        make_vec(2, QUEUE_ENV_ID, level=level), 2, seeds=[3, 4]
    )
    n_states = QUEUE_LEVELS[level].n_states
    assert result.q_tables.shape == (2, n_states, 16)
    np.testing.assert_array_equal(result.visits.sum(axis=(1, 2)), [400, 400])
    np.testing.assert_array_equal(result.log.length_sum, [400, 400])
    assert 0 < result.valid_seen.any(axis=2).sum(axis=1).max() <= 402


@pytest.mark.parametrize("train", [train_q_learning_batched, train_reinforce_batched])
def test_queue_learners_that_would_not_fit_are_refused_with_the_estimate(
    train: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """K x S x A tables of the medium level against a 256 MiB limit: refused first.

    64 learners of 46,305 states x 16 actions hold 47 million table entries
    each of Q values and visit counts (logits for REINFORCE) and masks: more
    than the limit, refused before anything is allocated, naming the estimate.
    """
    monkeypatch.setattr(
        "agents.common.memory.memory_limit", lambda: (1 << 28, "this test's limit")
    )
    with pytest.raises(
        MemoryError, match="64 learners of 46305 states x 16 actions"
    ) as error:
        train(make_vec(64, QUEUE_ENV_ID, level="medium"), 5, seeds=0)
    assert "more than the 256.0 MiB available (this test's limit)" in str(error.value)
