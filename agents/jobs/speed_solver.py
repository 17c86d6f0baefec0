"""Our backward induction timed beside SciPy and pymdptoolbox, on the same model.

:func:`solver_speed` solves one :class:`SparseMDP` over a horizon of ``H``
steps by every method below, in one run, and checks that all of them find the
same values ``V`` (with ``H`` steps left) to :data:`AGREEMENT_TOLERANCE`:

* ours on the model's own form (decision and event stages), with the numba
  kernels (on all of numba's threads, and on one) and with the NumPy ones:
  :func:`~agents.planning.value_iteration.value_iteration`;
* ours on the composed one-stage form, the same matrices the next two read,
  so that the ratio to the two-stage rows is what the factorization gains
  and the ratio to SciPy is what the kernel gains;
* a plain stacked-CSR SciPy loop: ``Q = R + gamma * P @ V``, ``P`` the
  ``(S * A) x S`` composed matrix, then the maximum over actions;
* pymdptoolbox's ``FiniteHorizon`` on the same matrices, one ``S x S`` sparse
  matrix per action. pymdptoolbox 4.0b3 checks its input on construction and
  under NumPy 2 that check fails on sparse matrices (it densifies them); it is
  switched off here (:func:`unchecked_pymdptoolbox`), as the ``skip_check``
  argument merged upstream after 4.0b3 does.

The composed matrices carry the planners' conventions: rows of terminal
states are empty with reward 0 (so their value stays 0 and nothing is
bootstrapped out of them) and unavailable actions have reward ``-inf``.
The rows also time building them from the model. Memory is each phase's
``tracemalloc`` peak above what was allocated when it started: every large
array of every method is a NumPy allocation, which ``tracemalloc`` sees (the
numba kernels write into arrays NumPy allocated). The process's peak resident
set (``ru_maxrss``) is reported beside it.

scipy and pymdptoolbox are optional: each missing one is named in one line
before the long part starts, and its rows are left out.

    python -m agents.jobs.speed_solver --level xlarge    # a queue level
    python -m agents.jobs.speed_solver --states 1000000  # a random model

``access-review speed`` runs it on the queue's largest level.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from access_review_env import QUEUE_LEVELS
from access_review_env.model.queue import build_queue_model
from access_review_env.model.queue_mdp import resolve_queue_parameters
from access_review_env.model.random_sparse import random_sparse_mdp
from access_review_env.model.sparse import SparseMDP
from access_review_env.tasks.access_review_queue import (
    MAX_EPISODE_STEPS as QUEUE_MAX_EPISODE_STEPS,
)
from access_review_env.validation import check_integer
from agents.planning.sparse_bellman import Backend, BellmanOperator, Rows, kernels
from agents.planning.value_iteration import optimal_sweeps, value_iteration

AGREEMENT_TOLERANCE = 1e-9
"""Largest difference in ``V`` allowed between any method and the reference."""

REFERENCE = "ours, two-stage, numpy"
"""The method every other one is compared with (it needs no extra)."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class ComposedMatrices:
    """A model's composed one-stage form as CSR arrays, conventions built in.

    Attributes:
        n_actions: ``A``.
        indptr: ``(S * A + 1,)`` int64 row offsets; row ``s * A + a``.
        indices: ``(nnz,)`` int32 next states.
        data: ``(nnz,)`` float64 probabilities (a next state may repeat).
        rewards: ``(S, A)`` expected rewards: ``-inf`` for an unavailable
            action of a non-terminal state, 0 in terminal states.
    """

    n_actions: int
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    data: NDArray[np.float64]
    rewards: NDArray[np.float64]

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.rewards.shape[0])

    @property
    def nnz(self) -> int:
        """Stored entries."""
        return int(self.data.size)


def compose(mdp: SparseMDP) -> ComposedMatrices:
    """The composed matrices of ``mdp`` (see :class:`ComposedMatrices`)."""
    table = mdp.transitions()
    indptr, indices, data = table.indptr, table.target, table.probability
    del table
    if mdp.terminal.any():
        live_rows = np.repeat(~mdp.terminal, mdp.n_actions)
        lengths = np.where(live_rows, np.diff(indptr), 0)
        keep = np.repeat(live_rows, np.diff(indptr))
        indices, data = indices[keep], data[keep]
        del keep
        indptr = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
    rewards = np.where(mdp.available_actions, mdp.rewards, -np.inf)
    rewards[mdp.terminal] = 0.0
    return ComposedMatrices(mdp.n_actions, indptr, indices, data, rewards)


def stacked_csr(composed: ComposedMatrices) -> Any:
    """The ``(S * A) x S`` SciPy CSR matrix of ``composed`` (needs scipy)."""
    from scipy import sparse

    shape = (composed.n_states * composed.n_actions, composed.n_states)
    return sparse.csr_array((composed.data, composed.indices, composed.indptr), shape)


def per_action(stacked: Any, n_actions: int) -> list[Any]:
    """``A`` SciPy ``S x S`` CSR matrices, one per action (pymdptoolbox's input)."""
    from scipy import sparse

    return [sparse.csr_matrix(stacked[a::n_actions]) for a in range(n_actions)]


def scipy_backward_induction(
    stacked: Any, rewards: NDArray[np.float64], gamma: float, horizon: int
) -> NDArray[np.float64]:
    """``(S,)`` optimal values with ``horizon`` steps left by the stacked-CSR loop.

    Args:
        stacked: The ``(S * A) x S`` composed matrix.
        rewards: ``(S, A)`` rewards of :class:`ComposedMatrices`.
        gamma: The discount.
        horizon: Steps.
    """
    flat = rewards.reshape(-1)
    V = np.zeros(rewards.shape[0])
    for _ in range(horizon):
        Q = flat + gamma * (stacked @ V)
        V = Q.reshape(rewards.shape).max(axis=1)
    return V


@contextmanager
def unchecked_pymdptoolbox() -> Iterator[None]:
    """Switch off pymdptoolbox's input check while solvers are constructed.

    pymdptoolbox 4.0b3's ``MDP.__init__`` calls ``mdptoolbox.util.check``,
    which requires every row to be stochastic (ours are not: terminal and
    unavailable rows are empty) and, under NumPy 2, densifies sparse
    matrices. Later releases skip it with ``skip_check=True``.
    """
    import mdptoolbox.util

    check = mdptoolbox.util.check
    mdptoolbox.util.check = lambda transitions, reward: None
    try:
        yield
    finally:
        mdptoolbox.util.check = check


def pymdptoolbox_finite_horizon(
    matrices: list[Any], rewards: NDArray[np.float64], gamma: float, horizon: int
) -> NDArray[np.float64]:
    """``(S,)`` optimal values with ``horizon`` steps left by ``FiniteHorizon``.

    Args:
        matrices: One ``S x S`` sparse matrix per action (:func:`per_action`).
        rewards: ``(S, A)`` rewards of :class:`ComposedMatrices`.
        gamma: The discount, in (0, 1] as pymdptoolbox requires.
        horizon: Steps.
    """
    import mdptoolbox.mdp

    with unchecked_pymdptoolbox():
        solver = mdptoolbox.mdp.FiniteHorizon(matrices, rewards, gamma, horizon)
    solver.run()
    return np.asarray(solver.V[:, 0], dtype=np.float64)


def composed_backward_induction(
    composed: ComposedMatrices,
    mdp: SparseMDP,
    gamma: float,
    horizon: int,
    backend: Backend,
) -> NDArray[np.float64]:
    """``(S,)`` optimal values by our kernels on the composed one-stage form."""
    operator = BellmanOperator(
        composed.n_actions,
        mdp.terminal,
        mdp.rewards,
        mdp.available_actions,
        Rows(composed.indptr, composed.indices, composed.data, composed.n_actions),
        None,
        gamma,
        backend,
    )
    return optimal_sweeps(operator, horizon).V


@dataclass(frozen=True)
class SolverTiming:
    """One method's (or one build step's) time and memory.

    Attributes:
        method: What ran, e.g. ``"ours, two-stage, numba (2 threads)"``.
        seconds: Wall-clock time.
        peak_bytes: ``tracemalloc`` peak above the phase's start.
        difference: Largest ``|V - V_reference|`` (None for a build step).
    """

    method: str
    seconds: float
    peak_bytes: int
    difference: float | None = None


@dataclass(frozen=True)
class SolverSpeed:
    """Every method's timing on one model, and whether they agree.

    Attributes:
        n_states: ``S``.
        n_actions: ``A``.
        horizon: ``H``.
        gamma: The discount.
        branches: Branches of the model's own form (both stages).
        composed_nnz: Entries of the composed matrices.
        builds: Build steps (model, composed matrices, SciPy matrices).
        solves: The solvers.
        agree: Whether every solver's ``V`` is within ``tolerance`` of the
            reference's.
        tolerance: :data:`AGREEMENT_TOLERANCE`.
        skipped: One line per method left out, saying why.
        max_rss_bytes: The process's peak resident set at the end.
    """

    n_states: int
    n_actions: int
    horizon: int
    gamma: float
    branches: int
    composed_nnz: int
    builds: tuple[SolverTiming, ...]
    solves: tuple[SolverTiming, ...]
    agree: bool
    tolerance: float
    skipped: tuple[str, ...]
    max_rss_bytes: int

    def seconds(self, method: str) -> float | None:
        """The time of the solver whose name starts with ``method``, if it ran."""
        for row in self.solves:
            if row.method.startswith(method):
                return row.seconds
        return None


def missing_extras() -> tuple[str, ...]:
    """One line per optional library the comparison needs and cannot import."""
    lines = []
    if importlib.util.find_spec("numba") is None:
        lines.append(
            "numba is not installed: the numba rows are left out "
            "(pip install 'access-review-env[fast]')"
        )
    if importlib.util.find_spec("scipy") is None:
        lines.append(
            "scipy is not installed: the SciPy and pymdptoolbox rows are left "
            "out (pip install scipy)"
        )
    elif importlib.util.find_spec("mdptoolbox") is None:
        lines.append(
            "pymdptoolbox is not installed: its row is left out "
            "(pip install pymdptoolbox)"
        )
    return tuple(lines)


def _measured(call: Callable[[], _T]) -> tuple[_T, float, int]:
    """``call()``'s result, wall time and tracemalloc peak above its start."""
    start_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - start_bytes
    return result, seconds, max(0, peak)


def _plural(threads: int) -> str:
    return "1 thread" if threads == 1 else f"{threads} threads"


def _threads() -> int:
    import numba

    return int(numba.get_num_threads())


@contextmanager
def _numba_threads(threads: int) -> Iterator[None]:
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _warm_up() -> None:
    """Run every numba path once on a small model, so no timing pays a compile.

    numba compiles (or loads from its cache) each kernel on its first call
    with a new signature or thread count.
    """
    kernels("numba").compile_kernels()
    small = random_sparse_mdp(
        50, 3, np.random.default_rng(0), branches=2, event_branches=3, horizon=3
    )
    composed = compose(small)
    for count in sorted({1, _threads()}):
        with _numba_threads(count):
            value_iteration(small, horizon=3, keep_history=False, backend="numba")
            composed_backward_induction(composed, small, small.gamma, 3, "numba")


def solver_speed(
    mdp: SparseMDP,
    horizon: int,
    *,
    model_seconds: float | None = None,
    log: Callable[[str], None] | None = None,
) -> SolverSpeed:
    """Time every method of the module docstring on ``mdp`` over ``horizon`` steps.

    Args:
        mdp: The model; its discount is used (pymdptoolbox needs it above 0).
        horizon: Steps of backward induction.
        model_seconds: How long building ``mdp`` took, reported as a build
            step when given.
        log: Called with one line per missing extra and per finished step
            (e.g. ``print``), so that a long run shows progress.

    Raises:
        ValueError: For a horizon below 1.
    """
    horizon = check_integer("horizon", horizon, low=1)
    say = log or (lambda line: None)
    skipped = missing_extras()
    for line in skipped:
        say(line)
    has_numba = importlib.util.find_spec("numba") is not None
    has_scipy = importlib.util.find_spec("scipy") is not None
    has_toolbox = has_scipy and importlib.util.find_spec("mdptoolbox") is not None
    if has_numba:
        _warm_up()
    gamma = mdp.gamma
    builds: list[SolverTiming] = []
    if model_seconds is not None:
        builds.append(SolverTiming("build the model", model_seconds, 0))
    values: dict[str, NDArray[np.float64]] = {}
    solves: list[SolverTiming] = []

    def solve(method: str, call: Callable[[], NDArray[np.float64]]) -> None:
        V, seconds, peak = _measured(call)
        values[method] = V
        solves.append(SolverTiming(method, seconds, peak))
        say(f"{method}: {seconds:.2f} s")

    def build(step: str, call: Callable[[], _T]) -> _T:
        result, seconds, peak = _measured(call)
        builds.append(SolverTiming(step, seconds, peak))
        say(f"{step}: {seconds:.2f} s")
        return result

    def ours(backend: Backend) -> Callable[[], NDArray[np.float64]]:
        return lambda: (
            value_iteration(mdp, horizon=horizon, keep_history=False, backend=backend).V
        )

    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        threads = _threads() if has_numba else 0
        for count in sorted({1, threads} - {0}):
            with _numba_threads(count):
                solve(f"ours, two-stage, numba ({_plural(count)})", ours("numba"))
        solve(REFERENCE, ours("numpy"))
        composed = build("compose the one-stage matrices", lambda: compose(mdp))
        for count in sorted({1, threads} - {0}):
            with _numba_threads(count):
                solve(
                    f"ours, composed, numba ({_plural(count)})",
                    lambda: composed_backward_induction(
                        composed, mdp, gamma, horizon, "numba"
                    ),
                )
        if has_scipy:
            stacked = build("SciPy stacked CSR", lambda: stacked_csr(composed))
            solve(
                "SciPy stacked-CSR loop, composed",
                lambda: scipy_backward_induction(
                    stacked, composed.rewards, gamma, horizon
                ),
            )
            if has_toolbox:
                matrices = build(
                    "per-action CSR matrices",
                    lambda: per_action(stacked, mdp.n_actions),
                )
                del stacked
                solve(
                    "pymdptoolbox FiniteHorizon, composed",
                    lambda: pymdptoolbox_finite_horizon(
                        matrices, composed.rewards, gamma, horizon
                    ),
                )
                del matrices
    finally:
        if not tracing:
            tracemalloc.stop()
    reference = values[REFERENCE]
    compared = tuple(
        SolverTiming(
            row.method,
            row.seconds,
            row.peak_bytes,
            float(np.abs(values[row.method] - reference).max()),
        )
        for row in solves
    )
    return SolverSpeed(
        n_states=mdp.n_states,
        n_actions=mdp.n_actions,
        horizon=horizon,
        gamma=gamma,
        branches=mdp.nnz,
        composed_nnz=composed.nnz,
        builds=tuple(builds),
        solves=compared,
        agree=all(
            row.difference is not None and row.difference <= AGREEMENT_TOLERANCE
            for row in compared
        ),
        tolerance=AGREEMENT_TOLERANCE,
        skipped=skipped,
        max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f}"


def format_solver_speed(result: SolverSpeed) -> str:
    """A plain-text report: build steps, solvers side by side, the goals' ratios."""
    lines = [
        f"Backward induction over {result.horizon} steps, S = {result.n_states:,}, "
        f"A = {result.n_actions}, gamma = {result.gamma}: "
        f"{result.branches:,} branches in two stages, "
        f"{result.composed_nnz:,} entries composed",
        *result.skipped,
        "",
        f"{'build step':<44} {'seconds':>9} {'peak MiB':>9}",
    ]
    lines += [
        f"{row.method:<44} {row.seconds:>9.2f} {_mib(row.peak_bytes):>9}"
        for row in result.builds
    ]
    fastest = min(row.seconds for row in result.solves)
    lines += [
        "",
        f"{'solver':<44} {'seconds':>9} {'peak MiB':>9} {'x fastest':>9} "
        f"{'max |dV|':>9}",
    ]
    lines += [
        f"{row.method:<44} {row.seconds:>9.2f} {_mib(row.peak_bytes):>9} "
        f"{row.seconds / fastest:>9.1f} {row.difference:>9.1e}"
        for row in result.solves
    ]
    verdict = "agree" if result.agree else "DISAGREE"
    lines += [
        "",
        f"all solvers {verdict} with '{REFERENCE}' to {result.tolerance:g} in V",
        f"peak resident set of the process: {_mib(result.max_rss_bytes)} MiB "
        "(tracemalloc peaks above: NumPy/SciPy allocations of each phase)",
    ]
    lines += _ratios(result)
    return "\n".join(lines)


def _ratios(result: SolverSpeed) -> list[str]:
    """The goals' ratios: ours (two-stage, best backend) against each baseline."""
    ours = min(
        (row for row in result.solves if row.method.startswith("ours, two-stage")),
        key=lambda row: row.seconds,
    )
    lines = [f"ours = '{ours.method}'"]
    goals = (
        ("pymdptoolbox FiniteHorizon", 5.0),
        ("SciPy stacked-CSR loop", 2.0),
    )
    for method, goal in goals:
        seconds = result.seconds(method)
        if seconds is not None:
            ratio = seconds / ours.seconds
            status = "met" if ratio >= goal else "NOT met"
            lines.append(
                f"ours vs {method}: {ratio:.1f}x faster (goal {goal:g}x, {status})"
            )
    composed = result.seconds("ours, composed, numba")
    numba_ours = result.seconds("ours, two-stage, numba")
    scipy_loop = result.seconds("SciPy stacked-CSR loop")
    if composed is not None and numba_ours is not None:
        lines.append(
            f"factorization (ours composed / ours two-stage, numba): "
            f"{composed / numba_ours:.1f}x"
        )
    if composed is not None and scipy_loop is not None:
        lines.append(
            f"kernel (SciPy loop / ours, both composed): {scipy_loop / composed:.1f}x"
        )
    return lines


def queue_model(level: str) -> tuple[SparseMDP, float]:
    """A queue level's model with the registered time limit, and its build time.

    The model is built anew (not taken from the cache of made envs), so the
    time is the build's.
    """
    start = time.perf_counter()
    parameters = resolve_queue_parameters(level, {})
    mdp = build_queue_model(parameters)
    seconds = time.perf_counter() - start
    return mdp.replace(horizon=QUEUE_MAX_EPISODE_STEPS), seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Time the solvers on a queue level or a random sparse MDP; print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--level",
        choices=tuple(QUEUE_LEVELS),
        help="a level of AccessReviewQueue-v0 (its registered horizon); "
        "else a random model of --states",
    )
    parser.add_argument("--states", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=16)
    parser.add_argument("--branches", type=int, default=2)
    parser.add_argument("--event-branches", type=int, default=11)
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.level is not None:
        mdp, built = queue_model(args.level)
    else:
        start = time.perf_counter()
        mdp = random_sparse_mdp(
            args.states,
            args.actions,
            np.random.default_rng(args.seed),
            branches=args.branches,
            event_branches=args.event_branches,
            horizon=args.horizon,
        )
        built = time.perf_counter() - start
    assert mdp.horizon is not None
    result = solver_speed(
        mdp,
        mdp.horizon,
        model_seconds=built,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_solver_speed(result))
    return 0 if result.agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
