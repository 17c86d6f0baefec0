"""The benchmark's runs file: a crash never costs a finished run or the file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.benchmark import SUITE, RunRecord, RunSpec, run_one
from agents.benchmark.store import RunStore, RunStoreError

DEFAULT = SUITE[0]


def _reviewer(env: object, seed: int) -> object:
    return lambda state: [2, 0, 3, 0][state]


def _records(n: int) -> list[RunRecord]:
    return [
        run_one(RunSpec("reviewer", DEFAULT, seed, 5), _reviewer) for seed in range(n)
    ]


RECORDS = _records(3)


@settings(max_examples=60, deadline=None)
@given(cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_a_file_cut_anywhere_loads_its_whole_lines_and_takes_appends(
    cut: float,
) -> None:
    """A crash mid-write leaves a prefix of the file; resuming from it is safe.

    Loading gives exactly the records whose lines are complete; appending the
    rest then gives a file whose every line is a record, all three in order.
    """
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.jsonl")
        for record in RECORDS:
            store.append(record)
        data = store.path.read_bytes()
        prefix = data[: int(cut * len(data))]
        store.path.write_bytes(prefix)
        complete = prefix.count(b"\n")

        resumed = RunStore(store.path)
        assert resumed.load() == RECORDS[:complete]
        for record in RECORDS[complete:]:
            resumed.append(record)

        lines = store.path.read_text().splitlines()
        assert [json.loads(line)["seed"] for line in lines] == [0, 1, 2]
        assert RunStore(store.path).load() == RECORDS


def test_a_broken_line_before_the_last_is_an_error_naming_it(tmp_path: Path) -> None:
    """Only the last line can be cut short by a crash; damage elsewhere is reported."""
    store = RunStore(tmp_path / "runs.jsonl")
    for record in RECORDS:
        store.append(record)
    lines = store.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1][:40] + "\n"
    store.path.write_text("".join(lines))
    with pytest.raises(RunStoreError, match=r"runs\.jsonl, line 2: not a benchmark"):
        store.load()


def test_rotating_twice_in_one_second_keeps_both_files(tmp_path: Path) -> None:
    """Each fresh run keeps the previous runs file under a name of its own."""
    store = RunStore(tmp_path / "runs.jsonl")
    kept = []
    for record in RECORDS[:2]:
        store.append(record)
        moved = store.rotate()
        assert moved is not None
        kept.append(moved)
    assert kept[0] != kept[1]
    assert [RunStore(path).load() for path in kept] == [[RECORDS[0]], [RECORDS[1]]]
    assert store.rotate() is None  # nothing left to keep
