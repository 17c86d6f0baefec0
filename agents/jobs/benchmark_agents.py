r"""Benchmark agents against the exact optimum of every configuration of a suite.

Scores our Q-learning and REINFORCE, a random policy, SB3's learners (with the
``sb3`` extra) and any agent given as ``module:callable``, a factory
``factory(env, seed)`` returning a trained policy. A factory with
``train_many(env_id, env_kwargs, seeds)`` (ours) trains every seed of a
configuration at once. Exact values are those of the env as registered: its
time limit and, under ``"penalize"``, invalid actions as the stalls they are.

Nothing is lost: each finished run is appended to ``runs.jsonl`` in the output
folder as it ends; ``--resume`` runs only what is missing there (a seed's record
does not depend on the seeds trained with it, so the results are those of an
uninterrupted run). One benchmark writes to an output folder at a
time (a second one exits with status 2). ``--jobs N`` runs
the runs in N local processes, ``--ray [ADDRESS]`` as Ray tasks (the ``ray``
extra); either gives the serial run's results. A failing agent (one that
raises, exits, or runs past ``--run-timeout``) is recorded as a failed run
and the others go on (exit status 1); a disk that fills up ends the job with
one line naming the file (exit status 3), and ``--resume`` continues. At the end
the Markdown tables print (scores, zero-regret shares with Wilson intervals,
training curves' end points, each configuration's hardness), and
``benchmark_agents.json``, ``headline.png``, ``curves.png`` and ``scores.png``
(with the ``plots`` extra) are written atomically.

    access-review benchmark-agents            # ours, random, SB3; 10 seeds
    access-review benchmark-agents --agents q_learning reinforce --seeds 1000
    access-review benchmark-agents --agents q_learning my_agents:make --seeds 5
    access-review benchmark-agents --jobs 2        # two local processes
    access-review benchmark-agents --ray auto      # on the Ray of this node
    access-review benchmark-agents --env-kwargs '{"abandonment_prob": 0.1}' \\
        --configurations custom
    access-review benchmark-agents --agents my_agents:make --run-timeout 600
    access-review benchmark-agents --env AccessReviewQueue-v0 --jobs 2  # the ladder

``--env AccessReviewQueue-v0`` runs the queue's ladder instead (levels with a
budget of environment steps each; see :mod:`agents.jobs.ladder`).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import gymnasium as gym
import numpy as np

import access_review_env
from access_review_env.wrappers import time_limit
from agents.benchmark import (
    BUILT_IN,
    SUITES,
    AgentFactory,
    Configuration,
    RunRecord,
    RunSpec,
    markdown,
    resolve_agent,
    run_specs,
    still_to_run,
    summarize,
)
from agents.benchmark.ladder import DEFAULT_EPISODES as LADDER_EPISODES
from agents.benchmark.plugins import SB3_AGENTS
from agents.benchmark.runner import DEFAULT_RUN_TIMEOUT
from agents.benchmark.store import RunStore, RunStoreError
from agents.benchmark.summary import hardness_table
from agents.common.optional import available
from agents.common.progress import progress_bar
from agents.common.ray_session import RAY_INSTALL, ray_session
from agents.jobs import arguments, ladder
from agents.jobs.outputs import prepare_output, write_outputs
from agents.persistence import run_metadata
from agents.planning import horizon_text

RUNS_FILE = "runs.jsonl"
DEFAULT_SEEDS = 10
DEFAULT_EPISODES = 1_000
RESULT_FILE = "benchmark_agents.json"
HEADLINE_FILE = "headline.png"
CURVES_FILE = "curves.png"
PLOT_FILE = "scores.png"
CUSTOM = "custom"

EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE, EXIT_CANNOT_WRITE, EXIT_INTERRUPTED = (
    0,
    1,
    2,
    3,
    130,
)
EXIT_STATUSES = f"""exit status:
  {EXIT_OK}    every run succeeded
  {EXIT_FAILED_RUNS}    some run failed: an agent raised, exited, returned no policy,
       broke the env or ran past --run-timeout (each is on stderr and in
       the records; the other runs went on)
  {EXIT_USAGE}    usage error, before any run: a bad option, an agent that cannot
       be loaded, an output folder that cannot be used or that another
       benchmark is writing, more runs than memory holds, Ray unreachable
  {EXIT_CANNOT_WRITE}    a result could not be written (the disk is full, or another
       write error): the file is named; free space, then --resume
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C): every finished run is kept; --resume"""
"""The exit statuses, as ``--help`` lists them."""

RECORD_BYTES = 14_600
"""Memory of one run's record with its training trace: 14.2 KiB measured
(q_learning records loaded back from runs.jsonl, tracemalloc)."""
RECORD_COPIES = 3
"""Records the job holds of each run at once: as run, as read back, as written."""


class OutputError(Exception):
    """A result file the job could not write (the disk full, most often)."""

    def __init__(self, path: Path, error: OSError) -> None:
        """Name the file and why."""
        super().__init__(f"cannot write {path}: {error.strerror or error}")
        self.path = path
        self.error = error

    @property
    def disk_full(self) -> bool:
        """No space left on the device, or over the user's quota."""
        return self.error.errno in (errno.ENOSPC, errno.EDQUOT)


def default_agents() -> list[str]:
    """Ours, random, and SB3's learners when the extra is installed."""
    names = list(BUILT_IN)
    if available("stable_baselines3"):
        names += [f"sb3:{algorithm}" for algorithm in SB3_AGENTS]
    return names


def build_parser() -> argparse.ArgumentParser:
    """The agent benchmark's command line."""
    parser = arguments.job_parser(__doc__, EXIT_STATUSES)
    parser.add_argument(
        "--agents",
        nargs="+",
        help="q_learning, reinforce, random, sb3:PPO|MaskablePPO|A2C|DQN (scored "
        "greedily; add :stochastic to score the model's action distribution), "
        "or module:callable (default: ours, random and SB3 when installed)",
    )
    parser.add_argument(
        "--seeds",
        type=arguments.positive_int,
        help=f"seeds 0..N-1 per configuration (default: {DEFAULT_SEEDS}; "
        f"{access_review_env.QUEUE_ENV_ID}: {ladder.DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--episodes",
        type=arguments.integer_at_least(2),
        help=f"Monte Carlo episodes per score (default: {DEFAULT_EPISODES:,}; "
        f"{access_review_env.QUEUE_ENV_ID}: {LADDER_EPISODES})",
    )
    parser.add_argument(
        "--env",
        choices=[*SUITES, access_review_env.QUEUE_ENV_ID],
        default=access_review_env.ENV_ID,
        help="the task, scored on its own suite; "
        f"{access_review_env.QUEUE_ENV_ID} on its ladder of levels",
    )
    ladder.add_arguments(parser)
    names = sorted({c.name for suite in SUITES.values() for c in suite} | {CUSTOM})
    parser.add_argument(
        "--configurations",
        nargs="+",
        choices=names,
        metavar="NAME",
        help="a subset of the task's suite (default: all); custom needs "
        f"--env-kwargs; names: {', '.join(names)}",
    )
    parser.add_argument(
        "--env-kwargs",
        metavar="JSON",
        help="your own configuration, named custom: gym.make kwargs as a JSON "
        "object, e.g. '{\"abandonment_prob\": 0.1}'",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"skip runs already in OUTPUT/{RUNS_FILE} (failed ones run again, "
        "and records of earlier versions that name their batch)",
    )
    parser.add_argument(
        "--jobs",
        type=arguments.positive_int,
        help="run in N local worker processes (default: 1, in this process); "
        "with --ray, the CPUs of a local Ray started for the run, or the most "
        "tasks in flight on a running Ray (default: all its CPUs)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        type=arguments.ray_address,
        metavar="ADDRESS",
        help="run as Ray tasks (the ray extra): on a local Ray started for the "
        "run, or on a running one: 'auto' (this node's) or 'host:port'",
    )
    parser.add_argument(
        "--run-timeout",
        type=arguments.seconds_or_none,
        default=DEFAULT_RUN_TIMEOUT,
        metavar="SECONDS",
        help="time a run may take, training and scoring (a batch of k seeds "
        "trained together: k times as long); past it the run fails and the "
        "others go on; 'none' for no limit. Serially an alarm stops the agent's "
        "Python code; a --jobs worker stuck in native code is killed",
    )
    parser.add_argument(
        "--output",
        type=arguments.output_folder,
        default=Path("runs/benchmark_agents"),
        help="folder for runs.jsonl, the JSON record and the plots",
    )
    return parser


def custom_configuration(text: str, env_id: str) -> Configuration:
    """The ``custom`` configuration from ``--env-kwargs``, checked by the env itself.

    Raises:
        ValueError: For text that is not a JSON object, or kwargs the env refuses
            (the env's own message).
    """
    kwargs = arguments.json_object("--env-kwargs", text)
    kwargs = arguments.env_kwargs("--env-kwargs", kwargs, env_id)
    return Configuration(CUSTOM, f"your configuration {text}", kwargs)


def select_configurations(args: argparse.Namespace) -> list[Configuration]:
    """The suite's configurations asked for, plus ``custom`` if given.

    Raises:
        ValueError: For ``custom`` without ``--env-kwargs``, or bad kwargs.
    """
    chosen = args.configurations
    if chosen is not None and CUSTOM in chosen and args.env_kwargs is None:
        raise ValueError("--configurations custom needs --env-kwargs")
    available = SUITES[args.env]
    unknown = sorted(set(chosen or ()) - {c.name for c in available} - {CUSTOM})
    if unknown:
        raise ValueError(
            f"configuration(s) {', '.join(unknown)} are not in the suite of "
            f"{args.env}: {', '.join(c.name for c in available)}"
        )
    suite = [c for c in available if chosen is None or c.name in chosen]
    if args.env_kwargs is not None:
        suite.append(custom_configuration(args.env_kwargs, args.env))
    return suite


def write_results(
    output: Path, records: list[RunRecord], specs: list[RunSpec]
) -> list[Path]:
    """Print the tables; write the JSON record and the plots atomically.

    Returns:
        The JSON record's path, then each figure's (none without matplotlib).
    """
    agents = list(dict.fromkeys(spec.agent for spec in specs))
    summaries = [
        summarize([r for r in records if r.agent == agent], np.random.default_rng(0))
        for agent in agents
        if any(r.agent == agent for r in records)
    ]
    env_id = specs[0].env_id
    configurations = list(
        {s.configuration.name: s.configuration for s in specs}.values()
    )
    horizons = {
        c.name: horizon_text(time_limit(gym.make(env_id, **c.env_kwargs)))
        for c in configurations
    }
    hardness = hardness_table(configurations, env_id)
    print(markdown(summaries, hardness))
    if len(set(horizons.values())) == 1:
        print(f"\nExact values: {next(iter(horizons.values()))}, as registered.")
    else:
        print("\nExact values, as registered:")
        for name, text in horizons.items():
            print(f"  {name}: {text}")
    record = {
        **run_metadata(),
        "env_id": env_id,
        "exact_values": horizons,
        "suite": configurations,
        "hardness": hardness,
        "seeds": sorted({spec.seed for spec in specs}),
        "monte_carlo_episodes": specs[0].n_episodes,
        "json_note": "non-finite numbers (NaN, infinity) are written as null",
        "summaries": summaries,
        "runs_note": f"each run's training trace is in {RUNS_FILE}",
        "runs": [dataclasses.replace(r, trace=None) for r in records],
    }

    def figures() -> list[Path]:
        from agents.integrations.plotting import (
            plot_benchmark,
            plot_curves,
            plot_headline,
        )

        drawn = [plot_headline(summaries, hardness, output / HEADLINE_FILE)]
        curves = plot_curves(summaries, hardness, output / CURVES_FILE)
        if curves is not None:
            drawn.append(curves)
        drawn.append(plot_benchmark(summaries, output / PLOT_FILE))
        return drawn

    return write_outputs(output / RESULT_FILE, record, figures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status (see :data:`EXIT_STATUSES`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.getcwd() not in sys.path:
        # Agent specs are imported as `python -m` would: from the current folder.
        sys.path.insert(0, os.getcwd())
    if args.ray is not None and not available("ray"):
        parser.error(f"--ray needs Ray: {RAY_INSTALL}")
    if args.env == access_review_env.QUEUE_ENV_ID:
        return ladder.run_ladder(args, parser)
    if args.levels is not None or args.budget:
        parser.error(f"--levels and --budget are for {access_review_env.QUEUE_ENV_ID}")
    args.seeds = args.seeds or DEFAULT_SEEDS
    args.episodes = args.episodes or DEFAULT_EPISODES
    names = list(dict.fromkeys(args.agents or default_agents()))
    try:
        suite = select_configurations(args)
        n_runs = len(names) * len(suite) * args.seeds
        arguments.refuse_if_too_large(
            parser,
            f"--seeds {args.seeds} ({n_runs:,} runs: {len(names)} agent(s) x "
            f"{len(suite)} configuration(s) x {args.seeds} seeds, about "
            f"{RECORD_COPIES} x {RECORD_BYTES:,} bytes each)",
            n_runs * RECORD_COPIES * RECORD_BYTES,
        )
        factories = {name: resolve_agent(name) for name in names}
        prepare_output(args.output)
    except (ValueError, ImportError, AttributeError, TypeError) as error:
        parser.error(str(error))
    specs = [
        RunSpec(name, configuration, seed, args.episodes, args.env)
        for name in factories
        for configuration in suite
        for seed in range(args.seeds)
    ]
    store = RunStore(args.output / RUNS_FILE)
    with ExitStack() as held:
        try:
            held.enter_context(store.exclusive())
            done = store.latest(spec.key for spec in specs) if args.resume else {}
        except RunStoreError as error:
            parser.error(str(error))
        try:
            return _run_and_report(args, store, specs, factories, done)
        except OutputError as error:
            return _cannot_write(error, store)


def _workers(jobs: int | None, ray: str | None) -> int | None:
    """``run_specs``'s ``jobs`` for ``--jobs`` and ``--ray``.

    Without Ray, the worker processes (1: this process). With a local Ray,
    ``--jobs`` already sized it, and its CPUs bound the tasks in flight
    (None); on a running Ray, ``--jobs`` bounds them (None: all its CPUs).
    """
    if ray is None:
        return jobs or 1
    return None if ray == "local" else jobs


def _cannot_write(error: OutputError, store: RunStore) -> int:
    """Say in one line which file could not be written and how to go on."""
    what = "the disk is full" if error.disk_full else "a write failed"
    print(
        f"error: {error} ({what}); every run finished before is in "
        f"{store.path}: free some space, then rerun with --resume to continue",
        file=sys.stderr,
    )
    return EXIT_CANNOT_WRITE


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Raise an ``OSError`` of the block as :class:`OutputError` on its file."""
    try:
        yield
    except OSError as error:
        raise OutputError(Path(error.filename or path), error) from error


def _run_and_report(
    args: argparse.Namespace,
    store: RunStore,
    specs: list[RunSpec],
    factories: dict[str, AgentFactory],
    done: dict[str, RunRecord],
) -> int:
    """Run what is still to run, appending to ``store``; write the results.

    Returns:
        The exit status (see :data:`EXIT_STATUSES`): a failed run, Ray that
        cannot be reached, Ctrl-C.

    Raises:
        OutputError: If a result cannot be written.
    """
    if not args.resume:
        with _writing(store.path):
            moved = store.rotate()
        if moved is not None:
            print(f"kept the previous runs as {moved}")
    todo = still_to_run(specs, done)
    if args.resume:
        print(
            f"resuming: {len(specs) - len(todo)} of {len(specs)} runs already "
            f"done; running {len(todo)}"
        )
    with ExitStack() as ray:
        if args.ray is not None:
            try:  # before any run: a cluster that does not answer costs nothing
                ray.enter_context(ray_session(args.ray, args.jobs))
            except ConnectionError as error:
                print(f"error: {error}", file=sys.stderr)
                return EXIT_USAGE
        bar = progress_bar(len(todo), "benchmark")

        def finished(record: RunRecord) -> None:
            with _writing(store.path):
                store.append(record)
            if bar is not None:
                bar.set_postfix_str(f"{record.agent} {record.configuration}")
                bar.update()

        try:
            run_specs(
                todo,
                factories,
                finished,
                jobs=_workers(args.jobs, args.ray),
                ray_address=args.ray,
                run_timeout=args.run_timeout,
            )
        except KeyboardInterrupt:
            print(
                f"\ninterrupted: every finished run is in {store.path}; "
                "rerun with --resume to continue",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        finally:
            if bar is not None:
                bar.close()
    latest = store.latest(spec.key for spec in specs)
    records = [latest[spec.key] for spec in specs if spec.key in latest]
    with _writing(args.output / RESULT_FILE):
        written = write_results(args.output, records, specs)
    print(f"\nwrote {', '.join(map(str, written))} (runs in {store.path})")
    failed = [r for r in records if r.failed]
    for r in failed:
        print(
            f"error: agent {r.agent} failed on {r.configuration} (seed {r.seed}): "
            f"{r.error}",
            file=sys.stderr,
        )
    return EXIT_FAILED_RUNS if failed else EXIT_OK
