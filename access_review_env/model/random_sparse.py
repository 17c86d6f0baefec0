"""Random sparse MDPs, for property tests and speed measurements of planners.

Not a task: a generator of models in :class:`SparseMDP` form with a chosen
number of states, actions and branches, with or without an event stage, so
that planners can be checked against references on models of any size.
"""

from __future__ import annotations

import numpy as np

from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.validation import check_integer, check_unit_interval


def _random_stage(
    n_rows: int,
    n_targets: int,
    max_branches: int,
    rng: np.random.Generator,
    empty: np.ndarray | None = None,
) -> SparseStage:
    """Rows of 1 to ``max_branches`` distinct random targets with random weights."""
    lengths = rng.integers(1, max_branches + 1, size=n_rows)
    if empty is not None:
        lengths[empty] = 0
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    nnz = int(indptr[-1])
    row = np.repeat(np.arange(n_rows), lengths)
    offset = np.arange(nnz) - np.repeat(indptr[:-1], lengths)
    # Distinct targets per row: a random start plus the branch's offset, so a
    # row's targets are consecutive states (mod S), as a queue's are nearby.
    start = rng.integers(0, n_targets, size=n_rows)
    target = (np.repeat(start, lengths) + offset) % n_targets
    weight = rng.random(nnz) + 1e-3
    total = np.bincount(row, weights=weight, minlength=n_rows)
    probability = weight / total[row]
    return SparseStage(
        indptr,
        target.astype(np.int32),
        probability,
        rng.normal(0.0, 10.0, size=nnz),
    )


def random_sparse_mdp(
    n_states: int,
    n_actions: int,
    rng: np.random.Generator,
    *,
    branches: int = 6,
    event_branches: int | None = None,
    terminal_share: float = 0.05,
    unavailable_share: float = 0.2,
    gamma: float = 0.95,
    horizon: int | None = None,
) -> SparseMDP:
    """A random MDP in sparse form.

    Args:
        n_states: ``S``.
        n_actions: ``A``.
        rng: The generator every random choice is drawn from.
        branches: Most branches of a decision row (each row has 1 to this many).
        event_branches: Most branches of an event row, or None for a
            one-stage model (no event stage).
        terminal_share: Expected share of terminal states (state 0 never is).
        unavailable_share: Expected share of unavailable (state, action) pairs;
            every state keeps at least one available action.
        gamma: The discount.
        horizon: A time limit, or None.

    Raises:
        TypeError, ValueError: For arguments out of range.
    """
    n_states = check_integer("n_states", n_states, low=1)
    n_actions = check_integer("n_actions", n_actions, low=1)
    branches = check_integer("branches", branches, low=1, high=n_states)
    check_unit_interval("terminal_share", terminal_share)
    check_unit_interval("unavailable_share", unavailable_share)
    terminal = rng.random(n_states) < terminal_share
    terminal[0] = False
    unavailable = rng.random((n_states, n_actions)) < unavailable_share
    unavailable[np.arange(n_states), rng.integers(n_actions, size=n_states)] = False
    decisions = _random_stage(
        n_states * n_actions, n_states, branches, rng, unavailable.reshape(-1)
    )
    events = None
    if event_branches is not None:
        event_branches = check_integer(
            "event_branches", event_branches, low=1, high=n_states
        )
        events = _random_stage(n_states, n_states, event_branches, rng)
    initial = np.zeros(n_states)
    initial[0] = 1.0
    return SparseMDP(
        n_actions=n_actions,
        decisions=decisions,
        events=events,
        terminal=terminal,
        gamma=gamma,
        initial_distribution=initial,
        horizon=horizon,
    )
