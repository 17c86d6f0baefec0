"""The offline speed rows: every stage timed, three against the issue's targets."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "pyarrow",
    reason="needs the 'offline' extra: pip install 'access-review-env[offline]'",
)

from agents.offline.timing import SpeedRow, markdown, speed_rows


def test_speed_rows_on_a_small_log() -> None:
    """Nine stages with sizes; collect + write, read, estimate + OPE have targets."""
    rows = speed_rows(20_000, seed=0)
    assert len(rows) == 9
    assert all(row.seconds > 0 for row in rows)
    assert [row.target for row in rows if row.limit is not None] == [
        "< 3 s",
        "< 1 s",
        "< 3 s",
    ]
    assert "20,000 requests" in rows[0].detail
    table = markdown(rows)
    assert table.splitlines()[0] == "| stage | seconds | detail | target |"
    assert table.count("(met)") + table.count("(MISSED)") == 3
    assert rows[2].to_json()["met"] is rows[2].met


def test_a_row_says_whether_it_met_its_target() -> None:
    """Below the limit is met; at or above it is missed; no limit, no verdict."""
    assert SpeedRow("a", 0.5, "", 1.0).met is True
    assert SpeedRow("a", 1.0, "", 1.0).met is False
    assert SpeedRow("a", 1.0, "").met is None
