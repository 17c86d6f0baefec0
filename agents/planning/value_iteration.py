"""Value iteration: synchronous Bellman optimality sweeps from ``V = 0``.

A pure function of a :class:`~access_review_env.TabularMDP` (or of an env that
exposes one); it never steps an environment. Conventions are those of
:mod:`agents.planning.bellman`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from access_review_env import TabularMDP
from access_review_env.validation import check_integer, check_real
from agents.planning.bellman import (
    FloatArray,
    IntArray,
    as_tabular,
    backup_arrays,
    check_gamma,
    greedy_policy,
)


@dataclass(frozen=True)
class ValueIterationResult:
    """What value iteration found.

    Attributes:
        V: ``(S,)`` optimal state values.
        Q: ``(S, A)`` optimal action values (``-inf`` for invalid actions).
        policy: ``(S,)`` a greedy, hence optimal, deterministic policy.
        history: ``(n_sweeps, S)`` V after each sweep (row 0 is after sweep 1).
        converged: Whether a sweep changed no value by more than the tolerance.
        gamma: The discount used.
    """

    V: FloatArray
    Q: FloatArray
    policy: IntArray
    history: FloatArray
    converged: bool
    gamma: float

    @property
    def n_sweeps(self) -> int:
        """Number of sweeps run."""
        return int(self.history.shape[0])


def value_iteration(
    model: TabularMDP | Any,
    gamma: float | None = None,
    tol: float = 1e-10,
    max_sweeps: int = 10_000,
) -> ValueIterationResult:
    """Synchronous value iteration from ``V = 0``, as in the lesson.

    Each sweep computes every state's new value from the previous sweep's
    values (Sutton & Barto, equation 4.10). It stops after the first sweep that
    changes no value by more than ``tol``, or after ``max_sweeps``.

    Args:
        model: A :class:`TabularMDP` or an env exposing one (see :func:`as_tabular`).
        gamma: Discount in [0, 1]; the task's (0.9 for AccessReview-v0) when None.
        tol: Stopping tolerance on the largest change of a value in one sweep.
        max_sweeps: Upper bound on sweeps.

    Returns:
        A :class:`ValueIterationResult`.

    Raises:
        ValueError: If ``gamma``, ``tol`` or ``max_sweeps`` is out of range.
    """
    arrays = as_tabular(model)
    gamma = check_gamma(arrays.gamma if gamma is None else gamma)
    tol = check_real("tol", tol, low=0.0)
    max_sweeps = check_integer("max_sweeps", max_sweeps, low=1)
    base, continuation = backup_arrays(arrays)
    discounted = gamma * continuation
    V = np.zeros(arrays.n_states)
    history = []
    converged = False
    for _ in range(max_sweeps):
        updated = (base + discounted @ V).max(axis=1)
        history.append(updated)
        change = float(np.abs(updated - V).max())
        V = updated
        if change <= tol:
            converged = True
            break
    Q = base + discounted @ V
    return ValueIterationResult(
        V, Q, greedy_policy(Q), np.array(history), converged, gamma
    )
