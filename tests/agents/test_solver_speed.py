"""The solver comparison: every method runs, agrees, and says what it left out.

No timing is asserted: the rows' seconds are measurements, not specifications.
"""

from __future__ import annotations

import numpy as np
import pytest

from access_review_env.model.random_sparse import random_sparse_mdp
from agents.jobs.speed_solver import (
    REFERENCE,
    compose,
    format_solver_speed,
    main,
    solver_speed,
)
from agents.planning.sparse_bellman import resolve_backend
from tests.helpers import python_without

pytest.importorskip("mdptoolbox")
pytest.importorskip("scipy")


def test_every_method_finds_the_same_values() -> None:
    """Ours (both forms, both backends), SciPy and pymdptoolbox agree to 1e-9."""
    mdp = random_sparse_mdp(
        300, 6, np.random.default_rng(0), branches=2, event_branches=5, horizon=15
    )
    lines: list[str] = []
    result = solver_speed(mdp, 15, model_seconds=0.5, log=lines.append)
    methods = [row.method for row in result.solves]
    expected = [
        REFERENCE,
        "ours, composed, numba (1 thread)",
        "SciPy stacked-CSR loop, composed",
        "pymdptoolbox FiniteHorizon, composed",
    ]
    if resolve_backend("auto", 10**9) != "numba":
        expected.remove("ours, composed, numba (1 thread)")
    assert set(expected) <= set(methods)
    assert result.agree and result.skipped == ()
    assert all(
        row.difference is not None and row.difference <= 1e-9 for row in result.solves
    )
    assert [row.method for row in result.builds] == [
        "build the model",
        "compose the one-stage matrices",
        "SciPy stacked CSR",
        "per-action CSR matrices",
    ]
    assert result.composed_nnz == compose(mdp).nnz > result.branches == mdp.nnz
    text = format_solver_speed(result)
    assert f"all solvers agree with '{REFERENCE}' to 1e-09 in V" in text
    assert "ours vs pymdptoolbox FiniteHorizon:" in text
    assert "ours vs SciPy stacked-CSR loop:" in text
    assert len(lines) == len(result.solves) + len(result.builds) - 1


def test_the_composed_matrices_empty_terminal_rows_and_bar_unavailable_actions() -> (
    None
):
    """Terminal rows have no entries and reward 0; unavailable actions -inf."""
    mdp = random_sparse_mdp(
        50, 3, np.random.default_rng(1), event_branches=4, terminal_share=0.3
    )
    composed = compose(mdp)
    lengths = np.diff(composed.indptr).reshape(50, 3)
    assert mdp.terminal.any()
    assert np.all(lengths[mdp.terminal] == 0)
    assert np.all(composed.rewards[mdp.terminal] == 0.0)
    live = ~mdp.terminal[:, None]
    assert np.all(np.isneginf(composed.rewards[live & ~mdp.available_actions]))
    sums = np.add.reduceat(composed.data, composed.indptr[:-1][lengths.reshape(-1) > 0])
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)


def test_a_missing_pymdptoolbox_is_one_line_and_its_row_left_out() -> None:
    """Without pymdptoolbox the run says so once and compares the rest."""
    code = (
        "from agents.jobs.speed_solver import main\n"
        "raise SystemExit(main(['--states', '200', '--actions', '3', "
        "'--horizon', '4']))\n"
    )
    done = python_without("mdptoolbox", code)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("pymdptoolbox is not installed") == 1
    assert "pymdptoolbox FiniteHorizon" not in done.stdout
    assert "SciPy stacked-CSR loop, composed" in done.stdout
    assert "all solvers agree" in done.stdout


def test_the_command_line_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m agents.jobs.speed_solver`` exits 0 when the methods agree."""
    assert main(["--states", "100", "--actions", "4", "--horizon", "3"]) == 0
    out = capsys.readouterr().out
    assert "Backward induction over 3 steps, S = 100, A = 4" in out
