"""The main job: solve AccessReview-v0 exactly, train every learner, compare, plot.

Solves the default task with value iteration, trains Q-learning and REINFORCE
through reset/step (and SB3's PPO, A2C, DQN and MaskablePPO when the ``sb3``
extra is installed), prints one table of each learner against the exact
optimum, and writes four plots and a JSON record to the output folder.

    python scripts/main.py                    # writes runs/main/
    python scripts/main.py --output out --no-sb3 --q-episodes 2000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import access_review_env
from access_review_env import (
    ACTIONS,
    ENV_ID,
    NON_TERMINAL_STATES,
    STATES,
    AccessReviewMDP,
)
from agents import (
    train_q_learning,
    train_reinforce,
    value_iteration,
)
from agents.plotting import (
    plot_abandonment_sweep,
    plot_q_learning,
    plot_reinforce,
    plot_value_iteration,
)

NEW = NON_TERMINAL_STATES[0]
START_ACTIONS = [0, 1, 2]


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
    """Action names of a policy in the three non-terminal states."""
    return [ACTIONS[int(actions[s])] for s in NON_TERMINAL_STATES]


@dataclass
class Training:
    """A learner's run: the agent, snapshots of it over training, and its time."""

    agent: Any
    episodes: list[int]
    snapshots: list[list[float]]
    seconds: float


def train_with_snapshots(
    train: Callable[..., Any],
    env: gym.Env[Any, Any],
    n_episodes: int,
    config: Config,
    snapshot: Callable[[Any], list[float]],
    progress: bool,
) -> Training:
    """Train, recording ``snapshot(agent)`` after every 1 % of the episodes."""
    episodes: list[int] = []
    snapshots: list[list[float]] = []

    def record(episode: int, agent: Any) -> None:
        episodes.append(episode)
        snapshots.append(snapshot(agent))

    start = time.perf_counter()
    agent = train(
        env,
        n_episodes,
        rng=np.random.default_rng(config.seed),
        callback=record,
        callback_every=max(1, n_episodes // 100),
        progress_bar=progress,
    )
    return Training(agent, episodes, snapshots, time.perf_counter() - start)


def learner_row(name: str, run: Training, value: float, exact: Any) -> LearnerRow:
    """Compare a trained tabular agent's greedy policy and value with the optimum."""
    greedy = run.agent.greedy_policy
    return LearnerRow(
        name,
        policy_names(greedy),
        bool(np.array_equal(greedy[:3], exact.policy[:3])),
        value,
        float(exact.V[NEW]),
        f"{len(run.agent.log.returns):,} episodes",
        run.seconds,
    )


def run_sb3(config: Config, progress: bool) -> list[LearnerRow]:
    """Cross-check the SB3 learners at the default abandonment probability."""
    from tqdm.auto import tqdm

    from agents.sb3 import SETTINGS, cross_check

    rows = []
    for name in tqdm(list(SETTINGS), desc="SB3 learners", disable=not progress):
        check = cross_check(name, AccessReviewMDP().abandonment_prob, config.seed)
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
    return rows


def markdown(rows: list[LearnerRow]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| learner | greedy policy (new / evidence / review) | optimal? "
        "| V(new_request) learned | V* | budget | seconds |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.learner} | {' / '.join(r.policy)} | "
            f"{'yes' if r.optimal else 'NO'} | "
            f"{r.value:.2f} | {r.exact_value:.2f} | {r.budget} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def make_plots(
    config: Config, q_run: Training, r_run: Training, exact: Any
) -> list[Path]:
    """Write the four PNGs into the output folder."""
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
            np.array(q_run.snapshots),
            exact.Q[NEW, START_ACTIONS],
            q_run.agent.log.returns,
            out / "q_learning.png",
        ),
        plot_reinforce(
            r_run.episodes, np.array(r_run.snapshots), out / "reinforce.png"
        ),
        plot_abandonment_sweep(sweep, q_sweep, 5 / 113, out / "abandonment.png"),
    ]


def main(config: Config) -> list[LearnerRow]:
    """Solve, train, compare, plot, record."""
    progress = importlib.util.find_spec("tqdm") is not None
    sb3 = config.sb3 and importlib.util.find_spec("stable_baselines3") is not None
    exact = value_iteration(gym.make(ENV_ID))
    print(
        "AccessReview-v0 (p = 0.25), solved by value iteration in "
        f"{exact.n_sweeps} sweeps:"
    )
    print(f"  V* = {dict(zip(STATES, exact.V.round(2).tolist(), strict=True))}")
    print(f"  optimal policy = {' / '.join(policy_names(exact.policy))}\n")
    q_run = train_with_snapshots(
        train_q_learning,
        gym.make(ENV_ID),
        config.q_episodes,
        config,
        lambda agent: agent.q_table[NEW, START_ACTIONS].tolist(),
        progress,
    )
    # REINFORCE learns evidence_ready, off the optimal path, only from exploring starts.
    r_run = train_with_snapshots(
        train_reinforce,
        gym.make(ENV_ID, exploring_starts=True),
        config.reinforce_episodes,
        config,
        lambda agent: agent.probabilities(NEW)[START_ACTIONS].tolist(),
        progress,
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
            "(pip install '.[sb3]')"
        )
    print()
    print(markdown(rows))
    plots = make_plots(config, q_run, r_run, exact)
    record = {
        "env_id": ENV_ID,
        "env_kwargs": {},
        "exact": {"V": exact.V.tolist(), "policy": policy_names(exact.policy)},
        "learners": [asdict(row) for row in rows],
        "config": {k: str(v) for k, v in asdict(config).items()},
        "versions": {
            "python": platform.python_version(),
            "access_review_env": access_review_env.__version__,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
        },
        "plots": [p.name for p in plots],
    }
    (config.output / "main.json").write_text(json.dumps(record, indent=2))
    agree = sum(row.optimal for row in rows)
    print(f"\n{agree} of {len(rows)} learners found the optimal policy.")
    print(f"Plots and main.json are in {config.output.resolve()}")
    return rows


def parse_args() -> Config:
    """Read the command line into a :class:`Config`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--output", type=Path, default=Config.output)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--q-episodes", type=int, default=Config.q_episodes)
    parser.add_argument(
        "--reinforce-episodes", type=int, default=Config.reinforce_episodes
    )
    parser.add_argument("--no-sb3", action="store_true", help="skip the SB3 learners")
    args = parser.parse_args()
    if min(args.q_episodes, args.reinforce_episodes) < 1:
        parser.error("--q-episodes and --reinforce-episodes must be positive")
    return Config(
        args.output,
        args.seed,
        args.q_episodes,
        args.reinforce_episodes,
        not args.no_sb3,
    )


if __name__ == "__main__":
    main(parse_args())
