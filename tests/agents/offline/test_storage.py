"""Parquet storage: an exact round trip; every bad file refused by name and row."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pa = pytest.importorskip(
    "pyarrow",
    reason="needs the 'offline' extra: pip install 'access-review-env[offline]'",
)
pc = pytest.importorskip("pyarrow.compute")
pq = pytest.importorskip("pyarrow.parquet")

from access_review_env import ENV_ID, ENV_IDS, RISK_ENV_ID  # noqa: E402
from agents.offline import (  # noqa: E402
    OfflineLog,
    OfflineLogError,
    collect,
    join,
    steady,
    task_arrays,
    uniform_policy,
)
from agents.offline.storage import (  # noqa: E402
    DECISIONS_FILE,
    METADATA_KEY,
    OUTCOMES_FILE,
    read_log,
    write_log,
)

BEHAVIOUR = uniform_policy(task_arrays(ENV_ID))


def small_log(env_id: str, seed: int) -> OfflineLog:
    """A small log with open requests at its end."""
    behaviour = uniform_policy(task_arrays(env_id))
    return collect(env_id, behaviour, steady(3_000, n_days=40), seed=seed)


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    """A small log of AccessReview-v0."""
    return small_log(ENV_ID, 11)


@pytest.fixture
def folder(tmp_path: Path, log: OfflineLog) -> Path:
    """The log written to a fresh folder."""
    write_log(log, tmp_path / "log")
    return tmp_path / "log"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_round_trip_is_exact(env_id: str, tmp_path: Path) -> None:
    """Every column and the metadata come back unchanged; no temporary file is left."""
    log = small_log(env_id, 11)
    folder = tmp_path / "log"
    write_log(log, folder)
    back = read_log(folder, env_id)
    assert back.metadata == log.metadata
    for table, columns in (("decisions", log.decisions), ("outcomes", log.outcomes)):
        for name, column in columns.items():
            again = getattr(back, table)[name]
            assert again.dtype == column.dtype, name
            if column.dtype.kind == "M":
                assert np.array_equal(column.view(np.int64), again.view(np.int64)), name
            else:
                assert np.array_equal(column, again), name
    assert sorted(p.name for p in folder.iterdir()) == [DECISIONS_FILE, OUTCOMES_FILE]
    assert np.isnat(back.outcomes["evidence_at"]).any()
    # Every closed request: a 40-day risk log has no complete cohort yet.
    first, second = join(log, "drop"), join(back, "drop")
    assert first.n_episodes > 0
    assert np.array_equal(first.reward, second.reward)
    assert np.array_equal(first.starts, second.starts)


def test_schema_is_what_a_reader_expects(folder: Path) -> None:
    """Times are UTC timestamps; outcomes a dictionary of names; metadata is JSON."""
    schema = pq.read_schema(folder / OUTCOMES_FILE)
    assert schema.field("closed_at").type == pa.timestamp("ms", tz="UTC")
    assert pa.types.is_dictionary(schema.field("outcome").type)
    metadata = json.loads(schema.metadata[METADATA_KEY])
    assert metadata["table"] == "outcomes"
    assert metadata["env_id"] == ENV_ID
    assert metadata["schedule"][0]["env_kwargs"] == {}
    assert metadata["time_limit"] == 20
    assert metadata["package_version"]
    assert metadata["behaviour"]["name"] == "uniform"
    assert metadata["seed"] == 11
    table = pq.read_table(folder / DECISIONS_FILE)
    assert table.column_names == [
        "request_id",
        "step",
        "decided_at",
        "state",
        "valid_actions",
        "action",
        "propensity",
    ]


def test_unreadable_file_is_refused(folder: Path) -> None:
    """Bytes that are not Parquet: the file is named."""
    (folder / DECISIONS_FILE).write_bytes(b"not parquet at all")
    with pytest.raises(OfflineLogError, match=r"decisions\.parquet: not a readable"):
        read_log(folder)


def test_a_failed_write_leaves_the_old_file(
    folder: Path, log: OfflineLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error while writing leaves the previous file whole and no temporary."""
    before = (folder / DECISIONS_FILE).read_bytes()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match=r"decisions\.parquet"):
        write_log(log, folder)
    assert (folder / DECISIONS_FILE).read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [DECISIONS_FILE, OUTCOMES_FILE]


def rewrite(
    path: Path,
    change: Callable[[Any], Any],
    metadata: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Rewrite one Parquet file with a changed table (and metadata)."""
    table = pq.read_table(path)
    raw = json.loads(table.schema.metadata[METADATA_KEY])
    new = change(table)
    data = metadata(raw) if metadata else raw
    new = new.replace_schema_metadata({METADATA_KEY: json.dumps(data).encode()})
    pq.write_table(new, path)


def set_value(table: Any, name: str, row: int, value: Any) -> Any:
    """``table`` with ``table[name][row] = value``."""
    values = table.column(name).to_numpy(zero_copy_only=False).copy()
    values[row] = value
    index = table.column_names.index(name)
    return table.set_column(
        index, name, pa.array(values, table.schema.field(name).type)
    )


def test_another_task_is_refused(folder: Path) -> None:
    """Asking for another task names the file and both ids."""
    with pytest.raises(OfflineLogError, match=r"decisions\.parquet: a log of task"):
        read_log(folder, RISK_ENV_ID)


def test_another_schema_version_is_refused(folder: Path) -> None:
    """A schema this package does not read is refused by file."""
    rewrite(folder / DECISIONS_FILE, lambda t: t, lambda m: {**m, "schema_version": 99})
    with pytest.raises(OfflineLogError, match=r"decisions\.parquet: schema version 99"):
        read_log(folder)


def test_a_file_without_our_metadata_is_refused(folder: Path) -> None:
    """A Parquet file from elsewhere has no metadata of ours."""
    table = pq.read_table(folder / OUTCOMES_FILE).replace_schema_metadata({})
    pq.write_table(table, folder / OUTCOMES_FILE)
    with pytest.raises(OfflineLogError, match=r"outcomes\.parquet: no .* metadata"):
        read_log(folder)


def test_swapped_files_are_refused(folder: Path) -> None:
    """The outcomes table under the decisions name is named as such."""
    shutil.copy(folder / OUTCOMES_FILE, folder / DECISIONS_FILE)
    with pytest.raises(OfflineLogError, match="holds the 'outcomes' table"):
        read_log(folder)


def test_files_of_two_logs_are_refused(tmp_path: Path, folder: Path) -> None:
    """Decisions of one log with outcomes of another: named by log id."""
    other = small_log(ENV_ID, 12)
    write_log(other, tmp_path / "other")
    shutil.copy(tmp_path / "other" / OUTCOMES_FILE, folder / OUTCOMES_FILE)
    with pytest.raises(OfflineLogError, match="belongs to log"):
        read_log(folder)


def test_missing_column_is_refused(folder: Path) -> None:
    """A decision log without propensities cannot be used for OPE."""
    rewrite(folder / DECISIONS_FILE, lambda t: t.drop_columns(["propensity"]))
    with pytest.raises(
        OfflineLogError, match=r"decisions\.parquet: missing column\(s\) propensity"
    ):
        read_log(folder)


def test_mistyped_column_is_refused(folder: Path) -> None:
    """A state stored as text is refused, naming the column and both types."""

    def change(table: Any) -> Any:
        index = table.column_names.index("state")
        return table.set_column(
            index, "state", pc.cast(table.column("state"), pa.string())
        )

    rewrite(folder / DECISIONS_FILE, change)
    with pytest.raises(OfflineLogError, match="column 'state' has type string"):
        read_log(folder)


@pytest.mark.parametrize("value", [0.0, -0.5, 1.5, float("nan")])
def test_propensity_outside_0_1_is_refused(folder: Path, value: float) -> None:
    """A propensity of 0 (or above 1) makes importance weights meaningless."""
    rewrite(folder / DECISIONS_FILE, lambda t: set_value(t, "propensity", 17, value))
    with pytest.raises(
        OfflineLogError, match=r"decisions\.parquet, row 17 .*propensity outside"
    ):
        read_log(folder)


def test_action_invalid_under_the_logged_mask_is_refused(folder: Path) -> None:
    """Row 5's mask is cleared of its own action."""
    table = pq.read_table(folder / DECISIONS_FILE)
    action = table.column("action")[5].as_py()
    mask = table.column("valid_actions")[5].as_py()
    rewrite(
        folder / DECISIONS_FILE,
        lambda t: set_value(t, "valid_actions", 5, mask & ~(1 << action)),
    )
    with pytest.raises(OfflineLogError, match=r"row 5 .*invalid under the logged"):
        read_log(folder)


def test_unknown_outcome_is_refused(folder: Path) -> None:
    """An outcome name this task does not have names the file."""

    def change(table: Any) -> Any:
        values = table.column("outcome").to_pylist()
        values[3] = "lost_in_the_mail"
        index = table.column_names.index("outcome")
        return table.set_column(index, "outcome", pa.array(values).dictionary_encode())

    rewrite(folder / OUTCOMES_FILE, change)
    with pytest.raises(OfflineLogError, match="'lost_in_the_mail' is not one of"):
        read_log(folder)


def test_outcome_rows_without_a_decision_are_refused(folder: Path) -> None:
    """A closed request whose decisions are gone: the join names the outcome row."""
    decisions = pq.read_table(folder / DECISIONS_FILE)
    outcomes = pq.read_table(folder / OUTCOMES_FILE)
    victim = outcomes.column("request_id")[0].as_py()
    rewrite(
        folder / DECISIONS_FILE,
        lambda t: t.filter(pc.not_equal(t.column("request_id"), victim)),
    )
    log = read_log(folder)
    assert log.n_decisions < decisions.num_rows
    with pytest.raises(
        OfflineLogError,
        match=r"outcomes\.parquet, row 0 .*outcome row without a decision",
    ):
        join(log)


def test_rows_out_of_order_are_refused(folder: Path) -> None:
    """Rows must be in (request_id, step) order; the first offending row is named."""
    rewrite(
        folder / DECISIONS_FILE,
        lambda t: t.take(pa.array([1, 0, *range(2, t.num_rows)])),
    )
    with pytest.raises(OfflineLogError, match=r"row 1 .*increasing"):
        read_log(folder)


def test_missing_file_is_refused(folder: Path) -> None:
    """FileNotFoundError names the missing table."""
    (folder / OUTCOMES_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="no outcomes log"):
        read_log(folder)
