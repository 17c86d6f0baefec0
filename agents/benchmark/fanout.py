"""The benchmark's executor: independent tasks serially, in processes, or on Ray.

One function, :func:`run_tasks`, three backends that compute the same thing:

* ``jobs=1``: a plain loop in this process;
* ``jobs=N``: ``N`` spawned worker processes, each running one task at a time;
* ``ray_address="local" | "auto" | "host:port"``: Ray tasks on a Ray started here
  or on an existing cluster (needs the ``ray`` extra; see
  :mod:`agents.common.ray_session`).

A task is a small picklable spec (for the agent benchmark, one group of
:class:`~agents.benchmark.runner.RunSpec`, see
:func:`~agents.benchmark.runner.run_specs`) and ``function`` a top-level
importable callable of it that seeds everything it uses from the spec. Then
every backend returns exactly what the loop returns. A task that raises
(anything but ``KeyboardInterrupt``: ``SystemExit`` too) becomes a failed
:class:`TaskResult` (exception type, message, traceback, and the task); the
other tasks run on. A task that kills the process running it fails alone too:
Ray reports the dead task, and a dead worker process is replaced.

A time limit per task (``timeout``) is enforced serially and on Ray by an
alarm in the process running the task
(:func:`~agents.benchmark.time_limits.time_limit`, which stops Python code at
the limit), and in worker processes from outside: a worker still running its
task :data:`HARD_LIMIT_GRACE_SECONDS` past the limit is killed and replaced,
whatever the task is doing (a task that wants the traceback of where it was
stopped sets its own, shorter alarm, as the benchmark's runs do).

Workers die with the process that started them (``PR_SET_PDEATHSIG`` on
Linux, a thread watching the parent's pid on other POSIX systems), so a
parent killed with ``SIGKILL`` leaves none behind.

Why spawned processes: forking a process that already runs threads (PyTorch's
and OpenMP's pools, a progress bar's monitor thread, Ray's) can deadlock the
child; ``spawn`` starts clean interpreters on every OS at the price of one
import per worker. Each worker is limited to ``threads_per_job`` BLAS/OpenMP
and PyTorch threads so that ``N`` workers do not fight over ``N`` cores.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from agents.benchmark.time_limits import TimeLimitExceeded, time_limit
from agents.common.ray_session import import_ray, ray_session

TaskT = TypeVar("TaskT")
ValueT = TypeVar("ValueT")

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Environment variables that size the thread pools of BLAS and OpenMP."""


@dataclass(frozen=True)
class TaskFailure:
    """Why a task produced no value.

    Attributes:
        type: The exception's class name (``"BrokenProcessPool"`` when a worker
            process died, ``"RayTaskError"`` and the like for Ray's own errors).
        message: ``str(exception)``.
        traceback: The formatted traceback, from the process that raised.
    """

    type: str
    message: str
    traceback: str

    @classmethod
    def from_exception(cls, error: BaseException) -> TaskFailure:
        """Describe ``error`` in plain strings (exceptions may not pickle)."""
        return cls(
            type=type(error).__name__,
            message=str(error),
            traceback="".join(traceback.format_exception(error)),
        )


@dataclass(frozen=True)
class TaskResult(Generic[TaskT, ValueT]):
    """One task's outcome.

    Attributes:
        index: The task's position in the input.
        task: The task spec itself.
        value: ``function(task)``, or None if it failed.
        failure: Why it failed, or None.
        seconds: Wall time of the call in the process that ran it.
    """

    index: int
    task: TaskT
    value: ValueT | None
    failure: TaskFailure | None
    seconds: float

    @property
    def ok(self) -> bool:
        """The task returned a value."""
        return self.failure is None


def run_task(
    function: Callable[[TaskT], ValueT],
    index: int,
    task: TaskT,
    seconds: float | None = None,
) -> TaskResult[TaskT, ValueT]:
    """Call ``function(task)``; an exception becomes a failed result.

    Every backend runs tasks through this function, so they share its
    semantics: anything the task raises but ``KeyboardInterrupt`` (Ctrl-C)
    fails the task, ``SystemExit`` included (a task that calls ``sys.exit``
    or argparse's ``parse_args``), and so does running past ``seconds`` (see
    :func:`~agents.benchmark.time_limits.time_limit`).
    """
    start = time.perf_counter()
    try:
        with time_limit(seconds):
            value = function(task)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        return TaskResult(
            index,
            task,
            None,
            TaskFailure.from_exception(error),
            time.perf_counter() - start,
        )
    return TaskResult(index, task, value, None, time.perf_counter() - start)


def run_tasks(
    function: Callable[[TaskT], ValueT],
    tasks: Iterable[TaskT],
    *,
    jobs: int | None = 1,
    ray_address: str | None = None,
    on_result: Callable[[TaskResult[TaskT, ValueT]], None] | None = None,
    threads_per_job: int | None = 1,
    timeout: float | Callable[[TaskT], float | None] | None = None,
) -> list[TaskResult[TaskT, ValueT]]:
    """Run ``function`` on every task; return the results in task order.

    Args:
        function: A top-level importable callable (picklable by reference) that
            takes one task and returns a picklable value. It must draw all its
            randomness from seeds in the task for the backends to agree.
        tasks: Small picklable task specs, e.g. frozen dataclasses.
        jobs: Without ``ray_address``: 1 runs the loop in this process, ``N``
            runs ``N`` worker processes, None one per CPU. With ``ray_address``:
            the CPUs of a Ray started here, or the most tasks in flight at once
            on a running Ray or cluster; None means all of its CPUs.
        ray_address: None for local execution; ``"local"`` to start Ray in this
            process (stopped at the end); ``"auto"`` or ``"host:port"`` to
            connect to a running cluster (whose nodes must have this package and
            the task's module installed). A Ray already initialized by the
            caller is used as it is and left running.
        on_result: Called in this process with each result as it completes, in
            completion order (for a progress bar, incremental output). If it
            raises, the run stops as on Ctrl-C and the error propagates.
        threads_per_job: BLAS, OpenMP and PyTorch threads per worker process
            (None leaves them alone); the serial loop never changes them, so a
            task that needs bit-identical torch results should set its own
            thread count, as ``agents.integrations.sb3.train_sb3`` does.
        timeout: Seconds a task may run: one number for every task, a
            function of the task, or None for no limit. A task past it fails
            with ``TimeLimitExceeded`` (see the module's docstring for how it
            is stopped on each backend).

    Returns:
        One :class:`TaskResult` per task, ordered as ``tasks``.

    Raises:
        ValueError: For ``jobs`` < 1, an empty ``ray_address`` or a
            ``timeout`` that is not positive.
        TypeError: If ``function`` or a task cannot be pickled.
        ImportError: If ``ray_address`` is given and Ray is not installed.
        KeyboardInterrupt: On Ctrl-C, after killing the workers (or cancelling
            the Ray tasks); results already delivered stay delivered.
    """
    task_list = list(tasks)
    if jobs is not None and (isinstance(jobs, bool) or jobs < 1):
        raise ValueError(f"jobs must be an int >= 1 or None, got {jobs!r}")
    if threads_per_job is not None and threads_per_job < 1:
        raise ValueError(
            f"threads_per_job must be >= 1 or None, got {threads_per_job!r}"
        )
    if ray_address is not None and not ray_address.strip():
        raise ValueError(
            "ray_address must be 'local', 'auto' or 'host:port', got an empty string"
        )
    limit_of = _limits(timeout)
    _check_picklable(function, task_list)
    if ray_address is not None:
        import_ray()
    if not task_list:
        return []
    deliver = on_result or (lambda result: None)
    if ray_address is not None:
        return _run_ray(function, task_list, jobs, ray_address, deliver, limit_of)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers == 1:
        return _run_serial(function, task_list, deliver, limit_of)
    return _run_processes(
        function,
        task_list,
        min(workers, len(task_list)),
        threads_per_job,
        deliver,
        limit_of,
    )


def _limits(
    timeout: float | Callable[[TaskT], float | None] | None,
) -> Callable[[TaskT], float | None]:
    """``timeout`` as a function of the task, each limit checked when used."""

    def checked(seconds: float | None) -> float | None:
        if seconds is not None and (isinstance(seconds, bool) or not seconds > 0):
            raise ValueError(f"timeout must be > 0 seconds or None, got {seconds!r}")
        return seconds

    if callable(timeout):
        return lambda task: checked(timeout(task))
    checked(timeout)
    return lambda task: timeout


def _check_picklable(function: Callable[..., Any], tasks: Sequence[Any]) -> None:
    try:
        pickle.dumps(function)
    except Exception as error:
        raise TypeError(
            f"function {function!r} cannot be pickled ({error}); pass a top-level "
            "function of an importable module, not a lambda or a nested function"
        ) from error
    for index, task in enumerate(tasks):
        try:
            pickle.dumps(task)
        except Exception as error:
            raise TypeError(
                f"task {index} ({task!r}) cannot be pickled: {error}"
            ) from error


def _run_serial(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
    limit_of: Callable[[TaskT], float | None],
) -> list[TaskResult[TaskT, ValueT]]:
    results = []
    for index, task in enumerate(tasks):
        result = run_task(function, index, task, limit_of(task))
        results.append(result)
        deliver(result)
    return results


def _init_worker(threads: int | None, parent: int) -> None:
    """Leave Ctrl-C to the parent, die with it, cap torch's threads.

    The BLAS and OpenMP variables are set in the parent before the worker
    is spawned (they are read when NumPy is imported, before this runs).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent)
    torch = sys.modules.get("torch")
    if threads is not None and torch is not None:
        torch.set_num_threads(threads)


PARENT_POLL_SECONDS = 1.0
"""How often a worker without ``PR_SET_PDEATHSIG`` (not Linux) checks its parent."""


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as the process that started it is gone.

    On Linux the kernel sends ``SIGKILL`` when the parent dies
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread checks the
    parent's pid every :data:`PARENT_POLL_SECONDS`. A parent that died before
    this ran is caught by the check after it.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    elif os.name == "posix":
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.name == "posix" and os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _worker_main(
    connection: Any,
    function: Callable[[Any], Any],
    threads: int | None,
    parent: int,
) -> None:
    """A worker process: run the tasks the parent sends until it sends None.

    For each ``(index, task)`` it says ``("started", index)``, then
    ``("done", result)``; a value that cannot be pickled becomes a failed
    result. It ends on None, or when the parent's end of the pipe closes. Its
    time limit is the parent's to enforce.
    """
    _init_worker(threads, parent)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, task = message
        connection.send(("started", index))
        result = run_task(function, index, task)
        try:
            connection.send(("done", result))
        except Exception as error:  # the value did not pickle
            failure = TaskFailure.from_exception(error)
            connection.send(
                ("done", TaskResult(index, task, None, failure, result.seconds))
            )


@contextmanager
def _thread_variables(threads: int | None) -> Iterator[None]:
    """Set the thread-pool variables that spawned workers inherit, then restore."""
    if threads is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _receive(
    index: int,
    task: TaskT,
    get: Callable[[], TaskResult[TaskT, ValueT]],
    results: dict[int, TaskResult[TaskT, ValueT]],
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
) -> None:
    """Fetch a finished task's result (or why the backend lost it) and deliver it."""
    try:
        result = get()
    except Exception as error:  # the worker died, or the value did not unpickle
        result = TaskResult(index, task, None, TaskFailure.from_exception(error), 0.0)
    results[index] = result
    deliver(result)


def worker_died(exitcode: int | None) -> TaskFailure:
    """The failure of a task whose worker process died while running it."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    return TaskFailure(
        type="WorkerDied",
        message=f"the worker process running this task died ({how}): a crash in "
        "native code, the out-of-memory killer, or the task ending its process",
        traceback="",
    )


def timed_out(seconds: float, limit: float) -> TaskFailure:
    """The failure of a task stopped, with its worker, at its time limit."""
    return TaskFailure(
        type=TimeLimitExceeded.__name__,
        message=f"stopped at its time limit of {limit:g} s after {seconds:.1f} s "
        "(its worker process was killed)",
        traceback="",
    )


HARD_LIMIT_GRACE_SECONDS = 5.0
"""How long past its time limit a task in a worker may go on before the worker
is killed: room for a task's own alarm to stop it first, with a traceback, and
for a fresh worker's first task to import its modules."""

STOP_GRACE_SECONDS = 5.0
"""How long an idle worker told to stop may take before it is killed."""


@dataclass
class _Worker:
    """One worker process, the parent's end of its pipe, and its current task."""

    process: Any
    connection: Any
    index: int | None = None
    limit: float | None = None
    started: float | None = None

    @classmethod
    def start(
        cls, context: Any, function: Callable[[Any], Any], threads: int | None
    ) -> _Worker:
        """Spawn a worker (it inherits the thread-pool variables)."""
        here, there = context.Pipe()
        process = context.Process(
            target=_worker_main,
            args=(there, function, threads, os.getpid()),
            name="benchmark-worker",
        )
        with _thread_variables(threads):
            process.start()
        there.close()
        return cls(process, here)

    def send(self, index: int, task: Any, limit: float | None) -> None:
        """Hand it task ``index``.

        Raises:
            OSError: If the worker is gone.
        """
        self.index, self.limit, self.started = index, limit, None
        self.connection.send((index, task))

    def deadline(self) -> float | None:
        """When the running task's time is up (counted from its start)."""
        if self.started is None or self.limit is None:
            return None
        return self.started + self.limit + HARD_LIMIT_GRACE_SECONDS

    def kill(self) -> None:
        """End the process at once and wait for it."""
        self.connection.close()
        self.process.kill()
        self.process.join()

    def stop(self) -> None:
        """Ask an idle worker to end (a busy or dead one is killed instead)."""
        if self.index is None and self.process.is_alive():
            with suppress(OSError):
                self.connection.send(None)
        else:
            self.process.kill()


def _stop_all(pool: Sequence[_Worker]) -> None:
    """End every worker: idle ones are told to, the others are killed."""
    for worker in pool:
        worker.stop()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in pool:
        worker.process.join(max(deadline - time.monotonic(), 0.0))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.connection.close()


def _run_processes(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    workers: int,
    threads: int | None,
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
    limit_of: Callable[[TaskT], float | None],
) -> list[TaskResult[TaskT, ValueT]]:
    """Run every task in ``workers`` spawned processes, one task at a time each.

    A worker runs one task at a time, so one that dies (killed, out of
    memory, a crash in native code) fails exactly the task it was running, and
    one still running past its time limit is killed with its task; either is
    replaced while tasks remain. On any exception (Ctrl-C, or ``deliver``
    raising) every worker is killed before it propagates. The parent shares
    no thread, lock or queue with the workers, only one pipe each: it waits
    on the pipes and the processes' sentinels, so Ctrl-C interrupts that wait
    wherever it lands.
    """
    context = multiprocessing.get_context("spawn")
    results: dict[int, TaskResult[TaskT, ValueT]] = {}
    waiting = list(range(len(tasks)))[::-1]
    pool: list[_Worker] = []

    def assign(worker: _Worker) -> None:
        """Give ``worker`` the next task, replacing it if it is gone."""
        index = waiting.pop()
        while True:
            try:
                worker.send(index, tasks[index], limit_of(tasks[index]))
                return
            except OSError:
                pool.remove(worker)
                worker.kill()
                worker = _Worker.start(context, function, threads)
                pool.append(worker)

    try:
        for _ in range(min(workers, len(tasks))):
            pool.append(_Worker.start(context, function, threads))
            assign(pool[-1])
        while len(results) < len(tasks):
            busy = [worker for worker in pool if worker.index is not None]
            deadlines = [d for worker in busy if (d := worker.deadline()) is not None]
            ready = set(
                multiprocessing.connection.wait(
                    [worker.connection for worker in busy]
                    + [worker.process.sentinel for worker in busy],
                    timeout=max(min(deadlines) - time.monotonic(), 0.0)
                    if deadlines
                    else None,
                )
            )
            for worker in busy:
                result, usable = _check(worker, ready, tasks)
                if result is None:
                    continue
                worker.index = None
                results[result.index] = result
                deliver(result)
                if not usable:
                    pool.remove(worker)
                    worker.kill()
                    if waiting:
                        pool.append(_Worker.start(context, function, threads))
                        assign(pool[-1])
                elif waiting:
                    assign(worker)
    finally:
        _stop_all(pool)
    return [results[index] for index in range(len(tasks))]


def _check(
    worker: _Worker, ready: set[Any], tasks: Sequence[TaskT]
) -> tuple[TaskResult[TaskT, Any] | None, bool]:
    """A busy worker's news: its task's result if it ended; the worker usable.

    The task ends with its value or error, with :func:`worker_died` if the
    process died, or with :func:`timed_out` past its deadline.
    """
    index = worker.index
    assert index is not None
    task = tasks[index]
    if worker.connection in ready:
        try:
            kind, payload = worker.connection.recv()
        except (EOFError, OSError):  # died, perhaps mid-message
            worker.process.join()
            return _lost(index, task, worker_died(worker.process.exitcode)), False
        except Exception as error:  # a value that does not unpickle here
            return _lost(index, task, TaskFailure.from_exception(error)), False
        if kind == "started":
            worker.started = time.monotonic()
            return None, True
        return payload, True
    if worker.process.sentinel in ready:
        worker.process.join()
        return _lost(index, task, worker_died(worker.process.exitcode)), False
    deadline = worker.deadline()
    if deadline is not None and time.monotonic() >= deadline:
        assert worker.started is not None and worker.limit is not None
        seconds = time.monotonic() - worker.started
        return TaskResult(
            index, task, None, timed_out(seconds, worker.limit), seconds
        ), False
    return None, True


def _lost(index: int, task: TaskT, failure: TaskFailure) -> TaskResult[TaskT, Any]:
    return TaskResult(index, task, None, failure, 0.0)


def _run_ray(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    jobs: int | None,
    address: str,
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
    limit_of: Callable[[TaskT], float | None],
) -> list[TaskResult[TaskT, ValueT]]:
    """Run every task as a Ray task; a time limit is the alarm in the task."""
    ray = import_ray()
    with ray_session(address, jobs) as started:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
        # A local Ray started here has `jobs` CPUs and queues the rest itself;
        # capping tasks in flight there would leave a core idle between tasks.
        local = started and address == "local"
        limit = len(tasks) if jobs is None or local else jobs
        waiting = list(enumerate(tasks))[::-1]
        pending: dict[Any, int] = {}
        results: dict[int, TaskResult[TaskT, ValueT]] = {}
        try:
            while waiting or pending:
                while waiting and len(pending) < limit:
                    index, task = waiting.pop()
                    pending[remote.remote(function, index, task, limit_of(task))] = (
                        index
                    )
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                # A worker that died, or a task Ray could not run, fails with
                # Ray's error.
                index = pending.pop(ref)
                _receive(index, tasks[index], partial(ray.get, ref), results, deliver)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
    return [results[index] for index in range(len(tasks))]
