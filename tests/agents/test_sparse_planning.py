"""Planners on the sparse model, against an independent dense reference.

Random sparse MDPs, one- and two-stage, whose terminal states keep rows with
nonzero rewards (the trap a planner that ignores the terminal mask falls
into), are solved by the planners and by plain NumPy on their dense view
(``to_tabular``): backward induction, policy iteration with linear solves,
and breadth-first search, written here without the package's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access_review_env import ENV_ID, TabularMDP
from access_review_env.model.random_sparse import random_sparse_mdp
from access_review_env.model.sparse import ModelTooLargeError, SparseMDP
from agents.planning import (
    as_sparse,
    as_tabular,
    bellman_backup,
    diameter,
    evaluate_policies,
    greedy_regret,
    hardness,
    optimal_start_value,
    policy_evaluation,
    policy_regret,
    reachable_states,
    start_value,
    suboptimality_gaps,
    value_iteration,
)
from agents.planning.sparse_bellman import resolve_backend

# The package exports functions named as these modules; patch the modules.
hardness_module = importlib.import_module("agents.planning.hardness")
evaluation_module = importlib.import_module("agents.planning.policy_evaluation")
iteration_module = importlib.import_module("agents.planning.value_iteration")

needs_numba = pytest.mark.skipif(
    resolve_backend("auto", 10**9) != "numba", reason="needs the fast extra (numba)"
)

ATOL = 1e-9
"""Planners against the dense reference: both exact up to rounding."""


@st.composite
def sparse_models(draw: st.DrawFn, max_gamma: float = 0.95) -> SparseMDP:
    """A random sparse MDP, one- or two-stage, with about 30 % terminal states."""
    n_states = draw(st.integers(1, 12))
    two_stage = draw(st.booleans())
    return random_sparse_mdp(
        n_states,
        draw(st.integers(1, 4)),
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        branches=min(3, n_states),
        event_branches=min(4, n_states) if two_stage else None,
        terminal_share=0.3,
        gamma=draw(st.floats(0.0, max_gamma)),
    )


def reference_q(dense: TabularMDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """``(S, A)`` the backup of ``V`` with the planners' conventions, densely."""
    live = ~dense.terminal
    Q = dense.rewards + gamma * dense.transitions @ np.where(live, V, 0.0)
    Q = np.where(dense.available_actions, Q, -np.inf)
    Q[dense.terminal] = 0.0
    return np.asarray(Q)


def reference_backward_induction(
    dense: TabularMDP, horizon: int
) -> Iterator[np.ndarray]:
    """``V`` with 1, 2, ..., ``horizon`` steps left."""
    V = np.zeros(dense.n_states)
    for _ in range(horizon):
        V = reference_q(dense, V, dense.gamma).max(axis=1)
        yield V


def reference_policy_values(dense: TabularMDP, table: np.ndarray) -> np.ndarray:
    """Infinite-horizon ``V^pi`` of ``table`` ``(S, A)`` by one linear solve."""
    live = np.flatnonzero(~dense.terminal)
    rewards = np.einsum("sa,sa->s", table, np.where(table > 0, dense.rewards, 0.0))
    moves = np.einsum("sa,sat->st", table, dense.transitions)
    V = np.zeros(dense.n_states)
    system = np.eye(live.size) - dense.gamma * moves[np.ix_(live, live)]
    V[live] = np.linalg.solve(system, rewards[live])
    return V


def reference_finite_values(
    dense: TabularMDP, table: np.ndarray, horizon: int
) -> np.ndarray:
    """``V^pi`` with ``horizon`` steps left, by backups of the policy ``table``."""
    V = np.zeros(dense.n_states)
    for _ in range(horizon):
        Q = np.nan_to_num(reference_q(dense, V, dense.gamma), neginf=0.0)
        V = np.einsum("sa,sa->s", table, Q)
    return V


def reference_optimum(dense: TabularMDP) -> np.ndarray:
    """Infinite-horizon ``V*`` by policy iteration with exact solves."""
    policy = np.argmax(dense.available_actions, axis=1)
    while True:
        V = reference_policy_values(dense, np.eye(dense.n_actions)[policy])
        Q = reference_q(dense, V, dense.gamma)
        better = Q.max(axis=1) > Q[np.arange(dense.n_states), policy] + 1e-12
        if not better.any():
            return V
        policy = np.where(better, Q.argmax(axis=1), policy)


def random_table(mdp: SparseMDP, rng: np.random.Generator) -> np.ndarray:
    """``(S, A)`` a random stochastic policy over the available actions."""
    weights = rng.random((mdp.n_states, mdp.n_actions)) * mdp.available_actions
    return np.asarray(weights / weights.sum(axis=1, keepdims=True))


def random_actions(mdp: SparseMDP, rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, S)`` random available actions."""
    scores = rng.random((n, mdp.n_states, mdp.n_actions)) * mdp.available_actions
    return np.asarray(scores.argmax(axis=2))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(mdp=sparse_models(), horizon=st.integers(1, 6))
def test_backward_induction_matches_the_dense_reference(
    mdp: SparseMDP, horizon: int
) -> None:
    """Every sweep's V, and Q and a greedy policy with H steps left, as densely."""
    dense = mdp.to_tabular()
    result = value_iteration(mdp, horizon=horizon)
    steps = list(reference_backward_induction(dense, horizon))
    np.testing.assert_allclose(result.history, steps, rtol=0, atol=ATOL)
    before_last = steps[-2] if horizon > 1 else np.zeros(mdp.n_states)
    expected_q = reference_q(dense, before_last, mdp.gamma)
    np.testing.assert_allclose(result.Q, expected_q, rtol=0, atol=ATOL)
    chosen = expected_q[np.arange(mdp.n_states), result.policy]
    np.testing.assert_allclose(chosen, expected_q.max(axis=1), rtol=0, atol=ATOL)
    assert np.all(result.V[mdp.terminal] == 0.0)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(mdp=sparse_models())
def test_value_iteration_finds_the_policy_iteration_optimum(mdp: SparseMDP) -> None:
    """Infinite horizon: V* to 1e-8 of policy iteration's, and Q* its backup."""
    result = value_iteration(mdp, tol=1e-12)
    expected = reference_optimum(mdp.to_tabular())
    assert result.converged
    np.testing.assert_allclose(result.V, expected, rtol=0, atol=1e-8)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    mdp=sparse_models(),
    seed=st.integers(0, 2**32 - 1),
    horizon=st.sampled_from([None, 1, 5]),
)
def test_policy_evaluation_matches_the_dense_reference(
    mdp: SparseMDP, seed: int, horizon: int | None
) -> None:
    """Deterministic and stochastic policies, with and without a horizon."""
    rng = np.random.default_rng(seed)
    dense = mdp.to_tabular()
    actions = random_actions(mdp, rng, 1)[0]
    stochastic = random_table(mdp, rng)
    for policy, table in (
        (actions, np.eye(mdp.n_actions)[actions]),
        (stochastic, stochastic),
    ):
        expected = (
            reference_policy_values(dense, table)
            if horizon is None
            else reference_finite_values(dense, table, horizon)
        )
        result = policy_evaluation(mdp, policy, horizon=horizon)
        np.testing.assert_allclose(result.V, expected, rtol=0, atol=ATOL)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    mdp=sparse_models(),
    seed=st.integers(0, 2**32 - 1),
    horizon=st.sampled_from([None, 3]),
)
def test_many_policies_at_once_equal_one_at_a_time(
    mdp: SparseMDP, seed: int, horizon: int | None
) -> None:
    """``(K, S)`` action tables and ``(K, S, A)`` tables, policy by policy."""
    rng = np.random.default_rng(seed)
    actions = random_actions(mdp, rng, 4).reshape(2, 2, mdp.n_states)
    tables = np.stack([random_table(mdp, rng) for _ in range(3)])
    for policies, batch in ((actions, (2, 2)), (tables, (3,))):
        values = evaluate_policies(mdp, policies, horizon=horizon)
        assert values.shape == (*batch, mdp.n_states)
        each = policies.reshape(-1, *policies.shape[len(batch) :])
        for policy, value in zip(each, values.reshape(-1, mdp.n_states), strict=True):
            expected = policy_evaluation(mdp, policy, horizon=horizon).V
            np.testing.assert_allclose(value, expected, rtol=0, atol=ATOL)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(mdp=sparse_models(), seed=st.integers(0, 2**32 - 1))
def test_one_backup_of_a_sparse_model_is_the_dense_formula(
    mdp: SparseMDP, seed: int
) -> None:
    """Q = R + gamma P V on live states, whatever V holds in terminal states."""
    V = np.random.default_rng(seed).normal(0.0, 50.0, mdp.n_states)
    np.testing.assert_allclose(
        bellman_backup(mdp, V),
        reference_q(mdp.to_tabular(), V, mdp.gamma),
        rtol=0,
        atol=ATOL,
    )


@needs_numba
@pytest.mark.parametrize("threaded", [False, True], ids=["serial", "threaded"])
@pytest.mark.parametrize("two_stage", [False, True], ids=["one-stage", "two-stage"])
def test_numba_and_numpy_kernels_agree(
    threaded: bool, two_stage: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every planner's numbers from both backends agree to 1e-12.

    ``threaded`` lowers the row count from which numba splits a stage across
    threads to 1, so the threaded kernels run on this small model too.
    """
    from agents.planning import kernels_numba

    if threaded:
        monkeypatch.setattr(kernels_numba, "PARALLEL_MIN_ROWS", 1)
    rng = np.random.default_rng(7)
    mdp = random_sparse_mdp(
        400, 5, rng, branches=3, event_branches=6 if two_stage else None
    )
    actions = random_actions(mdp, rng, 3)
    tables = np.stack([random_table(mdp, rng) for _ in range(2)])
    for horizon in (None, 12):
        optimum, expected = (
            value_iteration(mdp, horizon=horizon, backend=backend)
            for backend in ("numba", "numpy")
        )
        np.testing.assert_allclose(optimum.V, expected.V, rtol=0, atol=1e-12)
        np.testing.assert_allclose(optimum.Q, expected.Q, rtol=0, atol=1e-12)
        assert optimum.n_sweeps == expected.n_sweeps
        for policies in (actions, tables):
            found, wanted = (
                evaluate_policies(mdp, policies, horizon=horizon, backend=backend)
                for backend in ("numba", "numpy")
            )
            np.testing.assert_allclose(found, wanted, rtol=0, atol=1e-12)
        one, other = (
            policy_evaluation(mdp, tables[0], horizon=horizon, backend=backend)
            for backend in ("numba", "numpy")
        )
        np.testing.assert_allclose(one.Q, other.Q, rtol=0, atol=1e-12)


def test_large_models_are_evaluated_iteratively_within_the_tolerance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above the dense threshold the iterative values are within ``tol``.

    The threshold is lowered to 0 so that a small model takes that path; the
    dense solve on the same model is the reference.
    """
    rng = np.random.default_rng(3)
    mdp = random_sparse_mdp(60, 3, rng, branches=3, event_branches=4, gamma=0.9)
    table = random_table(mdp, rng)
    exact = policy_evaluation(mdp, table, horizon=None).V
    many = np.stack([table, random_table(mdp, rng)])
    exact_many = evaluate_policies(mdp, many, horizon=None)
    monkeypatch.setattr(evaluation_module, "DENSE_MAX_ENTRIES", 0)
    for tol in (1e-3, 1e-10):
        found = policy_evaluation(mdp, table, horizon=None, tol=tol).V
        assert np.abs(found - exact).max() <= tol
        found_many = evaluate_policies(mdp, many, horizon=None, tol=tol)
        assert np.abs(found_many - exact_many).max() <= tol
    with pytest.raises(ValueError, match="gamma = 1 without a horizon"):
        policy_evaluation(mdp, table, gamma=1.0, horizon=None)


def test_the_sweep_history_is_kept_only_where_it_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above HISTORY_MAX_ENTRIES values the history is None unless asked for."""
    mdp = random_sparse_mdp(30, 2, np.random.default_rng(0), horizon=10)
    kept = value_iteration(mdp)
    assert kept.history.shape == (10, 30)
    monkeypatch.setattr(iteration_module, "HISTORY_MAX_ENTRIES", 30 * 10 - 1)
    dropped = value_iteration(mdp)
    assert dropped.sweep_history is None and dropped.n_sweeps == 10
    with pytest.raises(ValueError, match=r"not kept.*keep_history=True"):
        _ = dropped.history
    np.testing.assert_array_equal(dropped.V, kept.V)
    forced = value_iteration(mdp, keep_history=True)
    np.testing.assert_array_equal(forced.history, kept.history)
    assert value_iteration(mdp, keep_history=False, horizon=None).sweep_history is None


def test_the_diameter_is_reported_as_not_computed_above_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hardness summary says None and why; ``diameter`` itself refuses."""
    mdp = random_sparse_mdp(12, 2, np.random.default_rng(0), event_branches=3)
    assert hardness(mdp).diameter is not None
    monkeypatch.setattr(hardness_module, "DIAMETER_MAX_STATES", 5)
    summary = hardness(mdp)
    assert summary.diameter is None
    assert summary.diameter_note is not None and "at most 5" in summary.diameter_note
    assert summary.smallest_gap == suboptimality_gaps(mdp).smallest
    with pytest.raises(ModelTooLargeError, match="at most 5 non-terminal states"):
        diameter(mdp)


def reference_reachable(dense: TabularMDP, table: np.ndarray) -> np.ndarray:
    """States reached within ``horizon - 1`` moves, by breadth-first search."""
    flow = np.einsum("sa,sat->st", table, dense.transitions) > 0
    seen = dense.initial_distribution > 0
    frontier = seen.copy()
    for _ in range((dense.horizon or dense.n_states + 1) - 1):
        frontier = flow[frontier & ~dense.terminal].any(axis=0) & ~seen
        seen |= frontier
    return np.asarray(seen)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    mdp=sparse_models(),
    seed=st.integers(0, 2**32 - 1),
    horizon=st.sampled_from([None, 1, 2, 4]),
)
def test_reachable_states_follow_both_stages(
    mdp: SparseMDP, seed: int, horizon: int | None
) -> None:
    """The states a policy reaches, as a search on the dense view finds them."""
    rng = np.random.default_rng(seed)
    table = np.eye(mdp.n_actions)[random_actions(mdp, rng, 1)[0]]
    limited = as_sparse(mdp, horizon)
    np.testing.assert_array_equal(
        reachable_states(limited, table),
        reference_reachable(limited.to_tabular(), table),
    )


@settings(max_examples=40, deadline=None, derandomize=True)
@given(mdp=sparse_models(), horizon=st.sampled_from([None, 4]))
def test_start_values_and_regret_on_sparse_models(
    mdp: SparseMDP, horizon: int | None
) -> None:
    """V*(rho), the optimal policy's start value and its zero regret agree."""
    limited = as_sparse(mdp, horizon)
    dense = limited.to_tabular()
    expected = (
        reference_optimum(dense)
        if horizon is None
        else list(reference_backward_induction(dense, horizon))[-1]
    )
    optimal = optimal_start_value(limited)
    assert optimal == pytest.approx(dense.initial_distribution @ expected, abs=1e-8)
    result = value_iteration(limited, tol=1e-12)
    if horizon is None:
        table = np.eye(mdp.n_actions)[result.policy]
        assert start_value(limited, table) == pytest.approx(optimal, abs=1e-8)
        assert policy_regret(limited, result.policy) == pytest.approx(0.0, abs=1e-8)
    regret = greedy_regret(limited, result.Q, limited.available_actions)
    # V*(rho) comes from value iteration at tol = 1e-10, within
    # tol * gamma / (1 - gamma) < 2e-9 of the exact value for gamma <= 0.95.
    assert regret >= -2e-9


def test_an_env_is_planned_with_its_time_limit_and_start_distribution() -> None:
    """as_sparse reads the env's sparse model, time limit and what reset draws."""
    env = gym.make(ENV_ID, exploring_starts=True)
    mdp = as_sparse(env)
    assert mdp.horizon == 20
    np.testing.assert_array_equal(
        mdp.initial_distribution,
        env.unwrapped.start_distribution,  # type: ignore[attr-defined]
    )
    assert mdp.initial_distribution.tolist() == [1 / 3, 1 / 3, 1 / 3, 0.0]
    assert as_sparse(env, None).horizon is None
    assert as_sparse(env.unwrapped).horizon is None
    dense = as_tabular(env)
    assert (dense.horizon, dense.initial_distribution.tolist()) == (
        20,
        [1 / 3, 1 / 3, 1 / 3, 0.0],
    )
    assert as_sparse(mdp) is mdp
    with pytest.raises(TypeError, match="a SparseMDP or an environment"):
        as_sparse(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="horizon"):
        as_sparse(mdp, 0)


@pytest.mark.slow
@needs_numba
def test_a_large_two_stage_model_solves_alike_on_both_backends() -> None:
    """10^5 states, 16 actions: backward induction and a policy's values agree."""
    rng = np.random.default_rng(0)
    mdp = random_sparse_mdp(10**5, 16, rng, branches=2, event_branches=11, horizon=30)
    numba_result = value_iteration(mdp, backend="numba")
    numpy_result = value_iteration(mdp, backend="numpy")
    np.testing.assert_allclose(numba_result.V, numpy_result.V, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(numba_result.policy, numpy_result.policy)
    values = evaluate_policies(mdp, numba_result.policy, backend="numba")
    # The first action of the 30-step optimum, kept for 30 steps, is worth less.
    assert np.all(values <= numba_result.V + 1e-9)
