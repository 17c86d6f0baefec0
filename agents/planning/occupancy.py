"""Where a fixed policy spends an episode: its occupancy, by a forward pass.

Pure functions of a model (see :func:`~agents.planning.bellman.as_sparse`);
they never step an env. The state distribution of a policy ``pi`` is pushed
forward through the model, step after step, from the start distribution
``rho``:

* ``d_0 = rho`` (terminal states dropped: no decision is taken there);
* ``y_t(x) = sum over (s, a, b) leading to x of d_t(s) pi(a|s) p_b``: the
  post-decision states, after the action and before the event;
* ``d_{t+1}(s') = sum over x of y_t(x) p_e(x -> s')``, terminal ``s'``
  dropped (the episode has ended).

The occupancy is the weighted sum over the steps ``sum_t w^t d_t`` (and the
same of ``y_t``): with ``w = gamma`` the discounted occupancy, whose expected
rewards add up to ``V^pi(rho)`` (Puterman, 1994, section 6.9: the dual of
policy evaluation); with ``w = 1`` the expected number of visits over the
horizon. From it, the expected number of times each branch is taken
(:func:`decision_flow`, :func:`event_flow`) gives the expectation of anything
a branch carries (reward, cost, outcome) in one pass, for every quantity at
once, where policy evaluation needs one backward pass per quantity.

A forward pass costs what a backward one costs (one push through each stage
per step); with a horizon of ``H`` steps it takes exactly ``H`` steps, without
one it runs until the weight left, ``w^t`` times the mass still in play, is
below ``tol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.model.sparse import SparseMDP, SparseStage
from access_review_env.validation import check_real
from agents.planning.bellman import FloatArray, Horizon, Model, as_sparse
from agents.planning.sparse_bellman import (
    Backend,
    Rows,
    kernels,
    resolve_backend,
    row_branches,
)

DEFAULT_TOL = 1e-12
"""Weight left below which a forward pass without a horizon stops."""


@dataclass(frozen=True)
class Occupancy:
    """A policy's weighted visits over an episode, from the start distribution.

    Attributes:
        states: ``(S,)`` ``sum_t w^t P(s_t = s)``: with ``weight = 1``, the
            expected number of decisions taken in ``s``.
        post_decision: ``(S,)`` the same for the post-decision states (each
            step's state after its action, before its event).
        weight: ``w``, the weight of a step relative to the one before.
        horizon: Steps of the episode, or None (then until the weight left
            was below the tolerance).
        stuck: The weighted decisions taken with an action that has no
            transition (an invalid action under ``invalid_action="raise"``) in
            a state the policy reaches: 0 for a policy the env runs.
    """

    states: FloatArray
    post_decision: FloatArray
    weight: float
    horizon: int | None
    stuck: float

    @property
    def runs(self) -> bool:
        """Whether the env runs the policy: no action without a transition is taken."""
        return self.stuck == 0.0


@dataclass(frozen=True)
class _Policy:
    """A policy as the forward pass reads it: actions or probabilities."""

    actions: NDArray[np.int64] | None
    table: FloatArray | None

    def row_weights(self, mdp: SparseMDP, states: FloatArray) -> FloatArray:
        """``(S * A,)`` ``states[s] * pi(a|s)`` for every decision row."""
        n_actions = mdp.n_actions
        if self.actions is not None:
            weights = np.zeros(mdp.n_states * n_actions)
            weights[np.arange(mdp.n_states) * n_actions + self.actions] = states
            return weights
        assert self.table is not None
        return np.asarray((states[:, None] * self.table).reshape(-1))


def _checked_policy(mdp: SparseMDP, policy: NDArray[Any]) -> _Policy:
    """``(S,)`` integer actions or ``(S, A)`` probabilities, checked.

    Availability is not checked here: an action without a transition is
    :attr:`Occupancy.stuck` where the policy takes it.

    Raises:
        ValueError: For a wrong shape, an action out of range or a row of a
            non-terminal state that is not a distribution.
    """
    policy = np.asarray(policy)
    n_states, n_actions = mdp.n_states, mdp.n_actions
    if policy.shape == (n_states,) and np.issubdtype(policy.dtype, np.integer):
        if np.any((policy < 0) | (policy >= n_actions)):
            raise ValueError(f"policy actions must be in [0, {n_actions - 1}]")
        return _Policy(policy.astype(np.int64), None)
    if policy.shape == (n_states, n_actions):
        table = policy.astype(np.float64)
        live = table[~mdp.terminal]
        if np.any(live < 0) or not np.allclose(live.sum(axis=1), 1.0):
            raise ValueError(
                "each non-terminal row of a policy must be a distribution over actions"
            )
        return _Policy(None, table)
    raise ValueError(
        f"policy must be ({n_states},) integer actions or ({n_states}, "
        f"{n_actions}) probabilities, got shape {policy.shape} {policy.dtype}"
    )


def _decision_branches(
    mdp: SparseMDP, policy: _Policy
) -> tuple[NDArray[np.integer], NDArray[np.integer], FloatArray]:
    """The decision branches a step pushes along: ``(row_of, target, probability)``.

    For actions, only the rows they choose, indexed by state; for
    probabilities, every row (``s * A + a``).
    """
    decisions = mdp.decisions
    if policy.actions is None:
        rows = Rows.of(decisions, mdp.n_actions)
        return rows.row_of, decisions.target, decisions.probability
    chosen = np.arange(mdp.n_states, dtype=np.int64) * mdp.n_actions + policy.actions
    branches = row_branches(decisions.indptr, chosen)
    lengths = decisions.indptr[chosen + 1] - decisions.indptr[chosen]
    row_of = np.repeat(np.arange(mdp.n_states, dtype=np.int32), lengths)
    return row_of, decisions.target[branches], decisions.probability[branches]


def occupancy(
    model: Model,
    policy: NDArray[Any],
    weights: tuple[float, ...] = (1.0,),
    horizon: Horizon = "model",
    *,
    tol: float = DEFAULT_TOL,
    backend: Backend = "auto",
) -> tuple[Occupancy, ...]:
    """The occupancy of ``policy`` for each of ``weights``, in one forward pass.

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one (an env made
            by ``gym.make`` as registered: its time limit, its reset's start
            distribution).
        policy: ``(S,)`` integer actions or ``(S, A)`` action probabilities.
        weights: The per-step weights ``w`` in [0, 1] (``gamma`` for the
            discounted occupancy, 1 for expected visits).
        horizon: ``"model"`` (the MDP's or env's own), None or a number of steps.
        tol: Without a horizon, the pass stops once ``max(w)^t`` times the
            mass still in play is below this.
        backend: The kernels (see :data:`~agents.planning.sparse_bellman.Backend`).

    Returns:
        One :class:`Occupancy` per weight, in order.

    Raises:
        ValueError: For a malformed policy, a weight outside [0, 1], or a
            weight of 1 without a horizon on a model whose episodes need not
            end.
    """
    mdp = as_sparse(model, horizon)
    tol = check_real("tol", tol, low=0.0, low_open=True)
    factors = np.array([check_real("weight", w, low=0.0, high=1.0) for w in weights])
    if factors.size == 0:
        raise ValueError("occupancy needs at least one weight")
    if mdp.horizon is None and factors.max() == 1.0 and not mdp.terminal.any():
        raise ValueError(
            "a weight of 1 without a horizon counts visits of episodes that never "
            "end on this model (no terminal state): pass a horizon or weights < 1"
        )
    read = _checked_policy(mdp, policy)
    n_states = mdp.n_states
    row_of, target, probability = _decision_branches(mdp, read)
    events = mdp.events
    n_branches = target.size + (0 if events is None else events.nnz)
    push = kernels(resolve_backend(backend, n_branches)).stage_push
    event_rows = None if events is None else Rows.of(events)
    live = ~mdp.terminal
    d = np.where(live, mdp.initial_distribution, 0.0)
    states = np.zeros((factors.size, n_states))
    post = np.zeros((factors.size, n_states))
    scale = np.ones(factors.size)
    y = np.empty(n_states)
    step = 0
    while mdp.horizon is None or step < mdp.horizon:
        states += scale[:, None] * d
        x = d if read.actions is not None else read.row_weights(mdp, d)
        push(row_of, target, probability, x, y)
        post += scale[:, None] * y
        if events is None:
            d = y.copy()
        else:
            assert event_rows is not None
            push(event_rows.row_of, events.target, events.probability, y, d)
        d[~live] = 0.0
        scale = scale * factors
        step += 1
        if mdp.horizon is None and float(scale.max()) * float(d.sum()) < tol:
            break
    available = mdp.available_actions
    return tuple(
        Occupancy(
            states=states[i],
            post_decision=post[i],
            weight=float(factors[i]),
            horizon=mdp.horizon,
            stuck=_stuck(mdp, read, states[i], available),
        )
        for i in range(factors.size)
    )


def _stuck(
    mdp: SparseMDP,
    policy: _Policy,
    states: FloatArray,
    available: NDArray[np.bool_],
) -> float:
    """Weighted decisions on actions without a transition, in live states."""
    live = ~mdp.terminal
    if policy.actions is not None:
        missing = ~available[np.arange(mdp.n_states), policy.actions] & live
        return float(states[missing].sum())
    assert policy.table is not None
    mass = (policy.table * ~available).sum(axis=1)
    return float(states[live] @ mass[live])


def decision_flow(
    model: Model, occupied: Occupancy, policy: NDArray[Any]
) -> FloatArray:
    """``(nnz,)`` the weighted number of times each decision branch is taken.

    ``occupied.states[s] * pi(a|s) * p_b`` for branch ``b`` of row
    ``s * A + a``, in the order of ``mdp.decisions``.

    Args:
        model: The model the occupancy was computed on.
        occupied: The policy's occupancy.
        policy: The same policy, ``(S,)`` actions or ``(S, A)`` probabilities.
    """
    mdp = as_sparse(model, occupied.horizon)
    weights = _checked_policy(mdp, policy).row_weights(mdp, occupied.states)
    return _flow(mdp.decisions, weights)


def event_flow(model: Model, occupied: Occupancy) -> FloatArray:
    """``(nnz,)`` the weighted number of times each event branch is taken.

    ``occupied.post_decision[x] * p_e``, in the order of ``mdp.events``.

    Raises:
        ValueError: For a model without an event stage.
    """
    mdp = as_sparse(model, occupied.horizon)
    if mdp.events is None:
        raise ValueError("this model has no event stage: its steps end at decisions")
    return _flow(mdp.events, occupied.post_decision)


def _flow(stage: SparseStage, row_weights: FloatArray) -> FloatArray:
    rows = Rows.of(stage)
    return np.asarray(row_weights[rows.row_of] * stage.probability)


def expected_total(
    model: Model,
    occupied: Occupancy,
    policy: NDArray[Any],
    decision_values: FloatArray | None = None,
    event_values: FloatArray | None = None,
) -> float:
    """The weighted expected sum of per-branch values over an episode.

    ``sum_b flow_b v_b`` over the decision branches plus the same over the
    event branches. With the branches' rewards (the default) and the
    discounted occupancy, this is ``V^pi(rho)``.

    Args:
        model: The model the occupancy was computed on.
        occupied: The policy's occupancy.
        policy: The same policy.
        decision_values: ``(nnz,)`` a value per decision branch (default:
            its reward).
        event_values: ``(nnz,)`` a value per event branch (default: its
            reward); ignored without an event stage.
    """
    mdp = as_sparse(model, occupied.horizon)
    values = mdp.decisions.reward if decision_values is None else decision_values
    total = float(decision_flow(mdp, occupied, policy) @ values)
    if mdp.events is not None:
        values = mdp.events.reward if event_values is None else event_values
        total += float(event_flow(mdp, occupied) @ values)
    return total


def occupancy_value(model: Model, policy: NDArray[Any]) -> float | None:
    """``V^pi(rho)`` by the discounted occupancy, or None if the env cannot run it.

    The value :func:`~agents.planning.start_value` gives (to rounding), in
    one forward pass. None when the policy takes an action without a
    transition in a state it reaches.

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        policy: ``(S,)`` integer actions or ``(S, A)`` action probabilities.
    """
    mdp = as_sparse(model)
    (discounted,) = occupancy(mdp, policy, (mdp.gamma,))
    if not discounted.runs:
        return None
    value = expected_total(mdp, discounted, policy)
    return value if math.isfinite(value) else None
