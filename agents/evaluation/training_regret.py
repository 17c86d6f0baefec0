"""Exact regret during training: each learner's behaviour policy, episode by episode.

A :class:`RegretTracker` watches batched learners (it is an
:class:`~agents.learners.batched.EpisodeObserver`) and sums, for each learner,
the exact regret ``V*(rho) - V^{pi_e}(rho)`` of the behaviour policy ``pi_e``
it plays episode ``e`` with: the policy of its table when the episode starts.
The sum over episodes is the expected cumulative regret of training, exact at
every checkpoint (Q-learning also updates within an episode; the policy an
episode starts with stands for the whole episode).

Values are computed by batched policy evaluation
(:mod:`agents.planning.batched_evaluation`) of the MDP given, for a made env
the env as made (:func:`~agents.evaluation.exact.scored_arrays`: its time
limit as the horizon, its reset's start distribution).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from agents.evaluation.exact import scored_arrays
from agents.planning import (
    behaviour_regret_q_learning,
    behaviour_regret_reinforce,
    optimal_start_value,
    policy_regret,
)
from agents.policies.selection import epsilon_greedy_probabilities, masked_argmax_rows

RegretOf = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""``regret_of(tables (n, S, A)) -> (n,)``: the exact regret of the behaviour
policy each table stands for."""

_MAX_PROFILES = 2**20
"""Greedy profiles cached at most; beyond, every table is evaluated."""


class EpsilonGreedyRegret:
    """The regret of epsilon-greedy over Q tables, cached by greedy profile.

    Epsilon-greedy depends on a Q table only through its greedy action in each
    state, so its regret takes one value per greedy profile. Each profile is
    evaluated once, by batched policy evaluation, the first time it is met.

    Args:
        model: A :class:`TabularMDP` or an env exposing one.
        valid: ``(S, A)`` the actions the learner chooses among (the env's
            action masks).
        epsilon: The exploration probability.
    """

    def __init__(
        self, model: TabularMDP | Any, valid: NDArray[Any], epsilon: float
    ) -> None:
        """Prepare an empty cache."""
        self.arrays = scored_arrays(model)
        self.optimal = optimal_start_value(self.arrays)
        self.valid = np.asarray(valid) != 0
        self.epsilon = float(epsilon)
        self.live = np.flatnonzero(~self.arrays.terminal)
        n_actions = self.arrays.n_actions
        size = n_actions**self.live.size
        self.radix = n_actions ** np.arange(self.live.size, dtype=np.int64)
        self.cache = np.full(size, np.nan) if size <= _MAX_PROFILES else None

    def __call__(self, tables: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(n,)`` the regret of epsilon-greedy over each table ``(n, S, A)``."""
        if self.cache is None:
            return behaviour_regret_q_learning(
                self.arrays, tables, self.epsilon, self.valid, optimal=self.optimal
            )
        greedy = masked_argmax_rows(tables[:, self.live], self.valid[self.live])
        index = greedy @ self.radix
        missing = np.unique(index[np.isnan(self.cache[index])])
        if missing.size:
            profiles = (missing[:, None] // self.radix) % self.arrays.n_actions
            chosen = np.zeros((missing.size, *self.valid.shape))
            chosen[:, self.live] = np.eye(self.arrays.n_actions)[profiles]
            policies = epsilon_greedy_probabilities(
                chosen, self.valid & ~self.arrays.terminal[:, None], self.epsilon
            )
            self.cache[missing] = policy_regret(
                self.arrays, policies, optimal=self.optimal
            )
        return np.asarray(self.cache[index], dtype=np.float64)


def softmax_regret(model: TabularMDP | Any, valid: NDArray[Any]) -> RegretOf:
    """The regret of the masked softmax of logit tables (REINFORCE's policy)."""
    arrays = scored_arrays(model)
    optimal = optimal_start_value(arrays)

    def regret_of(tables: NDArray[np.float64]) -> NDArray[np.float64]:
        return behaviour_regret_reinforce(arrays, tables, valid, optimal=optimal)

    return regret_of


class RegretTracker:
    """Sums each learner's exact behaviour regret over its episodes.

    Args:
        regret_of: The regret of the behaviour policy of tables ``(n, S, A)``
            (:class:`EpsilonGreedyRegret`, :func:`softmax_regret`).
        n_learners: ``K``.
        checkpoints: ``(C,)`` strictly increasing episode counts at which to
            record the sums (as the learners' ``checkpoints``).

    Attributes:
        cumulative: ``(C, K)`` each learner's regret summed over its first
            ``checkpoints[j]`` episodes.
        regret: ``(C, K)`` the regret of the behaviour policy it plays episode
            ``checkpoints[j] + 1`` with.
    """

    def __init__(
        self, regret_of: RegretOf, n_learners: int, checkpoints: NDArray[Any]
    ) -> None:
        """Start every sum at 0."""
        self.regret_of = regret_of
        self.checkpoints = np.append(np.asarray(checkpoints, dtype=np.int64), -1)
        n_checkpoints = self.checkpoints.size - 1
        self.cumulative = np.full((n_checkpoints, n_learners), np.nan)
        self.regret = np.full((n_checkpoints, n_learners), np.nan)
        self._current = np.zeros(n_learners)
        self._total = np.zeros(n_learners)
        self._next = np.zeros(n_learners, dtype=np.int64)

    def start(self, tables: NDArray[np.float64]) -> None:
        """Evaluate the initial policies; record a checkpoint at 0 episodes."""
        self._current[:] = self.regret_of(tables)
        learners = np.arange(self._current.size)
        self._record(learners, np.zeros(learners.size, dtype=np.int64))

    def episodes_ended(
        self,
        learners: NDArray[np.intp],
        episodes: NDArray[np.int64],
        tables: NDArray[np.float64],
    ) -> None:
        """Add the finished episodes' regret; evaluate the next episodes' policies."""
        self._total[learners] += self._current[learners]
        self._current[learners] = self.regret_of(tables[learners])
        self._record(learners, episodes)

    def _record(self, learners: NDArray[np.intp], episodes: NDArray[np.int64]) -> None:
        j = self._next[learners]
        hit = self.checkpoints[j] == episodes
        if hit.any():
            k, j = learners[hit], j[hit]
            self.cumulative[j, k] = self._total[k]
            self.regret[j, k] = self._current[k]
            self._next[k] = j + 1
