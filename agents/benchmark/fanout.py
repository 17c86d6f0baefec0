"""The benchmark's executor: independent tasks serially, in processes, or on Ray.

One function, :func:`run_tasks`, three backends that compute the same thing:

* ``jobs=1``: a plain loop in this process;
* ``jobs=N``: a ``ProcessPoolExecutor`` of ``N`` spawned worker processes;
* ``ray_address="local" | "auto" | "host:port"``: Ray tasks on a Ray started here
  or on an existing cluster (needs the ``ray`` extra; see
  :mod:`agents.common.ray_session`).

A task is a small picklable spec (for the agent benchmark, one group of
:class:`~agents.benchmark.runner.RunSpec`, see
:func:`~agents.benchmark.runner.run_specs`) and ``function`` a top-level
importable callable of it that seeds everything it uses from the spec. Then
every backend returns exactly what the loop returns. A task that raises becomes
a failed :class:`TaskResult` (exception type, message, traceback, and the task);
the other tasks run on. A task that kills the process running it fails alone
too: Ray reports the dead task; a broken process pool is replaced, and the
tasks it was running are rerun one at a time to find the one at fault.

Why spawned processes: forking a process that already runs threads (PyTorch's
and OpenMP's pools, a progress bar's monitor thread, Ray's) can deadlock the
child; ``spawn`` starts clean interpreters on every OS at the price of one
import per worker. Each worker is limited to ``threads_per_job`` BLAS/OpenMP
and PyTorch threads so that ``N`` workers do not fight over ``N`` cores.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

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
    function: Callable[[TaskT], ValueT], index: int, task: TaskT
) -> TaskResult[TaskT, ValueT]:
    """Call ``function(task)``; an exception becomes a failed result.

    Every backend runs tasks through this function, so they share its semantics.
    ``KeyboardInterrupt`` and ``SystemExit`` propagate.
    """
    start = time.perf_counter()
    try:
        value = function(task)
    except Exception as error:
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

    Returns:
        One :class:`TaskResult` per task, ordered as ``tasks``.

    Raises:
        ValueError: For ``jobs`` < 1 or an empty ``ray_address``.
        TypeError: If ``function`` or a task cannot be pickled.
        ImportError: If ``ray_address`` is given and Ray is not installed.
        KeyboardInterrupt: On Ctrl-C, after cancelling pending tasks and
            stopping the workers; results already delivered stay delivered.
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
    _check_picklable(function, task_list)
    if ray_address is not None:
        import_ray()
    if not task_list:
        return []
    deliver = on_result or (lambda result: None)
    if ray_address is not None:
        return _run_ray(function, task_list, jobs, ray_address, deliver)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers == 1 or len(task_list) <= 1:
        return _run_serial(function, task_list, deliver)
    return _run_processes(
        function, task_list, min(workers, len(task_list)), threads_per_job, deliver
    )


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
) -> list[TaskResult[TaskT, ValueT]]:
    results = []
    for index, task in enumerate(tasks):
        result = run_task(function, index, task)
        results.append(result)
        deliver(result)
    return results


_STARTED: Any = None
"""In a worker process: the queue on which it names each task it starts."""


def _init_worker(threads: int | None, started: Any) -> None:
    """Leave Ctrl-C to the parent, keep the started-task queue, cap torch's threads.

    The BLAS and OpenMP variables are set in the parent before the workers
    are spawned (they are read when NumPy is imported, before this runs).
    """
    global _STARTED
    _STARTED = started
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch = sys.modules.get("torch")
    if threads is not None and torch is not None:
        torch.set_num_threads(threads)


def _run_task_in_worker(
    function: Callable[[TaskT], ValueT], index: int, task: TaskT
) -> TaskResult[TaskT, ValueT]:
    """:func:`run_task`, after telling the parent that task ``index`` started."""
    _STARTED.put(index)
    return run_task(function, index, task)


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


WORKER_DIED = TaskFailure(
    type="BrokenProcessPool",
    message="the worker process running this task died (it was then run alone in "
    "a fresh process, and died again)",
    traceback="",
)
"""The failure of a task that kills the process running it, even alone."""


def _run_processes(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    workers: int,
    threads: int | None,
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
) -> list[TaskResult[TaskT, ValueT]]:
    """Run every task in pools of ``workers`` processes, surviving dead workers.

    A worker that dies (killed, out of memory, a crash in native code) breaks
    its pool. The tasks it and the other workers were running are then each
    rerun alone in a fresh process: one that dies again fails with
    :data:`WORKER_DIED`; the tasks not yet started go to a fresh pool. So one
    bad task fails only itself.
    """
    results: dict[int, TaskResult[TaskT, ValueT]] = {}
    remaining = list(range(len(tasks)))
    while remaining:
        suspects = _pool_round(
            function, tasks, remaining, workers, threads, results, deliver
        )
        for index in sorted(suspects):
            if _pool_round(function, tasks, [index], 1, threads, results, deliver):
                results[index] = TaskResult(index, tasks[index], None, WORKER_DIED, 0.0)
                deliver(results[index])
        remaining = [index for index in remaining if index not in results]
    return [results[index] for index in range(len(tasks))]


def _pool_round(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    indices: Sequence[int],
    workers: int,
    threads: int | None,
    results: dict[int, TaskResult[TaskT, ValueT]],
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
) -> set[int]:
    """Run ``indices`` in one pool; return the tasks running when it broke.

    Each result goes into ``results`` and is delivered as it completes; the
    tasks the broken pool lost get none. The set is empty when the pool never
    broke. If it broke before any task started (a worker that cannot even
    start), every unfinished task of the round fails with the pool's error.
    """
    context = multiprocessing.get_context("spawn")
    started = context.SimpleQueue()
    with _thread_variables(threads):
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(workers, len(indices)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(threads, started),
        )
        futures = {
            executor.submit(_run_task_in_worker, function, index, tasks[index]): index
            for index in indices
        }
    broken: BrokenProcessPool | None = None
    try:
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                broken = error
                continue
            _receive(index, tasks[index], future.result, results, deliver)
    except BaseException:
        for future in futures:
            future.cancel()
        _stop_workers(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    if broken is None:
        return set()
    running = set()
    while not started.empty():
        running.add(started.get())
    running -= results.keys()
    if not running:
        failure = TaskFailure.from_exception(broken)
        for index in indices:
            if index not in results:
                results[index] = TaskResult(index, tasks[index], None, failure, 0.0)
                deliver(results[index])
    return running


def _stop_workers(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Terminate the workers at once instead of waiting for running tasks."""
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(executor, "_processes", {}).values()):
        process.terminate()


def _run_ray(
    function: Callable[[TaskT], ValueT],
    tasks: Sequence[TaskT],
    jobs: int | None,
    address: str,
    deliver: Callable[[TaskResult[TaskT, ValueT]], None],
) -> list[TaskResult[TaskT, ValueT]]:
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
                    pending[remote.remote(function, index, task)] = index
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
