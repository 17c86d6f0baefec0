"""Side-by-side speed ratios for access-review-env, measured in one run.

Every row times two contenders alternately, ``--repeats`` times each, and
reports the medians and their ratio, so the machine's load affects both alike.
Throughput counts calls to ``step`` (for a vector env: calls times ``num_envs``,
reset slots included; see the table's notes). A second table times the
offline pipeline once on 1,000,000 logged requests against absolute targets
(with the ``offline`` extra; else one line says it was skipped).

    python scripts/benchmark.py                 # full run, writes benchmark.json
    python scripts/benchmark.py --quick         # small budgets, for smoke tests
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gymnasium as gym
import numpy as np

import access_review_env
from access_review_env import TERMINAL_STATE, AccessReviewMDP
from agents.integrations.optional import available, install_hint
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output
from agents.jobs.speed_baselines import bare_q_learning, lesson_style_q_learning
from agents.learners import train_q_learning
from agents.persistence import run_metadata, write_json
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
    output: Path = Path("runs/benchmark.json")
    """Where the JSON record goes."""


@dataclass
class Row:
    """One comparison: ours against a baseline, in the same unit."""

    name: str
    unit: str
    ours: float
    baseline: float
    baseline_name: str
    target: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times faster ours is (for rates: ours / baseline)."""
        return self.ours / self.baseline


def median_rates(
    contenders: dict[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Call each contender in turn, ``repeats`` rounds; return every rate seen."""
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            rates[name].append(measure())
    return rates


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
            target=">= 2x (not reachable, see env-call floor)",
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


def vector_rate(envs: gym.vector.VectorEnv, actions: np.ndarray, n_steps: int) -> float:
    """Env-steps per second (batched steps times ``num_envs``, reset slots included)."""
    envs.reset(seed=0)
    envs.step(actions[0])
    start = time.perf_counter()
    for step in range(n_steps):
        envs.step(actions[step % len(actions)])
    return n_steps * envs.num_envs / (time.perf_counter() - start)


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


def _amount(value: float) -> str:
    return f"{value / 1e6:,.1f} M" if value >= 1e7 else f"{value:,.0f}"


def markdown(rows: list[Row]) -> str:
    """Render the rows as a Markdown table."""
    lines = [
        "| comparison | ours | baseline | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {_amount(row.ours)} {row.unit} | "
            f"{_amount(row.baseline)} {row.unit} ({row.baseline_name}) | "
            f"{row.ratio:.1f}x | {row.target} |"
        )
    return "\n".join(lines)


def offline_rows(config: Config) -> list[dict[str, object]] | None:
    """Print the offline pipeline's timings against their targets (pyarrow only)."""
    if not available("pyarrow"):
        print(
            "\npyarrow is not installed: the offline speed rows were skipped "
            f"({install_hint('pyarrow')})"
        )
        return None
    from agents.offline.speed import markdown as offline_markdown
    from agents.offline.speed import speed_rows

    rows = speed_rows(config.offline_requests)
    print(f"\nOffline logs, {config.offline_requests:,} requests, each stage once:\n")
    print(offline_markdown(rows))
    return [row.to_json() for row in rows]


def run(config: Config) -> list[Row]:
    """Run every row, print the tables and write the JSON record."""
    prepare_output(config.output.parent)
    rows = [
        env_vs_frozen_lake(config),
        native_vs_sync_row(config),
        *vector_throughput_rows(config),
        *q_learning_rows(config),
        value_iteration_row(config),
    ]
    print(markdown(rows))
    record = {
        **run_metadata(),
        "config": config,
        "rows": [{"ratio": row.ratio, **vars(row)} for row in rows],
        "offline_rows": offline_rows(config),
    }
    path = write_json(config.output, record)
    print(f"\nwrote {path}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    """The speed benchmark's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--repeats", type=arguments.positive_int, default=Config.repeats
    )
    parser.add_argument(
        "--env-steps", type=arguments.positive_int, default=Config.env_steps
    )
    parser.add_argument("--output", type=Path, default=Config.output)
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, to check the job runs"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the speed benchmark from the command line."""
    args = build_parser().parse_args(argv)
    config = Config(repeats=args.repeats, env_steps=args.env_steps, output=args.output)
    if args.quick:
        config.repeats, config.env_steps, config.q_episodes, config.vi_solves = (
            1,
            2_000,
            200,
            20,
        )
        config.vector_sizes, config.vector_steps, config.sync_envs = (2**10,), 4, 64
        config.offline_requests = 20_000
    run(config)
    return 0
