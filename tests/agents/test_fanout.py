"""The benchmark's executor: every backend gives exactly the serial results.

The process-pool tests need nothing beyond the package; the Ray tests (marker
``ray``) skip without the ``ray`` extra, and ``.ci/run`` runs them in a venv of
their own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID
from agents.benchmark import SUITE, BatchedFactory, RunRecord, RunSpec
from agents.benchmark.fanout import (
    HARD_LIMIT_GRACE_SECONDS,
    THREAD_VARIABLES,
    TaskResult,
    run_tasks,
    worker_died,
)
from agents.benchmark.runner import groups, run_specs
from agents.jobs.benchmark_agents import main as benchmark_main
from agents.learners import train_q_learning
from tests.helpers import python_without

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "benchmark_agents.py"
HERE = "tests.agents.test_fanout"


@dataclass(frozen=True)
class Run:
    """A small, seeded unit of work."""

    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    n_episodes: int = 300
    fail: bool = False


def q_learning_task(run: Run) -> dict[str, Any]:
    """Train Q-learning from the run's seed; raise if the run says so."""
    if run.fail:
        raise ValueError(f"run {run.seed} was asked to fail")
    agent = train_q_learning(
        gym.make(ENV_ID, **run.env_kwargs),
        run.n_episodes,
        rng=np.random.default_rng(run.seed),
    )
    return {"q_table": agent.q_table.tolist(), "returns": agent.log.returns[-5:]}


def exit_abruptly(value: int) -> int:
    """Kill the worker process for value 1, as a segfault or OOM kill would."""
    if value == 1:
        os._exit(3)
    return value


RUNS = [
    Run(0),
    Run(1, {"abandonment_prob": 0.0}),
    Run(2, fail=True),
    Run(3, {"rewards": "speed_only"}),
    Run(4, {"abandonment_prob": 0.5}),
]


def check_against_serial(results: list[TaskResult[Run, dict[str, Any]]]) -> None:
    """Same values as the serial loop, in task order, the failure reported."""
    serial = run_tasks(q_learning_task, RUNS)
    assert [r.index for r in results] == list(range(len(RUNS)))
    assert [r.task for r in results] == RUNS
    assert [r.value for r in results] == [r.value for r in serial]
    assert [r.ok for r in results] == [True, True, False, True, True]
    failure = results[2].failure
    assert failure is not None
    assert failure.type == "ValueError"
    assert failure.message == "run 2 was asked to fail"
    assert "q_learning_task" in failure.traceback


def test_serial_loop_reports_a_failure_and_runs_the_rest() -> None:
    """jobs=1: a raising task becomes a failed result; values are the plain calls."""
    delivered: list[int] = []
    results = run_tasks(
        q_learning_task, RUNS, on_result=lambda r: delivered.append(r.index)
    )
    assert delivered == list(range(len(RUNS)))
    assert results[0].value == q_learning_task(RUNS[0])
    check_against_serial(results)


@pytest.mark.processes
def test_processes_give_the_serial_results() -> None:
    """jobs=2 (spawned workers): identical values, each result delivered once."""
    delivered: list[int] = []
    results = run_tasks(
        q_learning_task, RUNS, jobs=2, on_result=lambda r: delivered.append(r.index)
    )
    assert sorted(delivered) == list(range(len(RUNS)))
    check_against_serial(results)


@pytest.mark.processes
def test_a_dead_worker_fails_only_its_own_task() -> None:
    """A task that kills its worker fails alone; every other task still runs.

    The dead worker is replaced, and each result is delivered exactly once.
    """
    delivered: list[int] = []
    results = run_tasks(
        exit_abruptly, range(8), jobs=2, on_result=lambda r: delivered.append(r.index)
    )
    assert sorted(delivered) == list(range(8))
    assert [r.index for r in results] == list(range(8))
    assert [r.ok for r in results] == [index != 1 for index in range(8)]
    assert results[1].failure == worker_died(3)
    assert results[1].failure.message.startswith(
        "the worker process running this task died (exit status 3)"
    )
    assert all(r.value == r.task for r in results if r.ok)


@pytest.mark.slow
@pytest.mark.processes
def test_ten_thousand_tasks_in_two_workers_all_finish() -> None:
    """Each result delivered once, none lost, none stuck.

    Before, each worker wrote every task it started to a pipe nobody read
    until a worker died: after 3,575 tasks here the pipe was full and both
    workers blocked for ever.
    """
    delivered: list[int] = []
    results = run_tasks(
        abs, range(10_000), jobs=2, on_result=lambda r: delivered.append(r.index)
    )
    assert sorted(delivered) == list(range(10_000))
    assert [r.value for r in results] == list(range(10_000))


def thread_settings(_: int) -> dict[str, str | None]:
    """What a worker's thread-pool variables were when it started."""
    return {name: os.environ.get(name) for name in THREAD_VARIABLES}


@pytest.mark.processes
def test_workers_start_with_their_thread_pools_capped() -> None:
    """The variables are set before a worker imports NumPy, and restored here."""
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    results = run_tasks(thread_settings, [0, 1], jobs=2, threads_per_job=1)
    assert [r.value for r in results] == [dict.fromkeys(THREAD_VARIABLES, "1")] * 2
    assert {name: os.environ.get(name) for name in THREAD_VARIABLES} == before


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.processes)])
def test_an_error_in_on_result_stops_the_run_and_propagates(jobs: int) -> None:
    """A failing progress bar or output file must not be swallowed."""

    def fail(result: TaskResult[Run, dict[str, Any]]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_tasks(q_learning_task, RUNS, jobs=jobs, on_result=fail)


def misbehave(value: int) -> int:
    """Value 1 exits as argparse does on a bad command line; value 2 hangs.

    Value 3 hangs where the alarm cannot reach it (SIGALRM blocked, as in a
    long call into native code); the others return themselves.
    """
    if value == 1:
        argparse.ArgumentParser(prog="agent").parse_args(["--no-such-option"])
    if value == 2:
        time.sleep(600)
    if value == 3:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    return value


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.processes)])
def test_a_task_that_exits_fails_alone(jobs: int) -> None:
    """SystemExit is the task's failure, with its status; the rest run."""
    results = run_tasks(misbehave, [0, 1, 4], jobs=jobs)
    assert [r.ok for r in results] == [True, False, True]
    failure = results[1].failure
    assert failure is not None
    assert (failure.type, failure.message) == ("SystemExit", "2")
    assert [r.value for r in results if r.ok] == [0, 4]


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.processes)])
def test_a_task_past_its_time_limit_fails_with_the_time_it_ran(jobs: int) -> None:
    """A 600 s task with a 1 s limit: TimeLimitExceeded, and the others go on."""
    results = run_tasks(misbehave, [0, 2, 4], jobs=jobs, timeout=1.0)
    assert [r.ok for r in results] == [True, False, True]
    failure = results[1].failure
    assert failure is not None
    assert failure.type == "TimeLimitExceeded"
    assert "time limit of 1 s" in failure.message
    assert 1.0 <= results[1].seconds < 600


@pytest.mark.processes
def test_a_worker_that_ignores_the_alarm_is_killed_and_replaced() -> None:
    """SIGALRM blocked (as native code would hold it): the parent kills the worker.

    The task fails with the time it ran; a fresh worker runs the tasks after
    it, and a task-specific limit (a function of the task) applies.
    """
    results = run_tasks(
        misbehave,
        [3, 0, 4, 5],
        jobs=2,
        timeout=lambda value: 1.0 if value == 3 else 60.0,
    )
    assert [r.ok for r in results] == [False, True, True, True]
    failure = results[0].failure
    assert failure is not None
    assert failure.type == "TimeLimitExceeded"
    assert "its worker process was killed" in failure.message
    assert 1.0 + HARD_LIMIT_GRACE_SECONDS <= results[0].seconds < 600


WORKERS_OF_A_KILLED_PARENT = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    from agents.benchmark.fanout import run_tasks


    def task(spec):
        value, folder = spec
        (Path(folder) / f"{os.getpid()}.pid").write_text("")
        time.sleep(600)
        return value


    if __name__ == "__main__":
        run_tasks(task, [(value, sys.argv[1]) for value in range(2)], jobs=2)
    """
)


@pytest.mark.processes
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    """Kill -9 of the parent mid-run: both workers are gone within 10 s.

    (Before, they lived on under PID 1, 43 to 165 MB each.)
    """
    script = tmp_path / "parent.py"
    script.write_text(WORKERS_OF_A_KILLED_PARENT)
    pids = tmp_path / "pids"
    pids.mkdir()
    parent = subprocess.Popen(
        [sys.executable, str(script), str(pids)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(path.stem) for path in pids.iterdir()]
        assert len(workers) == 2, "the workers did not start within 60 s"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while workers and time.monotonic() < deadline:
            workers = [pid for pid in workers if _alive(pid)]
            time.sleep(0.1)
        assert workers == [], f"workers {workers} outlived their parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jobs": 0}, "jobs must be an int >= 1 or None, got 0"),
        ({"threads_per_job": 0}, "threads_per_job must be >= 1 or None"),
        ({"ray_address": " "}, "ray_address must be 'local', 'auto' or 'host:port'"),
        ({"timeout": 0}, "timeout must be > 0 seconds or None, got 0"),
        ({"timeout": lambda run: -1.0}, "timeout must be > 0 seconds or None"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    """Out-of-range arguments raise before anything runs."""
    with pytest.raises(ValueError, match=message):
        run_tasks(q_learning_task, RUNS, **kwargs)


def test_a_function_that_cannot_be_pickled_is_rejected_on_every_backend() -> None:
    """A lambda would run in a loop, not in a worker: rejected even serially."""
    with pytest.raises(TypeError, match="top-level function of an importable module"):
        run_tasks(lambda run: run, RUNS)


def test_a_task_that_cannot_be_pickled_is_named() -> None:
    """The error names the task's index."""
    with pytest.raises(TypeError, match="task 1"):
        run_tasks(exit_abruptly, [0, lambda: 1])  # type: ignore[arg-type]


def test_no_tasks_no_results() -> None:
    """Nothing to run returns an empty list and starts no worker."""
    assert run_tasks(exit_abruptly, [], jobs=2) == []


INTERRUPTED_SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    from agents.benchmark.fanout import run_tasks


    def task(spec):
        value, folder = spec
        if value == 0:
            return value
        written = Path(folder) / f"{value}.tmp"
        written.write_text(str(os.getpid()))
        written.rename(written.with_suffix(".pid"))
        time.sleep(600)
        return value


    def report(result):
        print("result", result.index, flush=True)


    if __name__ == "__main__":
        backend = {"jobs": 2}
        if sys.argv[1] == "ray":
            backend["ray_address"] = "local"
        tasks = [(value, sys.argv[2]) for value in range(4)]
        run_tasks(task, tasks, on_result=report, **backend)
    """
)


@pytest.mark.processes
@pytest.mark.parametrize(
    "backend", ["processes", pytest.param("ray", marks=pytest.mark.ray)]
)
def test_ctrl_c_cancels_the_pending_tasks_and_stops_the_workers(
    backend: str, tmp_path: Path
) -> None:
    """SIGINT to the whole process group (a terminal's Ctrl-C) mid-run.

    Once the first result is in and a worker is inside a 600 s task, the run
    must end with KeyboardInterrupt long before the task would, and the
    processes running the tasks (each wrote its pid) must be gone.
    """
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED_SCRIPT)
    pids = tmp_path / "pids"
    pids.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-u", str(script), backend, str(pids)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert process.stdout is not None
    first = process.stdout.readline().split()
    assert first == ["result", "0"], first
    deadline = time.monotonic() + 60
    while not any(pids.glob("*.pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(path.read_text()) for path in pids.glob("*.pid")]
    assert workers, "no worker started a long task within 60 s"
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("run_tasks did not stop on Ctrl-C within 120 s")
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    deadline = time.monotonic() + 30
    while workers and time.monotonic() < deadline:
        workers = [pid for pid in workers if _alive(pid)]
        time.sleep(0.1)
    assert workers == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.processes
def test_without_ray_the_error_names_the_extra() -> None:
    """ray_address without Ray installed: ImportError with the install command."""
    code = (
        "from agents.benchmark.fanout import run_tasks\n"
        "run_tasks(abs, [1], ray_address='local')\n"
    )
    result = python_without("ray", code)
    assert result.returncode != 0
    assert "pip install 'access-review-env[ray]'" in result.stderr


# The agent benchmark on a small suite: a batched agent with a small budget,
# found by name in the workers, and two one-seed-at-a-time agents.
small_q_learning = BatchedFactory("q_learning", 400)
"""Our batched Q-learning with 400 episodes a seed (``train_many``)."""


def reviewer(env: gym.Env[Any, Any], seed: int) -> Any:
    """Always reviews (optimal at p = 0.25), one seed at a time."""
    return lambda state: [2, 0, 3, 0][state]


def broken(env: gym.Env[Any, Any], seed: int) -> Any:
    """Fails on every run."""
    raise RuntimeError(f"boom {seed}")


AGENTS = [f"{HERE}:small_q_learning", "random", f"{HERE}:reviewer", f"{HERE}:broken"]
SMALL_SUITE = [c for c in SUITE if c.name in ("default", "below_crossover")]


def small_specs() -> list[RunSpec]:
    """Four agents, two configurations, three seeds, 50 scoring episodes."""
    return [
        RunSpec(agent, configuration, seed, 50)
        for agent in AGENTS
        for configuration in SMALL_SUITE
        for seed in range(3)
    ]


def comparable(records: list[RunRecord]) -> list[dict[str, Any]]:
    """Records without their timing, the one field that differs between runs."""
    return [{**dataclasses.asdict(record), "train_seconds": None} for record in records]


@pytest.fixture(scope="module")
def serial_records() -> list[RunRecord]:
    """The small benchmark run in this process."""
    from agents.benchmark import resolve_agent

    specs = small_specs()
    return run_specs(specs, {name: resolve_agent(name) for name in AGENTS})


def test_groups_keep_batches_whole_and_split_the_others() -> None:
    """A batched agent's seeds stay together; other agents run one spec a task."""
    from agents.benchmark import resolve_agent

    units = groups(small_specs(), {name: resolve_agent(name) for name in AGENTS})
    assert [len(unit) for unit in units] == [3, 3] + [1] * 18
    assert [spec.seed for spec in units[0]] == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.processes
def test_benchmark_in_two_processes_gives_the_serial_records(
    serial_records: list[RunRecord],
) -> None:
    """Same scores, same steps to zero regret, failures kept, order as serial."""
    from agents.benchmark import resolve_agent

    delivered: list[RunRecord] = []
    records = run_specs(
        small_specs(),
        {name: resolve_agent(name) for name in AGENTS},
        delivered.append,
        jobs=2,
    )
    assert comparable(records) == comparable(serial_records)
    assert sorted(map(comparable_key, delivered)) == sorted(
        map(comparable_key, records)
    )
    batched = [r for r in records if r.agent.endswith("small_q_learning")]
    assert all(r.trace is not None and r.score is not None for r in batched)
    assert any(r.steps_to_zero_regret is not None for r in batched)
    errors = sorted(str(r.error) for r in records if r.failed)
    assert [error.split(" (at ")[0] for error in errors] == [
        f"RuntimeError: boom {seed}" for seed in (0, 0, 1, 1, 2, 2)
    ]


def comparable_key(record: RunRecord) -> str:
    """A record, timing left out, as sortable text."""
    return json.dumps(comparable([record]), sort_keys=True, default=str)


@pytest.mark.processes
def test_an_agent_a_worker_cannot_import_fails_its_runs_only() -> None:
    """Resolved in the worker: an import error there becomes the runs' errors."""
    spec = RunSpec("no_such_module_q:make", SMALL_SUITE[0], 0, 10)
    records = run_specs([spec, spec], {spec.agent: reviewer}, jobs=2)
    assert [r.failed for r in records] == [True, True]
    assert all(
        "cannot import module 'no_such_module_q'" in str(r.error) for r in records
    )


def _script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--agents",
            f"{HERE}:small_q_learning",
            f"{HERE}:reviewer",
            "--configurations",
            "default",
            "below_crossover",
            "--episodes",
            "50",
            *args,
        ],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=False,
    )


def _runs(path: Path) -> list[dict[str, Any]]:
    """The records of a runs.jsonl, timing left out, sorted."""
    runs = [json.loads(line) for line in path.read_text().splitlines()]
    for run in runs:
        run["train_seconds"] = None
    return sorted(runs, key=lambda run: json.dumps(run, sort_keys=True))


@pytest.mark.slow
@pytest.mark.processes
def test_the_job_with_jobs_2_writes_the_serial_runs_and_resumes(tmp_path: Path) -> None:
    """--jobs 2: the same runs.jsonl records and tables; --resume runs the rest.

    The rest is the third seed of each agent and configuration: seeds stand
    alone, so the batched Q-learning seeds already done are kept.
    """
    serial = _script(tmp_path, "--seeds", "2", "--output", "serial")
    assert serial.returncode == 0, serial.stderr[-2000:]
    fanned = _script(tmp_path, "--seeds", "2", "--jobs", "2", "--output", "fanned")
    assert fanned.returncode == 0, fanned.stderr[-2000:]
    assert _runs(tmp_path / "fanned" / "runs.jsonl") == _runs(
        tmp_path / "serial" / "runs.jsonl"
    )
    tables = serial.stdout.split("| agent |", 1)[1].split("\nwrote", 1)[0]
    assert tables in fanned.stdout
    resumed = _script(
        tmp_path, "--seeds", "3", "--jobs", "2", "--resume", "--output", "fanned"
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming: 8 of 12 runs already done; running 4" in resumed.stdout
    assert len(_runs(tmp_path / "fanned" / "runs.jsonl")) == 8 + 4


@pytest.mark.slow
@pytest.mark.processes
def test_the_job_without_ray_refuses_ray_at_once(tmp_path: Path) -> None:
    """--ray without the extra: exit 2 naming it, before any training."""
    code = (
        "from agents.jobs.benchmark_agents import main\n"
        "sys.exit(main(['--ray', '--output', 'out']))"
    )
    result = python_without("ray", code, cwd=tmp_path)
    assert result.returncode == 2
    assert "--ray needs Ray: pip install torch==2.13.0, then" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["nonsense", "", "head:0", ":6379"])
def test_a_malformed_ray_address_is_a_usage_error(
    tmp_path: Path, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ray takes 'local', 'auto' or 'host:port', and says so for anything else."""
    with pytest.raises(SystemExit) as stopped:
        benchmark_main(["--ray", address, "--output", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert (
        "is not a Ray address (allowed: 'local', 'auto' or" in capsys.readouterr().err
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.ray
def test_a_cluster_that_does_not_answer_is_an_error_at_once(tmp_path: Path) -> None:
    """Exit 2 within seconds, not after ray.init's minutes of retries."""
    start = time.perf_counter()
    code = benchmark_main(
        ["--agents", "random", "--ray", "127.0.0.1:1", "--output", str(tmp_path)]
    )
    assert code == 2
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "runs.jsonl").exists()


@pytest.mark.processes
@pytest.mark.ray
def test_ray_local_gives_the_serial_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray tasks on a local Ray started for the call: identical values, failure kept.

    "local" starts a new Ray even when the environment names a cluster (a stale
    RAY_ADDRESS would make ``ray.init()`` try to connect).
    """
    import ray

    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    delivered: list[int] = []
    results = run_tasks(
        q_learning_task,
        RUNS,
        jobs=2,
        ray_address="local",
        on_result=lambda r: delivered.append(r.index),
    )
    assert sorted(delivered) == list(range(len(RUNS)))
    check_against_serial(results)
    assert not ray.is_initialized()


@pytest.mark.processes
@pytest.mark.ray
def test_benchmark_on_ray_gives_the_serial_records(
    serial_records: list[RunRecord],
) -> None:
    """The agent benchmark as Ray tasks on a running local Ray, left running."""
    import ray

    from agents.benchmark import resolve_agent
    from agents.common.ray_session import start_ray

    assert start_ray("local", num_cpus=2)
    try:
        delivered: list[RunRecord] = []
        records = run_specs(
            small_specs(),
            {name: resolve_agent(name) for name in AGENTS},
            delivered.append,
            ray_address="local",
            jobs=None,
        )
        assert ray.is_initialized()
        assert not start_ray("local")  # already up: reused, not restarted
    finally:
        ray.shutdown()
    assert comparable(records) == comparable(serial_records)
    assert len(delivered) == len(records)


@pytest.mark.processes
@pytest.mark.ray
def test_the_job_on_ray_writes_the_serial_runs(tmp_path: Path) -> None:
    """--ray (a local Ray started for the run) writes the serial run's records."""
    serial = _script(tmp_path, "--seeds", "2", "--output", "serial")
    assert serial.returncode == 0, serial.stderr[-2000:]
    on_ray = _script(
        tmp_path, "--seeds", "2", "--ray", "--jobs", "2", "--output", "ray"
    )
    assert on_ray.returncode == 0, on_ray.stderr[-2000:]
    assert _runs(tmp_path / "ray" / "runs.jsonl") == _runs(
        tmp_path / "serial" / "runs.jsonl"
    )
