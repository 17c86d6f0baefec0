"""docs/tutorial.ipynb runs top to bottom, fast, and is committed without outputs.

The notebook checks the lesson's figures itself (its ``assert`` lines), so an
error in any cell fails the test. The kernel runs in a temporary folder and
imports the same ``agents`` and ``access_review_env`` as this test does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

import access_review_env
import agents

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "tutorial.ipynb"
BUDGET_SECONDS = 120.0
"""The issue's limit for the whole notebook on 2 cores (about 15 s here)."""


def kernel_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment, with the packages under test first on the path."""
    roots = {
        str(Path(str(package.__file__)).resolve().parents[1])
        for package in (agents, access_review_env)
    }
    path = os.pathsep.join([*sorted(roots), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        "PYTHONPATH": path.rstrip(os.pathsep),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }


def execute(notebook: Any, tmp_path: Path) -> float:
    """Run ``notebook`` in place in a fresh kernel in ``tmp_path``; return seconds."""
    client = nbclient.NotebookClient(
        notebook,
        timeout=BUDGET_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute(env=kernel_env(tmp_path))
    return time.perf_counter() - start


def code_cells(notebook: Any) -> list[Any]:
    """The notebook's code cells."""
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_committed_notebook_has_no_outputs_and_no_execution_counts() -> None:
    """Outputs are stripped before committing, so the diff stays reviewable."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    hint = "clear outputs before saving (Jupyter: Edit > Clear Outputs of All Cells)"
    for index, cell in enumerate(code_cells(notebook)):
        assert cell.outputs == [], f"code cell {index} has outputs: {hint}"
        assert cell.execution_count is None, f"code cell {index} has a count: {hint}"


@pytest.mark.slow
@pytest.mark.processes
def test_notebook_runs_top_to_bottom_within_budget_with_figures_inline(
    tmp_path: Path,
) -> None:
    """Every cell runs without error, in under two minutes, figures shown as PNG."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    seconds = execute(notebook, tmp_path)
    print(f"docs/tutorial.ipynb ran in {seconds:.1f} s")
    assert seconds < BUDGET_SECONDS
    cells = code_cells(notebook)
    figure_calls = sum(cell.source.count("_figure(") for cell in cells)
    pngs = sum(
        "image/png" in output.get("data", {})
        for cell in cells
        for output in cell.outputs
    )
    assert figure_calls >= 7 and pngs == figure_calls
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.processes
def test_sb3_cell_prints_one_line_without_the_sb3_extra(tmp_path: Path) -> None:
    """Without stable-baselines3 the SB3 cell says what to install and goes on."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    tagged = [c for c in code_cells(notebook) if "sb3" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    block = nbformat.v4.new_code_cell(
        "import sys\nsys.modules['stable_baselines3'] = None"
    )
    notebook.cells = [block, *tagged]
    execute(notebook, tmp_path)
    lines = "".join(o.get("text", "") for o in tagged[0].outputs).splitlines()
    assert lines == [
        "stable-baselines3 is not installed: skipping the PPO cross-check "
        "(pip install 'access-review-env[sb3]')"
    ]
