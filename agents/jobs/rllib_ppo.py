r"""RLlib PPO on a task against value iteration, or a Ray Tune grid of it (ray extra).

Trains Ray RLlib's PPO (new API stack, torch; settings in
``agents.integrations.rllib``) on the task given by its registered id, then
prints the greedy action per state against value iteration's and the critic's
value per state against ``V*``, and saves a checkpoint. ``--tune`` runs a Ray
Tune grid over env kwargs instead (``abandonment_prob``, or the second task's
shares) and prints per trial whether the learned policy is optimal, with the
start state's margin: near p = 5/113 the best first action wins by under one
point, and the table says so. Writes ``rllib_ppo.json`` (or ``rllib_tune.json``)
and the checkpoint (or Tune's trial folders) to the output folder.

    access-review rllib                        # AccessReview-v0, p = 0.25
    access-review rllib --env-kwargs '{"abandonment_prob": 0.0}' --seed 3
    access-review rllib --env AccessReviewRisk-v0
    access-review rllib --tune                 # a grid over abandonment_prob
    access-review rllib --tune --env AccessReviewRisk-v0     # the shares
    access-review rllib --tune --grid '{"abandonment_prob": [0.04, 0.05]}' \
        --seeds 4
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from access_review_env import ENV_ID, ENV_IDS, RISK_ENV_ID
from agents.common.markdown_table import markdown_table
from agents.common.optional import available
from agents.common.ray_session import RAY_INSTALL
from agents.evaluation.policy_check import PolicyCheck
from agents.jobs import arguments
from agents.jobs.outputs import prepare_output, write_outputs
from agents.persistence import run_metadata

if TYPE_CHECKING:
    from agents.integrations.rllib import TrialCheck

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    ENV_ID: {"abandonment_prob": [0.0, 0.04, 0.05, 0.25, 0.5]},
    RISK_ENV_ID: {"clear_evidence_share": [0.2, 0.8], "unjustified_share": [0.0, 0.2]},
}
"""``--tune``'s grid per task: either side of the crossover p = 5/113 (about
0.044) and far from it; the second task's two shares."""

CLOSE_MARGIN = 1.0
"""Start-state margins below this many reward points are flagged as close calls."""

RECORD_FILE = "rllib_ppo.json"
TUNE_RECORD_FILE = "rllib_tune.json"


def _non_terminal(check: PolicyCheck, values: Sequence[Any]) -> list[Any]:
    return [
        v for v, terminal in zip(values, check.terminal, strict=True) if not terminal
    ]


def policy_table(check: PolicyCheck) -> str:
    """Greedy action per non-terminal state against value iteration's."""
    names = check.action_names
    cells = [
        [
            state,
            names[greedy],
            " or ".join(names[a] for a in optimal),
            "yes" if greedy in optimal else "NO",
        ]
        for state, greedy, optimal in zip(
            _non_terminal(check, check.state_names),
            _non_terminal(check, check.greedy),
            _non_terminal(check, check.optimal_actions),
            strict=True,
        )
    ]
    return markdown_table(
        ["state", "greedy action (PPO)", "optimal action(s)", "agrees"], cells
    )


def value_table(check: PolicyCheck) -> str:
    """Critic value per non-terminal state against ``V*``."""
    cells = [
        [state, f"{value:.2f}", f"{exact:.2f}", f"{value - exact:+.2f}"]
        for state, value, exact in zip(
            _non_terminal(check, check.state_names),
            _non_terminal(check, check.values),
            _non_terminal(check, check.exact_values),
            strict=True,
        )
    ]
    return markdown_table(["state", "learned V", "V*", "V - V*"], cells, "lrrr")


def trial_table(trials: Sequence[TrialCheck], grid: dict[str, list[Any]]) -> str:
    """One row per Tune trial: optimal or not, start margin, regret, start values."""
    first = next((t.check for t in trials if t.check is not None), None)
    states = (
        " / ".join(_non_terminal(first, first.state_names))
        if first is not None
        else "states"
    )
    headers = [
        *grid,
        "seed",
        f"greedy ({states})",
        "optimal?",
        "start margin",
        "regret",
        "V(start) learned",
        "V*(start)",
        "seconds",
    ]
    cells = []
    for trial in trials:
        point = [str(trial.env_kwargs.get(name)) for name in grid]
        check = trial.check
        if check is None:
            cells.append([*point, str(trial.seed), f"failed: {trial.error}", *[""] * 6])
            continue
        greedy = " / ".join(
            check.action_names[a] for a in _non_terminal(check, check.greedy)
        )
        close = " (close)" if check.start_margin < CLOSE_MARGIN else ""
        regret = "n/a" if check.regret is None else f"{check.regret:.2f}"
        cells.append(
            [
                *point,
                str(trial.seed),
                greedy,
                "yes" if check.agrees else "NO",
                f"{check.start_margin:.2f}{close}",
                regret,
                f"{check.start_value:.2f}",
                f"{check.exact_start_value:.2f}",
                f"{trial.seconds:.1f}",
            ]
        )
    return markdown_table(headers, cells, "r" * len(grid) + "rllrrrrr")


def run_single(args: argparse.Namespace) -> dict[str, Any]:
    """Train one PPO run, print its tables, save a checkpoint; return the record."""
    from agents.integrations.rllib import ppo_config, save_checkpoint, train_ppo

    config = ppo_config(args.env, args.env_kwargs, seed=args.seed)
    algorithm, trained = train_ppo(config, args.iterations)
    try:
        checkpoint = save_checkpoint(algorithm, args.output / "checkpoint")
    finally:
        algorithm.stop()
    final = trained.final
    first = trained.first_optimal_iteration
    regret = "n/a" if final.regret is None else f"{final.regret:.2f}"
    print(
        f"RLlib PPO on {args.env} {args.env_kwargs}, seed {args.seed}: "
        f"{trained.iterations} iterations, {trained.env_steps:,} env steps, "
        f"{trained.seconds:.1f} s"
    )
    print(
        (
            f"greedy policy optimal from iteration {first} on"
            if first is not None
            else "greedy policy NOT optimal after the last iteration"
        )
        + f"; regret {regret} (start-state margin {final.start_margin:.2f})\n"
    )
    print(policy_table(final))
    print()
    print(value_table(final))
    print(f"\ncheckpoint: {checkpoint}")
    return {
        "mode": "single",
        "seed": args.seed,
        "iterations": trained.iterations,
        "env_steps": trained.env_steps,
        "seconds": trained.seconds,
        "first_optimal_iteration": first,
        "checks": trained.checks,
        "checkpoint": checkpoint,
    }


def run_tune(args: argparse.Namespace) -> dict[str, Any]:
    """Run the Tune grid and print one row per trial; return the record."""
    from agents.integrations.rllib import tune_grid

    seeds = list(range(args.seed, args.seed + args.seeds))
    trials = tune_grid(
        args.grid,
        env_id=args.env,
        env_kwargs=args.env_kwargs,
        seeds=seeds,
        iterations=args.iterations,
        storage_path=args.output / "tune",
    )
    optimal = sum(t.check is not None and t.check.agrees for t in trials)
    print(
        f"Ray Tune grid of RLlib PPO on {args.env}: {len(trials)} trials "
        f"({args.seeds} seed(s) from {args.seed}), {args.iterations} iterations "
        f"each; greedy policy optimal in {optimal} of {len(trials)}\n"
    )
    print(trial_table(trials, args.grid))
    if any(t.check is not None and t.check.start_margin < CLOSE_MARGIN for t in trials):
        print(
            f"\n(close): the best first action beats the next by under "
            f"{CLOSE_MARGIN:g} point, so small errors in the estimated returns pick "
            "the wrong one; a wrong pick there costs at most that margin."
        )
    return {"mode": "tune", "grid": args.grid, "seeds": seeds, "trials": trials}


def build_parser() -> argparse.ArgumentParser:
    """The RLlib job's command line (needs no Ray, so ``--help`` works without it)."""
    parser = arguments.job_parser(__doc__)
    parser.add_argument("--env", choices=ENV_IDS, default=ENV_ID, help="the task")
    parser.add_argument(
        "--env-kwargs",
        metavar="JSON",
        default="{}",
        help="gym.make kwargs as a JSON object, e.g. '{\"abandonment_prob\": 0.0}'",
    )
    parser.add_argument("--seed", type=arguments.seed, default=0, help="RLlib seed")
    parser.add_argument(
        "--seeds",
        type=arguments.positive_int,
        default=1,
        help="with --tune: seeds per grid point, from --seed on",
    )
    parser.add_argument(
        "--iterations",
        type=arguments.positive_int,
        default=15,
        help="training iterations of 512 env steps per run",
    )
    parser.add_argument("--tune", action="store_true", help="run a Ray Tune grid")
    parser.add_argument(
        "--grid",
        metavar="JSON",
        help="with --tune: env kwarg -> list of values (default per task: "
        + "; ".join(f"{env}: {grid}" for env, grid in DEFAULT_GRIDS.items())
        + ")",
    )
    parser.add_argument(
        "--num-cpus",
        type=arguments.positive_int,
        help="CPUs of the local Ray (default: all); Tune runs a trial per CPU",
    )
    parser.add_argument(
        "--address",
        type=arguments.ray_address,
        help="run on a running Ray instead of a local one: 'auto' (this node's) "
        "or 'host:port'",
    )
    parser.add_argument("--verbose", action="store_true", help="show Ray's logs")
    parser.add_argument(
        "--output", type=arguments.output_folder, default=Path("runs/rllib")
    )
    return parser


def _check_arguments(args: argparse.Namespace) -> None:
    """Parse and check the JSON options by making the env once per grid point.

    Raises:
        ValueError: Naming the option and what the env refused.
    """
    if not args.tune and (args.grid is not None or args.seeds != 1):
        raise ValueError("--grid and --seeds go with --tune (one run takes --seed)")
    if args.address is not None and args.num_cpus is not None:
        raise ValueError(
            "--num-cpus sizes a local Ray; a running one (--address) has its own"
        )
    kwargs = arguments.json_object("--env-kwargs", args.env_kwargs)
    args.env_kwargs = arguments.env_kwargs("--env-kwargs", kwargs, args.env)
    if args.grid is None:
        args.grid = DEFAULT_GRIDS[args.env]
    else:
        args.grid = arguments.json_object("--grid", args.grid)
    if not args.grid or not all(
        isinstance(values, list) and values for values in args.grid.values()
    ):
        raise ValueError("--grid must map each env kwarg to a non-empty list of values")
    if args.tune:
        for point in itertools.product(*args.grid.values()):
            arguments.env_kwargs(
                "--grid",
                {**args.env_kwargs, **dict(zip(args.grid, point, strict=True))},
                args.env,
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job (exit 2 at once without the ``ray`` extra)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_arguments(args)
    except ValueError as error:
        parser.error(str(error))
    if not available("ray"):
        print(
            f"the rllib job needs Ray RLlib (the ray extra): {RAY_INSTALL}",
            file=sys.stderr,
        )
        return 2
    try:
        import agents.integrations.rllib  # noqa: F401  (torch too)
    except ImportError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        args.output = args.output.resolve()
        prepare_output(args.output)
    except ValueError as error:
        parser.error(str(error))
    if not args.verbose:
        # Tune's console output prints a banner even at verbose=0.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from agents.common.ray_session import ray_session

    start = time.perf_counter()
    with ExitStack() as ray:
        try:
            ray.enter_context(
                ray_session(
                    args.address or "local", args.num_cpus, quiet=not args.verbose
                )
            )
        except ConnectionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"Ray started in {time.perf_counter() - start:.1f} s\n")
        record = run_tune(args) if args.tune else run_single(args)
    (path,) = write_outputs(
        args.output / (TUNE_RECORD_FILE if args.tune else RECORD_FILE),
        {**run_metadata(args.env, args.env_kwargs), **record},
    )
    print(f"record: {path}")
    return 0
