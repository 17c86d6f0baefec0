"""Refusing work that cannot fit in memory, before allocating any of it."""

from __future__ import annotations

import sys

import pytest

from agents.common.memory import (
    MemoryLimitError,
    check_memory,
    format_bytes,
    memory_limit,
)


def test_an_estimate_over_the_limit_is_refused_naming_both() -> None:
    """The error names what asked, the estimate and the limit; it is both kinds."""
    with pytest.raises(MemoryLimitError) as error:
        check_memory("--seeds 9", 3 * 2**30, limit=2**30)
    assert str(error.value) == (
        "--seeds 9 needs about 3.0 GiB of memory, more than the 1.0 GiB "
        "available (the limit given); ask for less"
    )
    assert isinstance(error.value, MemoryError)
    assert isinstance(error.value, ValueError)


def test_an_estimate_within_the_limit_passes() -> None:
    """Equal to the limit is allowed."""
    check_memory("a little", 2**20, limit=2**20)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/meminfo")
def test_on_linux_the_limit_is_the_memory_available_now() -> None:
    """A positive number of bytes, from MemAvailable or the cgroup's limit."""
    found = memory_limit()
    assert found is not None
    limit, source = found
    assert limit > 0
    assert "MemAvailable" in source or "cgroup" in source


def test_sizes_read_in_binary_units() -> None:
    """Bytes as written, larger sizes with one decimal."""
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(7 * 2**50) == "7.0 PiB"
    assert format_bytes(2**70) == "1,048,576.0 PiB"
