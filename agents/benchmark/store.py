"""Finished runs on disk as JSON Lines, one line per run, written as each ends.

A crash, Ctrl-C or a failing agent never loses a finished run: each record is
appended, flushed and synced before the next run starts, and ``--resume``
reads them back to skip what is done. A line cut short by a crash mid-write is
not a record: reading skips it, and the next append cuts it off first, so a
resumed benchmark never writes a record onto the end of a broken one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from agents.benchmark.runner import RunRecord
from agents.persistence import to_jsonable


class RunStoreError(ValueError):
    """A runs file that cannot be read back."""


class RunStore:
    """The JSON Lines file of one benchmark output folder.

    Args:
        path: The ``.jsonl`` file (created on the first append).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Keep the path; nothing is read or written yet."""
        self.path = Path(path)
        self._tail_checked = False

    def append(self, record: RunRecord) -> None:
        """Append one record and force it to disk (after a cut-short last line)."""
        line = json.dumps(to_jsonable(record), allow_nan=False) + "\n"
        if not self._tail_checked:
            _drop_partial_line(self.path)
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
        # The text after the last newline is a line cut short (or nothing).
        lines = self.path.read_text(encoding="utf-8").split("\n")[:-1]
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
        return records

    def latest(self, keys: Iterable[str]) -> dict[str, RunRecord]:
        """The newest record of each of ``keys`` that the file holds."""
        wanted = set(keys)
        return {r.key: r for r in self.load() if r.key in wanted}

    def rotate(self) -> Path | None:
        """Move an existing non-empty file aside (timestamped); return its new path."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        number = 1
        while target.exists():  # two rotations within one second
            number += 1
            target = self.path.with_name(
                f"{self.path.stem}-{stamp}-{number}{self.path.suffix}"
            )
        self.path.replace(target)
        return target


def _drop_partial_line(path: Path, chunk: int = 1 << 16) -> None:
    """Truncate ``path`` after its last newline, if it does not end with one.

    A file that does not end in a newline ends in a line cut short by a crash;
    appending to it would glue the next record onto that fragment.
    """
    if not path.exists():
        return
    with path.open("r+b") as stream:
        end = position = stream.seek(0, os.SEEK_END)
        while position > 0:
            start = max(0, position - chunk)
            stream.seek(start)
            block = stream.read(position - start)
            if position == end and block.endswith(b"\n"):
                return
            newline = block.rfind(b"\n")
            if newline >= 0:
                stream.truncate(start + newline + 1)
                return
            position = start
        stream.truncate(0)
