"""The alarm that stops code at its time limit, in this process."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from agents.benchmark.time_limits import TimeLimitExceeded, can_limit, time_limit

pytestmark = pytest.mark.skipif(not can_limit(), reason="needs SIGALRM (POSIX)")


def _spin() -> None:
    while True:
        pass


HANGS: dict[str, Callable[[], object]] = {
    "a Python loop": _spin,
    "time.sleep": lambda: time.sleep(600),
    "a lock that is never released": lambda: threading.Event().wait(),
}


@pytest.mark.parametrize("hang", list(HANGS))
def test_each_kind_of_hang_is_stopped_at_the_limit(hang: str) -> None:
    """The alarm raises in the block; the exception names the limit."""
    with (
        pytest.raises(TimeLimitExceeded, match=r"time limit of 0\.2 s") as raised,
        time_limit(0.2),
    ):
        HANGS[hang]()
    assert raised.value.limit == 0.2


def test_an_agents_except_exception_does_not_swallow_it() -> None:
    """It is a BaseException, as KeyboardInterrupt is."""
    swallowed = []
    with pytest.raises(TimeLimitExceeded), time_limit(0.2):
        try:
            time.sleep(600)
        except Exception as error:  # what an agent might write
            swallowed.append(error)
    assert swallowed == []


def test_an_inner_limit_never_extends_an_outer_one() -> None:
    """Inner 0.2 s inside outer 0.5 s: the inner fires first, then the outer.

    An inner limit longer than the outer one leaves the outer in charge.
    """
    fired = []
    with pytest.raises(TimeLimitExceeded, match=r"0\.5 s"), time_limit(0.5):
        try:
            with time_limit(0.2):
                time.sleep(600)
        except TimeLimitExceeded as error:
            fired.append(error.limit)
        with time_limit(600):
            time.sleep(600)
    assert fired == [0.2]


def test_the_previous_handler_and_timer_are_put_back() -> None:
    """After the block: no alarm left armed, and someone else's handler restored."""

    def theirs(signum: int, frame: object) -> None:
        raise AssertionError("their alarm should not fire here")

    previous = signal.signal(signal.SIGALRM, theirs)
    try:
        with time_limit(0.05):
            pass
        assert signal.getsignal(signal.SIGALRM) is theirs
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        time.sleep(0.1)  # an alarm left armed would fire `theirs` here
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_no_limit_and_bad_limits() -> None:
    """None runs the block unlimited; zero or negative seconds are refused."""
    with time_limit(None):
        time.sleep(0.01)
    for seconds in (0, -1.0, float("nan")):
        with (
            pytest.raises(ValueError, match="must be > 0 seconds"),
            time_limit(seconds),
        ):
            pass
