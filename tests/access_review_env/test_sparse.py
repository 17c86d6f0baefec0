"""The sparse model: its dense view, its composed table, ``P`` and its checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access_review_env import AccessReviewMDP, AccessReviewRiskMDP, TabularMDP
from access_review_env.model.random_sparse import random_sparse_mdp
from access_review_env.model.sparse import (
    DENSE_MAX_ENTRIES,
    ModelTooLargeError,
    SparseMDP,
    SparseStage,
)
from tests.helpers import random_mdps

pytestmark = pytest.mark.env


def _assert_same_arrays(a: TabularMDP, b: TabularMDP) -> None:
    """Equal where planners read the arrays: available actions of live states.

    Expected rewards are sums of ``p * r`` over branches, equal to rounding.
    """
    live = a.available_actions & ~a.terminal[:, None]
    np.testing.assert_array_equal(a.transitions[live], b.transitions[live])
    np.testing.assert_allclose(a.rewards[live], b.rewards[live], rtol=1e-14, atol=1e-12)
    for name in ("terminal", "available_actions", "initial_distribution"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.gamma, a.horizon) == (b.gamma, b.horizon)


@settings(max_examples=60, deadline=None)
@given(random_mdps())
def test_dense_arrays_survive_the_sparse_form(arrays: TabularMDP) -> None:
    """from_tabular then to_tabular gives back the arrays planners read.

    Rows of unavailable actions and of terminal states, which planners ignore,
    are not kept.
    """
    _assert_same_arrays(SparseMDP.from_tabular(arrays).to_tabular(), arrays)


@pytest.mark.parametrize(
    "mdp",
    [
        AccessReviewMDP(),
        AccessReviewMDP(invalid_action="raise"),
        AccessReviewRiskMDP(rewards="speed_only"),
    ],
    ids=["access_review", "raise", "risk_speed_only"],
)
def test_task_arrays_and_P_are_views_of_the_sparse_model(mdp: AccessReviewMDP) -> None:
    """A task's dense arrays and P are read off its sparse model, branch by branch."""
    sparse = mdp.sparse
    _assert_same_arrays(mdp.arrays, sparse.to_tabular())
    P = mdp.P
    for state in range(mdp.n_states):
        for action in range(mdp.n_actions):
            assert P[state][action] == [
                (b.probability, b.next_state, b.reward, b.terminated)
                for b in mdp.branches[state][action]
            ]
    assert (
        sparse.valid_action_mask.tolist() == mdp.valid_action_mask.astype(bool).tolist()
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 4))
def test_composed_table_equals_the_two_stages_applied_in_turn(
    seed: int, n_states: int, n_actions: int
) -> None:
    """The dense view of a two-stage model is the decision matrix times the event one.

    Expected rewards add the event stage's expected reward at each post-decision
    state to the decision branch's reward.
    """
    rng = np.random.default_rng(seed)
    mdp = random_sparse_mdp(
        n_states,
        n_actions,
        rng,
        branches=min(3, n_states),
        event_branches=min(4, n_states),
    )
    dense = mdp.to_tabular()
    decision = np.zeros((n_states * n_actions, n_states))
    rows = np.repeat(np.arange(n_states * n_actions), mdp.decisions.lengths)
    np.add.at(decision, (rows, mdp.decisions.target), mdp.decisions.probability)
    assert mdp.events is not None
    event = np.zeros((n_states, n_states))
    event_rows = np.repeat(np.arange(n_states), mdp.events.lengths)
    np.add.at(event, (event_rows, mdp.events.target), mdp.events.probability)
    expected = (decision @ event).reshape(n_states, n_actions, n_states)
    np.testing.assert_allclose(dense.transitions, expected, atol=1e-12)
    event_reward = np.bincount(
        event_rows, mdp.events.probability * mdp.events.reward, minlength=n_states
    )
    decision_reward = np.bincount(
        rows,
        mdp.decisions.probability * mdp.decisions.reward,
        minlength=n_states * n_actions,
    )
    np.testing.assert_allclose(
        dense.rewards.reshape(-1), decision_reward + decision @ event_reward, atol=1e-9
    )


def test_dense_view_of_a_large_model_is_refused_with_the_threshold() -> None:
    """A model whose dense arrays would be too large says so, naming the limit."""
    n_states = int(np.sqrt(DENSE_MAX_ENTRIES / 2)) + 2
    mdp = random_sparse_mdp(n_states, 2, np.random.default_rng(0), branches=2)
    with pytest.raises(ModelTooLargeError, match=f"{DENSE_MAX_ENTRIES:,}"):
        mdp.to_tabular()


def _stage(probabilities: list[list[float]], targets: list[list[int]]) -> SparseStage:
    indptr = np.cumsum([0] + [len(row) for row in probabilities])
    return SparseStage(
        indptr,
        np.array([t for row in targets for t in row], dtype=np.int32),
        np.array([p for row in probabilities for p in row]),
        np.zeros(sum(len(row) for row in probabilities)),
    )


def test_rows_that_are_not_distributions_are_refused() -> None:
    """An available action whose branches do not sum to 1 is an error."""
    with pytest.raises(ValueError, match="sum to probability 1"):
        SparseMDP(
            n_actions=1,
            decisions=_stage([[0.5], [1.0]], [[1], [1]]),
            events=None,
            terminal=np.array([False, True]),
            gamma=0.9,
            initial_distribution=np.array([1.0, 0.0]),
        )


def test_branches_outside_the_states_are_refused() -> None:
    """A branch leading to a state that does not exist is an error."""
    with pytest.raises(ValueError, match="leads to a state >= 2"):
        SparseMDP(
            n_actions=1,
            decisions=_stage([[1.0], [1.0]], [[2], [1]]),
            events=None,
            terminal=np.array([False, True]),
            gamma=0.9,
            initial_distribution=np.array([1.0, 0.0]),
        )


def test_event_rows_must_cover_every_state() -> None:
    """An event stage needs one row per state."""
    with pytest.raises(ValueError, match="expected one per state"):
        SparseMDP(
            n_actions=1,
            decisions=_stage([[1.0], [1.0]], [[1], [1]]),
            events=_stage([[1.0]], [[0]]),
            terminal=np.array([False, True]),
            gamma=0.9,
            initial_distribution=np.array([1.0, 0.0]),
        )


def test_the_model_is_read_only() -> None:
    """Neither fields nor arrays can be changed once built."""
    mdp = AccessReviewMDP().sparse
    with pytest.raises(ValueError, match="read-only"):
        mdp.decisions.probability[0] = 0.5
    with pytest.raises(ValueError, match="read-only"):
        mdp.rewards[0, 0] = 1.0
