"""Side-by-side speed ratios for access-review-env, measured in one run.

Every row times two contenders alternately, ``--repeats`` times each, and
reports the medians and their ratio, so the machine's load affects both alike.
Throughput counts calls to ``step`` (for a vector env: calls times ``num_envs``,
reset slots included; see the table's notes).

    python scripts/benchmark.py                 # full run, writes benchmark.json
    python scripts/benchmark.py --quick         # small budgets, for smoke tests
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np

import access_review_env


@dataclass
class Config:
    """Budgets of one benchmark run."""

    repeats: int = 5
    """Timed repeats per contender; the table shows medians."""
    env_steps: int = 200_000
    """Steps per repeat for the single-env rows."""
    output: Path = Path("benchmark.json")
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


def markdown(rows: list[Row]) -> str:
    """Render the rows as a Markdown table."""
    lines = [
        "| comparison | ours | baseline | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.ours:,.0f} {row.unit} | "
            f"{row.baseline:,.0f} {row.unit} ({row.baseline_name}) | "
            f"{row.ratio:.1f}x | {row.target} |"
        )
    return "\n".join(lines)


def main(config: Config) -> list[Row]:
    """Run every row, print the table and write the JSON record."""
    rows = [env_vs_frozen_lake(config)]
    print(markdown(rows))
    record = {
        "config": {k: str(v) for k, v in asdict(config).items()},
        "python": platform.python_version(),
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
        "access_review_env": access_review_env.__version__,
        "rows": [asdict(row) | {"ratio": row.ratio} for row in rows],
    }
    config.output.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {config.output}")
    return rows


def parse_args() -> Config:
    """Read the command line into a :class:`Config`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument("--env-steps", type=int, default=Config.env_steps)
    parser.add_argument("--output", type=Path, default=Config.output)
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, to check the script runs"
    )
    args = parser.parse_args()
    config = Config(repeats=args.repeats, env_steps=args.env_steps, output=args.output)
    if args.quick:
        config.repeats, config.env_steps = 1, 2_000
    if config.repeats < 1 or config.env_steps < 1:
        parser.error("--repeats and --env-steps must be positive")
    return config


if __name__ == "__main__":
    main(parse_args())
