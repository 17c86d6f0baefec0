"""Finished runs on disk as JSON Lines, one line per run, written as each ends.

A crash, Ctrl-C or a failing agent never loses a finished run: each record is
appended, flushed and synced before the next run starts, and ``--resume``
reads them back to find what is still to run. A run rerun later is appended
again; reading keeps the newest line of each run. A last line cut short by a
crash mid-write is not a record: reading skips it, and the next append cuts
it off first, so a resumed benchmark never writes a record onto the end of a
broken one (a last record complete but for its newline is kept, and the
newline added). One benchmark writes to a file at a time:
:meth:`RunStore.exclusive` holds a lock for the whole job.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.benchmark.runner import RunRecord
from agents.common.json_values import to_jsonable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]


class RunStoreError(ValueError):
    """A runs file that cannot be read back, or that another job is writing."""


class RunStore:
    """The JSON Lines file of one benchmark output folder.

    Args:
        path: The ``.jsonl`` file (created on the first append).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Keep the path; nothing is read or written yet."""
        self.path = Path(path)
        self._tail_checked = False

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this file's lock (``<file>.lock``) while the block runs.

        The lock goes with the process, so a crash never leaves it behind.
        Where the platform has no advisory locks (Windows) nothing is locked.

        Raises:
            RunStoreError: If another process holds it, naming the file.
        """
        if fcntl is None:
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunStoreError(
                    f"another benchmark is writing to {self.path}: wait for it to "
                    "end, or give this one another --output"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def append(self, record: RunRecord) -> None:
        """Append one record and force it to disk (after a cut-short last line)."""
        line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
        if not self._tail_checked:
            _repair_last_line(self.path)
            self._tail_checked = True
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())

    def load(self) -> list[RunRecord]:
        """Every record in the file, oldest first (none if there is no file).

        A last line cut short by a crash mid-write is skipped; any other
        unreadable line is an error.

        Raises:
            RunStoreError: Naming the file and the line that cannot be read.
        """
        if not self.path.exists():
            return []
        *lines, tail = self.path.read_text(encoding="utf-8").split("\n")
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(RunRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as error:
                raise RunStoreError(
                    f"{self.path}, line {number}: not a benchmark run record "
                    f"({type(error).__name__}: {error})"
                ) from error
        last = _record_or_none(tail)
        return records if last is None else [*records, last]

    def latest(self, keys: Iterable[str]) -> dict[str, RunRecord]:
        """The newest record of each of ``keys`` that the file holds."""
        wanted = set(keys)
        return {r.key: r for r in self.load() if r.key in wanted}

    def rotate(self) -> Path | None:
        """Move an existing non-empty file aside (timestamped); return its new path.

        Names sort in the order the files were moved aside.
        """
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for number in range(1, 1_000_000):
            target = self.path.with_name(
                f"{self.path.stem}-{stamp}-{number:06d}{self.path.suffix}"
            )
            if not target.exists():
                self.path.replace(target)
                return target
        raise RunStoreError(f"too many copies of {self.path} from {stamp}")


def _record_or_none(text: str) -> RunRecord | None:
    """``text`` as a record if it is one whole record, else None."""
    if not text.strip():
        return None
    try:
        return RunRecord.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def _repair_last_line(path: Path, chunk: int = 1 << 16) -> None:
    """End ``path`` with a newline: after a whole last record, or where one was cut.

    A file that does not end in a newline ends in a record written all but
    its newline (kept: the newline is added) or in a line cut short by a
    crash (cut off: appending to it would glue the next record onto it).
    """
    if not path.exists():
        return
    with path.open("r+b") as stream:
        end = position = stream.seek(0, os.SEEK_END)
        start_of_tail = 0
        while position > 0:
            start = max(0, position - chunk)
            stream.seek(start)
            block = stream.read(position - start)
            if position == end and block.endswith(b"\n"):
                return
            newline = block.rfind(b"\n")
            if newline >= 0:
                start_of_tail = start + newline + 1
                break
            position = start
        stream.seek(start_of_tail)
        tail = stream.read().decode("utf-8", errors="replace")
        if _record_or_none(tail) is not None:
            stream.write(b"\n")
        else:
            stream.truncate(start_of_tail)
