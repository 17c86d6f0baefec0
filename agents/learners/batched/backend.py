"""Which implementation runs the per-step kernels: numba when installed, else NumPy.

Both implementations consume the same random numbers (one block of ``K`` uniform
draws per batched step, drawn by NumPy before the kernel runs), so for a fixed
generator they make the same decisions; see the tests for how far their tables
agree bit for bit.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Literal, TypeAlias

from access_review_env.validation import check_choice, check_integer
from agents.common.optional import install_hint

Backend: TypeAlias = Literal["auto", "numba", "numpy"]
"""``"auto"`` picks numba when it is installed; the others force one path."""
BACKENDS: tuple[Backend, ...] = ("auto", "numba", "numpy")


def numba_available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def resolve_backend(backend: str) -> Literal["numba", "numpy"]:
    """Return the backend that will run: ``"numba"`` or ``"numpy"``.

    Args:
        backend: ``"auto"`` (numba if installed, else NumPy), ``"numba"`` or
            ``"numpy"``.

    Raises:
        ValueError: For any other value.
        ImportError: If ``"numba"`` is forced and numba is not installed.
    """
    check_choice("backend", backend, BACKENDS)
    if backend == "numpy":
        return "numpy"
    if numba_available():
        return "numba"
    if backend == "numba":
        raise ImportError(f"backend='numba' needs numba: {install_hint('numba')}")
    return "numpy"


def kernels(backend: Literal["numba", "numpy"]) -> ModuleType:
    """The module holding ``backend``'s kernels (importing numba for ``"numba"``)."""
    return importlib.import_module(f"{__package__}.kernels_{backend}")


def check_threads(threads: int, backend: Literal["numba", "numpy"]) -> int:
    """Return ``threads`` if the backend can use that many threads.

    Raises:
        TypeError: If ``threads`` is not an integer.
        ValueError: If it is below 1, exceeds numba's thread pool, or is above
            1 with the NumPy backend.
    """
    threads = check_integer("threads", threads, low=1)
    if threads == 1:
        return 1
    if backend != "numba":
        raise ValueError(
            f"threads={threads} needs the numba backend; the NumPy kernel runs on "
            "one thread"
        )
    import numba

    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    return check_integer(
        "threads (numba's pool: NUMBA_NUM_THREADS)", threads, low=1, high=available
    )


@contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run numba's parallel kernels on ``threads`` threads, then restore the count."""
    if threads == 1:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
