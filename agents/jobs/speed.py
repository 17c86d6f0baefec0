"""Side-by-side speed ratios for access-review-env, measured in one run.

Every row times two contenders alternately, ``--repeats`` times each, and
reports the medians and their ratio, so the machine's load affects both alike.
Throughput counts calls to ``step`` (for a vector env: calls times ``num_envs``,
reset slots included; see the table's notes). A second table times the
offline pipeline once on 1,000,000 logged requests against absolute targets
(with the ``offline`` extra; else one line says it was skipped). The batched
Q-learning rows count seeds trained per second, 20,000 episodes each, against
the scalar learner on one seed, in wall-clock time and in CPU time (with the
load average around them); a lockstep row that misses its target is followed
by a profile. The agent benchmark's rows time a reduced suite serially against
``--jobs 2`` (and, with the ``ray`` extra, against Ray tasks), in runs per
second, with the cores the worker processes actually got.

    access-review speed                 # full run, writes runs/speed.json
    access-review speed --quick         # small budgets, for smoke tests
    access-review speed --fan-out-only  # the agent benchmark's rows alone
    access-review speed --batched-only  # the batched Q-learning rows alone
    access-review speed --queue-only    # the queue's exact solve and vector env

The queue rows time the exact solve of the largest level (the model's build,
its peak memory, ours beside a stacked-CSR SciPy loop and pymdptoolbox's
``FiniteHorizon`` on the same matrices) and its native vector env against
``SyncVectorEnv`` at N = 1,024.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gymnasium as gym
import numpy as np

import access_review_env
from access_review_env import TERMINAL_STATE, AccessReviewMDP
from agents.benchmark import fanout_speed
from agents.common.markdown_table import markdown_table
from agents.common.optional import available, install_hint
from agents.common.ray_session import RAY_INSTALL
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output, write_outputs
from agents.jobs.speed_baselines import bare_q_learning, lesson_style_q_learning
from agents.jobs.speed_rows import Row, median_rates, vector_rate
from agents.jobs.speed_solver import (
    SolverSpeed,
    format_solver_speed,
    queue_model,
    solver_speed,
)
from agents.jobs.speed_vector import queue_vector_row
from agents.learners import train_q_learning
from agents.learners.batched import (
    Backend,
    BatchedQLearning,
    numba_available,
    train_q_learning_batched,
)
from agents.persistence import run_metadata
from agents.planning import value_iteration


@dataclass
class Config:
    """Budgets of one benchmark run."""

    repeats: int = 5
    """Timed repeats per contender; the table shows medians."""
    env_steps: int = 200_000
    """Steps per repeat for the single-env rows."""
    q_episodes: int = 20_000
    """Episodes per Q-learning run (the lesson's budget)."""
    vi_solves: int = 2_000
    """Value-iteration solves per repeat."""
    vector_sizes: tuple[int, ...] = (2**10, 2**14, 2**17, 2**20)
    """Batch sizes of the native vector env's throughput rows."""
    vector_steps: int = 20
    """Batched steps per repeat of the vector rows."""
    sync_envs: int = 1_024
    """Batch size of the native-against-SyncVectorEnv row."""
    offline_requests: int = 1_000_000
    """Logged requests of the offline speed rows."""
    batched_sizes: tuple[int, ...] = (1_024, 16_384)
    """Seeds K of the batched Q-learning rows."""
    batched_episodes: int = 20_000
    """Episodes per seed of the batched rows (numba), and of the scalar baseline."""
    numpy_episodes: int = 2_000
    """Episodes per seed of the NumPy-kernel rows, scaled to ``batched_episodes``
    (training time is linear in episodes)."""
    batched_repeats: int = 3
    """Timed repeats of each batched row and of the scalar run between them."""
    batched_threads: tuple[int, ...] = (1, 2)
    """Thread counts of the fused rows (the lockstep rows run on one)."""
    profile_episodes: int = 2_000
    """Episodes per seed of the profile printed when a target is missed."""
    fan_out_agents: tuple[str, ...] = fanout_speed.AGENTS
    """Agents of the agent benchmark's reduced suite (every configuration)."""
    fan_out_seeds: int = 4
    """Seeds per agent and configuration of the reduced suite."""
    fan_out_episodes: int = 200
    """Monte Carlo episodes per score of the reduced suite."""
    fan_out_jobs: int = 2
    """Worker processes (and CPUs of the local Ray) against the serial run."""
    fan_out_repeats: int = 3
    """Rounds of the fan-out rows, each backend once a round."""
    fan_out_only: bool = False
    """Run the fan-out rows alone (e.g. in a venv with the ray extra)."""
    queue_level: str = "xlarge"
    """The queue level of the exact-solve comparison and of the queue vector
    row (the largest by default)."""
    queue_envs: int = 1_024
    """Sub-envs of the queue vector row."""
    queue_only: bool = False
    """Run the queue rows alone (the exact solve and the vector env)."""
    batched_only: bool = False
    """Run the batched Q-learning rows alone."""
    output: Path = Path("runs/speed.json")
    """Where the JSON record goes."""


def single_env_rate(env_id: str, n_steps: int, seed: int = 0) -> float:
    """Steps per second of ``gym.make(env_id)`` under uniformly random actions."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(seed).integers(0, n_actions, n_steps).tolist()
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return n_steps / elapsed


def env_vs_frozen_lake(config: Config) -> Row:
    """``gym.make("AccessReview-v0")`` against ``gym.make("FrozenLake-v1")``."""
    rates = median_rates(
        {
            "ours": lambda: single_env_rate(access_review_env.ENV_ID, config.env_steps),
            "frozen_lake": lambda: single_env_rate("FrozenLake-v1", config.env_steps),
        },
        config.repeats,
    )
    return Row(
        name="gym.make step, random actions",
        unit="steps/s",
        ours=statistics.median(rates["ours"]),
        baseline=statistics.median(rates["frozen_lake"]),
        baseline_name='gym.make("FrozenLake-v1")',
        target=">= 5x",
        samples=rates,
    )


def timed_rate(work: Callable[[], object], units: int) -> float:
    """Units of work per second of one call of ``work``."""
    start = time.perf_counter()
    work()
    return units / (time.perf_counter() - start)


def q_learning_rows(config: Config) -> list[Row]:
    """Q-learning through ``gym.make`` against bare loops, and the env-call floor."""
    n = config.q_episodes

    def ours() -> float:
        env = gym.make(access_review_env.ENV_ID)
        return timed_rate(
            lambda: train_q_learning(env, n, rng=np.random.default_rng(13)), n
        )

    def env_calls_only() -> float:
        env = gym.make(access_review_env.ENV_ID)
        env.reset(seed=0)

        def episodes() -> None:
            for _ in range(n):
                env.reset()
                env.step(2)
                env.step(3)

        return timed_rate(episodes, n)

    rates = median_rates(
        {
            "ours": ours,
            "lesson_style": lambda: timed_rate(
                lambda: lesson_style_q_learning(n, 13), n
            ),
            "tuned_bare": lambda: timed_rate(lambda: bare_q_learning(n, 13), n),
            "env_calls_only": env_calls_only,
        },
        config.repeats,
    )
    med = {name: statistics.median(values) for name, values in rates.items()}
    return [
        Row(
            name=f"Q-learning, {n:,} episodes via gym.make",
            unit="episodes/s",
            ours=med["ours"],
            baseline=med["lesson_style"],
            baseline_name="bare dict loop, lesson style",
            samples={k: rates[k] for k in ("ours", "lesson_style")},
        ),
        Row(
            name=f"Q-learning, {n:,} episodes via gym.make",
            unit="episodes/s",
            ours=med["ours"],
            baseline=med["tuned_bare"],
            baseline_name="bare dict loop, tuned",
            samples={k: rates[k] for k in ("ours", "tuned_bare")},
        ),
        Row(
            name="floor: reset + 2 steps via gym.make, no learning",
            unit="episodes/s",
            ours=med["env_calls_only"],
            baseline=med["lesson_style"],
            baseline_name="bare dict loop, lesson style",
            samples={k: rates[k] for k in ("env_calls_only", "lesson_style")},
        ),
    ]


BATCHED_TARGETS = {1_024: 50.0, 16_384: 100.0}
"""The target ratios of batched to scalar seeds per second, by K."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds (every thread of this process) of one run."""

    wall: float
    cpu: float


def timed(work: Callable[[], object]) -> tuple[Timing, object]:
    """Run ``work``; its :class:`Timing` and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), value


def scalar_seconds(n_episodes: int, seed: int) -> Timing:
    """The time of one ``train_q_learning`` run through ``gym.make``: one seed."""
    env = gym.make(access_review_env.ENV_ID)
    timing, _ = timed(
        lambda: train_q_learning(env, n_episodes, rng=np.random.default_rng(seed))
    )
    return timing


def _batched_envs(num_envs: int) -> gym.vector.VectorEnv:
    """The native vector env with reused buffers, as the batched learners use it."""
    return gym.make_vec(
        access_review_env.ENV_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        copy=False,
    )


def batched_run(
    num_envs: int, n_episodes: int, backend: Backend, threads: int, seed: int
) -> tuple[Timing, BatchedQLearning]:
    """The time of one batched run of seeds ``seed .. seed + num_envs - 1``."""
    envs = _batched_envs(num_envs)
    timing, result = timed(
        lambda: train_q_learning_batched(
            envs, n_episodes, seeds=seed, backend=backend, threads=threads
        )
    )
    assert isinstance(result, BatchedQLearning)
    return timing, result


def _megabytes(result: BatchedQLearning) -> float:
    """MiB of the arrays a batched result holds (tables and per-seed logs)."""
    arrays = [
        getattr(holder, f.name)
        for holder in (result, result.log)
        for f in dataclasses.fields(holder)
    ]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray)) / 2**20


@dataclass
class BatchedProfile:
    """Where a batched run's time goes (see :func:`profile_batched`)."""

    num_envs: int
    n_episodes: int
    seconds: float
    shares: dict[str, float]
    top: list[str]


def profile_batched(num_envs: int, n_episodes: int, backend: Backend) -> BatchedProfile:
    """Split a lockstep run's time: the env's ``step``, the kernel, the rest.

    The learners' draws are part of the kernel.
    """
    batched_run(8, 2, backend, 1, seed=0)  # compile or load the kernels
    envs = _batched_envs(num_envs)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    train_q_learning_batched(envs, n_episodes, seeds=1, backend=backend)
    profiler.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    parts = {"env step": 0.0, "kernel": 0.0}
    for (filename, _, name), entry in entries.items():
        if name == "step" and filename.endswith(os.path.join("vector", "env.py")):
            parts["env step"] += entry[3]
        elif name == "q_learning_step" and "kernels" in filename:
            parts["kernel"] += entry[3]
    parts["Python loop and the rest"] = max(0.0, total - sum(parts.values()))
    top = sorted(entries.items(), key=lambda item: -item[1][2])[:6]
    return BatchedProfile(
        num_envs=num_envs,
        n_episodes=n_episodes,
        seconds=total,
        shares={name: value / total for name, value in parts.items()},
        top=[
            f"{entry[2]:.3f} s own time, {entry[1]:,} calls: "
            f"{Path(f).name}:{line} {name}"
            for (f, line, name), entry in top
        ],
    )


def batched_backends(config: Config) -> list[tuple[Backend, int]]:
    """The (backend, threads) of the batched rows: fused, lockstep numba, NumPy."""
    backends: list[tuple[Backend, int]] = []
    if numba_available():
        backends += [("fused", threads) for threads in config.batched_threads]
        backends.append(("numba", 1))
    backends.append(("numpy", 1))
    return backends


def batched_rows(
    config: Config,
) -> tuple[list[Row], list[BatchedProfile], list[str]]:
    """Batched Q-learning against the scalar learner, in seeds per second.

    Each batched run is timed between two scalar runs (one seed, the same
    episodes), ``batched_repeats`` times; the rows compare medians of
    wall-clock time, and their names give the ratio of medians of CPU time
    (every thread's). The NumPy kernel runs ``numpy_episodes`` per seed,
    scaled. A lockstep numba row that misses its target is followed by a
    profile of a shorter run.

    Returns:
        The rows, the profiles, and a note with the load average before and
        after the runs.
    """
    backends = batched_backends(config)
    for backend, threads in backends:
        batched_run(8, 2, backend, threads, seed=0)  # compile or load first
    load_before = fanout_speed.load_average()
    scalar: list[Timing] = []
    samples: dict[tuple[int, Backend, int], list[Timing]] = {}
    megabytes: dict[int, float] = {}
    for _ in range(config.batched_repeats):
        for num_envs in config.batched_sizes:
            for backend, threads in backends:
                scalar.append(scalar_seconds(config.batched_episodes, len(scalar)))
                episodes = (
                    config.numpy_episodes
                    if backend == "numpy"
                    else config.batched_episodes
                )
                timing, result = batched_run(
                    num_envs, episodes, backend, threads, seed=len(scalar)
                )
                scale = config.batched_episodes / episodes
                samples.setdefault((num_envs, backend, threads), []).append(
                    Timing(timing.wall * scale, timing.cpu * scale)
                )
                megabytes[num_envs] = _megabytes(result)
    scalar.append(scalar_seconds(config.batched_episodes, len(scalar)))
    load_after = fanout_speed.load_average()
    scalar_wall = statistics.median(t.wall for t in scalar)
    scalar_cpu = statistics.median(t.cpu for t in scalar)
    rows, profiles = [], []
    for (num_envs, backend, threads), timings in samples.items():
        target = BATCHED_TARGETS.get(num_envs)
        kernel = {
            "numpy": "NumPy lockstep",
            "numba": "numba lockstep, 1 thread",
        }.get(backend, f"fused, {threads} thread" + ("s" if threads > 1 else ""))
        scaled = (
            f", {config.numpy_episodes:,} episodes scaled" if backend == "numpy" else ""
        )
        cpu_ratio = scalar_cpu * num_envs / statistics.median(t.cpu for t in timings)
        row = Row(
            name=(
                f"batched Q-learning, K = {num_envs:,}, {kernel}{scaled} "
                f"(CPU-time ratio {cpu_ratio:.1f}x; result arrays "
                f"{megabytes[num_envs]:.1f} MiB)"
            ),
            unit="seeds/s",
            ours=num_envs / statistics.median(t.wall for t in timings),
            baseline=1.0 / scalar_wall,
            baseline_name=(
                f"train_q_learning via gym.make, 1 seed, "
                f"{config.batched_episodes:,} episodes"
            ),
            target="" if target is None else f">= {target:.0f}x",
            samples={
                "batched_seconds": [t.wall for t in timings],
                "batched_cpu_seconds": [t.cpu for t in timings],
                "scalar_seconds": [t.wall for t in scalar],
                "scalar_cpu_seconds": [t.cpu for t in scalar],
            },
        )
        if target is not None:
            row.target += " met" if row.ratio >= target else " MISSED"
        rows.append(row)
        if target is not None and row.ratio < target and backend == "numba":
            profiles.append(profile_batched(num_envs, config.profile_episodes, backend))
    note = (
        f"Batched Q-learning rows: load average {load_before:.2f} before, "
        f"{load_after:.2f} after; {os.cpu_count()} cores"
    )
    return rows, profiles, [note]


def print_profiles(profiles: Sequence[BatchedProfile]) -> None:
    """Each missed target's profile: the time split and the costliest functions."""
    for found in profiles:
        print(
            f"\nK = {found.num_envs:,}: target missed; profile of "
            f"{found.n_episodes:,} episodes per seed ({found.seconds:.2f} s "
            "under cProfile):"
        )
        for name, share in found.shares.items():
            print(f"  {name:<32} {100 * share:5.1f} %")
        for line in found.top:
            print(f"    {line}")


def dict_value_iteration(mdp: AccessReviewMDP) -> dict[int, float]:
    """Value iteration over ``P`` as dicts and loops, the textbook way."""
    P = mdp.P
    valid = mdp.valid_action_mask
    values = dict.fromkeys(P, 0.0)
    while True:
        updated = {
            s: 0.0
            if s == TERMINAL_STATE
            else max(
                sum(
                    p * (r + mdp.gamma * (0.0 if t else values[n]))
                    for p, n, r, t in P[s][a]
                )
                for a in P[s]
                if valid[s, a]
            )
            for s in P
        }
        if max(abs(updated[s] - values[s]) for s in P) <= 1e-10:
            return updated
        values = updated


def value_iteration_row(config: Config) -> Row:
    """``agents.value_iteration`` on the env's arrays against dict-based sweeps."""
    mdp = AccessReviewMDP()
    arrays = mdp.arrays
    n = config.vi_solves

    def ours() -> float:
        return timed_rate(lambda: [value_iteration(arrays) for _ in range(n)], n)

    def dicts() -> float:
        return timed_rate(lambda: [dict_value_iteration(mdp) for _ in range(n)], n)

    rates = median_rates({"ours": ours, "dicts": dicts}, config.repeats)
    return Row(
        name="value iteration to 1e-10, default MDP",
        unit="solves/s",
        ours=statistics.median(rates["ours"]),
        baseline=statistics.median(rates["dicts"]),
        baseline_name="dict sweeps over P",
        samples=rates,
    )


def reset_slot_fraction(num_envs: int, actions: np.ndarray, n_steps: int) -> float:
    """Share of slots that were NEXT_STEP resets in the run ``vector_rate`` times.

    Replays the same seed and actions untimed.
    """
    envs = access_review_env.AccessReviewVectorEnv(num_envs)
    envs.reset(seed=0)
    _, _, terminated, truncated, _ = envs.step(actions[0])
    resets = 0
    for step in range(n_steps):
        resets += int(np.count_nonzero(terminated | truncated))
        _, _, terminated, truncated, _ = envs.step(actions[step % len(actions)])
    return resets / (n_steps * num_envs)


def random_actions(num_envs: int, batches: int = 4) -> np.ndarray:
    """``(batches, num_envs)`` uniformly random actions, cycled by the timed loops."""
    return np.random.default_rng(1).integers(0, 4, (batches, num_envs), dtype=np.int8)


def native_vs_sync_row(config: Config) -> Row:
    """The native vector env against ``SyncVectorEnv`` of our env, same batch size."""
    n = config.sync_envs
    actions = random_actions(n)

    def make(mode: str) -> gym.vector.VectorEnv:
        return gym.make_vec(
            access_review_env.ENV_ID, num_envs=n, vectorization_mode=mode
        )

    native, sync = make("vector_entry_point"), make("sync")
    sync_steps = max(2, config.vector_steps // 4)
    rates = median_rates(
        {
            "native": lambda: vector_rate(native, actions, config.vector_steps * 10),
            "sync": lambda: vector_rate(sync, actions, sync_steps),
        },
        config.repeats,
    )
    return Row(
        name=f"vector env, N = {n:,}, random actions",
        unit="env-steps/s",
        ours=statistics.median(rates["native"]),
        baseline=statistics.median(rates["sync"]),
        baseline_name="SyncVectorEnv of our env",
        target=">= 100x",
        samples=rates,
    )


def vector_throughput_rows(config: Config) -> list[Row]:
    """Native throughput per batch size, fresh arrays (copy=True) against copy=False."""
    rows = []
    for n in config.vector_sizes:
        actions = random_actions(n)
        fresh = access_review_env.AccessReviewVectorEnv(n)
        reused = access_review_env.AccessReviewVectorEnv(n, copy=False)
        rates = median_rates(
            {
                "copy_false": partial(
                    vector_rate, reused, actions, config.vector_steps
                ),
                "copy_true": partial(vector_rate, fresh, actions, config.vector_steps),
            },
            config.repeats,
        )
        resets = reset_slot_fraction(n, actions, config.vector_steps)
        ours, baseline = (
            statistics.median(rates[k]) for k in ("copy_false", "copy_true")
        )
        rows.append(
            Row(
                name=(
                    f"native vector env, N = 2^{n.bit_length() - 1}, copy=False "
                    f"(transitions only: {ours * (1 - resets) / 1e6:,.0f} M/s; "
                    f"{resets:.0%} reset slots)"
                ),
                unit="env-steps/s",
                ours=ours,
                baseline=baseline,
                baseline_name="same, copy=True (fresh arrays)",
                target=">= 100 M/s at 2^20" if n == 2**20 else "",
                samples=rates,
            )
        )
        fresh.close()
        reused.close()
    return rows


FAN_OUT_TARGET = 1.7
"""The issue's ratio of ``--jobs 2`` to serial throughput on 2 cores."""


def fan_out_rows(config: Config) -> tuple[list[Row], list[str], bool]:
    """The agent benchmark's reduced suite: each backend against the serial run.

    Returns:
        The rows, the lines printed under the table (cores used, load,
        whether every backend gave the serial records, skipped Ray rows), and
        whether every backend gave the serial records.
    """
    specs = fanout_speed.reduced_suite(
        config.fan_out_agents, config.fan_out_seeds, config.fan_out_episodes
    )
    load_before = fanout_speed.load_average()
    timings = fanout_speed.time_fan_out(
        specs, config.fan_out_jobs, config.fan_out_repeats
    )
    load_after = fanout_speed.load_average()
    serial, *others = timings
    suite = (
        f"agent benchmark, reduced suite ({len(specs)} runs: "
        f"{', '.join(config.fan_out_agents)}; {config.fan_out_seeds} seeds)"
    )
    rows = []
    for timing in others:
        ratios = [s / t for s, t in zip(serial.seconds, timing.seconds, strict=True)]
        row = Row(
            name=f"{suite}: {timing.backend} vs serial"
            + (
                f" (cores used {statistics.median(timing.cores):.2f})"
                if timing.cores
                else ""
            ),
            unit="runs/s",
            ours=timing.rate,
            baseline=serial.rate,
            baseline_name="serial, one process",
            samples={
                "seconds": timing.seconds,
                "serial_seconds": serial.seconds,
                "ratios": ratios,
                "cores": timing.cores,
            },
        )
        if timing.backend == f"--jobs {config.fan_out_jobs}":
            row.target = f">= {FAN_OUT_TARGET}x" + (
                " met" if row.ratio >= FAN_OUT_TARGET else " MISSED"
            )
        rows.append(row)
    notes = [
        f"Agent benchmark fan-out: {os.cpu_count()} cores; load average "
        f"{load_before:.2f} before, {load_after:.2f} after; each round's ratio: "
        + "; ".join(
            f"{t.backend} "
            + ", ".join(
                f"{s / x:.2f}x" for s, x in zip(serial.seconds, t.seconds, strict=True)
            )
            for t in others
        ),
        "cores used by the serial run: "
        + ", ".join(f"{c:.2f}" for c in serial.cores)
        + f"; by --jobs {config.fan_out_jobs}: "
        + ", ".join(f"{c:.2f}" for c in others[0].cores),
        "results identical to the serial run: "
        + ("yes" if all(t.identical for t in timings) else "NO"),
    ]
    if len(others) == 1:
        notes.append(f"Ray is not installed: the Ray rows were skipped ({RAY_INSTALL})")
    return rows, notes, all(t.identical for t in timings)


def _amount(value: float) -> str:
    if value >= 1e7:
        return f"{value / 1e6:,.1f} M"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def markdown(rows: list[Row]) -> str:
    """Render the rows as a Markdown table."""
    cells = [
        [
            row.name,
            f"{_amount(row.ours)} {row.unit}",
            f"{_amount(row.baseline)} {row.unit} ({row.baseline_name})",
            f"{row.ratio:.1f}x",
            row.target,
        ]
        for row in rows
    ]
    return markdown_table(
        ["comparison", "ours", "baseline", "ratio", "target"], cells, "lrrrl"
    )


def offline_rows(config: Config) -> list[dict[str, object]] | None:
    """Print the offline pipeline's timings against their targets (pyarrow only)."""
    if not available("pyarrow"):
        print(
            "\npyarrow is not installed: the offline speed rows were skipped "
            f"({install_hint('pyarrow')})"
        )
        return None
    from agents.offline.timing import markdown as offline_markdown
    from agents.offline.timing import speed_rows

    rows = speed_rows(config.offline_requests)
    print(f"\nOffline logs, {config.offline_requests:,} requests, each stage once:\n")
    print(offline_markdown(rows))
    return [row.to_json() for row in rows]


def run(config: Config) -> bool:
    """Run every row, print the tables and write the JSON record.

    Returns:
        Whether every fan-out backend gave the serial run's records and every
        exact solver the same values (a speed target missed is a measurement;
        different results are a fault).
    """
    prepare_output(config.output.parent)
    if config.queue_only:
        return queue_run(config)
    profiles: list[BatchedProfile] = []
    solve: SolverSpeed | None = None
    identical = True
    if config.batched_only:
        rows, profiles, notes = batched_rows(config)
    else:
        rows, notes, identical = fan_out_rows(config)
    if not (config.fan_out_only or config.batched_only):
        batched, profiles, batched_notes = batched_rows(config)
        notes = [*batched_notes, *notes]
        rows = [
            env_vs_frozen_lake(config),
            native_vs_sync_row(config),
            *vector_throughput_rows(config),
            *batched,
            *q_learning_rows(config),
            value_iteration_row(config),
            queue_vector_row(config.queue_level, config.queue_envs),
            *rows,
        ]
        solve = queue_solve(config)
    print(markdown(rows))
    print()
    print("\n".join(notes))
    print_profiles(profiles)
    record = {
        **run_metadata(),
        "config": config,
        "rows": [{"ratio": row.ratio, **vars(row)} for row in rows],
        "notes": notes,
        "offline_rows": None
        if config.fan_out_only or config.batched_only
        else offline_rows(config),
        "profiles": profiles,
        "queue_solve": solve,
    }
    (path,) = write_outputs(config.output, record)
    print(f"\nwrote {path}")
    return identical and (solve is None or solve.agree)


def queue_solve(config: Config) -> SolverSpeed:
    """The exact solve of a queue level beside SciPy and pymdptoolbox, printed.

    The model's build time and the process's peak memory are in the report.
    """
    print(
        f"\nexact solve of AccessReviewQueue-v0, level {config.queue_level} "
        "(its registered horizon), beside SciPy and pymdptoolbox:",
        flush=True,
    )
    mdp, seconds = queue_model(config.queue_level)
    assert mdp.horizon is not None
    result = solver_speed(
        mdp,
        mdp.horizon,
        model_seconds=seconds,
        log=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
    )
    print(format_solver_speed(result))
    return result


def queue_run(config: Config) -> bool:
    """The queue rows alone: the vector env row and the exact solve.

    Returns:
        Whether every solver found the same values.
    """
    row = queue_vector_row(config.queue_level, config.queue_envs)
    print(markdown([row]))
    solve = queue_solve(config)
    record = {
        **run_metadata(),
        "config": config,
        "rows": [{"ratio": row.ratio, **vars(row)}],
        "queue_solve": solve,
    }
    (path,) = write_outputs(config.output, record)
    print(f"\nwrote {path}")
    return bool(solve.agree)


def build_parser() -> argparse.ArgumentParser:
    """The speed benchmark's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--repeats", type=arguments.positive_int, default=Config.repeats
    )
    parser.add_argument(
        "--env-steps", type=arguments.positive_int, default=Config.env_steps
    )
    parser.add_argument("--output", type=arguments.output_folder, default=Config.output)
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, to check the job runs"
    )
    parser.add_argument(
        "--fan-out-only",
        action="store_true",
        help="only the agent benchmark's fan-out rows (e.g. in a venv with the "
        "ray extra, for the Ray rows)",
    )
    parser.add_argument(
        "--batched-only",
        action="store_true",
        help="only the batched Q-learning rows (against the scalar learner)",
    )
    parser.add_argument(
        "--queue-only",
        action="store_true",
        help="only the queue rows: the exact solve of --queue-level beside "
        "SciPy and pymdptoolbox, and its vector env against SyncVectorEnv",
    )
    parser.add_argument(
        "--queue-level",
        choices=tuple(access_review_env.QUEUE_LEVELS),
        default=Config.queue_level,
        help="the queue level of the queue rows (default: %(default)s, the largest)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the speed benchmark; exit status 1 if a fan-out backend's records differ."""
    args = build_parser().parse_args(argv)
    config = Config(
        repeats=args.repeats,
        env_steps=args.env_steps,
        output=args.output,
        fan_out_only=args.fan_out_only,
        queue_level=args.queue_level,
        queue_only=args.queue_only,
        batched_only=args.batched_only,
    )
    if args.quick:
        config.repeats, config.env_steps, config.q_episodes, config.vi_solves = (
            1,
            2_000,
            200,
            20,
        )
        config.vector_sizes, config.vector_steps, config.sync_envs = (2**10,), 4, 64
        config.offline_requests = 20_000
        config.batched_sizes, config.batched_episodes = (64,), 200
        config.numpy_episodes, config.batched_repeats = 100, 1
        config.batched_threads, config.profile_episodes = (1,), 50
        config.fan_out_agents, config.fan_out_seeds = fanout_speed.QUICK_AGENTS, 2
        config.fan_out_episodes, config.fan_out_repeats = 20, 1
        if args.queue_level == Config.queue_level:
            config.queue_level = "tiny"
        config.queue_envs = 64
    if not run(config):
        print(
            "error: a fan-out backend gave other records than the serial run, "
            "or the exact solvers disagree",
            file=sys.stderr,
        )
        return 1
    return 0
