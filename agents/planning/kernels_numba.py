"""The sparse Bellman kernels compiled by numba (the ``fast`` extra).

Same functions and arguments as :mod:`.kernels_numpy`, which documents them.
Written for speed, each choice measured on random models of 10^5 states:

* a stage's branches are walked in one flat loop, each added to its row
  (:attr:`~agents.planning.sparse_bellman.Rows.row_of`): rows of one or two
  branches made a per-row loop mispredict its exit about every other row, and
  took three times as long;
* the optimal backup walks a state's branches in one loop too, adding each to
  its action's total (:attr:`~agents.planning.sparse_bellman.Rows.action_of`),
  then takes the maximum over actions without a branch; it never writes the
  ``(S, A)`` action values;
* indices read from the model are used unsigned, which spares numba's
  negative-index wraparound on every access.

Each row's branches are still added in order, so the sums are those of the
NumPy kernels. A stage of at least :data:`PARALLEL_MIN_ROWS` rows is split
into contiguous chunks of rows run on numba's threads (``prange``); a smaller
one runs on the calling thread, since waking the pool costs more than its
rows take.

Importing this module imports numba; the kernels compile on first use and are
cached on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numba
import numpy as np

if TYPE_CHECKING:
    from agents.planning.sparse_bellman import Rows

PARALLEL_MIN_ROWS = 2**16
"""Rows from which a kernel runs on all of numba's threads."""

_CHUNKS_PER_THREAD = 4
"""Chunks per thread, so that a thread slowed by other work holds up less."""

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_jit_threads = numba.njit(cache=True, nogil=True, error_model="numpy", parallel=True)


@_jit
def _sums(indptr, row_of, target, probability, x, out, first, last):
    """Rows ``first .. last - 1`` of :func:`stage_sums` (``x`` ``(n,)``)."""
    for row in range(first, last):
        out[row] = 0.0
    for j in range(np.uint64(indptr[first]), np.uint64(indptr[last])):
        out[np.uint64(row_of[j])] += probability[j] * x[np.uint64(target[j])]


@_jit
def _sums_batch(indptr, row_of, target, probability, x, out, first, last):
    """Rows ``first .. last - 1`` of :func:`stage_sums` (``x`` ``(n, K)``)."""
    n_batch = x.shape[1]
    for row in range(first, last):
        for k in range(n_batch):
            out[row, k] = 0.0
    for j in range(np.uint64(indptr[first]), np.uint64(indptr[last])):
        owner = np.uint64(row_of[j])
        weight = probability[j]
        state = np.uint64(target[j])
        for k in range(n_batch):
            out[owner, k] += weight * x[state, k]


@_jit
def _optimal(
    indptr, action_of, target, probability, base, x, gamma, terminal, out, first, last
):
    """States ``first .. last - 1`` of :func:`optimal_values`."""
    width = np.uint64(base.size // terminal.size)
    totals = np.zeros(width)
    for state in range(first, last):
        first_row = np.uint64(state) * width
        totals[:] = 0.0
        end = np.uint64(indptr[first_row + width])
        for j in range(np.uint64(indptr[first_row]), end):
            totals[action_of[j]] += probability[j] * x[np.uint64(target[j])]
        best = -np.inf
        for a in range(width):
            best = max(best, base[first_row + a] + gamma * totals[a])
        out[state] = 0.0 if terminal[state] else best


@_jit
def _push(row_of, target, probability, x, out):
    """:func:`stage_push`, serially (branches of many rows meet in one state)."""
    out[:] = 0.0
    for j in range(target.size):
        out[np.uint64(target[j])] += probability[j] * x[np.uint64(row_of[j])]


@_jit
def _sums_serial(indptr, row_of, target, probability, x, out):
    _sums(indptr, row_of, target, probability, x, out, 0, indptr.size - 1)


@_jit_threads
def _sums_threads(n_chunks, indptr, row_of, target, probability, x, out):
    n_rows = indptr.size - 1
    for chunk in numba.prange(n_chunks):
        first = chunk * n_rows // n_chunks
        last = (chunk + 1) * n_rows // n_chunks
        _sums(indptr, row_of, target, probability, x, out, first, last)


@_jit
def _sums_batch_serial(indptr, row_of, target, probability, x, out):
    _sums_batch(indptr, row_of, target, probability, x, out, 0, indptr.size - 1)


@_jit_threads
def _sums_batch_threads(n_chunks, indptr, row_of, target, probability, x, out):
    n_rows = indptr.size - 1
    for chunk in numba.prange(n_chunks):
        first = chunk * n_rows // n_chunks
        last = (chunk + 1) * n_rows // n_chunks
        _sums_batch(indptr, row_of, target, probability, x, out, first, last)


@_jit
def _optimal_serial(
    indptr, action_of, target, probability, base, x, gamma, terminal, out
):
    _optimal(
        indptr,
        action_of,
        target,
        probability,
        base,
        x,
        gamma,
        terminal,
        out,
        0,
        terminal.size,
    )


@_jit_threads
def _optimal_threads(
    n_chunks, indptr, action_of, target, probability, base, x, gamma, terminal, out
):
    n_states = terminal.size
    for chunk in numba.prange(n_chunks):
        first = chunk * n_states // n_chunks
        last = (chunk + 1) * n_states // n_chunks
        _optimal(
            indptr,
            action_of,
            target,
            probability,
            base,
            x,
            gamma,
            terminal,
            out,
            first,
            last,
        )


def _chunks(n_rows: int) -> int:
    """Chunks to split ``n_rows`` rows into: 0 to run them on the calling thread."""
    threads = numba.get_num_threads()
    if threads == 1 or n_rows < PARALLEL_MIN_ROWS:
        return 0
    return int(threads * _CHUNKS_PER_THREAD)


def stage_sums(rows: Rows, x: Any, out: Any) -> None:
    """``out[r] = sum of probability[j] * x[target[j]]`` over row ``r``'s branches."""
    arguments = (rows.indptr, rows.row_of, rows.target, rows.probability, x, out)
    chunks = _chunks(rows.n_rows)
    if x.ndim == 1:
        if chunks:
            _sums_threads(chunks, *arguments)
        else:
            _sums_serial(*arguments)
    elif chunks:
        _sums_batch_threads(chunks, *arguments)
    else:
        _sums_batch_serial(*arguments)


def optimal_values(
    rows: Rows,
    base: Any,
    x: Any,
    gamma: float,
    terminal: Any,
    out: Any,
) -> None:
    """``out[s] = max_a base[s A + a] + gamma * sums[s A + a]``; 0 if terminal."""
    arguments = (
        rows.indptr,
        rows.action_of,
        rows.target,
        rows.probability,
        base,
        x,
        gamma,
        terminal,
        out,
    )
    chunks = _chunks(rows.n_rows)
    if chunks:
        _optimal_threads(chunks, *arguments)
    else:
        _optimal_serial(*arguments)


def stage_push(row_of: Any, target: Any, probability: Any, x: Any, out: Any) -> None:
    """``out[s] = sum of probability[j] * x[row_of[j]]`` over branches into ``s``."""
    _push(row_of, target, probability, x, out)


def compile_kernels() -> None:
    """Compile (or load from numba's cache) every kernel for the model's dtypes.

    Timings call this first, so that no measured run includes compilation.
    """
    indptr = np.array([0, 1, 2], dtype=np.int64)
    row_of = np.array([0, 1], dtype=np.int32)
    action_of = np.array([0, 1], dtype=np.uint8)
    probability = np.ones(2)
    terminal = np.zeros(1, dtype=bool)
    base = np.zeros(2)
    for target in (np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.int64)):
        for x in (np.zeros(1), np.zeros((1, 2))):
            out = np.empty((2, *x.shape[1:]))
            arguments = (indptr, row_of, target, probability, x, out)
            if x.ndim == 1:
                _sums_serial(*arguments)
                _sums_threads(1, *arguments)
            else:
                _sums_batch_serial(*arguments)
                _sums_batch_threads(1, *arguments)
        _push(row_of, target, probability, np.zeros(2), np.empty(1))
        optimal = (indptr, action_of, target, probability, base, np.zeros(1), 0.5)
        _optimal_serial(*optimal, terminal, np.empty(1))
        _optimal_threads(1, *optimal, terminal, np.empty(1))
