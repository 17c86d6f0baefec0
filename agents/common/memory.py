"""Refusing work that cannot fit in memory, before allocating any of it.

A request whose size the user controls (seeds, requests, learners) is
estimated first; if the estimate exceeds the memory this process can still
get, :func:`check_memory` raises :class:`MemoryLimitError` naming both
numbers, instead of a ``MemoryError`` traceback (or the kernel's OOM killer)
minutes later.

The limit is the memory available now: Linux's ``MemAvailable``, capped by the
process's cgroup limit (a container's) when it has one; elsewhere the free
physical memory ``sysconf`` reports. Where neither can be read there is no
limit and nothing is refused.
"""

from __future__ import annotations

import os
from pathlib import Path


class MemoryLimitError(MemoryError, ValueError):
    """Work refused before it started: its memory estimate exceeds the limit.

    Both a ``MemoryError`` (what it prevents) and a ``ValueError`` (the input
    asked for too much), so command lines report it as a usage error.
    """


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in binary units, e.g. ``"1.5 GiB"``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def memory_limit() -> tuple[int, str] | None:
    """Bytes this process can still allocate, and where the number comes from.

    None when the platform reports neither available memory nor free pages.
    """
    limits = [
        found
        for found in (_meminfo_available(), _cgroup_room(), _free_pages())
        if found is not None
    ]
    if not limits:
        return None
    preferred = [found for found in limits if found[1] != "free physical memory"]
    return min(preferred or limits)


def check_memory(what: str, n_bytes: float, limit: int | None = None) -> None:
    """Refuse ``what`` if it needs more than ``limit`` bytes.

    Args:
        what: What needs the memory, as the message should name it (e.g.
            ``"--seeds 10000000 (70,000,000 runs)"``).
        n_bytes: The estimate.
        limit: The limit; :func:`memory_limit` when None (no check where
            that is unknown).

    Raises:
        MemoryLimitError: Naming ``what``, the estimate and the limit.
    """
    if limit is None:
        found = memory_limit()
        if found is None:
            return
        limit, source = found
    else:
        source = "the limit given"
    if n_bytes > limit:
        raise MemoryLimitError(
            f"{what} needs about {format_bytes(n_bytes)} of memory, more than "
            f"the {format_bytes(limit)} available ({source}); ask for less"
        )


def _meminfo_available() -> tuple[int, str] | None:
    """Linux's estimate of memory available without swapping."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> tuple[int, str] | None:
    """What the process's cgroup (v2, else v1) still allows, if it sets a limit."""
    candidates = (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    )
    for limit_file, usage_file in candidates:
        try:
            text = Path(limit_file).read_text(encoding="ascii").strip()
            if text == "max":
                return None
            limit = int(text)
            usage = int(Path(usage_file).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        if limit >= 1 << 60:  # cgroup v1 writes "no limit" as a huge number
            return None
        return max(limit - usage, 0), f"the cgroup limit in {limit_file}"
    return None


def _free_pages() -> tuple[int, str] | None:
    """Free physical memory, where ``sysconf`` reports it (not Windows)."""
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages < 0 or size < 0:
        return None
    return pages * size, "free physical memory"
