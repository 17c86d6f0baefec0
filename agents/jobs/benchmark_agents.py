"""Benchmark agents against the exact optimum of every configuration of a suite.

Scores our Q-learning and REINFORCE, a random policy, SB3's learners (with the
``sb3`` extra) and any agent given as ``module:callable``, a factory
``factory(env, seed)`` returning a trained policy. Prints Markdown tables,
writes a JSON record and a plot of the aggregate scores with 95 % stratified
bootstrap confidence intervals.

    python scripts/benchmark_agents.py            # ours, random, SB3; 10 seeds
    python scripts/benchmark_agents.py --agents q_learning my_pkg.agents:make --seeds 5
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import access_review_env
from agents.benchmark import (
    BUILT_IN,
    SUITE,
    markdown,
    resolve_agent,
    run_suite,
    summarize,
)
from agents.jobs import arguments
from agents.persistence import run_metadata, write_json
from agents.policies import AgentError


def default_agents() -> list[str]:
    """Ours, random, and SB3's learners when the extra is installed."""
    names = list(BUILT_IN)
    if importlib.util.find_spec("stable_baselines3") is not None:
        from agents.integrations.sb3 import SETTINGS

        names += [f"sb3:{algorithm}" for algorithm in SETTINGS]
    return names


def build_parser() -> argparse.ArgumentParser:
    """The agent benchmark's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--agents",
        nargs="+",
        help="q_learning, reinforce, random, sb3:PPO|MaskablePPO|A2C|DQN, "
        "or module:callable "
        "(default: ours, random and SB3 when installed)",
    )
    parser.add_argument(
        "--seeds",
        type=arguments.positive_int,
        default=10,
        help="seeds 0..N-1 per configuration",
    )
    parser.add_argument(
        "--episodes",
        type=arguments.integer_at_least(2),
        default=1_000,
        help="Monte Carlo episodes per score",
    )
    parser.add_argument(
        "--configurations",
        nargs="+",
        choices=[c.name for c in SUITE],
        help="a subset of the suite (default: all)",
    )
    parser.add_argument("--output", type=Path, default=Path("runs/benchmark_agents"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    names = args.agents or default_agents()
    try:
        factories = {name: resolve_agent(name) for name in names}
    except (ValueError, ImportError, AttributeError, TypeError) as error:
        parser.error(str(error))
    suite = [
        c for c in SUITE if args.configurations is None or c.name in args.configurations
    ]
    bar = tqdm(
        total=len(factories) * len(suite) * args.seeds, desc="benchmark", unit="run"
    )
    summaries, records = [], []
    try:
        for name, factory in factories.items():
            bar.set_postfix_str(name)
            runs = run_suite(
                factory,
                name,
                suite,
                range(args.seeds),
                args.episodes,
                on_run=lambda _record: bar.update(),
            )
            records += runs
            summaries.append(summarize(runs, np.random.default_rng(0)))
    except AgentError as error:
        bar.close()
        print(f"error: {error}", file=sys.stderr)
        return 1
    bar.close()
    print(markdown(summaries))
    args.output.mkdir(parents=True, exist_ok=True)
    from agents.integrations.plotting import plot_benchmark

    plot = plot_benchmark(summaries, args.output / "scores.png")
    record = {
        **run_metadata(),
        "env_id": access_review_env.ENV_ID,
        "suite": suite,
        "seeds": list(range(args.seeds)),
        "monte_carlo_episodes": args.episodes,
        "summaries": summaries,
        "runs": records,
    }
    path = write_json(args.output / "benchmark_agents.json", record)
    print(f"\nwrote {path} and {plot}")
    return 0
