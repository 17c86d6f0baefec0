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
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import access_review_env
from agents.scoring import AgentError
from agents.suite import (
    SUITE,
    AgentFactory,
    load_factory,
    q_learning_agent,
    random_agent,
    reinforce_agent,
    run_suite,
    summarize,
)

BUILT_IN: dict[str, AgentFactory] = {
    "q_learning": q_learning_agent,
    "reinforce": reinforce_agent,
    "random": random_agent,
}
SB3_NAMES = ("PPO", "MaskablePPO", "A2C", "DQN")


def resolve(name: str) -> AgentFactory:
    """A built-in agent, ``sb3:ALGORITHM``, or ``module:callable``."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    if name.startswith("sb3:"):
        from agents.sb3 import sb3_agent

        return sb3_agent(name.removeprefix("sb3:"))
    return load_factory(name)


def default_agents() -> list[str]:
    """Ours, random, and SB3's learners when the extra is installed."""
    names = ["q_learning", "reinforce", "random"]
    if importlib.util.find_spec("stable_baselines3") is not None:
        names += [f"sb3:{algorithm}" for algorithm in SB3_NAMES]
    return names


def fmt(aggregate: dict[str, Any]) -> str:
    """``value [low, high]``."""
    low, high = aggregate["ci"]
    return f"{aggregate['value']:.3f} [{low:.3f}, {high:.3f}]"


def markdown(summaries: list[dict[str, Any]]) -> str:
    """An aggregate table and a per-configuration table."""
    lines = [
        "| agent | mean score [95% CI] | IQM [95% CI] | optimality gap [95% CI] |",
        "|---|---|---|---|",
    ]
    for s in summaries:
        a = s["aggregate"]
        lines.append(
            f"| {s['agent']} | {fmt(a['mean'])} | {fmt(a['iqm'])} | "
            f"{fmt(a['optimality_gap'])} |"
        )
    configurations = list(summaries[0]["configurations"])
    lines += [
        "",
        "Mean normalized score per configuration (share of seeds with zero regret; "
        "violations per episode):",
        "",
        "| agent | " + " | ".join(configurations) + " |",
        "|---|" + "---|" * len(configurations),
    ]
    for s in summaries:
        cells = []
        for name in configurations:
            c = s["configurations"][name]
            crashed = f", {c['crashed_runs']} crashed" if c["crashed_runs"] else ""
            cells.append(
                f"{c['mean_score']:.2f} ({c['zero_regret_rate']:.0%}; "
                f"{c['violations_per_episode']:.2f}{crashed})"
            )
        lines.append(f"| {s['agent']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--agents",
        nargs="+",
        help="q_learning, reinforce, random, sb3:PPO|MaskablePPO|A2C|DQN, "
        "or module:callable "
        "(default: ours, random and SB3 when installed)",
    )
    parser.add_argument(
        "--seeds", type=int, default=10, help="seeds 0..N-1 per configuration"
    )
    parser.add_argument(
        "--episodes", type=int, default=1_000, help="Monte Carlo episodes per score"
    )
    parser.add_argument(
        "--configurations",
        nargs="+",
        choices=[c.name for c in SUITE],
        help="a subset of the suite (default: all)",
    )
    parser.add_argument("--output", type=Path, default=Path("runs/benchmark_agents"))
    args = parser.parse_args()
    if args.seeds < 1 or args.episodes < 2:
        parser.error("--seeds must be >= 1 and --episodes >= 2")
    names = args.agents or default_agents()
    try:
        factories = {name: resolve(name) for name in names}
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
    from agents.plotting import plot_benchmark

    plot = plot_benchmark(summaries, args.output / "scores.png")
    record = {
        "env_id": access_review_env.ENV_ID,
        "suite": [asdict(c) for c in suite],
        "seeds": list(range(args.seeds)),
        "monte_carlo_episodes": args.episodes,
        "versions": {
            "python": platform.python_version(),
            "access_review_env": access_review_env.__version__,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
        },
        "summaries": summaries,
        "runs": [asdict(r) for r in records],
    }
    (args.output / "benchmark_agents.json").write_text(
        json.dumps(record, indent=2, default=_plain)
    )
    print(f"\nwrote {args.output / 'benchmark_agents.json'} and {plot}")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


if __name__ == "__main__":
    sys.exit(main())
