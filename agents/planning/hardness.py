"""How hard a finite MDP is to learn: sub-optimality gaps and the diameter.

Pure functions of a model (see :func:`~agents.planning.bellman.as_sparse`);
they never step an env. Given an env made by ``gym.make`` they measure
the MDP as registered, the one the benchmark scores against: every action
``step`` accepts is an action (a penalized invalid action too, since an agent
that ignores the mask can take it), and the time limit is a finite horizon.

* Gaps: ``Delta(s, a) = V*(s) - Q*(s, a)`` for every available action ``a`` of
  every non-terminal state ``s``; with a horizon, the values with the whole
  horizon left (an episode's first decision, what
  :func:`~agents.planning.value_iteration` returns). Gap-dependent regret
  bounds scale with the smallest positive gap and with the sum of reciprocals
  of the positive gaps (e.g. Simchowitz & Jamieson, 2019): a small gap is an
  action that is nearly optimal and so needs many samples to tell apart.
* Diameter (Jaksch, Ortner & Auer, 2010): the largest, over ordered pairs of
  distinct states, of the smallest expected number of steps any policy needs to
  travel from one to the other. It is defined for communicating MDPs; an
  episodic task is not one (its terminal states absorb), so we measure the MDP
  a learner actually experiences across episodes: a transition into a terminal
  state continues, at no extra step, from the start distribution (the next
  episode's start). The diameter is taken over the non-terminal states with
  the available actions; it is ``inf`` when some state cannot be reached with
  probability 1 from another. It is a property of the transitions alone: a
  time limit, which only cuts long episodes short, is not part of it.

The gaps come from the sparse planners at any size. The diameter needs the
dense arrays and a policy iteration per target state, so it is computed only
for at most :data:`DIAMETER_MAX_STATES` non-terminal states; above that,
:func:`diameter` raises and :func:`hardness` reports None with the reason.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.model.sparse import ModelTooLargeError
from agents.planning.bellman import Horizon, Model, as_sparse, as_tabular
from agents.planning.policy_evaluation import policy_evaluation
from agents.planning.value_iteration import value_iteration

_GAP_TOLERANCE = 1e-9
"""Gaps below this (relative to max(1, |V*|)) are ties, not gaps."""

DIAMETER_MAX_STATES = 200
"""The diameter is computed for at most this many non-terminal states. Its
cost grows about as the fourth power of the states (a policy iteration with
dense solves per target state): on random two-stage models with 16 actions it
took 1.1 s at 100 states, 6.4 s at 200 and 26 s at 300 (one BLAS thread)."""


@dataclass(frozen=True)
class SuboptimalityGaps:
    """The sub-optimality gaps of an MDP.

    Attributes:
        gaps: ``(S, A)`` ``V*(s) - Q*(s, a)``; NaN for unavailable actions and
            terminal states; exactly 0 for optimal actions (ties included).
        smallest: The smallest positive gap (``inf`` if every available action is
            optimal).
        inverse_sum: The sum of ``1 / gap`` over the positive gaps.
        V: ``(S,)`` the optimal values.
        Q: ``(S, A)`` the optimal action values (``-inf`` for unavailable actions).
    """

    gaps: NDArray[np.float64]
    smallest: float
    inverse_sum: float
    V: NDArray[np.float64]
    Q: NDArray[np.float64]

    @property
    def argmin(self) -> tuple[int, int] | None:
        """The (state, action) of the smallest positive gap, if any."""
        positive = np.where(self.gaps > 0, self.gaps, np.inf)
        if not np.isfinite(positive).any():
            return None
        state, action = np.unravel_index(np.argmin(positive), positive.shape)
        return int(state), int(action)

    @property
    def margins(self) -> NDArray[np.float64]:
        """``(S,)`` by how much each state's best action beats its next best.

        The smallest positive gap of the state; 0 where two actions tie for
        the best, ``inf`` where only one action is available, NaN in terminal
        states. A learner must estimate two returns to within the margin to
        pick the right action: near p = 5/113 on AccessReview-v0 the start
        state's margin is under one point.
        """
        gaps = self.gaps
        live = ~np.isnan(gaps)
        smallest = np.where(gaps > 0, gaps, np.inf).min(axis=1)
        tie = np.count_nonzero(gaps == 0, axis=1) > 1
        margins = np.where(tie, 0.0, smallest)
        return np.asarray(np.where(live.any(axis=1), margins, np.nan))


def suboptimality_gaps(
    model: Model, gamma: float | None = None, horizon: Horizon = "model"
) -> SuboptimalityGaps:
    """``Delta(s, a) = V*(s) - Q*(s, a)`` over available actions of live states.

    ``Q*`` is exact: with a horizon, backward induction gives it
    (:func:`~agents.planning.value_iteration`); without one, value iteration
    finds an optimal policy whose values one linear solve then gives
    (:func:`~agents.planning.policy_evaluation`).

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        gamma: Discount; the MDP's own when None.
        horizon: ``"model"`` (the MDP's or env's own), None or a number of steps.
    """
    mdp = as_sparse(model, horizon)
    optimum = value_iteration(mdp, gamma=gamma, tol=1e-12)
    Q = (
        optimum.Q
        if mdp.horizon is not None
        else policy_evaluation(mdp, optimum.policy, gamma=gamma).Q
    )
    live = mdp.available_actions & ~mdp.terminal[:, None]
    V = np.where(mdp.terminal, 0.0, Q.max(axis=1, where=live, initial=-np.inf))
    gaps = np.where(live, V[:, None] - np.where(live, Q, 0.0), np.nan)
    scale = np.maximum(1.0, np.abs(V))[:, None]
    gaps = np.where(np.abs(gaps) <= _GAP_TOLERANCE * scale, 0.0, gaps)
    positive = gaps[gaps > 0]
    return SuboptimalityGaps(
        gaps=gaps,
        smallest=float(positive.min()) if positive.size else float("inf"),
        inverse_sum=float(np.sum(1.0 / positive)),
        V=V,
        Q=np.where(live, Q, -np.inf),
    )


@dataclass(frozen=True)
class Diameter:
    """The diameter of an MDP with restarts (see the module docstring).

    Attributes:
        diameter: ``max`` of ``hitting_times`` over distinct non-terminal pairs.
        hitting_times: ``(S, S)`` the smallest expected steps from ``s`` to
            ``s'`` (0 on the diagonal; NaN in terminal rows and columns).
        pair: A ``(from, to)`` pair achieving the diameter.
    """

    diameter: float
    hitting_times: NDArray[np.float64]
    pair: tuple[int, int]


def restart_transitions(
    mdp: TabularMDP, initial_distribution: NDArray[Any] | None = None
) -> NDArray[np.float64]:
    """``(S, A, S)`` transitions with every move into a terminal state restarted.

    Mass that ``P[s, a]`` puts on terminal states goes to ``initial_distribution``
    (the MDP's own when None); terminal rows and columns are zero.

    Raises:
        ValueError: If the initial distribution is not a distribution over
            non-terminal states.
    """
    rho = np.asarray(
        mdp.initial_distribution
        if initial_distribution is None
        else initial_distribution,
        dtype=float,
    )
    if (
        rho.shape != (mdp.n_states,)
        or np.any(rho < 0)
        or not np.isclose(rho.sum(), 1.0)
        or np.any(rho[mdp.terminal] > 0)
    ):
        raise ValueError(
            "initial_distribution must be a probability vector over the "
            f"{mdp.n_states} states with no mass on terminal states"
        )
    live = ~mdp.terminal
    ending = mdp.transitions[:, :, mdp.terminal].sum(axis=2)
    restarted = mdp.transitions * live[None, None, :] + ending[:, :, None] * rho
    restarted[mdp.terminal] = 0.0
    return np.asarray(restarted, dtype=np.float64)


def diameter(
    model: Model, initial_distribution: NDArray[Any] | None = None
) -> Diameter:
    """The diameter over live states, terminal moves restarting episodes.

    For each target ``t``: the states that reach ``t`` with probability 1 under
    some policy are found first (the others are at ``inf``); from a proper
    policy toward ``t``, policy iteration on the stochastic shortest path
    ``h(t) = 0``, ``h(s) = 1 + min_a sum_x P'(s, a, x) h(x)`` then gives the
    exact smallest expected hitting times (Bertsekas & Tsitsiklis, 1991).

    Args:
        model: A TabularMDP, a SparseMDP or an env exposing one.
        initial_distribution: ``(S,)`` where an episode restarts; the MDP's own
            when None (for an env, what its ``reset`` draws from).

    Raises:
        ModelTooLargeError: If the model has more than
            :data:`DIAMETER_MAX_STATES` non-terminal states.
    """
    sparse = as_sparse(model, None)
    live = int(np.count_nonzero(~sparse.terminal))
    if live > DIAMETER_MAX_STATES:
        raise ModelTooLargeError(
            f"the diameter is computed for at most {DIAMETER_MAX_STATES} "
            f"non-terminal states (one policy iteration on the dense arrays per "
            f"target state); this model has {live:,}"
        )
    mdp = as_tabular(model if isinstance(model, TabularMDP) else sparse, None)
    restarted = restart_transitions(mdp, initial_distribution)
    states = np.flatnonzero(~mdp.terminal)
    times = np.full((mdp.n_states, mdp.n_states), np.nan)
    for target in states:
        times[states, target] = _hitting_times(
            restarted, mdp.available_actions, states, int(target)
        )[states]
    off_diagonal = times[np.ix_(states, states)].copy()
    np.fill_diagonal(off_diagonal, -np.inf)
    if states.size < 2:
        return Diameter(0.0, times, (int(states[0]), int(states[0])))
    flat = int(np.argmax(off_diagonal))
    source, target = np.unravel_index(flat, off_diagonal.shape)
    return Diameter(
        float(off_diagonal[source, target]),
        times,
        (int(states[source]), int(states[target])),
    )


def _hitting_times(
    transitions: NDArray[np.float64],
    available: NDArray[np.bool_],
    states: NDArray[np.intp],
    target: int,
) -> NDArray[np.float64]:
    """``(S,)`` smallest expected steps to ``target`` (``inf`` where impossible)."""
    n_states = transitions.shape[0]
    moves = transitions > 0
    good = np.zeros(n_states, dtype=bool)
    good[states] = True
    while True:
        # Actions that surely stay among the states that can still make it.
        allowed = available & ~np.any(moves & ~good[None, None, :], axis=2)
        allowed[target] = False
        distance = _distances_to(target, moves, allowed, good)
        reachable = np.isfinite(distance)
        if np.array_equal(reachable, good):
            break
        good = reachable
    policy = np.zeros(n_states, dtype=np.int64)
    for s in np.flatnonzero(good):
        if s == target:
            continue
        closer = moves[s] & (distance[None, :] < distance[s])
        policy[s] = int(np.flatnonzero(allowed[s] & closer.any(axis=1))[0])
    others = np.flatnonzero(good & (np.arange(n_states) != target))
    h = np.zeros(n_states)
    for _ in range(10 * n_states * available.shape[1] + 10):
        step = transitions[others, policy[others]][:, others]
        h[others] = np.linalg.solve(np.eye(others.size) - step, np.ones(others.size))
        costs = 1.0 + transitions[others] @ h
        costs = np.where(allowed[others], costs, np.inf)
        current = costs[np.arange(others.size), policy[others]]
        better = costs.min(axis=1) < current - 1e-12 * np.maximum(1.0, current)
        if not better.any():
            break
        policy[others[better]] = np.argmin(costs[better], axis=1)
    result = np.full(n_states, np.inf)
    result[good] = h[good]
    result[target] = 0.0
    return result


def _distances_to(
    target: int,
    moves: NDArray[np.bool_],
    allowed: NDArray[np.bool_],
    good: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Fewest steps to ``target`` along positive-probability allowed moves."""
    n_states = moves.shape[0]
    distance = np.full(n_states, np.inf)
    distance[target] = 0.0
    frontier = deque([target])
    while frontier:
        x = frontier.popleft()
        for s in np.flatnonzero(good & np.isinf(distance)):
            if np.any(allowed[s] & moves[s, :, x]):
                distance[s] = distance[x] + 1
                frontier.append(int(s))
    return distance


@dataclass(frozen=True)
class Hardness:
    """One configuration's hardness measures.

    Attributes:
        smallest_gap: The smallest positive sub-optimality gap.
        gap_location: Its (state, action), if any.
        inverse_gap_sum: The sum of reciprocals of the positive gaps.
        diameter: The diameter with restarts (see :func:`diameter`), or None
            where it is not computed (``diameter_note`` says why).
        gap_names: The (state, action) names of ``gap_location``, if the MDP
            names them.
        horizon: The horizon the gaps are computed for (None: infinite).
        diameter_note: Why ``diameter`` is None, else None.
    """

    smallest_gap: float
    gap_location: tuple[int, int] | None
    inverse_gap_sum: float
    diameter: float | None
    gap_names: tuple[str, str] | None = None
    horizon: int | None = None
    diameter_note: str | None = None


def hardness(
    model: Model,
    gamma: float | None = None,
    initial_distribution: NDArray[Any] | None = None,
    horizon: Horizon = "model",
) -> Hardness:
    """Gaps and diameter of ``model`` in one record (see the module docstring).

    The diameter is None, with the reason in ``diameter_note``, for a model
    above :data:`DIAMETER_MAX_STATES` non-terminal states.
    """
    mdp = as_sparse(model, horizon)
    gaps = suboptimality_gaps(mdp, gamma)
    where = gaps.argmin
    names = None
    if where is not None and mdp.state_names and mdp.action_names:
        names = (mdp.state_names[where[0]], mdp.action_names[where[1]])
    found: float | None = None
    note = None
    try:
        found = diameter(mdp, initial_distribution).diameter
    except ModelTooLargeError as error:
        note = str(error)
    return Hardness(
        gaps.smallest, where, gaps.inverse_sum, found, names, mdp.horizon, note
    )
