"""The queue's ladder of levels, measured: states, nonzeros, build and solve time, V*.

For each level of ``AccessReviewQueue-v0`` (``access_review_env.QUEUE_LEVELS``)
the job builds the sparse model anew, solves it exactly over the registered
horizon (backward induction,
:func:`~agents.planning.value_iteration.value_iteration`, after one untimed
solve that compiles the kernels) and prints one row: the states, the decision
rows (state, action) and the branches stored (the nonzeros of both stages), the
seconds to build and to solve, and ``V*`` from the start distribution ``reset``
draws. The JSON record holds the same, with the machine it ran on.

    access-review queue-levels                        # every level
    access-review queue-levels --levels tiny small    # some of them
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from access_review_env import QUEUE_LEVELS
from agents.common.markdown_table import markdown_table
from agents.common.optional import available
from agents.jobs.outputs import prepare_output, write_outputs
from agents.jobs.speed_solver import queue_model
from agents.persistence import run_metadata
from agents.planning.value_iteration import value_iteration


@dataclass(frozen=True)
class LevelRow:
    """One level of the ladder, as measured.

    Attributes:
        level: The level's name.
        states: States of its model.
        decision_rows: (state, action) rows of the decision stage, S x A (an
            unavailable pair has no branches).
        nonzeros: Branches stored over both stages (decision and event).
        build_seconds: Time to build the model from the task's tables.
        solve_seconds: Time of the exact finite-horizon solve.
        horizon: Steps of the registered time limit the solve covers.
        optimal_value: ``V*`` from the start distribution.
    """

    level: str
    states: int
    decision_rows: int
    nonzeros: int
    build_seconds: float
    solve_seconds: float
    horizon: int
    optimal_value: float


def measure_level(level: str) -> LevelRow:
    """Build one level's model anew, solve it exactly, time both."""
    mdp, build_seconds = queue_model(level)
    assert mdp.horizon is not None
    start = time.perf_counter()
    solution = value_iteration(mdp, keep_history=False)
    solve_seconds = time.perf_counter() - start
    return LevelRow(
        level=level,
        states=mdp.n_states,
        decision_rows=mdp.decisions.n_rows,
        nonzeros=mdp.nnz,
        build_seconds=build_seconds,
        solve_seconds=solve_seconds,
        horizon=mdp.horizon,
        optimal_value=float(mdp.initial_distribution @ solution.V),
    )


def levels_table(rows: Sequence[LevelRow]) -> str:
    """The ladder as a Markdown table."""
    return markdown_table(
        (
            "level",
            "states",
            "(state, action) rows",
            "nonzeros",
            "build (s)",
            "solve (s)",
            "V* (start)",
        ),
        [
            (
                f"`{row.level}`",
                f"{row.states:,}",
                f"{row.decision_rows:,}",
                f"{row.nonzeros:,}",
                f"{row.build_seconds:.2f}",
                f"{row.solve_seconds:.2f}",
                f"{row.optimal_value:.1f}",
            )
            for row in rows
        ],
        align="lrrrrrr",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the requested levels, print the table, write the JSON record."""
    parser = argparse.ArgumentParser(
        prog="access-review queue-levels",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--levels",
        nargs="+",
        choices=tuple(QUEUE_LEVELS),
        default=list(QUEUE_LEVELS),
        help="the levels to measure (default: all, smallest first)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("runs/queue_levels"),
        help="folder of the JSON record (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    prepare_output(args.output)
    warm_up = queue_model("tiny")[0]
    value_iteration(warm_up)
    if available("numba"):
        value_iteration(warm_up, backend="numba")  # compiled before any timing
    rows = []
    for level in args.levels:
        rows.append(measure_level(level))
        print(f"measured {level}", flush=True)
    print(levels_table(rows))
    record = {**run_metadata(), "levels": rows}
    (path,) = write_outputs(args.output / "queue_levels.json", record)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
