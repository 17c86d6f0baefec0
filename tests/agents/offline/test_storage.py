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

from access_review_env import ENV_ID, RISK_ENV_ID, TABLE_ENV_IDS  # noqa: E402
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
    write_table,
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


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
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

    monkeypatch.setattr(pq.ParquetWriter, "write_table", broken)
    with pytest.raises(OSError, match=r"decisions\.parquet"):
        write_log(log, folder)
    assert (folder / DECISIONS_FILE).read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [DECISIONS_FILE, OUTCOMES_FILE]


def rewrite(
    path: Path,
    change: Callable[[Any], Any],
    metadata: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Rewrite one Parquet file with a changed table (and metadata).

    Written as ``write_log`` writes: checksummed, with the new number of rows.
    """
    table = pq.read_table(path)
    raw = json.loads(table.schema.metadata[METADATA_KEY])
    new = change(table)
    data = metadata(raw) if metadata else raw
    data["rows"] = new.num_rows
    new = new.replace_schema_metadata({METADATA_KEY: json.dumps(data).encode()})
    write_table(new, path)


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
    """Row 5's action is replaced by one its (the task's) mask does not allow."""
    table = pq.read_table(folder / DECISIONS_FILE)
    mask = table.column("valid_actions")[5].as_py()
    invalid = next(a for a in range(4) if not mask >> a & 1)
    rewrite(
        folder / DECISIONS_FILE,
        lambda t: set_value(t, "action", 5, invalid),
    )
    with pytest.raises(OfflineLogError, match=r"row 5 .*invalid under the logged"):
        read_log(folder)


def test_a_mask_other_than_the_tasks_is_refused(folder: Path) -> None:
    """Row 5's mask is cleared of its own action: not the task's mask there."""
    table = pq.read_table(folder / DECISIONS_FILE)
    action = table.column("action")[5].as_py()
    mask = table.column("valid_actions")[5].as_py()
    rewrite(
        folder / DECISIONS_FILE,
        lambda t: set_value(t, "valid_actions", 5, mask & ~(1 << action)),
    )
    with pytest.raises(OfflineLogError, match=r"row 5 .*not the task's mask"):
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


def same_log(a: OfflineLog, b: OfflineLog) -> bool:
    """Whether two logs hold the same metadata and the same bytes in every column."""
    if a.metadata != b.metadata:
        return False
    for table in ("decisions", "outcomes"):
        for name, column in getattr(a, table).items():
            other = getattr(b, table)[name]
            if column.dtype != other.dtype or column.tobytes() != other.tobytes():
                return False
    return True


def flip_bits(
    log: OfflineLog, tmp_path: Path, n_flips: int, seed: int
) -> dict[str, int]:
    """Flip ``n_flips`` single bits, uniform over both files' bits, reading after each.

    Returns:
        How many reads were refused naming the flipped file and how many
        loaded the original log unchanged. Anything else fails the test.
    """
    write_log(log, tmp_path / "original")
    original = read_log(tmp_path / "original")
    assert same_log(original, log)
    names = (DECISIONS_FILE, OUTCOMES_FILE)
    data = {name: (tmp_path / "original" / name).read_bytes() for name in names}
    sizes = np.array([len(data[name]) * 8 for name in names])
    bits = np.random.default_rng(seed).integers(0, sizes.sum(), size=n_flips)
    folder = tmp_path / "flipped"
    counts = {"refused": 0, "identical": 0}
    for bit in bits:
        index = int(bit >= sizes[0])
        name, offset = names[index], int(bit - index * sizes[0])
        damaged = bytearray(data[name])
        damaged[offset // 8] ^= 1 << (offset % 8)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(tmp_path / "original", folder)
        (folder / name).write_bytes(bytes(damaged))
        try:
            back = read_log(folder)
        except OfflineLogError as error:
            assert str(folder / name) in str(error), (name, offset, str(error))
            counts["refused"] += 1
        else:
            assert same_log(back, log), (name, offset)
            counts["identical"] += 1
    return counts


@pytest.fixture(scope="module")
def tiny_log() -> OfflineLog:
    """300 requests: files of about 9 and 13 kB, half of each the footer."""
    return collect(ENV_ID, BEHAVIOUR, steady(300, n_days=40), seed=11)


def test_single_bit_flips_are_refused_or_harmless(
    tiny_log: OfflineLog, tmp_path: Path
) -> None:
    """400 flips: each read is refused naming the file, or loads the same log.

    Without checksums, 254 of 2,400 such flips once raised OSError,
    UnicodeDecodeError, IndexError or ArrowInvalid, and 229 changed the data
    silently. Here 400 seeded flips give no other outcome; most are refused
    (those landing in data pages or in the metadata JSON), the rest hit bytes
    the reader does not use (statistics, the Arrow schema's copy of the
    metadata) and load the log unchanged.
    """
    counts = flip_bits(tiny_log, tmp_path, 400, seed=71)
    assert counts["refused"] + counts["identical"] == 400
    assert counts["refused"] >= 100


@pytest.mark.slow
def test_2400_single_bit_flips_are_refused_or_harmless(
    tiny_log: OfflineLog, tmp_path: Path
) -> None:
    """The issue's 2,400 flips, on both files, with another seed."""
    counts = flip_bits(tiny_log, tmp_path, 2_400, seed=72)
    assert counts["refused"] + counts["identical"] == 2_400


def test_a_changed_digit_in_the_metadata_is_refused(folder: Path) -> None:
    """The seed 11 made 13 in the footer's JSON: valid JSON, another log."""
    path = folder / DECISIONS_FILE
    data = path.read_bytes()
    assert data.count(b'"seed": 11') == 1
    path.write_bytes(data.replace(b'"seed": 11', b'"seed": 13'))
    with pytest.raises(
        OfflineLogError, match=r"decisions\.parquet: the file is damaged"
    ):
        read_log(folder)


def test_a_flipped_bit_in_a_data_page_is_refused(folder: Path) -> None:
    """A page's checksum no longer matches its bytes."""
    path = folder / OUTCOMES_FILE
    data = bytearray(path.read_bytes())
    data[200] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(OfflineLogError, match=r"outcomes\.parquet: "):
        read_log(folder)


def test_a_file_without_a_checksum_is_refused(folder: Path) -> None:
    """Written by pyarrow alone (as older versions of this package wrote)."""
    table = pq.read_table(folder / OUTCOMES_FILE)
    pq.write_table(table, folder / OUTCOMES_FILE)
    with pytest.raises(
        OfflineLogError, match=r"outcomes\.parquet: no access_review_env.*checksum"
    ):
        read_log(folder)
