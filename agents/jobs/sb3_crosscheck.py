"""Cross-check: do SB3's learners find the policy value iteration proves optimal?

For each algorithm, abandonment probability and seed, trains through the
ordinary SB3 API (settings in ``agents.integrations.sb3_settings``), then compares the
greedy action in every non-terminal state with value iteration's policy and the
learned value of ``new_request`` with the exact ``V*``.

    access-review sb3-crosscheck                    # 10 seeds, both p
    access-review sb3-crosscheck --seeds 2 --algorithms PPO DQN
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.common.markdown_table import markdown_table
from agents.common.optional import available, install_hint
from agents.common.progress import progress_bar
from agents.integrations.sb3_settings import SETTINGS
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output, write_outputs
from agents.persistence import run_metadata


@dataclass
class Config:
    """What to run."""

    seeds: int = 10
    """Seeds 0 .. seeds-1 per algorithm and p."""
    algorithms: list[str] = field(default_factory=lambda: list(SETTINGS))
    """Algorithms from agents.integrations.sb3_settings.SETTINGS."""
    abandonment_probs: list[float] = field(default_factory=lambda: [0.25, 0.0])
    """Values of the env's abandonment_prob."""
    output: Path = Path("runs/sb3_crosscheck.json")
    """Where the JSON record goes."""


@dataclass(frozen=True)
class CrossCheckRow:
    """One (algorithm, p) over its seeds."""

    algorithm: str
    abandonment_prob: float
    seeds: int
    agreement: float
    value_mean: float
    value_min: float
    value_max: float
    exact_value: float
    timesteps: int
    seconds_mean: float


def summarize(runs: list[Any]) -> list[CrossCheckRow]:
    """One row per (algorithm, p): success rate, values, timesteps, seconds."""
    rows = []
    keys = sorted({(r.algorithm, r.abandonment_prob) for r in runs}, key=str)
    for algorithm, p in keys:
        group = [r for r in runs if (r.algorithm, r.abandonment_prob) == (algorithm, p)]
        values = [r.value for r in group]
        rows.append(
            CrossCheckRow(
                algorithm=algorithm,
                abandonment_prob=p,
                seeds=len(group),
                agreement=sum(r.agrees for r in group) / len(group),
                value_mean=statistics.fmean(values),
                value_min=min(values),
                value_max=max(values),
                exact_value=group[0].exact_value,
                timesteps=group[0].timesteps,
                seconds_mean=statistics.fmean(r.seconds for r in group),
            )
        )
    return rows


def markdown(rows: list[CrossCheckRow]) -> str:
    """The summary as a Markdown table."""
    headers = [
        "algorithm",
        "p",
        "seeds",
        "greedy policy = optimal",
        "V(new_request) mean [min, max]",
        "exact V*",
        "timesteps",
        "seconds / run",
    ]
    cells = [
        [
            row.algorithm,
            str(row.abandonment_prob),
            str(row.seeds),
            f"{row.agreement:.0%}",
            f"{row.value_mean:.1f} [{row.value_min:.1f}, {row.value_max:.1f}]",
            f"{row.exact_value:.2f}",
            f"{row.timesteps:,}",
            f"{row.seconds_mean:.1f}",
        ]
        for row in rows
    ]
    return markdown_table(headers, cells, "lrrrlrrr")


def run(config: Config) -> list[CrossCheckRow]:
    """Train every combination, print the table, write the JSON record.

    Raises:
        ImportError: Without the ``sb3`` extra, naming it.
    """
    from agents.integrations.sb3 import cross_check

    prepare_output(config.output.parent)
    jobs = [
        (algorithm, p, seed)
        for algorithm in config.algorithms
        for p in config.abandonment_probs
        for seed in range(config.seeds)
    ]
    runs = []
    progress = progress_bar(len(jobs), "SB3 cross-check")
    for algorithm, p, seed in jobs:
        if progress is not None:
            progress.set_postfix_str(f"{algorithm} p={p} seed={seed}")
        runs.append(cross_check(algorithm, p, seed))
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    rows = summarize(runs)
    print(markdown(rows))
    record = {**run_metadata(), "config": config, "summary": rows, "runs": runs}
    (path,) = write_outputs(config.output, record)
    print(f"\nwrote {path}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    """The cross-check's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument("--seeds", type=arguments.positive_int, default=Config.seeds)
    parser.add_argument(
        "--algorithms", nargs="+", choices=list(SETTINGS), default=list(SETTINGS)
    )
    parser.add_argument(
        "--abandonment-probs",
        nargs="+",
        type=arguments.probability,
        default=[0.25, 0.0],
    )
    parser.add_argument("--output", type=arguments.output_folder, default=Config.output)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cross-check from the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not available("stable_baselines3") or not available("sb3_contrib"):
        parser.error(
            "the cross-check needs stable-baselines3 and sb3-contrib: "
            f"pip install torch==2.13.0 then {install_hint('stable_baselines3')}"
        )
    try:
        prepare_output(args.output.parent)
    except ValueError as error:
        parser.error(str(error))
    run(Config(args.seeds, args.algorithms, args.abandonment_probs, args.output))
    return 0
