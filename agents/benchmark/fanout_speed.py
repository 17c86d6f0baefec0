"""The fan-out's speed: a reduced agent benchmark serially, in processes, on Ray.

The same runs (:func:`~agents.benchmark.runner.run_specs` on a reduced suite)
are timed serially, with ``jobs`` worker processes and, with the ``ray``
extra, as Ray tasks on a local Ray started for the call and on one already
running, alternating the backends over ``repeats`` rounds so that the
machine's load affects them alike. Every backend must return the serial
records; :func:`time_fan_out` checks it. Throughput is runs (agent,
configuration, seed) per second; "cores used" is the CPU time of this
process and its finished worker processes per wall second, how many cores the
pool actually got (Ray's workers are not this process's children, so Ray rows
have none).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from agents.benchmark.factories import BatchedFactory
from agents.benchmark.plugins import resolve_agent
from agents.benchmark.runner import RunRecord, RunSpec, run_specs
from agents.benchmark.suite import SUITE
from agents.common.optional import available
from agents.common.ray_session import ray_session

AGENTS = ("q_learning", "reinforce", "random")
"""The reduced suite's agents: ours at their full budgets, and random."""

small_q_learning = BatchedFactory("q_learning", 500)
"""Batched Q-learning with 500 episodes a seed, for ``--quick``; found by name
(``agents.benchmark.fanout_speed:small_q_learning``) in the workers."""

QUICK_AGENTS = (f"{__name__}:small_q_learning", "random")
"""The agents of a quick run."""


@dataclass
class FanOutTiming:
    """One backend's runs per second, round by round.

    Attributes:
        backend: What ran the runs.
        runs: Runs per round.
        seconds: Wall time of each round.
        cores: CPU seconds per wall second of each round (empty for Ray).
        identical: Every round returned the serial run's records.
    """

    backend: str
    runs: int
    seconds: list[float] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)
    identical: bool = True

    @property
    def rate(self) -> float:
        """Runs per second, at the median round."""
        return self.runs / statistics.median(self.seconds)


def reduced_suite(
    agents: Sequence[str] = AGENTS, seeds: int = 4, n_episodes: int = 200
) -> list[RunSpec]:
    """Every configuration of the suite for ``agents`` and ``seeds`` seeds."""
    return [
        RunSpec(agent, configuration, seed, n_episodes)
        for agent in agents
        for configuration in SUITE
        for seed in range(seeds)
    ]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished, waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _comparable(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(r), "train_seconds": None} for r in records]


def time_fan_out(
    specs: Sequence[RunSpec], jobs: int = 2, repeats: int = 3, ray: bool = True
) -> list[FanOutTiming]:
    """Time ``specs`` on every backend, alternately; check the records agree.

    Args:
        specs: The runs (agents found by name, as in the workers).
        jobs: Worker processes, and the CPUs of the local Ray.
        repeats: Rounds; each round runs every backend once.
        ray: Add the Ray rows when Ray is installed.

    Returns:
        Serial first, then processes, then the Ray rows if any.
    """
    factories = {
        name: resolve_agent(name) for name in dict.fromkeys(s.agent for s in specs)
    }
    backends: dict[str, dict[str, Any]] = {
        "serial": {"jobs": 1},
        f"--jobs {jobs}": {"jobs": jobs},
    }
    running_ray = f"--ray, a local Ray of {jobs} CPUs already running"
    if ray and available("ray"):
        backends[f"--ray, a local Ray of {jobs} CPUs started per call"] = {
            "jobs": jobs,
            "ray_address": "local",
        }
        backends[running_ray] = {"jobs": None, "ray_address": "local"}
    timings = {name: FanOutTiming(name, len(specs)) for name in backends}
    reference: list[dict[str, Any]] | None = None
    for _ in range(repeats):
        for name, options in backends.items():
            with ray_session("local", jobs) if name == running_ray else nullcontext():
                start, cpu_start = time.perf_counter(), cpu_seconds()
                records = run_specs(specs, factories, **options)
                seconds = time.perf_counter() - start
                cpu = cpu_seconds() - cpu_start
            timing = timings[name]
            timing.seconds.append(seconds)
            if "ray_address" not in options:
                timing.cores.append(cpu / seconds)
            found = _comparable(records)
            reference = found if reference is None else reference
            timing.identical &= found == reference
    return list(timings.values())


def load_average() -> float:
    """The one-minute load average (NaN where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - Windows
        return float("nan")
