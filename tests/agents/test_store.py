"""The benchmark's runs file: a crash never costs a finished run or the file."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agents.benchmark import SUITE, RunSpec, run_one
from agents.benchmark.store import RunStore, RunStoreError
from agents.common.json_values import to_jsonable
from agents.evaluation.scoring import PolicyScore

DEFAULT = SUITE[0]


def _reviewer(env: object, seed: int) -> object:
    return lambda state: [2, 0, 3, 0][state]


RECORDS = [
    run_one(RunSpec("reviewer", DEFAULT, seed, 5), _reviewer) for seed in range(3)
]


def _file_of_records() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs.jsonl")
        for record in RECORDS:
            store.append(record)
        return store.path.read_bytes()


DATA = _file_of_records()
LINE_ENDS = [index + 1 for index, byte in enumerate(DATA) if byte == ord("\n")]


@settings(max_examples=80, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(DATA)))
@example(cut=0)
@example(cut=len(DATA))
@example(cut=LINE_ENDS[1] - 1)  # the second record whole, but for its newline
@example(cut=LINE_ENDS[1] + 1)  # one byte of the third record
def test_a_file_cut_anywhere_loads_its_whole_records_and_takes_appends(
    cut: int,
) -> None:
    """A crash mid-write leaves a prefix of the file; resuming from it is safe.

    Loading gives exactly the records written whole (a last one missing only
    its newline included); appending the rest, and one run again, then gives
    a file whose every line is a record, in order.
    """
    prefix = DATA[:cut]
    whole = sum(end - 1 <= cut for end in LINE_ENDS)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.jsonl"
        path.write_bytes(prefix)
        resumed = RunStore(path)
        assert resumed.load() == RECORDS[:whole]
        for record in [*RECORDS[whole:], RECORDS[0]]:
            resumed.append(record)

        lines = path.read_text().splitlines()
        assert [json.loads(line)["seed"] for line in lines] == [0, 1, 2, 0]
        assert RunStore(path).load() == [*RECORDS, RECORDS[0]]


def test_a_cut_line_is_found_across_read_chunks(tmp_path: Path) -> None:
    """The last newline is found however far back it is (the file is read backwards)."""
    store = RunStore(tmp_path / "runs.jsonl")
    store.append(RECORDS[0])
    with store.path.open("a") as stream:
        stream.write('{"agent": "' + "x" * 200_000)  # longer than a read chunk
    RunStore(store.path).append(RECORDS[1])
    assert RunStore(store.path).load() == RECORDS[:2]


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


def test_rotating_twice_in_one_second_keeps_both_files_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fresh run keeps the previous runs file under a name of its own.

    Names sort in the order the files were moved aside.
    """
    monkeypatch.setattr(time, "strftime", lambda pattern: "20261125-120000")
    store = RunStore(tmp_path / "runs.jsonl")
    kept = []
    for record in RECORDS:
        store.append(record)
        moved = store.rotate()
        assert moved is not None
        kept.append(moved)
    assert len(set(kept)) == 3 and sorted(kept) == kept
    assert [RunStore(path).load() for path in kept] == [[r] for r in RECORDS]
    assert store.rotate() is None  # nothing left to keep


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    """A second holder of the lock is refused, naming the file; it is free after."""
    store = RunStore(tmp_path / "runs.jsonl")
    second = RunStore(store.path)
    refused = pytest.raises(RunStoreError, match="another benchmark is writing to")
    with store.exclusive(), refused, second.exclusive():
        pass
    with RunStore(store.path).exclusive():
        pass


def test_non_finite_score_fields_come_back_as_nan() -> None:
    """A score written as strict JSON (NaN as null) reads back with its NaNs."""
    score = RECORDS[0].score
    assert score is not None
    crashed = PolicyScore(
        **{
            **{name: getattr(score, name) for name in score.__dataclass_fields__},
            "exact_value": None,
            "mc_value": math.nan,
            "mc_ci": (math.nan, math.nan),
            "regret": math.nan,
            "invalid_action_rate": math.inf,
            "crashed": True,
        }
    )
    again = PolicyScore.from_json(
        json.loads(json.dumps(to_jsonable(crashed), allow_nan=False))
    )
    assert again.exact_value is None and again.crashed
    assert math.isnan(again.mc_value) and math.isnan(again.regret)
    assert all(math.isnan(bound) for bound in again.mc_ci)
    assert math.isnan(again.invalid_action_rate)  # infinity is written as null too
    assert again.optimal_value == score.optimal_value
