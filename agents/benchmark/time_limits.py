"""Time limits on code running in this process: an alarm that raises in it.

:func:`time_limit` is the benchmark's per-run limit where a run cannot be
stopped from outside, that is serially (``jobs=1``) and in a Ray task. It arms
``SIGALRM`` (``setitimer``); when the time is up, the signal handler raises
:exc:`TimeLimitExceeded` in the main thread, at the next bytecode of whatever
runs there. That stops a Python loop, ``time.sleep``, a blocking lock or
socket wait, and a long NumPy call as soon as it returns.

Its limits, which is why worker processes (``--jobs N``) also get a hard limit
(:func:`~agents.benchmark.fanout.run_tasks` stops the worker itself):

* code stuck in native code that never returns to Python (a numba or C loop,
  a deadlock in a C library) is not interrupted;
* agent code that catches ``BaseException`` (or a ``finally`` that blocks)
  can swallow or delay it (:exc:`TimeLimitExceeded` is no ``Exception``, so an
  ordinary ``except Exception`` does not);
* a library interrupted mid-operation may be left in a broken state for the
  runs after it in the same process;
* only the main thread of a POSIX process has ``SIGALRM``; elsewhere (another
  thread, Windows) :func:`time_limit` limits nothing (:func:`can_limit` says
  which).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


class TimeLimitExceeded(BaseException):
    """Raised in code that ran past its time limit.

    A ``BaseException``, as ``KeyboardInterrupt`` is, so that an agent's own
    ``except Exception`` does not swallow it.

    Attributes:
        limit: The limit in seconds.
    """

    def __init__(self, limit: float) -> None:
        """Record the limit."""
        super().__init__(f"stopped at its time limit of {limit:g} s")
        self.limit = limit


@dataclass(frozen=True, eq=False)
class _Limit:
    deadline: float
    seconds: float


_limits: list[_Limit] = []
"""The armed limits of the main thread, innermost (earliest) last."""


def can_limit() -> bool:
    """Whether :func:`time_limit` works here: POSIX, in the main thread."""
    return (
        hasattr(signal, "setitimer")
        and hasattr(signal, "pthread_sigmask")
        and threading.current_thread() is threading.main_thread()
    )


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :exc:`TimeLimitExceeded` in the block once ``seconds`` have passed.

    Limits nest (an inner one never extends an outer one), and a ``SIGALRM``
    handler or timer set by someone else is put back afterwards. With
    ``seconds`` None, or where :func:`can_limit` is false, the block runs
    without a limit.

    Raises:
        ValueError: If ``seconds`` is not positive.
    """
    if seconds is None or not can_limit():
        yield
        return
    if not seconds > 0:
        raise ValueError(f"a time limit must be > 0 seconds, got {seconds!r}")
    armed_at = time.monotonic()
    limit = _Limit(armed_at + seconds, seconds)
    if _limits and _limits[-1].deadline <= limit.deadline:
        yield  # the outer limit comes first and stays armed
        return
    with _alarm_blocked():
        outermost = not _limits
        previous = signal.getsignal(signal.SIGALRM)
        if outermost:
            signal.signal(signal.SIGALRM, _raise_at_deadline)
        outer_timer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
        _limits.append(limit)
    try:
        yield
    finally:
        with _alarm_blocked():
            signal.setitimer(signal.ITIMER_REAL, 0)
            if limit in _limits:  # and any inner one an interrupted exit left
                del _limits[_limits.index(limit) :]
            if _limits:
                _arm(_limits[-1].deadline - time.monotonic())
            else:
                if signal.SIGALRM in signal.sigpending():
                    signal.sigwait({signal.SIGALRM})  # due, but no limit is left
                signal.signal(signal.SIGALRM, previous)
                if outermost and outer_timer > 0:
                    _arm(outer_timer - (time.monotonic() - armed_at))


@contextmanager
def _alarm_blocked() -> Iterator[None]:
    """Hold ``SIGALRM`` back while the limits are being changed."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def _arm(seconds: float) -> None:
    """Set the alarm ``seconds`` from now (at once if that is past)."""
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))


def _raise_at_deadline(signum: int, frame: FrameType | None) -> None:
    """The ``SIGALRM`` handler: raise for the innermost limit, once it is due."""
    if not _limits:
        return
    limit = _limits[-1]
    remaining = limit.deadline - time.monotonic()
    if remaining > 0:  # the timer and the clock differ slightly: wait on
        _arm(remaining)
        return
    raise TimeLimitExceeded(limit.seconds)
