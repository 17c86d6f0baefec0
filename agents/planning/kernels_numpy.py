"""The sparse Bellman kernels in NumPy: the fallback when numba is not installed.

Same functions and arguments as :mod:`.kernels_numba`; the results agree to
rounding (a test holds them to 1e-12). A stage comes as
:class:`~agents.planning.sparse_bellman.Rows`. Row sums use
:func:`numpy.add.reduceat` over the non-empty rows, which adds each row's
branches in order on their own (no running total across rows, whose rounding
would grow with the model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from agents.planning.sparse_bellman import Rows


def stage_sums(rows: Rows, x: NDArray[np.float64], out: NDArray[np.float64]) -> None:
    """``out[r] = sum of probability[j] * x[target[j]]`` over row ``r``'s branches.

    Args:
        rows: The stage.
        x: ``(n,)`` values of the states branches lead to, or ``(n, K)``.
        out: ``(rows,)``, or ``(rows, K)``, written in place; an empty row
            sums to 0.
    """
    out[...] = 0.0
    if rows.probability.size == 0:
        return
    weights = rows.probability if x.ndim == 1 else rows.probability[:, None]
    nonempty, starts = rows.nonempty
    out[nonempty] = np.add.reduceat(weights * x[rows.target], starts, axis=0)


def optimal_values(
    rows: Rows,
    base: NDArray[np.float64],
    x: NDArray[np.float64],
    gamma: float,
    terminal: NDArray[np.bool_],
    out: NDArray[np.float64],
) -> None:
    """``out[s] = max_a base[s A + a] + gamma * sums[s A + a]``; 0 if terminal.

    Args:
        rows: The decision stage, one row per ``(s, a)``.
        base: ``(S * A,)`` expected rewards, ``-inf`` for unavailable actions.
        x: ``(S,)`` the continuation value of each post-decision state.
        gamma: The discount.
        terminal: ``(S,)`` True for terminal states.
        out: ``(S,)`` written in place.
    """
    sums = np.empty(rows.n_rows)
    stage_sums(rows, x, sums)
    q = (base + gamma * sums).reshape(terminal.size, -1)
    q[terminal] = 0.0
    out[:] = q.max(axis=1)


def stage_push(
    row_of: NDArray[np.integer],
    target: NDArray[np.integer],
    probability: NDArray[np.float64],
    x: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    """``out[s] = sum of probability[j] * x[row_of[j]]`` over branches into ``s``.

    The transpose of :func:`stage_sums`: mass ``x`` ``(rows,)`` on a stage's
    rows pushed along its branches to the states they lead to, ``out``
    ``(n,)`` written in place (0 where no branch leads).
    """
    out[:] = np.bincount(target, weights=probability * x[row_of], minlength=out.size)
