"""The queue vector env's speed row: both contenders run and are reported."""

from __future__ import annotations

import pytest

from agents.jobs.speed_vector import QUEUE_TARGET, main, queue_vector_row


def test_the_row_times_both_vector_envs_on_the_same_level() -> None:
    """Rates of both, their samples, and the target only for xlarge at N = 1,024."""
    row = queue_vector_row("tiny", num_envs=8, native_steps=3, sync_steps=1, repeats=2)
    assert row.ours > 0 and row.baseline > 0
    assert [len(samples) for samples in row.samples.values()] == [2, 2]
    assert "level tiny, N = 8" in row.name
    assert row.target == "" and QUEUE_TARGET == ">= 100x"


def test_main_prints_the_row(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m agents.jobs.speed_vector tiny 4`` prints the ratio and samples."""
    main(["tiny", "4"])
    printed = capsys.readouterr().out
    assert "queue vector env, level tiny, N = 4" in printed
    assert "native:" in printed and "sync:" in printed
