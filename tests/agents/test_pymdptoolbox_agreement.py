"""Our planners agree with pymdptoolbox on random sparse models to 1e-9.

pymdptoolbox reads the composed one-stage matrices (one sparse ``S x S``
matrix per action) with the planners' conventions built in
(:func:`~agents.jobs.speed_solver.compose`), and its input check, which
fails under NumPy 2, switched off. Models up to 10^4 states; the largest are
marked ``slow`` (finite horizon) or ``expensive`` (value iteration, whose
construction in pymdptoolbox slices every column of every matrix).
"""

from __future__ import annotations

import numpy as np
import pytest

from access_review_env.model.random_sparse import random_sparse_mdp
from access_review_env.model.sparse import SparseMDP
from agents.jobs.speed_solver import (
    compose,
    per_action,
    pymdptoolbox_finite_horizon,
    stacked_csr,
    unchecked_pymdptoolbox,
)
from agents.planning import value_iteration

mdptoolbox_mdp = pytest.importorskip("mdptoolbox.mdp")
sparse = pytest.importorskip("scipy.sparse")

TOLERANCE = 1e-9


def model(n_states: int, n_actions: int, seed: int, horizon: int | None) -> SparseMDP:
    """A two-stage random model: 2 decision branches, 11 event branches at most."""
    return random_sparse_mdp(
        n_states,
        n_actions,
        np.random.default_rng(seed),
        branches=2,
        event_branches=min(11, n_states),
        gamma=0.9,
        horizon=horizon,
    )


def finite_horizon_case(n_states: int, n_actions: int, seed: int) -> None:
    """Backward induction over 25 steps: the same V as FiniteHorizon's stage 0.

    Their first action is optimal by our Q too (greedy choices may differ
    only between actions whose values tie).
    """
    mdp = model(n_states, n_actions, seed, horizon=25)
    composed = compose(mdp)
    matrices = per_action(stacked_csr(composed), n_actions)
    with unchecked_pymdptoolbox():
        solver = mdptoolbox_mdp.FiniteHorizon(matrices, composed.rewards, mdp.gamma, 25)
    solver.run()
    ours = value_iteration(mdp)
    np.testing.assert_allclose(ours.V, solver.V[:, 0], rtol=0, atol=TOLERANCE)
    theirs = ours.Q[np.arange(n_states), solver.policy[:, 0]]
    np.testing.assert_allclose(theirs, ours.V, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(
        pymdptoolbox_finite_horizon(matrices, composed.rewards, mdp.gamma, 25),
        solver.V[:, 0],
    )


def value_iteration_case(n_states: int, n_actions: int, seed: int) -> None:
    """Infinite horizon, both run to tight tolerances: the same V*.

    pymdptoolbox stops when the span (max - min) of a sweep's change falls
    below ``epsilon (1 - gamma) / gamma``, which a change equal in every
    state passes at once: on the 40-state model below it stopped 3.0 short
    of V*. It runs here for a fixed number of sweeps instead (its span test
    switched off), enough that ``gamma^n max|R| / (1 - gamma)`` is below
    1e-11; ours stops at ``tol = 1e-12``, within ``tol gamma / (1 - gamma)``
    of V*.
    """
    mdp = model(n_states, n_actions, seed, horizon=None)
    composed = compose(mdp)
    stacked = stacked_csr(composed)
    # Column slices, which its constructor takes for every state, are cheap in CSC.
    matrices = [sparse.csc_matrix(stacked[a::n_actions]) for a in range(n_actions)]
    with unchecked_pymdptoolbox():
        solver = mdptoolbox_mdp.ValueIteration(
            matrices, composed.rewards, mdp.gamma, epsilon=1e-12
        )
    largest = float(np.abs(mdp.rewards).max())
    solver.thresh = 0.0
    solver.max_iter = int(
        np.ceil(np.log(1e-11 * (1 - mdp.gamma) / largest) / np.log(mdp.gamma))
    )
    solver.run()
    ours = value_iteration(mdp, tol=1e-12)
    assert ours.converged
    np.testing.assert_allclose(ours.V, np.array(solver.V), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(("n_states", "seed"), [(40, 0), (500, 1), (2_000, 2)])
def test_backward_induction_agrees_with_finite_horizon(
    n_states: int, seed: int
) -> None:
    """Small models, 16 actions."""
    finite_horizon_case(n_states, 16, seed)


@pytest.mark.slow
def test_backward_induction_agrees_with_finite_horizon_at_ten_thousand_states() -> None:
    """10^4 states, 16 actions."""
    finite_horizon_case(10_000, 16, 3)


@pytest.mark.parametrize(("n_states", "seed"), [(40, 4), (500, 5)])
def test_value_iteration_agrees_with_theirs(n_states: int, seed: int) -> None:
    """Small models, 4 actions."""
    value_iteration_case(n_states, 4, seed)


@pytest.mark.expensive
def test_value_iteration_agrees_with_theirs_at_ten_thousand_states() -> None:
    """10^4 states, 4 actions (about 20 s in pymdptoolbox's constructor)."""
    value_iteration_case(10_000, 4, 6)
