"""The one Markdown table formatter: pipe form, alignment, bad shapes refused."""

from __future__ import annotations

import pytest

from agents.common.markdown_table import markdown_table


def test_a_table_is_a_header_a_separator_of_alignments_and_one_line_per_row() -> None:
    """Cells are written as given; ``r`` columns right-aligned, the rest left."""
    table = markdown_table(
        ["learner", "V", "seconds"], [["Q-learning", "54.00", "1.2"]], "lrr"
    )
    assert table == (
        "| learner | V | seconds |\n|---|---:|---:|\n| Q-learning | 54.00 | 1.2 |"
    )


def test_columns_are_left_aligned_without_align_and_empty_cells_stay_cells() -> None:
    """An empty cell keeps its column (the manual's tables leave targets empty)."""
    table = markdown_table(["a", "b"], [["x", ""], ["", "y"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x |  |", "|  | y |"]


def test_a_table_without_rows_is_its_header() -> None:
    """No rows: the header and the separator, still valid Markdown."""
    assert markdown_table(["a"], []) == "| a |\n|---|"


@pytest.mark.parametrize(
    ("align", "message"),
    [("l", "one of 'l' or 'r' for each of the 2 columns"), ("lc", "'lc'")],
)
def test_an_alignment_of_the_wrong_length_or_letter_is_refused(
    align: str, message: str
) -> None:
    """The error names the alignment and what it must be."""
    with pytest.raises(ValueError, match=message):
        markdown_table(["a", "b"], [], align)


def test_a_row_of_the_wrong_length_is_refused_naming_the_row() -> None:
    """A row with a cell too few fails before any table is returned."""
    with pytest.raises(ValueError, match=r"row 1 has 1 cells, the table 2 columns"):
        markdown_table(["a", "b"], [["x", "y"], ["z"]])
