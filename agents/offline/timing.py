"""Speed rows of the offline pipeline, measured in one run (the ``offline`` extra).

The speed job (``access-review speed``, :mod:`agents.jobs.speed`) prints
them as its second table. Each row times one stage on the same log of
``n_episodes`` requests, once, with ``time.perf_counter``, against an absolute
target where the stage has one: these machines are shared and noisy, so
rerun rather than trust one table.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from access_review_env import ENV_ID
from agents.offline.behaviour import tabulate_policy, uniform_policy
from agents.offline.clock import steady
from agents.offline.collection import collect, task_arrays
from agents.offline.logs import join
from agents.offline.model import estimate_model
from agents.offline.ope import evaluate_off_policy
from agents.offline.storage import read_log, write_log
from agents.planning import value_iteration

T = TypeVar("T")


@dataclass(frozen=True)
class SpeedRow:
    """One timed stage.

    Attributes:
        stage: What was timed.
        seconds: Wall time.
        detail: Sizes (rows, bytes) that make the number readable.
        limit: The target in seconds for the stage, or None.
    """

    stage: str
    seconds: float
    detail: str
    limit: float | None = None

    @property
    def target(self) -> str:
        """The target as text, e.g. ``"< 3 s"`` (empty without one)."""
        return "" if self.limit is None else f"< {self.limit:g} s"

    @property
    def met(self) -> bool | None:
        """Whether the stage beat its target (None without one)."""
        return None if self.limit is None else self.seconds < self.limit

    def to_json(self) -> dict[str, Any]:
        """Every field, with the target's text and whether it was met."""
        return {**asdict(self), "target": self.target, "met": self.met}


def _timed(function: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def speed_rows(
    n_episodes: int = 1_000_000,
    seed: int = 0,
    folder: str | Path | None = None,
    env_id: str = ENV_ID,
) -> list[SpeedRow]:
    """Time collection, Parquet writing and reading, the join, estimation and OPE.

    The log: ``n_episodes`` requests over one year of the task at its defaults
    under a uniform behaviour policy; the target of the off-policy estimators
    is the task's optimal policy.

    Args:
        n_episodes: Requests to log.
        seed: The collection's seed.
        folder: Where to write the Parquet files; a temporary folder when None.
        env_id: The task.
    """
    mdp = task_arrays(env_id)
    behaviour = uniform_policy(mdp)
    target = tabulate_policy(mdp, value_iteration(mdp).policy)
    with tempfile.TemporaryDirectory() as scratch:
        where = Path(folder) if folder is not None else Path(scratch)
        log, collect_s = _timed(
            lambda: collect(env_id, behaviour, steady(n_episodes), seed)
        )
        paths, write_s = _timed(lambda: write_log(log, where))
        size = sum(path.stat().st_size for path in paths)
        back, read_s = _timed(lambda: read_log(where, env_id))
    episodes, join_s = _timed(lambda: join(back))
    _, estimate_s = _timed(lambda: estimate_model(episodes, back.metadata.task))
    _, ope_s = _timed(
        lambda: evaluate_off_policy(episodes, target, np.random.default_rng(seed))
    )
    rows = f"{log.n_decisions:,} decisions, {log.n_outcomes:,} outcome rows"
    return [
        SpeedRow(
            "collect (vector env, clock, both logs in memory)",
            collect_s,
            f"{n_episodes:,} requests; {rows}",
        ),
        SpeedRow("write both Parquet files", write_s, f"{size / 1e6:.1f} MB"),
        SpeedRow("collect + write", collect_s + write_s, "", 3.0),
        SpeedRow("read back, with every check", read_s, rows, 1.0),
        SpeedRow(
            "join (complete cohort)",
            join_s,
            f"{episodes.n_episodes:,} episodes, {episodes.n_transitions:,} "
            f"transitions; {episodes.n_open:,} open, {episodes.n_late:,} late",
        ),
        SpeedRow("estimate the model (counts, rewards)", estimate_s, ""),
        SpeedRow(
            "five OPE estimators (IS, WIS, PDIS, DR, model)",
            ope_s,
            "DR cross-fitted over 2 folds; model interval from 200 bootstrap resamples",
        ),
        SpeedRow("estimate + five OPE", estimate_s + ope_s, "", 3.0),
        SpeedRow("join + estimate + five OPE", join_s + estimate_s + ope_s, ""),
    ]


def markdown(rows: list[SpeedRow]) -> str:
    """The rows as a Markdown table: stage, seconds, detail, target."""
    lines = ["| stage | seconds | detail | target |", "|---|---:|---|---|"]
    for row in rows:
        verdict = {None: "", True: " (met)", False: " (MISSED)"}[row.met]
        lines.append(
            f"| {row.stage} | {row.seconds:.2f} | {row.detail} | "
            f"{row.target}{verdict} |"
        )
    return "\n".join(lines)
