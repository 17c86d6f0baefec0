r"""The queue's ladder benchmark (``benchmark-agents --env AccessReviewQueue-v0``).

Runs every agent on each chosen level of ``AccessReviewQueue-v0`` with the
level's budget of environment steps (:mod:`agents.benchmark.ladder`), prints
the budgets first, then per level the headline table with stratified
bootstrap intervals (:mod:`agents.benchmark.ladder_summary`), the hardness of
each level, whether the headline separates the learners, where the operations
rule stands against the optimum, and the time each level took. Writes
``ladder.json``, ``runs.jsonl`` (one record per run, as it ends; ``--resume``
skips those already there) and, with the ``plots`` extra,
``ladder_headline.png`` and ``ladder_curves.png``.

    access-review benchmark-agents --env AccessReviewQueue-v0 --jobs 2
    access-review benchmark-agents --env AccessReviewQueue-v0 --levels large \
        --budget large=200000 --agents q_learning sb3:PPO
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from access_review_env import QUEUE_ENV_ID
from access_review_env.tasks.access_review_queue import LEVELS
from agents.benchmark.fanout import TaskResult, run_tasks
from agents.benchmark.ladder import (
    BUDGETS,
    DEFAULT_EPISODES,
    DEFAULT_LEVELS,
    LADDER_AGENTS,
    LADDER_SB3,
    LadderRecord,
    LadderTask,
    check_levels,
    ladder_tasks,
    run_ladder_task,
)
from agents.benchmark.ladder_summary import (
    HEADLINE_NAME,
    goal_lines,
    ladder_markdown,
    summarize_ladder,
)
from agents.benchmark.plugins import load_factory
from agents.common.json_values import dumps
from agents.common.optional import available
from agents.common.progress import progress_bar
from agents.evaluation.scoring import PolicyScore
from agents.jobs.outputs import prepare_output, write_outputs
from agents.planning import hardness

DEFAULT_SEEDS = 5
RUNS_FILE = "runs.jsonl"
RESULT_FILE = "ladder.json"
HEADLINE_FILE = "ladder_headline.png"
CURVES_FILE = "ladder_curves.png"


def default_agents() -> list[str]:
    """Every built-in agent; the SB3 ones when the sb3 extra is installed."""
    names = [a for a in LADDER_AGENTS if not a.startswith("sb3:")]
    if available("stable_baselines3"):
        names += [f"sb3:{a}" for a in LADDER_SB3]
    return names


def budget_option(text: str) -> tuple[str, int]:
    """``LEVEL=STEPS`` of ``--budget``.

    Raises:
        argparse.ArgumentTypeError: For another form, an unknown level or a
            budget below 200 (one shift).
    """
    level, sep, steps = text.partition("=")
    if not sep or level not in LEVELS or not steps.replace("_", "").isdigit():
        raise argparse.ArgumentTypeError(
            f"--budget takes LEVEL=STEPS with LEVEL one of {', '.join(LEVELS)}, "
            f"got {text!r}"
        )
    value = int(steps)
    if value < 200:
        raise argparse.ArgumentTypeError(
            f"--budget {text}: at least 200 steps (one shift) per run"
        )
    return level, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ladder's options of ``benchmark-agents``."""
    parser.add_argument(
        "--levels",
        nargs="+",
        metavar="LEVEL",
        help=f"{QUEUE_ENV_ID} only: the ladder's levels to run (default: "
        f"{' '.join(DEFAULT_LEVELS)}; all: {' '.join(LEVELS)})",
    )
    parser.add_argument(
        "--budget",
        action="append",
        type=budget_option,
        default=[],
        metavar="LEVEL=STEPS",
        help=f"{QUEUE_ENV_ID} only: environment steps per run on a level "
        f"(default: {', '.join(f'{k}={v}' for k, v in BUDGETS.items())})",
    )


def check_agents(names: list[str]) -> list[str]:
    """``names`` if each is a ladder agent or a loadable ``module:callable``.

    Raises:
        ValueError, ImportError, AttributeError, TypeError: For an unknown
            agent or one that cannot be loaded.
    """
    for name in names:
        if name in LADDER_AGENTS:
            continue
        if name.startswith("sb3:"):
            if name.removeprefix("sb3:") not in LADDER_SB3:
                raise ValueError(
                    f"the ladder runs SB3's {', '.join(LADDER_SB3)} (on features); "
                    f"got {name!r}"
                )
            if not available("stable_baselines3"):
                raise ImportError(
                    f"{name} needs the sb3 extra: pip install 'access-review-env[sb3]'"
                )
            continue
        if ":" not in name:
            raise ValueError(
                f"unknown agent {name!r}: the ladder's built-in agents are "
                f"{', '.join(LADDER_AGENTS)}; your own must look like "
                "'package.module:callable'"
            )
        load_factory(name)
    return names


def record_from_json(data: dict[str, Any]) -> LadderRecord:
    """A record of ``runs.jsonl`` back (its score through PolicyScore.from_json)."""
    score = data.get("score")
    return LadderRecord(
        agent=data["agent"],
        level=data["level"],
        seed=int(data["seed"]),
        budget=int(data["budget"]),
        steps_used=data["steps_used"],
        seconds=float(data["seconds"]),
        score=None if score is None else PolicyScore.from_json(score),
        curve_steps=tuple(int(s) for s in data["curve_steps"]),
        curve_values=tuple(
            float("nan") if v is None else float(v) for v in data["curve_values"]
        ),
        error=data.get("error"),
        cpu_seconds=float("nan")
        if data.get("cpu_seconds") is None
        else float(data["cpu_seconds"]),
    )


def _key(agent: str, level: str, seed: int, budget: int) -> tuple[str, str, int, int]:
    return agent, level, seed, budget


def run_ladder(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the ladder benchmark from ``benchmark-agents``'s arguments.

    Returns:
        0, or 1 if a run failed.
    """
    try:
        levels = check_levels(args.levels or DEFAULT_LEVELS)
        agents = check_agents(list(dict.fromkeys(args.agents or default_agents())))
        prepare_output(args.output)
    except (ValueError, ImportError, AttributeError, TypeError) as error:
        parser.error(str(error))
    if args.env_kwargs is not None or args.configurations is not None:
        parser.error(
            f"{QUEUE_ENV_ID} runs its ladder: choose levels with --levels, not "
            "--configurations or --env-kwargs"
        )
    budgets = {**BUDGETS, **dict(args.budget)}
    seeds = args.seeds or DEFAULT_SEEDS
    episodes = args.episodes or DEFAULT_EPISODES
    for level in levels:
        print(
            f"level {level}: {budgets[level]:,} environment steps per run "
            f"({LEVELS[level].n_states:,} states; {LEVELS[level].probes})"
        )
    tasks = ladder_tasks(agents, levels, seeds, budgets, episodes)
    store = args.output / RUNS_FILE
    done: dict[tuple[str, str, int, int], LadderRecord] = {}
    if args.resume and store.exists():
        for line in store.read_text().splitlines():
            record = record_from_json(json.loads(line))
            if record.error is None:
                done[_key(record.agent, record.level, record.seed, record.budget)] = (
                    record
                )
    elif store.exists():
        store.unlink()
    todo = [t for t in tasks if _key(t.agent, t.level, t.seed, t.budget) not in done]
    if args.resume:
        print(f"resuming: {len(tasks) - len(todo)} of {len(tasks)} runs already done")
    bar = progress_bar(len(todo), "ladder")
    start = time.perf_counter()
    finished_at: dict[str, float] = {}
    records = dict(done)

    def finished(result: TaskResult[LadderTask, LadderRecord]) -> None:
        task = result.task
        record = result.value or LadderRecord(
            task.agent,
            task.level,
            task.seed,
            task.budget,
            None,
            result.seconds,
            None,
            error=str(result.failure),
        )
        records[_key(task.agent, task.level, task.seed, task.budget)] = record
        with store.open("a") as handle:
            handle.write(dumps(record).replace("\n", "") + "\n")
        finished_at[task.level] = time.perf_counter() - start
        if bar is not None:
            bar.set_postfix_str(f"{task.agent} {task.level}")
            bar.update()

    try:
        run_tasks(
            run_ladder_task,
            todo,
            jobs=(args.jobs or 1) if args.ray is None else args.jobs,
            ray_address=args.ray,
            on_result=finished,
            timeout=args.run_timeout,
        )
    finally:
        if bar is not None:
            bar.close()
    total = time.perf_counter() - start
    ordered = [
        records[_key(t.agent, t.level, t.seed, t.budget)]
        for t in tasks
        if _key(t.agent, t.level, t.seed, t.budget) in records
    ]
    return _report(args.output, ordered, levels, budgets, finished_at, total, args)


def _report(
    output: Path,
    records: list[LadderRecord],
    levels: tuple[str, ...],
    budgets: dict[str, int],
    finished_at: dict[str, float],
    total: float,
    args: argparse.Namespace,
) -> int:
    summaries = summarize_ladder(records)
    print()
    print(f"Headline: the {HEADLINE_NAME} (0 the rule, 1 the optimum), mean over")
    print("seeds with 95 % stratified bootstrap intervals; exact values of the")
    print("registered levels (200-step shifts).\n")
    print(ladder_markdown(summaries, levels))
    for line in goal_lines(summaries, levels):
        print(line)
    print("\nHardness (exact, of each level as registered):")
    hard = {}
    for level in levels:
        model = gym.make(QUEUE_ENV_ID, level=level)
        found = hardness(model)
        sparse: Any = model.unwrapped
        hard[level] = {
            "states": int(sparse.sparse.n_states),
            "branches": int(sparse.sparse.nnz),
            "smallest_gap": found.smallest_gap,
            "inverse_gap_sum": found.inverse_gap_sum,
            "diameter": found.diameter,
        }
        print(
            f"  {level}: {hard[level]['states']:,} states, "
            f"{hard[level]['branches']:,} branches, smallest gap "
            f"{found.smallest_gap:.3g}, sum of 1/gap {found.inverse_gap_sum:,.0f}"
        )
    timing = {}
    print(
        f"\nTime ({args.jobs or 1} job(s)): the runs' wall seconds, their CPU "
        "seconds (each run is one thread), and when the level's last run ended:"
    )
    for level in levels:
        runs = [r for r in records if r.level == level]
        wall = sum(r.seconds for r in runs)
        cpu = sum(r.cpu_seconds for r in runs)
        at = finished_at.get(level)
        timing[level] = {"run_seconds": wall, "cpu_seconds": cpu, "finished_at": at}
        print(
            f"  {level}: {len(runs)} runs, {wall:,.0f} s of runs, {cpu:,.0f} CPU-s"
            + (f", done {at:,.0f} s into the job" if at is not None else "")
        )
    print(f"  total wall time {total:,.0f} s")
    record = {
        "env_id": QUEUE_ENV_ID,
        "levels": levels,
        "budgets": {level: budgets[level] for level in levels},
        "seeds": args.seeds or DEFAULT_SEEDS,
        "monte_carlo_episodes": args.episodes or DEFAULT_EPISODES,
        "headline": HEADLINE_NAME,
        "hardness": hard,
        "timing": timing,
        "wall_seconds": total,
        "summaries": summaries,
        "goal": goal_lines(summaries, levels),
        "runs_note": f"each run, its score and curve, is in {RUNS_FILE}",
    }

    def figures() -> list[Path]:
        from agents.integrations.ladder_plots import (
            plot_ladder_curves,
            plot_ladder_headline,
        )

        return [
            plot_ladder_headline(summaries, levels, output / HEADLINE_FILE),
            plot_ladder_curves(records, summaries, levels, output / CURVES_FILE),
        ]

    written = write_outputs(output / RESULT_FILE, record, figures)
    print(f"\nwrote {', '.join(map(str, written))}")
    failed = [r for r in records if r.error is not None]
    for r in failed:
        first = (r.error or "").splitlines()[0]
        print(
            f"error: agent {r.agent} failed on {r.level} (seed {r.seed}): {first}",
            file=sys.stderr,
        )
    return 1 if failed else 0
