"""``access-review``: one console command for every job, also ``python -m agents``.

Each subcommand runs the same code as its script in ``scripts/`` (the job's
``main``), with the job's own ``--help``. Jobs are imported only when run, so
``access-review --help`` is instant and a job whose optional dependency is
missing says which extra to install.

    access-review --help
    access-review lesson --lab value_iteration
    access-review benchmark-agents --agents my_agents:make --seeds 5
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from agents.jobs.arguments import COMMAND


@dataclass(frozen=True)
class Job:
    """One subcommand: the module whose ``main(argv)`` it runs, and what it does."""

    module: str
    summary: str


JOBS: dict[str, Job] = {
    "main": Job(
        "agents.jobs.main_job",
        "solve AccessReview-v0, train every learner, compare, plot",
    ),
    "lesson": Job(
        "agents.jobs.lesson", "every lab of the lesson, rerun on the package"
    ),
    "sb3-crosscheck": Job(
        "agents.jobs.sb3_crosscheck",
        "SB3's learners against value iteration (sb3 extra)",
    ),
    "benchmark-agents": Job(
        "agents.jobs.benchmark_agents",
        "any agent against the exact optimum of a suite",
    ),
    "speed": Job("agents.jobs.speed", "side-by-side speed ratios, measured in one run"),
    "queue-levels": Job(
        "agents.jobs.queue_levels",
        "the queue's levels: states, nonzeros, build and solve time, V*",
    ),
    "draw-task": Job(
        "agents.jobs.draw_task", "draw a task's MDP from its table (plots extra)"
    ),
    "offline": Job(
        "agents.jobs.offline",
        "logged episodes, fitted models, off-policy evaluation (offline extra)",
    ),
    "rllib": Job(
        "agents.jobs.rllib_ppo",
        "RLlib PPO against value iteration, or a Tune grid of it (ray extra)",
    ),
}
"""Every subcommand, in the order ``--help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="access-review",
        description="One console command for every job of access-review-env "
        "(also: python -m agents).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<18}{job.summary}" for name, job in JOBS.items())
        + "\n\n'access-review COMMAND --help' lists a command's options.",
    )
    parser.add_argument("command", choices=list(JOBS), metavar="COMMAND")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named first in ``argv``; return its exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        module = importlib.import_module(JOBS[args.command].module)
    except ImportError as error:
        print(f"access-review {args.command}: {error}", file=sys.stderr)
        return 2
    token = COMMAND.set(f"access-review {args.command}")
    try:
        return int(module.main(args.arguments))
    finally:
        COMMAND.reset(token)
