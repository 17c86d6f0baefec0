"""The vector envs' own keywords, declared once, and their checks.

A task's vector env takes its task's keywords, the single env's keywords
(:data:`~access_review_env.model.declarations.ENV_PARAMETERS`, where
``render_mode`` can only be None) and :data:`VECTOR_PARAMETERS`; its signature
and manual come from these declarations.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Final

from gymnasium.vector import AutoresetMode

from access_review_env.model.declarations import ENV_PARAMETERS
from access_review_env.tasks.format import Parameter
from access_review_env.validation import check_integer

MAX_DEFAULT_THREADS: Final = 8
"""``threads=None`` starts one worker per available core, at most this many."""

PARALLEL_MIN_ENVS: Final = 2**18
"""Below this many sub-envs a step stays on the calling thread: handing work to
threads costs more than it saves."""

VECTOR_PARAMETERS: Final = (
    Parameter(
        "max_episode_steps",
        None,
        "spec",
        "each sub-env's time limit in steps, as gym.make's TimeLimit (None: no "
        "limit); a task's vector env defaults to its registered limit",
    ),
    Parameter(
        "copy",
        True,
        "flag",
        "return fresh arrays from every call; False returns buffers the next "
        "call overwrites, as SyncVectorEnv(copy=False)",
    ),
    Parameter(
        "threads",
        None,
        "spec",
        f"worker threads for batches of at least 2**18 sub-envs, at most one per "
        f"available core (None: one per core, at most {MAX_DEFAULT_THREADS}); "
        "results do not depend on it",
    ),
    Parameter(
        "autoreset_mode",
        AutoresetMode.NEXT_STEP,
        "spec",
        "Gymnasium's autoreset mode: AutoresetMode.NEXT_STEP, SAME_STEP or "
        'DISABLED (or its value, "NextStep", "SameStep", "Disabled")',
    ),
)
"""Keywords every vector env takes besides its task's and the env's."""

VECTOR_ENV_PARAMETERS: Final = tuple(
    parameter
    if parameter.name != "render_mode"
    else Parameter(
        "render_mode",
        None,
        "spec",
        "None only: the vector env does not render (render a single env)",
    )
    for parameter in ENV_PARAMETERS
)
"""The single env's keywords as a vector env takes them."""


def vector_parameters(max_episode_steps: int | None) -> tuple[Parameter, ...]:
    """:data:`VECTOR_PARAMETERS` with ``max_episode_steps`` defaulting as given."""
    return tuple(
        dataclasses.replace(parameter, default=max_episode_steps)
        if parameter.name == "max_episode_steps"
        else parameter
        for parameter in VECTOR_PARAMETERS
    )


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks here (macOS, Windows)
        return os.cpu_count() or 1


def check_threads(threads: object) -> int:
    """Worker threads: ``threads``, or one per available core (at most 8) for None.

    More threads than cores cannot run at once, and each thread gets its own
    slice of the batch, so the count is bounded by the cores available.

    Raises:
        TypeError: If ``threads`` is not an integer or None.
        ValueError: If it is below 1 or above the cores available.
    """
    cores = available_cores()
    if threads is None:
        return max(1, min(cores, MAX_DEFAULT_THREADS))
    return check_integer(
        "threads (at most one per available CPU core)", threads, low=1, high=cores
    )


def check_max_episode_steps(value: object) -> int | None:
    """The time limit: None or an integer in ``[1, 2**31 - 1]`` (int32 counts).

    Raises:
        TypeError: If ``value`` is neither None nor an integer.
        ValueError: If it is out of range.
    """
    if value is None:
        return None
    return check_integer("max_episode_steps", value, low=1, high=2**31 - 1)


def check_autoreset_mode(value: object) -> AutoresetMode:
    """An :class:`~gymnasium.vector.AutoresetMode`, given as one or by its value.

    Raises:
        ValueError: For anything else, listing the allowed modes.
    """
    if isinstance(value, AutoresetMode):
        return value
    for mode in AutoresetMode:
        if isinstance(value, str) and value == mode.value:
            return mode
    allowed = ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AutoresetMode)
    raise ValueError(f"autoreset_mode must be one of {allowed}, got {value!r}")


def check_render_mode(value: object) -> None:
    """Refuse any ``render_mode`` but None.

    Raises:
        ValueError: Naming the value and what to do instead.
    """
    if value is not None:
        raise ValueError(
            f"render_mode {value!r} is not supported by the vector env; render a "
            "single env of the task instead (gym.make(..., render_mode=...))"
        )
