"""Which implementation trains the learners: fused, lockstep in numba, or NumPy.

* ``"fused"`` (:mod:`.kernels_fused`, Q-learning): one compiled loop per
  learner steps its sub-env from the task's model and learns in the same
  iteration; it needs numba and the native vector env itself.
* ``"numba"`` (:mod:`.kernels_numba`): the lockstep path, stepping any vector
  env through ``step``, a compiled kernel per batched step.
* ``"numpy"`` (:mod:`.kernels_numpy`): the lockstep path in NumPy, the
  reference and the fallback without numba.

All of them draw the same words of the same per-seed streams for the same
decisions (:mod:`.streams`), so for the same seeds they make the same
decisions; see the tests for how far their tables agree bit for bit.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Literal, TypeAlias

from access_review_env.validation import check_choice, check_integer
from agents.common.optional import install_hint
from agents.learners.batched.vector_envs import fused_unsupported

Backend: TypeAlias = Literal["auto", "fused", "numba", "numpy"]
"""``"auto"`` picks the fastest that applies; the others force one path."""
BACKENDS: tuple[Backend, ...] = ("auto", "fused", "numba", "numpy")
Resolved: TypeAlias = Literal["fused", "numba", "numpy"]


def numba_available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def resolve_backend(backend: str, envs: Any = None, *, fused: bool = True) -> Resolved:
    """Return the backend that will run: ``"fused"``, ``"numba"`` or ``"numpy"``.

    Args:
        backend: ``"auto"`` (fused where it applies, else numba if installed,
            else NumPy), ``"fused"``, ``"numba"`` or ``"numpy"``.
        envs: The vector env to train on; without one, ``"auto"`` names the
            lockstep kernel (``"numba"`` or ``"numpy"``).
        fused: Whether the learner has a fused loop.

    Raises:
        ValueError: For any other value, or ``"fused"`` where it cannot run
            (saying why).
        ImportError: If ``"numba"`` or ``"fused"`` is forced and numba is not
            installed.
    """
    check_choice("backend", backend, BACKENDS)
    if backend == "numpy":
        return "numpy"
    if not numba_available():
        if backend != "auto":
            raise ImportError(
                f"backend={backend!r} needs numba: {install_hint('numba')}"
            )
        return "numpy"
    if backend == "numba":
        return "numba"
    reason = "this learner has no fused loop" if not fused else None
    if reason is None and envs is not None:
        reason = fused_unsupported(envs)
    if backend == "fused":
        if reason is not None:
            raise ValueError(f"backend='fused' cannot run: {reason}")
        return "fused"
    return "fused" if reason is None and envs is not None else "numba"


def kernels(backend: Resolved) -> ModuleType:
    """The module holding ``backend``'s kernels (importing numba but for NumPy's)."""
    return importlib.import_module(f"{__package__}.kernels_{backend}")


def check_threads(threads: int, backend: Resolved) -> int:
    """Return ``threads`` if the backend can use that many threads.

    Raises:
        TypeError: If ``threads`` is not an integer.
        ValueError: If it is below 1, exceeds numba's thread pool, or is above
            1 with the NumPy backend.
    """
    threads = check_integer("threads", threads, low=1)
    if threads == 1:
        return 1
    if backend == "numpy":
        raise ValueError(
            f"threads={threads} needs the numba or fused backend; the NumPy kernel "
            "runs on one thread"
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
