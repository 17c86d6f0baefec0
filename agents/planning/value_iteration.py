"""Value iteration: synchronous Bellman optimality sweeps from ``V = 0``.

A pure function of a :class:`~access_review_env.TabularMDP` (or of an env that
exposes one); it never steps an environment. Conventions are those of
:mod:`agents.planning.bellman`.

Sweep ``k`` from ``V = 0`` gives the optimal value with ``k`` steps left, so
the same loop is backward induction over a finite horizon: with a horizon of
``H`` steps it runs exactly ``H`` sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from access_review_env import TabularMDP
from access_review_env.validation import check_integer, check_real
from agents.planning.bellman import (
    FloatArray,
    Horizon,
    IntArray,
    as_tabular,
    backup_arrays,
    check_gamma,
    greedy_policy,
    horizon_text,
)


@dataclass(frozen=True)
class ValueIterationResult:
    """What value iteration found.

    Attributes:
        V: ``(S,)`` optimal state values (with ``horizon`` steps left, if set).
        Q: ``(S, A)`` optimal action values (``-inf`` for unavailable actions).
        policy: ``(S,)`` a greedy, hence optimal, deterministic policy; with a
            horizon, the optimal first action of an episode.
        history: ``(n_sweeps, S)`` V after each sweep (row 0 is after sweep 1;
            with a horizon, row ``h - 1`` is the value with ``h`` steps left).
        converged: Whether a sweep changed no value by more than the tolerance
            (always True with a horizon: backward induction is exact).
        gamma: The discount used.
        horizon: The steps planned for, or None for an infinite horizon.
    """

    V: FloatArray
    Q: FloatArray
    policy: IntArray
    history: FloatArray
    converged: bool
    gamma: float
    horizon: int | None = None

    @property
    def n_sweeps(self) -> int:
        """Number of sweeps run."""
        return int(self.history.shape[0])

    @property
    def horizon_text(self) -> str:
        """Which values these are: infinite horizon, or the finite horizon used."""
        return horizon_text(self.horizon)


def value_iteration(
    model: TabularMDP | Any,
    gamma: float | None = None,
    tol: float = 1e-10,
    max_sweeps: int = 10_000,
    horizon: Horizon = "model",
) -> ValueIterationResult:
    """Synchronous value iteration from ``V = 0``, as in the lesson.

    Each sweep computes every state's new value from the previous sweep's
    values (Sutton & Barto, equation 4.10). Without a horizon it stops after
    the first sweep that changes no value by more than ``tol``, or after
    ``max_sweeps``; with a horizon of ``H`` steps it runs exactly ``H`` sweeps.

    Args:
        model: A :class:`TabularMDP` or an env exposing one (see
            :func:`~agents.planning.bellman.as_tabular`): an env made by
            ``gym.make`` is planned as registered, with its time limit.
        gamma: Discount in [0, 1]; the task's (0.9 for AccessReview-v0) when None.
        tol: Stopping tolerance on the largest change of a value in one sweep.
        max_sweeps: Upper bound on sweeps without a horizon.
        horizon: ``"model"`` (the MDP's or env's own), None (no limit) or a
            number of steps.

    Returns:
        A :class:`ValueIterationResult`.

    Raises:
        ValueError: If ``gamma``, ``tol``, ``max_sweeps`` or ``horizon`` is out
            of range.
    """
    arrays = as_tabular(model, horizon)
    gamma = check_gamma(arrays.gamma if gamma is None else gamma)
    tol = check_real("tol", tol, low=0.0)
    max_sweeps = check_integer("max_sweeps", max_sweeps, low=1)
    base, continuation = backup_arrays(arrays)
    discounted = gamma * continuation
    V = np.zeros(arrays.n_states)
    Q = base.copy()
    history = []
    converged = arrays.horizon is not None
    for _ in range(arrays.horizon or max_sweeps):
        Q = base + discounted @ V
        updated = Q.max(axis=1)
        history.append(updated)
        change = float(np.abs(updated - V).max())
        V = updated
        if arrays.horizon is None and change <= tol:
            converged = True
            break
    if arrays.horizon is None:
        Q = base + discounted @ V
    return ValueIterationResult(
        V, Q, greedy_policy(Q), np.array(history), converged, gamma, arrays.horizon
    )
