"""Value iteration: synchronous Bellman optimality sweeps from ``V = 0``.

A pure function of a model (see :func:`~agents.planning.bellman.as_sparse`);
it never steps an environment. Conventions are those of
:mod:`agents.planning.bellman`; each sweep runs on the sparse model
(:class:`~agents.planning.sparse_bellman.BellmanOperator`).

Sweep ``k`` from ``V = 0`` gives the optimal value with ``k`` steps left, so
the same loop is backward induction over a finite horizon: with a horizon of
``H`` steps it runs exactly ``H`` sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from access_review_env.validation import check_integer, check_real
from agents.planning.bellman import (
    FloatArray,
    Horizon,
    IntArray,
    Model,
    as_sparse,
    check_gamma,
    greedy_policy,
    horizon_text,
)
from agents.planning.sparse_bellman import Backend, BellmanOperator

HISTORY_MAX_ENTRIES = 2**24
"""By default the sweep-by-sweep history is kept only when ``S`` times the
sweeps planned (the horizon, else ``max_sweeps``) is at most this: 16.8 million
values, 128 MiB. The lesson's tasks (4 and 6 states) keep it; a model of
1,000,000 states over 200 steps (1.6 GB of history) does not."""


@dataclass(frozen=True)
class ValueIterationResult:
    """What value iteration found.

    Attributes:
        V: ``(S,)`` optimal state values (with ``horizon`` steps left, if set).
        Q: ``(S, A)`` optimal action values (``-inf`` for unavailable actions).
        policy: ``(S,)`` a greedy, hence optimal, deterministic policy; with a
            horizon, the optimal first action of an episode.
        sweep_history: ``(n_sweeps, S)`` V after each sweep (row 0 is after
            sweep 1; with a horizon, row ``h - 1`` is the value with ``h``
            steps left), or None when it was not kept (see
            :data:`HISTORY_MAX_ENTRIES`); :attr:`history` reads it.
        converged: Whether a sweep changed no value by more than the tolerance
            (always True with a horizon: backward induction is exact).
        gamma: The discount used.
        horizon: The steps planned for, or None for an infinite horizon.
        n_sweeps: Number of sweeps run.
    """

    V: FloatArray
    Q: FloatArray
    policy: IntArray
    sweep_history: FloatArray | None
    converged: bool
    gamma: float
    horizon: int | None = None
    n_sweeps: int = field(default=0, kw_only=True)

    @property
    def history(self) -> FloatArray:
        """``(n_sweeps, S)`` V after each sweep (see :attr:`sweep_history`).

        Raises:
            ValueError: If the history was not kept.
        """
        if self.sweep_history is None:
            raise ValueError(
                "the sweep history was not kept (keep_history=False, or states "
                "times sweeps planned above HISTORY_MAX_ENTRIES = "
                f"{HISTORY_MAX_ENTRIES:,}); pass keep_history=True"
            )
        return self.sweep_history

    @property
    def horizon_text(self) -> str:
        """Which values these are: infinite horizon, or the finite horizon used."""
        return horizon_text(self.horizon)


class Sweeps(NamedTuple):
    """Where :func:`optimal_sweeps` stopped.

    Attributes:
        V: ``(S,)`` the values after the last sweep.
        before_last: ``(S,)`` the values before it (what the last sweep backed
            up; ``V = 0`` if no sweep ran).
        n_sweeps: Sweeps run.
        converged: Whether the last sweep changed no value by more than the
            tolerance (False when no tolerance was given).
    """

    V: FloatArray
    before_last: FloatArray
    n_sweeps: int
    converged: bool


def optimal_sweeps(
    operator: BellmanOperator,
    max_sweeps: int,
    tol: float | None = None,
    history: list[FloatArray] | None = None,
) -> Sweeps:
    """Synchronous optimality sweeps from ``V = 0``.

    Args:
        operator: The backup to apply.
        max_sweeps: Sweeps to run (all of them without ``tol``: backward
            induction over that many steps).
        tol: Stop after the first sweep that changes no value by more than
            this; None runs every sweep.
        history: A list each sweep's values are appended to, or None.
    """
    V = np.zeros(operator.n_states)
    before_last = V
    n_sweeps = 0
    while n_sweeps < max_sweeps:
        n_sweeps += 1
        before_last, V = V, operator.optimal_values(V)
        if history is not None:
            history.append(V)
        if tol is not None and float(np.abs(V - before_last).max()) <= tol:
            return Sweeps(V, before_last, n_sweeps, True)
    return Sweeps(V, before_last, n_sweeps, False)


def value_iteration(
    model: Model,
    gamma: float | None = None,
    tol: float = 1e-10,
    max_sweeps: int = 10_000,
    horizon: Horizon = "model",
    *,
    keep_history: bool | None = None,
    backend: Backend = "auto",
) -> ValueIterationResult:
    """Synchronous value iteration from ``V = 0``, as in the lesson.

    Each sweep computes every state's new value from the previous sweep's
    values (Sutton & Barto, equation 4.10). Without a horizon it stops after
    the first sweep that changes no value by more than ``tol``, or after
    ``max_sweeps``; with a horizon of ``H`` steps it runs exactly ``H`` sweeps.

    Args:
        model: A :class:`~access_review_env.TabularMDP`, a
            :class:`~access_review_env.model.sparse.SparseMDP` or an env exposing
            one (see :func:`~agents.planning.bellman.as_sparse`): an env made
            by ``gym.make`` is planned as registered, with its time limit.
        gamma: Discount in [0, 1]; the task's (0.9 for AccessReview-v0) when None.
        tol: Stopping tolerance on the largest change of a value in one sweep.
        max_sweeps: Upper bound on sweeps without a horizon.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.
        keep_history: Keep V after every sweep; None keeps it when it fits in
            :data:`HISTORY_MAX_ENTRIES` values.
        backend: The kernels that run the sweeps (see
            :data:`~agents.planning.sparse_bellman.Backend`).

    Returns:
        A :class:`ValueIterationResult`.

    Raises:
        ValueError: If ``gamma``, ``tol``, ``max_sweeps``, ``horizon`` or
            ``backend`` is out of range.
    """
    mdp = as_sparse(model, horizon)
    gamma = check_gamma(mdp.gamma if gamma is None else gamma)
    tol = check_real("tol", tol, low=0.0)
    max_sweeps = check_integer("max_sweeps", max_sweeps, low=1)
    operator = BellmanOperator.of(mdp, gamma, backend)
    planned = mdp.horizon or max_sweeps
    if keep_history is None:
        keep_history = mdp.n_states * planned <= HISTORY_MAX_ENTRIES
    history: list[FloatArray] | None = [] if keep_history else None
    finite = mdp.horizon is not None
    sweeps = optimal_sweeps(operator, planned, None if finite else tol, history)
    Q = operator.q_values(sweeps.before_last if finite else sweeps.V)
    return ValueIterationResult(
        sweeps.V,
        Q,
        greedy_policy(Q),
        None if history is None else np.array(history),
        finite or sweeps.converged,
        gamma,
        mdp.horizon,
        n_sweeps=sweeps.n_sweeps,
    )
