"""The offline story on one command: log, split by time, fit, plan, evaluate off policy.

1. On AccessReview-v0 a behaviour policy with known probabilities
   (epsilon-greedy around the January plan) logs a year of requests while the
   abandonment probability rises, through the native vector env, on a clock.
   The decision log and the outcome log are written as Parquet and read back
   with every check.
2. The join keeps the complete cohort (requests still open at the end are
   counted and left out), the leakage check sorts features, and the episodes
   are split by time: train (8 months), validation (2), test (2).
3. A model is estimated on train and planned on; the plan is evaluated off
   policy on the test months with five estimators, each beside the plan's
   exact value there. The same fit under a random split shows what shuffling
   hides.
4. On AccessReviewRisk-v0 (two request kinds, no drift) a uniform behaviour
   logs a year; a plan fitted on the first months is evaluated on the last
   ones the same way.
5. Near the crossover p = 5/113 the plan needs far more logged episodes.

Prints one table, writes ``offline.json``, both logs and (with the ``plots``
extra) three figures to the output folder, every file atomically. Needs the
``offline`` extra (pyarrow). With ``--minari PATH`` (the ``minari`` extra) the
first episodes of each log are also exported as a Minari dataset in ``PATH``,
observations in the env's ``--minari-observation`` mode, for offline-RL
libraries.

    access-review offline                     # writes runs/offline/
    access-review offline --requests-per-month 5000 --repeats 5 --output out
    access-review offline --minari datasets --minari-observation features
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from access_review_env import ENV_ID, RISK_ENV_ID
from access_review_env.model import OBSERVATION_MODES
from agents.common.markdown_table import markdown_table
from agents.common.optional import available, install_hint
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output, write_outputs
from agents.offline import (
    Episodes,
    Estimate,
    LogMetadata,
    OfflineLog,
    OptimumCurve,
    Split,
    TimeOrderedLab,
    check_split,
    collect,
    episodes_to_optimum,
    epsilon_greedy_policy,
    estimate_model,
    evaluate_off_policy,
    join,
    monthly_drift,
    plan,
    sample_value,
    split_lab,
    steady,
    tabulate_policy,
    task_arrays,
    uniform_policy,
)
from agents.offline.clock import days
from agents.offline.lab import DEFAULT_DRIFT
from agents.persistence import run_metadata
from agents.planning import value_iteration

BYTES_PER_REQUEST = 530
"""Peak memory per logged request: tracemalloc's peak over the whole job grew
by 360 MiB from 20,000 to 80,000 requests a month (720,000 requests more)."""


MINARI_DATASETS = {
    ENV_ID: "access-review/review-drift-v0",
    RISK_ENV_ID: "access-review/risk-uniform-v0",
}
"""The Minari dataset id each task's log is exported under (``--minari``)."""
VALIDATION_MONTH, TEST_MONTH = 8, 10
"""AccessReview-v0: train on months 1-8, validate on 9-10, test on 11-12."""
CROSSOVER_PROBABILITIES = (0.25, 0.04)
"""Far from, and just below, the crossover p = 5/113 (about 0.044)."""


@dataclass
class Config:
    """Budgets, seed and output of the offline story."""

    output: Path = Path("runs/offline")
    seed: int = 0
    requests_per_month: int = 50_000
    """AccessReview-v0 requests logged per month (twelve months)."""
    epsilon: float = 0.5
    """Exploration of the AccessReview-v0 behaviour around the January plan."""
    risk_requests: int = 200_000
    """AccessReviewRisk-v0 requests logged over one year."""
    repeats: int = 20
    """Independent logs per crossover curve."""
    max_budget: int = 100_000
    """Largest number of logged episodes a crossover curve plans from."""
    progress: bool = True
    """Progress lines on stderr, and a bar over collection with tqdm."""
    minari: Path | None = None
    """Minari's datasets folder to export both logs to; None: no export."""
    minari_episodes: int = 1_000
    """Episodes exported per log: the earliest complete ones."""
    minari_observation: str = "index"
    """The exported observations: ``"index"`` or ``"features"``."""


@dataclass
class Story:
    """One task's log, the plan fitted on its past and the estimates on its future."""

    env_id: str
    log: OfflineLog
    episodes: Episodes
    test: Episodes
    plan: list[int]
    estimates: dict[str, Estimate]
    exact: float
    best: float


class Stages:
    """Progress lines on stderr: seconds since the start and what was done."""

    def __init__(self, enabled: bool) -> None:
        """Start the clock."""
        self.enabled = enabled
        self.start = time.perf_counter()

    def done(self, message: str) -> None:
        """Print one line, if enabled."""
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)


def store(log: OfflineLog, folder: Path) -> tuple[OfflineLog, float]:
    """Write both logs as Parquet, read them back with every check; MB written."""
    from agents.offline.storage import read_log, write_log

    paths = write_log(log, folder)
    megabytes = sum(path.stat().st_size for path in paths) / 1e6
    return read_log(folder, log.metadata.env_id), megabytes


def drift_story(config: Config, stages: Stages) -> tuple[Story, TimeOrderedLab]:
    """AccessReview-v0 under drift: log, store, split by time and at random, score."""
    schedule = monthly_drift(DEFAULT_DRIFT, config.requests_per_month)
    first_world = task_arrays(ENV_ID, schedule.periods[0].env_kwargs)
    production = value_iteration(first_world).policy
    behaviour = epsilon_greedy_policy(first_world, production, config.epsilon)
    log = collect(
        ENV_ID,
        behaviour,
        schedule,
        config.seed,
        progress=config.progress and available("tqdm"),
    )
    log, size = store(log, config.output / "log")
    stages.done(
        f"{ENV_ID}: logged {log.n_decisions:,} decisions, wrote and read back "
        f"{size:.1f} MB of Parquet"
    )
    lab = split_lab(log, VALIDATION_MONTH, TEST_MONTH, config.seed)
    stages.done(f"{ENV_ID}: split by time and at random; fitted and planned on each")
    episodes = join(log)
    test = episodes.arrived_between(schedule.periods[TEST_MONTH].start, None)
    target = tabulate_policy(first_world, np.array(lab.time.policy))
    story = Story(
        ENV_ID,
        log,
        episodes,
        test,
        lab.time.policy,
        evaluate_off_policy(test, target, np.random.default_rng(config.seed)),
        sample_value(test.arrived_at, log.metadata, target),
        sample_value(test.arrived_at, log.metadata, None),
    )
    stages.done(f"{ENV_ID}: evaluated the plan off policy on the test months")
    return story, lab


def risk_story(config: Config, stages: Stages) -> Story:
    """AccessReviewRisk-v0: fit on the first half year, evaluate on the second."""
    mdp = task_arrays(RISK_ENV_ID)
    schedule = steady(config.risk_requests, n_days=365)
    log = collect(RISK_ENV_ID, uniform_policy(mdp), schedule, config.seed + 1)
    log, size = store(log, config.output / "log_risk")
    episodes = join(log)
    middle = schedule.start + days(182.5)
    # The follow-up window as embargo: no training outcome after the first test
    # decision (check_split proves it).
    train = episodes.arrived_between(None, middle - days(log.metadata.follow_up_days))
    test = episodes.arrived_between(middle, None)
    check_split(Split(train, test.head(0), test, "time"))
    policy = plan(estimate_model(train, log.metadata.task))
    target = tabulate_policy(mdp, policy)
    story = Story(
        RISK_ENV_ID,
        log,
        episodes,
        test,
        [int(a) for a in policy],
        evaluate_off_policy(test, target, np.random.default_rng(config.seed)),
        sample_value(test.arrived_at, log.metadata, target),
        sample_value(test.arrived_at, log.metadata, None),
    )
    stages.done(
        f"{RISK_ENV_ID}: logged {log.n_decisions:,} decisions ({size:.1f} MB), "
        "fitted on the first half year, evaluated on the second"
    )
    return story


def crossover_curves(config: Config, stages: Stages) -> list[tuple[str, OptimumCurve]]:
    """Episodes the plan needs far from (p = 0.25) and near (p = 0.04) 5/113."""
    budgets = np.unique(
        np.round(np.logspace(1, np.log10(config.max_budget), 13)).astype(int)
    )
    curves = []
    for p in CROSSOVER_PROBABILITIES:
        kwargs = {"abandonment_prob": p}
        curve = episodes_to_optimum(
            ENV_ID,
            kwargs,
            uniform_policy(task_arrays(ENV_ID, kwargs)),
            budgets.tolist(),
            config.repeats,
            config.seed,
        )
        curves.append((f"p = {p}", curve))
        stages.done(f"crossover: p = {p}, {config.repeats} logs")
    return curves


def export_stories(config: Config, stories: Sequence[Story]) -> dict[str, Any]:
    """Each story's earliest complete episodes as a Minari dataset; what was written.

    Raises:
        ImportError: Without the ``minari`` extra.
        ValueError: If a dataset of that id exists in the folder already.
    """
    from agents.integrations.minari_export import export_minari

    assert config.minari is not None
    written = {}
    for story in stories:
        episodes = story.episodes.head(config.minari_episodes)
        dataset_id = MINARI_DATASETS[story.env_id]
        export_minari(
            episodes,
            story.log.metadata,
            dataset_id,
            observation=config.minari_observation,
            path=config.minari,
            author="access-review-env offline job",
        )
        written[story.env_id] = {
            "dataset_id": dataset_id,
            "episodes": episodes.n_episodes,
            "observation": config.minari_observation,
        }
    return written


def estimate_rows(stories: Sequence[Story]) -> list[dict[str, Any]]:
    """One row per task and estimator: the estimate beside the exact value."""
    return [
        {
            "task": story.env_id,
            "estimator": name,
            "estimate": estimate.value,
            "low": estimate.low,
            "high": estimate.high,
            "exact": story.exact,
            "error": estimate.value - story.exact,
            "covers": estimate.covers(story.exact),
            "ess": estimate.ess,
            "n_episodes": estimate.n_episodes,
        }
        for story in stories
        for name, estimate in story.estimates.items()
    ]


def markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The estimates as one Markdown table."""
    headers = [
        "task",
        "estimator",
        "estimate on the test months",
        "95% interval",
        "exact value",
        "error",
        "covers",
        "ESS",
    ]
    cells = [
        [
            row["task"],
            row["estimator"],
            f"{row['estimate']:.2f}",
            f"[{row['low']:.2f}, {row['high']:.2f}]",
            f"{row['exact']:.2f}",
            f"{row['error']:+.2f}",
            "yes" if row["covers"] else "NO",
            f"{row['ess']:,.0f}",
        ]
        for row in rows
    ]
    return markdown_table(headers, cells, "llrlrrlr")


def plan_text(metadata: LogMetadata, policy: Sequence[int]) -> str:
    """``state: action`` for each live state of a plan."""
    terminal = set(metadata.terminal_states)
    return ", ".join(
        f"{metadata.state_names[s]}: {metadata.action_names[a]}"
        for s, a in enumerate(policy)
        if s not in terminal
    )


def summary_lines(
    stories: Sequence[Story],
    lab: TimeOrderedLab,
    curves: Sequence[tuple[str, OptimumCurve]],
    config: Config,
) -> list[str]:
    """What the table means, in a few lines."""
    lines = []
    for story in stories:
        metadata = story.log.metadata
        lines.append(
            f"{story.env_id}, log until {metadata.log_end[:10]}: "
            f"{story.episodes.n_episodes:,} complete episodes, "
            f"{story.episodes.n_open:,} requests still open (left out), "
            f"{story.episodes.n_late:,} closed but after the complete cohort "
            f"(follow-up window {metadata.follow_up_days:g} days); behaviour "
            f"{metadata.behaviour['name']}; test sample {story.test.n_episodes:,} "
            "episodes."
        )
        lines.append(
            f"  plan: {plan_text(metadata, story.plan)}; exact value on the test "
            f"sample {story.exact:.2f}, best possible {story.best:.2f} "
            f"(regret {story.best - story.exact:.2f})."
        )
    lines.append(
        f"{ENV_ID} behaviour: epsilon-greedy ({config.epsilon}) around the "
        f"January plan; the plan above was fitted on months 1-{VALIDATION_MONTH} "
        f"and promised {lab.time.predicted:.2f}."
    )
    for result in (lab.time, lab.random):
        lines.append(
            f"{result.kind} split: held-out DR {result.held_out.value:.2f} "
            f"[{result.held_out.low:.2f}, {result.held_out.high:.2f}] against "
            f"promised {result.predicted:.2f} and exact future {result.future:.2f}"
            + ("; leakage: " + result.leakage.split(";")[0] if result.leakage else "")
        )
    lines.append(
        "Features refused at decision time: "
        + ", ".join(sorted(lab.rejected_features))
        + "; accepted: "
        + ", ".join(lab.accepted_features)
    )
    for label, curve in curves:
        summary = curve.summary()
        lines.append(
            f"Episodes until the plan stays optimal at {label} "
            f"({curve.regret.shape[0]} logs, uniform behaviour): median "
            f"{summary['q50']:,.0f}, 10-90% [{summary['q10']:,.0f}, "
            f"{summary['q90']:,.0f}]"
        )
    return lines


def curve_record(curve: OptimumCurve) -> dict[str, Any]:
    """A crossover curve as plain data."""
    rate, low, high = curve.match_rate()
    return {
        "budgets": curve.budgets,
        "match_rate": rate,
        "match_rate_low": low,
        "match_rate_high": high,
        "episodes_to_optimum": curve.episodes_to_optimum,
        "summary": curve.summary(),
    }


def make_plots(
    output: Path,
    lab: TimeOrderedLab,
    story: Story,
    curves: Sequence[tuple[str, OptimumCurve]],
) -> list[Path]:
    """The three figures of the story (the ``plots`` extra)."""
    from agents.integrations.offline_plots import (
        plot_drift_monitor,
        plot_estimates,
        plot_optimum_curves,
    )

    return [
        plot_drift_monitor(lab, output / "drift.png"),
        plot_estimates(story.estimates, story.exact, output / "ope.png"),
        plot_optimum_curves(curves, output / "crossover.png"),
    ]


def run(config: Config) -> dict[str, Any]:
    """Run the story, print its table, write JSON, logs and plots; return the record.

    Raises:
        ValueError: If the output folder cannot hold results (checked first).
        ImportError: Without pyarrow (the ``offline`` extra).
    """
    prepare_output(config.output)
    stages = Stages(config.progress)
    drift, lab = drift_story(config, stages)
    risk = risk_story(config, stages)
    curves = crossover_curves(config, stages)
    exported: dict[str, Any] = {}
    if config.minari is not None:
        with warnings.catch_warnings():
            # Minari asks for an author email and a code permalink; a local
            # export has neither.
            warnings.filterwarnings("ignore", "`(author_email|code_permalink)`")
            exported = export_stories(config, [drift, risk])
        stages.done(
            f"exported {config.minari_episodes:,} episodes of each log to Minari "
            f"({config.minari_observation} observations) in {config.minari}"
        )
    rows = estimate_rows([drift, risk])
    print(markdown(rows))
    print()
    print("\n".join(summary_lines([drift, risk], lab, curves, config)))
    record = {
        **run_metadata(),
        "config": config,
        "logs": {story.env_id: story.log.metadata.to_json() for story in (drift, risk)},
        "estimates": rows,
        "plans": {story.env_id: story.plan for story in (drift, risk)},
        "lab": lab.to_json(),
        "crossover": {label: curve_record(curve) for label, curve in curves},
        "minari": exported,
    }
    written = write_outputs(
        config.output / "offline.json",
        record,
        lambda: make_plots(config.output, lab, drift, curves),
    )
    stages.done("done")
    names = ", ".join(path.name for path in written)
    print(f"\nwrote {names} and both logs in {config.output.resolve()}")
    if config.minari is not None:
        ids = ", ".join(entry["dataset_id"] for entry in exported.values())
        print(f"wrote the Minari datasets {ids} in {config.minari.resolve()}")
    return record


def check_minari_folder(folder: Path) -> None:
    """Refuse a ``--minari`` folder that is a file or already holds these datasets.

    Checked before any work, so a long run does not fail at its last step.

    Raises:
        ValueError: Naming the folder, or the dataset that exists.
    """
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--minari {folder} is a file, not a folder")
    for dataset_id in MINARI_DATASETS.values():
        existing = folder / dataset_id
        if existing.exists():
            raise ValueError(
                f"--minari {folder} already holds the dataset {dataset_id} "
                f"({existing}); remove it or choose another folder"
            )


def build_parser() -> argparse.ArgumentParser:
    """The offline job's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--output",
        type=arguments.output_folder,
        default=Config.output,
        help="folder for every output",
    )
    parser.add_argument("--seed", type=arguments.seed, default=Config.seed)
    parser.add_argument(
        "--requests-per-month",
        type=arguments.positive_int,
        default=Config.requests_per_month,
        help=f"{ENV_ID} requests logged per month",
    )
    parser.add_argument(
        "--epsilon",
        type=arguments.probability,
        default=Config.epsilon,
        help=f"exploration of the {ENV_ID} behaviour",
    )
    parser.add_argument(
        "--risk-requests",
        type=arguments.positive_int,
        default=Config.risk_requests,
        help=f"{RISK_ENV_ID} requests logged over the year",
    )
    parser.add_argument(
        "--repeats",
        type=arguments.positive_int,
        default=Config.repeats,
        help="independent logs per crossover curve",
    )
    parser.add_argument(
        "--max-budget",
        type=arguments.integer_at_least(10),
        default=Config.max_budget,
        help="most logged episodes a crossover curve plans from",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress lines or bar"
    )
    parser.add_argument(
        "--minari",
        type=Path,
        default=None,
        metavar="PATH",
        help="also export each log's earliest episodes as a Minari dataset in "
        f"this folder ({', '.join(MINARI_DATASETS.values())}; minari extra)",
    )
    parser.add_argument(
        "--minari-episodes",
        type=arguments.positive_int,
        default=Config.minari_episodes,
        help="episodes exported per log",
    )
    parser.add_argument(
        "--minari-observation",
        choices=OBSERVATION_MODES,
        default=Config.minari_observation,
        help="the exported observations: state indices, or the env's feature "
        "vectors (for libraries that want vectors, such as d3rlpy)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the offline job from the command line (exit 2 without pyarrow)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not available("pyarrow"):
        print(
            f"the offline job needs pyarrow: {install_hint('pyarrow')}",
            file=sys.stderr,
        )
        return 2
    if args.minari is not None and not available("minari"):
        print(
            f"--minari needs minari: {install_hint('minari')}",
            file=sys.stderr,
        )
        return 2
    config = Config(
        args.output,
        args.seed,
        args.requests_per_month,
        args.epsilon,
        args.risk_requests,
        args.repeats,
        args.max_budget,
        not args.no_progress,
        args.minari,
        args.minari_episodes,
        args.minari_observation,
    )
    n_requests = len(DEFAULT_DRIFT) * config.requests_per_month + config.risk_requests
    arguments.refuse_if_too_large(
        parser,
        f"--requests-per-month {config.requests_per_month:,} and --risk-requests "
        f"{config.risk_requests:,} ({n_requests:,} requests, about "
        f"{BYTES_PER_REQUEST} bytes each)",
        n_requests * BYTES_PER_REQUEST,
    )
    try:
        prepare_output(config.output)
        if config.minari is not None:
            check_minari_folder(config.minari)
    except ValueError as error:
        parser.error(str(error))
    run(config)
    return 0
