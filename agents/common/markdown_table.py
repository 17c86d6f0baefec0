"""The one Markdown table formatter: headers, rows and per-column alignment.

Cells arrive as text: how a number is written (digits, units, intervals) is
the caller's choice. The table is the pipe form GitHub renders, one line per
row with no padding (``| a | b |``, an empty cell as ``|  |``), so it reads
the same in a terminal, a log and the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ALIGNMENTS = {"l": "---", "r": "---:"}
"""The separator cell of each alignment: ``l`` left (Markdown's default),
``r`` right (for numbers)."""


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = ""
) -> str:
    """A Markdown table of ``rows`` under ``headers``, without a final newline.

    Args:
        headers: The column titles.
        rows: One sequence of cell texts per row, as many as ``headers``.
        align: One letter per column, ``l`` (left) or ``r`` (right); empty
            for every column left.

    Raises:
        ValueError: If ``align`` has another length than ``headers`` or a
            letter other than ``l`` and ``r``, or a row another number of
            cells than ``headers``.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers) or not set(align) <= set(ALIGNMENTS):
        raise ValueError(
            f"align {align!r} must give one of 'l' or 'r' for each of the "
            f"{len(headers)} columns"
        )
    lines = [_line(headers), "|" + "|".join(ALIGNMENTS[a] for a in align) + "|"]
    for number, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(
                f"row {number} has {len(row)} cells, the table {len(headers)} "
                f"columns: {list(row)!r}"
            )
        lines.append(_line(row))
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
