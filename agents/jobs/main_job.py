"""The main job: solve AccessReview-v0 exactly, train every learner, compare, plot.

Solves the default task with value iteration, trains Q-learning and REINFORCE
through reset/step (and SB3's PPO, A2C, DQN and MaskablePPO when the ``sb3``
extra is installed), prints one table of each learner against the exact
optimum, and writes four plots and a JSON record to the output folder.

    access-review main                    # writes runs/main/
    access-review main --output out --no-sb3 --q-episodes 2000
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from access_review_env import (
    ACTIONS,
    ENV_ID,
    NON_TERMINAL_STATES,
    STATES,
    AccessReviewMDP,
    Action,
    State,
)
from agents.common.markdown_table import markdown_table
from agents.common.optional import available, install_hint
from agents.common.progress import progress_bar
from agents.integrations.sb3_settings import SETTINGS
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output, write_outputs
from agents.learners import (
    Recording,
    train_q_learning,
    train_recording,
    train_reinforce,
)
from agents.persistence import run_metadata
from agents.planning import ValueIterationResult, value_iteration

NEW = State.NEW_REQUEST
START_ACTIONS = [Action.AUTO_APPROVE, Action.REQUEST_EVIDENCE, Action.HUMAN_REVIEW]
"""The valid actions at new_request, whose values the plots follow."""
START_ACTION_NAMES = [ACTIONS[a] for a in START_ACTIONS]


@dataclass
class Config:
    """Budgets, seed and output of the main job."""

    output: Path = Path("runs/main")
    seed: int = 0
    q_episodes: int = 20_000
    reinforce_episodes: int = 5_000
    sb3: bool = True
    """Also cross-check the SB3 learners (skipped when the extra is missing)."""


@dataclass
class LearnerRow:
    """One learner against the exact solution."""

    learner: str
    policy: list[str]
    optimal: bool
    value: float
    exact_value: float
    budget: str
    seconds: float


def policy_names(actions: Any) -> list[str]:
    """Action names of a policy in the non-terminal states."""
    return [ACTIONS[int(actions[s])] for s in NON_TERMINAL_STATES]


def learner_row(
    name: str, run: Recording[list[float]], value: float, exact: ValueIterationResult
) -> LearnerRow:
    """Compare a trained tabular agent's greedy policy and value with the optimum."""
    greedy = run.agent.greedy_actions
    live = list(NON_TERMINAL_STATES)
    return LearnerRow(
        name,
        policy_names(greedy),
        bool(np.array_equal(greedy[live], exact.policy[live])),
        value,
        float(exact.V[NEW]),
        f"{len(run.agent.log.returns):,} episodes",
        run.seconds,
    )


def run_sb3(config: Config, progress: bool) -> list[LearnerRow]:
    """Cross-check the SB3 learners at the default abandonment probability."""
    from agents.integrations.sb3 import cross_check

    rows = []
    bar = progress_bar(len(SETTINGS), "SB3 learners") if progress else None
    for name in SETTINGS:
        check = cross_check(name, AccessReviewMDP().abandonment_prob, config.seed)
        if bar is not None:
            bar.update()
        rows.append(
            LearnerRow(
                f"{name} (stable-baselines3)",
                policy_names(check.greedy),
                check.agrees,
                check.value,
                check.exact_value,
                f"{check.timesteps:,} timesteps",
                check.seconds,
            )
        )
    if bar is not None:
        bar.close()
    return rows


def markdown(rows: list[LearnerRow]) -> str:
    """The comparison as a Markdown table."""
    headers = [
        "learner",
        "greedy policy (new / evidence / review)",
        "optimal?",
        "V(new_request) learned",
        "V*",
        "budget",
        "seconds",
    ]
    cells = [
        [
            r.learner,
            " / ".join(r.policy),
            "yes" if r.optimal else "NO",
            f"{r.value:.2f}",
            f"{r.exact_value:.2f}",
            str(r.budget),
            f"{r.seconds:.1f}",
        ]
        for r in rows
    ]
    return markdown_table(headers, cells, "lllrrlr")


def make_plots(
    config: Config,
    q_run: Recording[list[float]],
    r_run: Recording[list[float]],
    exact: ValueIterationResult,
) -> list[Path]:
    """Write the four PNGs into the output folder."""
    from agents.integrations.plotting import (
        plot_abandonment_sweep,
        plot_q_learning,
        plot_reinforce,
        plot_value_iteration,
    )

    histories = {
        f"p = {p}": value_iteration(AccessReviewMDP(abandonment_prob=p).arrays).history
        for p in (0.0, 0.25)
    }
    sweep = np.linspace(0.0, 0.5, 101)
    q_sweep = np.array(
        [
            value_iteration(AccessReviewMDP(abandonment_prob=p).arrays).Q[
                NEW, START_ACTIONS
            ]
            for p in sweep
        ]
    )
    out = config.output
    return [
        plot_value_iteration(histories, out / "value_iteration.png"),
        plot_q_learning(
            q_run.episodes,
            np.array(q_run.records),
            exact.Q[NEW, START_ACTIONS],
            q_run.agent.log.returns,
            out / "q_learning.png",
            START_ACTION_NAMES,
        ),
        plot_reinforce(
            r_run.episodes,
            np.array(r_run.records),
            out / "reinforce.png",
            START_ACTION_NAMES,
        ),
        plot_abandonment_sweep(
            sweep, q_sweep, 5 / 113, out / "abandonment.png", START_ACTION_NAMES
        ),
    ]


def run(config: Config) -> list[LearnerRow]:
    """Solve, train, compare, record, plot; every output is written atomically.

    Raises:
        ValueError: If the output folder cannot hold results (checked first).
    """
    prepare_output(config.output)
    progress = available("tqdm")
    sb3 = config.sb3 and available("stable_baselines3")
    exact = value_iteration(gym.make(ENV_ID))
    print(
        "AccessReview-v0 (p = 0.25), solved by value iteration in "
        f"{exact.n_sweeps} sweeps:"
    )
    print(f"  V* = {dict(zip(STATES, exact.V.round(2).tolist(), strict=True))}")
    print(f"  optimal policy = {' / '.join(policy_names(exact.policy))}\n")
    q_run = train_recording(
        train_q_learning,
        gym.make(ENV_ID),
        config.q_episodes,
        lambda agent: agent.q_table[NEW, START_ACTIONS].tolist(),
        rng=np.random.default_rng(config.seed),
        progress_bar=progress,
    )
    # REINFORCE learns evidence_ready, off the optimal path, only from exploring starts.
    r_run = train_recording(
        train_reinforce,
        gym.make(ENV_ID, exploring_starts=True),
        config.reinforce_episodes,
        lambda agent: agent.probabilities(NEW)[START_ACTIONS].tolist(),
        rng=np.random.default_rng(config.seed),
        progress_bar=progress,
    )
    rows = [
        learner_row(
            "Q-learning (agents)",
            q_run,
            float(q_run.agent.q_table[NEW, START_ACTIONS].max()),
            exact,
        ),
        learner_row(
            "REINFORCE (agents, exploring starts)",
            r_run,
            float(r_run.agent.baseline[NEW]),
            exact,
        ),
    ]
    if sb3:
        rows += run_sb3(config, progress)
    elif config.sb3:
        print(
            "stable-baselines3 is not installed: skipping the SB3 learners "
            f"({install_hint('stable_baselines3')})"
        )
    print()
    print(markdown(rows))
    record = {
        **run_metadata(ENV_ID, {}),
        "exact": {
            "V": exact.V,
            "policy": policy_names(exact.policy),
            "values": exact.horizon_text,
        },
        "learners": rows,
        "config": config,
    }
    written = write_outputs(
        config.output / "main.json",
        record,
        lambda: make_plots(config, q_run, r_run, exact),
    )
    agree = sum(row.optimal for row in rows)
    print(f"\n{agree} of {len(rows)} learners found the optimal policy.")
    print(f"wrote {', '.join(p.name for p in written)} in {config.output.resolve()}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    """The main job's command line."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument(
        "--output",
        type=arguments.output_folder,
        default=Config.output,
        help="folder for plots and JSON",
    )
    parser.add_argument("--seed", type=arguments.seed, default=Config.seed)
    parser.add_argument(
        "--q-episodes", type=arguments.positive_int, default=Config.q_episodes
    )
    parser.add_argument(
        "--reinforce-episodes",
        type=arguments.positive_int,
        default=Config.reinforce_episodes,
    )
    parser.add_argument("--no-sb3", action="store_true", help="skip the SB3 learners")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job from the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = Config(
        args.output,
        args.seed,
        args.q_episodes,
        args.reinforce_episodes,
        not args.no_sb3,
    )
    try:
        prepare_output(config.output)
    except ValueError as error:
        parser.error(str(error))
    run(config)
    return 0
