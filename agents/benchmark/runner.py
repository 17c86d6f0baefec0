"""Running a benchmark: an agent factory trained and scored on every configuration.

The unit of work is one :class:`RunSpec` (agent, configuration, seed, settings).
:func:`run_one` trains and scores it against the configuration's exact optimum
(see :mod:`agents.evaluation.scoring`) and always returns a :class:`RunRecord`:
an agent that raises (anything but ``KeyboardInterrupt``: ``SystemExit`` from
a ``sys.exit`` or argparse's ``parse_args`` too), returns something that is
not a policy or a table of another task, takes an action the env refuses, or
runs past its time limit gives a failed record with the error, never an
exception that would end the other runs.

Each run has a time limit (:data:`DEFAULT_RUN_TIMEOUT` unless given): an
alarm stops the agent's Python code at the limit in any process (see
:mod:`agents.benchmark.time_limits` for what it cannot stop), and in worker
processes the worker itself is killed shortly after. A batch of ``k`` seeds
trained together gets ``k`` times the limit.

Agent code cannot change the configurations of the runs after it: the
registration of each task (``gym.registry``) is put back as it was when the
benchmark started (in a worker process: as the worker first saw it) before
each run is made and after its agent's code, so every run is trained and
scored on the configuration asked for; the factory gets its own copy of the
kwargs.

A factory with ``train_many`` (:class:`~agents.benchmark.factories.ManySeedFactory`)
gets the specs of one (agent, configuration) together: :func:`run_many` trains
their seeds in one call, scores them together
(:func:`~agents.evaluation.scoring.score_policies`) and returns the same
records, one per spec. :func:`run_specs` groups specs that way (at most
:data:`MAX_BATCH` seeds a group) and runs every group.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import ENV_ID
from agents.benchmark import time_limits
from agents.benchmark.factories import (
    AgentFactory,
    Checkpoint,
    ManySeedFactory,
    Trained,
    TrainingTrace,
)
from agents.benchmark.fanout import TaskResult, run_tasks
from agents.benchmark.plugins import resolve_agent
from agents.benchmark.suite import SUITE, Configuration
from agents.benchmark.time_limits import TimeLimitExceeded, time_limit
from agents.evaluation.exact import scored_arrays
from agents.evaluation.scoring import PolicyScore, score_policies, score_policy
from agents.planning import optimal_start_value, start_value
from agents.policies import TabularPolicy, deterministic_table

MAX_BATCH = 4_096
"""Seeds a :class:`~agents.benchmark.factories.ManySeedFactory` trains at once
at most: memory grows with the batch (checkpoint snapshots are ``C x K x S x A``)."""

DEFAULT_RUN_TIMEOUT = 3_600.0
"""Seconds a run may take by default (training and scoring): an hour, so that
only a run that hangs meets it."""

ZERO_REGRET_TOLERANCE = 1e-9
"""Regret at most this is zero regret (exact values are floating point)."""


def is_zero_regret(regret: float) -> bool:
    """Whether an exact regret is zero, up to rounding."""
    return abs(regret) <= ZERO_REGRET_TOLERANCE


def zero_regret_since(steps: Sequence[int], regrets: Sequence[float]) -> int | None:
    """Steps after which every checkpoint has zero regret, or None.

    Args:
        steps: Env steps at each checkpoint, in order.
        regrets: The exact regret there (NaN when the policy cannot run).
    """
    return holds_from(steps, [is_zero_regret(regret) for regret in regrets])


def holds_from(points: Sequence[int], holds: Sequence[bool]) -> int | None:
    """The first of ``points`` from which ``holds`` is true through the last one.

    None when it is false at the last point.
    """
    first: int | None = None
    for point, holds_here in zip(points, holds, strict=True):
        first = (point if first is None else first) if holds_here else None
    return first


def steps_to_zero_regret(
    checkpoints: Sequence[Checkpoint], env_id: str, env_kwargs: Mapping[str, Any]
) -> int | None:
    """Env steps after which every checkpoint's greedy policy has zero exact regret.

    Exact values are those of the env as made (its time limit and its start
    distribution included: :func:`~agents.evaluation.exact.scored_arrays`).
    """
    if not checkpoints:
        return None
    arrays = scored_arrays(gym.make(env_id, **env_kwargs))
    optimal = optimal_start_value(arrays)
    regrets = []
    for _, greedy in checkpoints:
        value = start_value(arrays, deterministic_table(greedy, arrays.n_actions))
        regrets.append(float("nan") if value is None else optimal - value)
    return zero_regret_since([steps for steps, _ in checkpoints], regrets)


@dataclass(frozen=True)
class RunSpec:
    """One run to do: which agent, where, with which seed and settings.

    Small and picklable, so that a run can be sent to another process.
    """

    agent: str
    configuration: Configuration
    seed: int
    n_episodes: int = 1_000
    env_id: str = ENV_ID

    @property
    def key(self) -> str:
        """Identifies the run: two specs with the same key compute the same thing."""
        return run_key(
            self.agent,
            self.configuration.name,
            self.configuration.env_kwargs,
            self.seed,
            self.n_episodes,
            self.env_id,
        )

    @property
    def group(self) -> str:
        """The key without the seed: specs of one group may be trained at once."""
        return dataclasses.replace(self, seed=-1).key


def run_key(
    agent: str,
    configuration: str,
    env_kwargs: Mapping[str, Any],
    seed: int,
    n_episodes: int,
    env_id: str,
) -> str:
    """The key of a run, as text (a JSON array)."""
    return json.dumps(
        [agent, configuration, dict(env_kwargs), seed, n_episodes, env_id],
        sort_keys=True,
    )


@dataclass
class RunRecord:
    """One agent on one configuration with one seed, or how that run failed.

    Attributes:
        agent: The agent's name (built-in, ``sb3:...`` or ``module:callable``).
        configuration: The configuration's name.
        seed: The seed of training and of the scoring rollouts.
        env_id: The registered task.
        env_kwargs: The configuration's ``gym.make`` kwargs.
        n_episodes: Monte Carlo episodes of the score.
        score: The score, or None when the run failed before scoring.
        train_seconds: Time the factory took.
        steps_to_zero_regret: Training steps after which every checkpoint's
            greedy policy has zero regret (None when not reached or not reported).
        error: Why the run failed (exception type and message), or None.
        trace: The exact regret at checkpoints during training, for agents that
            report it (see :class:`~agents.benchmark.factories.TrainingTrace`).
        batch: Read from records of earlier versions only, which named the
            seeds trained together with this one (their number and a digest):
            their batched learners' results depended on that batch, so
            ``--resume`` reruns such a record (:func:`still_to_run`). None in
            records written now: a seed's result depends on its seed alone.
    """

    agent: str
    configuration: str
    seed: int
    env_id: str
    env_kwargs: dict[str, Any]
    n_episodes: int
    score: PolicyScore | None
    train_seconds: float
    steps_to_zero_regret: int | None
    error: str | None = None
    trace: TrainingTrace | None = None
    batch: str | None = None

    @property
    def failed(self) -> bool:
        """The agent failed: it raised, returned no policy, or crashed the env."""
        return self.error is not None

    @property
    def key(self) -> str:
        """See :attr:`RunSpec.key`."""
        return run_key(
            self.agent,
            self.configuration,
            self.env_kwargs,
            self.seed,
            self.n_episodes,
            self.env_id,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record back from its JSON form (nulls for non-finite numbers).

        Raises:
            KeyError, TypeError, ValueError: If ``data`` is not a record.
        """
        optional = {"trace", "batch"}  # absent from older records
        values: dict[str, Any] = {
            field.name: data.get(field.name)
            if field.name in optional
            else data[field.name]
            for field in fields(cls)
        }
        if values["score"] is not None:
            values["score"] = PolicyScore.from_json(values["score"])
        if values["trace"] is not None:
            values["trace"] = TrainingTrace.from_json(values["trace"])
        return cls(**values)


def _record(spec: RunSpec) -> RunRecord:
    """The record of ``spec`` before it has run."""
    return RunRecord(
        agent=spec.agent,
        configuration=spec.configuration.name,
        seed=spec.seed,
        env_id=spec.env_id,
        env_kwargs=dict(spec.configuration.env_kwargs),
        n_episodes=spec.n_episodes,
        score=None,
        train_seconds=0.0,
        steps_to_zero_regret=None,
    )


def _failed(
    spec: RunSpec, error: BaseException | str, seconds: float = 0.0
) -> RunRecord:
    """The record of a run that failed before its agent could, or was lost."""
    record = _record(spec)
    record.error = error if isinstance(error, str) else _error_text(error)
    record.train_seconds = seconds
    return record


def _error_text(error: BaseException) -> str:
    """An exception as a record's error: type, message and where it was raised."""
    # A time limit is raised by the alarm's handler: name the code it stopped.
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != time_limits.__file__
    ]
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})"
    message = str(error)
    if isinstance(error, SystemExit):
        message = f"the agent exited with status {error.code!r}"
    return f"{type(error).__name__}: {message}{where if frames else ''}"


_REGISTERED: dict[str, Any] = {}
"""Each task's registration (``EnvSpec``) as this process first saw it, or
as it was when :func:`run_specs` started."""


def _restore_registration(env_id: str) -> None:
    """Undo whatever agent code did to ``env_id``'s entry of ``gym.registry``.

    The first call for an id keeps a copy of its entry; later calls put that
    copy back if the entry changed (or was removed), so that every run is
    made and scored on the configuration the benchmark was asked for.
    """
    original = _REGISTERED.get(env_id)
    if original is None:
        if env_id in gym.registry:  # else gym.make fails the run, naming it
            _REGISTERED[env_id] = copy.deepcopy(gym.registry[env_id])
    elif gym.registry.get(env_id) != original:
        gym.registry[env_id] = copy.deepcopy(original)


def _check_task(policy: Any, env_id: str, env: gym.Env[Any, Any]) -> None:
    """Refuse one of our agents learned on a task of another shape than ``env_id``.

    Any other policy passes (its actions are checked as it plays).

    Raises:
        ValueError: Naming both tasks and their shapes.
    """
    if isinstance(policy, TabularPolicy):
        policy.check_task(
            env_id,
            int(env.observation_space.n),  # type: ignore[attr-defined]
            int(env.action_space.n),  # type: ignore[attr-defined]
        )


def _finish(record: RunRecord, trained: Trained, score: PolicyScore) -> None:
    """Fill ``record`` from a trained agent and its score."""
    record.score = score
    if score.crashed:
        record.error = f"InvalidActionError: {score.crash_message}"
    record.trace = trained.trace
    if trained.trace is not None:
        record.steps_to_zero_regret = zero_regret_since(
            trained.trace.steps, trained.trace.greedy_regret
        )
    else:
        record.steps_to_zero_regret = steps_to_zero_regret(
            trained.checkpoints, record.env_id, record.env_kwargs
        )


def run_one(
    spec: RunSpec,
    factory: AgentFactory | None = None,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> RunRecord:
    """Train ``spec.agent`` on its configuration and score it.

    Never raises for the agent's faults (only ``KeyboardInterrupt``
    propagates): they become the record's ``error``.

    Args:
        spec: The run.
        factory: The agent's factory; found from ``spec.agent`` when None (as
            a worker process does).
        timeout: Seconds the run (training and scoring) may take, None for no
            limit; a run stopped there fails with ``TimeLimitExceeded`` and
            ``train_seconds`` is the time it ran.

    Returns:
        The record; ``error`` says why the run failed, if it did.
    """
    record = _record(spec)
    start = time.perf_counter()
    kwargs = spec.configuration.env_kwargs
    try:
        with time_limit(timeout):
            factory = factory or resolve_agent(spec.agent)
            _restore_registration(spec.env_id)
            env = gym.make(spec.env_id, **copy.deepcopy(kwargs))
            result = factory(env, spec.seed)
            record.train_seconds = time.perf_counter() - start
            trained = result if isinstance(result, Trained) else Trained(result)
            _restore_registration(spec.env_id)
            _check_task(trained.policy, spec.env_id, env)
            score = score_policy(
                trained.policy,
                dict(kwargs),
                n_episodes=spec.n_episodes,
                seed=spec.seed,
                name=spec.agent,
                env_id=spec.env_id,
            )
            _finish(record, trained, score)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the agent's fault: record it, go on
        if isinstance(error, TimeLimitExceeded) or not record.train_seconds:
            record.train_seconds = time.perf_counter() - start
        record.error = _error_text(error)
    return record


def run_many(
    specs: Sequence[RunSpec],
    factory: ManySeedFactory,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> list[RunRecord]:
    """Train every seed of ``specs`` in one ``factory.train_many`` call; score them.

    The specs must share everything but the seed (:attr:`RunSpec.group`). The
    records are those :func:`run_one` would give, one per spec, except that
    ``train_seconds`` is the batch's time shared equally (the scores, Monte
    Carlo part included, are each seed's own: see
    :func:`~agents.evaluation.scoring.score_policies`). A failure in training
    fails every run of the batch; a failure in scoring sends each run through
    :func:`run_one`'s scoring, so that only the runs at fault fail. The batch
    may take ``timeout`` seconds per spec (None: no limit).

    Raises:
        ValueError: If the specs do not share one group.
    """
    if len({spec.group for spec in specs}) > 1:
        raise ValueError("run_many needs specs that differ only in their seeds")
    records = [_record(spec) for spec in specs]
    if not specs:
        return records
    first = specs[0]
    kwargs = first.configuration.env_kwargs
    limit = None if timeout is None else timeout * len(specs)
    start = time.perf_counter()
    seconds = 0.0
    try:
        with time_limit(limit):
            _restore_registration(first.env_id)
            trained = factory.train_many(
                first.env_id, copy.deepcopy(kwargs), [spec.seed for spec in specs]
            )
            if len(trained) != len(specs):
                raise ValueError(
                    f"train_many returned {len(trained)} agents for {len(specs)} seeds"
                )
            seconds = (time.perf_counter() - start) / len(specs)
            _restore_registration(first.env_id)
            try:
                env = gym.make(first.env_id, **kwargs)
                for done in trained:
                    _check_task(done.policy, first.env_id, env)
                scores = score_policies(
                    [t.policy for t in trained],
                    dict(kwargs),
                    seeds=[spec.seed for spec in specs],
                    n_episodes=first.n_episodes,
                    name=first.agent,
                    env_id=first.env_id,
                )
            except Exception:  # find the runs at fault one by one
                records = [
                    run_one(spec, _already(done), timeout)
                    for spec, done in zip(specs, trained, strict=True)
                ]
            else:
                for record, done, score in zip(records, trained, scores, strict=True):
                    _finish(record, done, score)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the agent's fault: every run of the batch fails
        seconds = (time.perf_counter() - start) / len(specs)
        for record in records:
            record.score = None
            record.error = _error_text(error)
    for record in records:
        record.train_seconds = seconds
    return records


def _already(trained: Trained) -> AgentFactory:
    """A factory that returns ``trained``, whatever env and seed it is given."""

    def factory(env: gym.Env[Any, Any], seed: int) -> Trained:
        return trained

    return factory


def batches(
    specs: Sequence[RunSpec], max_batch: int = MAX_BATCH
) -> Iterator[list[RunSpec]]:
    """``specs`` in groups that share everything but the seed.

    Groups come in order of first appearance, each of at most ``max_batch``
    specs.
    """
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.group, []).append(spec)
    for group in groups.values():
        for start in range(0, len(group), max_batch):
            yield group[start : start + max_batch]


def run_group(
    group: Sequence[RunSpec],
    factory: AgentFactory | None = None,
    timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> list[RunRecord]:
    """Run one group of :func:`groups`: all its seeds at once, or one by one.

    Never raises for the agent's faults, an agent that cannot be found
    included: they become the records' errors.

    Args:
        group: Specs that share everything but the seed.
        factory: The agent's factory; found by name when None (as a worker
            process does: a factory object need not pickle, a name does).
        timeout: Seconds each run may take (see :func:`run_one`); importing
            the agent's module is not part of a run.

    Returns:
        One record per spec, in the group's order.
    """
    try:
        factory = factory or resolve_agent(group[0].agent)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # a worker could not import the agent
        return [_failed(spec, error) for spec in group]
    if isinstance(factory, ManySeedFactory):
        return run_many(group, factory, timeout)
    return [run_one(spec, factory, timeout) for spec in group]


def groups(
    specs: Sequence[RunSpec], factories: Mapping[str, AgentFactory]
) -> list[list[RunSpec]]:
    """The units of work of :func:`run_specs`, in the order they run serially.

    A batch of :func:`batches` for a factory with ``train_many``, one spec at
    a time for the others. Grouping is for speed alone: a seed's record does
    not depend on the seeds trained with it (for our batched learners; a
    user's ``train_many`` must keep that promise too), so any backend, and a
    resumed run, may group otherwise.
    """
    units: list[list[RunSpec]] = []
    for batch in batches(specs):
        if isinstance(factories[batch[0].agent], ManySeedFactory):
            units.append(batch)
        else:
            units.extend([spec] for spec in batch)
    return units


def still_to_run(
    specs: Sequence[RunSpec], done: Mapping[str, RunRecord]
) -> list[RunSpec]:
    """What ``--resume`` runs: every spec without a finished record, in order.

    A spec is done when ``done`` holds a record of its key (see
    :attr:`RunSpec.key`) that did not fail and that was not trained in a
    batch by an earlier version (:attr:`RunRecord.batch` set: that seed's
    result depended on the seeds trained with it). Seeds stand alone, so the
    missing seeds of a batch rerun without the done ones, and a resumed
    benchmark gives the records of an uninterrupted one.
    """

    def finished(spec: RunSpec) -> bool:
        record = done.get(spec.key)
        return record is not None and not record.failed and record.batch is None

    return [spec for spec in specs if not finished(spec)]


def run_specs(
    specs: Sequence[RunSpec],
    factories: Mapping[str, AgentFactory],
    on_run: Callable[[RunRecord], None] | None = None,
    *,
    jobs: int | None = 1,
    ray_address: str | None = None,
    run_timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> list[RunRecord]:
    """Run every spec, batching the seeds of factories that have ``train_many``.

    With ``jobs`` > 1 or ``ray_address``, the groups of :func:`groups` run in
    ``jobs`` spawned processes or as Ray tasks
    (:func:`~agents.benchmark.fanout.run_tasks`), each worker finding its
    agent by name (:func:`~agents.benchmark.plugins.resolve_agent`), so
    ``factories`` must be what ``resolve_agent`` gives for those names. The
    groups are those of the serial run, so the records are the same (but for
    ``train_seconds``). A worker that dies fails only the group that killed it
    (see :func:`~agents.benchmark.fanout.run_tasks`).

    Args:
        specs: The runs.
        factories: Each agent's factory, by name.
        on_run: Called in this process with each record as soon as it is done
            (a batch's records come together), in the order they finish.
        jobs: Worker processes (1: in this process; None: one per core); with
            ``ray_address``, the CPUs of a local Ray started for the call, or
            the most tasks in flight on a running Ray (None: all its CPUs).
        ray_address: None, or ``"local"``, ``"auto"`` or ``"host:port"`` (see
            :func:`~agents.common.ray_session.start_ray`).
        run_timeout: Seconds a run may take (None: no limit); a batch of
            ``k`` seeds trained together gets ``k`` times as long. Serially
            and on Ray an alarm stops the agent's Python code at the limit;
            a worker process still running
            :data:`~agents.benchmark.fanout.HARD_LIMIT_GRACE_SECONDS` later
            is killed, whatever its code is doing.

    Returns:
        The records, in the order of :func:`groups` (as run serially).

    Raises:
        ValueError: For a ``run_timeout`` that is not positive.
        ImportError: For ``ray_address`` without the ``ray`` extra.
        KeyboardInterrupt: On Ctrl-C, after stopping the workers; records
            already handed to ``on_run`` stay handed.
    """
    if run_timeout is not None and (
        isinstance(run_timeout, bool) or not run_timeout > 0
    ):
        raise ValueError(
            f"run_timeout must be > 0 seconds or None, got {run_timeout!r}"
        )
    _REGISTERED.clear()  # this benchmark's configurations are the registry's now
    for env_id in dict.fromkeys(spec.env_id for spec in specs):
        _restore_registration(env_id)
    units = groups(specs, factories)
    if jobs == 1 and ray_address is None:
        records = []
        for unit in units:
            for record in run_group(unit, factories[unit[0].agent], run_timeout):
                records.append(record)
                if on_run is not None:
                    on_run(record)
        return records

    def finished(result: TaskResult[list[RunSpec], list[RunRecord]]) -> None:
        for record in _group_records(result):
            if on_run is not None:
                on_run(record)

    def unit_limit(unit: list[RunSpec]) -> float | None:
        # The runs' own alarms come first; this stops a worker they cannot stop.
        return None if run_timeout is None else run_timeout * len(unit)

    results = run_tasks(
        partial(run_group, timeout=run_timeout),
        units,
        jobs=jobs,
        ray_address=ray_address,
        on_result=finished,
        timeout=unit_limit,
    )
    return [record for result in results for record in _group_records(result)]


def _group_records(
    result: TaskResult[list[RunSpec], list[RunRecord]],
) -> list[RunRecord]:
    """A group's records, or failed ones if its worker died or was stopped.

    The time the group ran is shared equally by its runs' ``train_seconds``.
    """
    if result.value is not None:
        return result.value
    failure = result.failure
    assert failure is not None
    seconds = result.seconds / len(result.task)
    return [
        _failed(spec, f"{failure.type}: {failure.message}", seconds)
        for spec in result.task
    ]


def run_suite(
    factory: AgentFactory,
    agent_name: str,
    suite: Iterable[Configuration] = SUITE,
    seeds: Iterable[int] = range(10),
    n_episodes: int = 1_000,
    on_run: Callable[[RunRecord], None] | None = None,
    env_id: str = ENV_ID,
    run_timeout: float | None = DEFAULT_RUN_TIMEOUT,
) -> list[RunRecord]:
    """Train and score ``factory`` on every configuration for every seed.

    A failing run is recorded (see :func:`run_one`) and the others go on; a
    factory with ``train_many`` trains each configuration's seeds at once.
    Each run may take ``run_timeout`` seconds (see :func:`run_specs`).
    """
    seeds = list(seeds)
    specs = [
        RunSpec(agent_name, configuration, seed, n_episodes, env_id)
        for configuration in suite
        for seed in seeds
    ]
    return run_specs(specs, {agent_name: factory}, on_run, run_timeout=run_timeout)


def score_rows(
    records: Sequence[RunRecord],
) -> tuple[list[str], list[NDArray[np.float64]]]:
    """Configuration names and each one's normalized scores over its seeds.

    Only successful runs count, so rows may differ in length.
    """
    good = [(r.configuration, r.score) for r in records if not r.failed]
    names = list(dict.fromkeys(name for name, score in good if score is not None))
    rows = [
        np.array(
            [s.normalized_score for n, s in good if n == name and s is not None],
            dtype=np.float64,
        )
        for name in names
    ]
    return names, rows
