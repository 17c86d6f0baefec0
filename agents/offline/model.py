"""The model a log implies: transition probabilities and mean rewards from counts.

:func:`estimate_model` counts, per (state, action), the next states and the
rewards of logged transitions; :class:`EstimatedModel` turns the counts into
probabilities with a Wilson interval each, mean rewards with standard errors,
and a :class:`~access_review_env.TabularMDP` to plan on (certainty
equivalence: plan as if the estimate were the truth). Because our tasks know
their exact tables, :func:`exact_regret` scores a plan on the true task, and
:func:`episodes_to_optimum` measures how many logged episodes it takes for the
plan to be optimal, over repeated logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.validation import check_integer
from agents.evaluation import statistics
from agents.evaluation.statistics import z_value
from agents.offline.behaviour import BehaviourPolicy
from agents.offline.collection import period_arrays, simulate, task_arrays
from agents.offline.logs import LogMetadata, TaskInfo
from agents.planning import optimal_start_value, policy_evaluation, value_iteration


class TransitionData(Protocol):
    """What estimation reads: ``(n_transitions,)`` arrays by episode then step.

    Both :class:`~agents.offline.logs.Episodes` (a joined log) and
    :class:`~agents.offline.collection.Trajectories` (a simulation) qualify.
    """

    @property
    def state(self) -> NDArray[np.int16]:
        """States."""

    @property
    def action(self) -> NDArray[np.int16]:
        """Actions."""

    @property
    def reward(self) -> NDArray[np.float64]:
        """Rewards."""

    @property
    def next_state(self) -> NDArray[np.int16]:
        """Next states."""

    @property
    def terminated(self) -> NDArray[np.bool_]:
        """Whether the step ended the episode by termination."""

    @property
    def valid_actions(self) -> NDArray[np.uint32]:
        """Valid-action masks as bits."""

    @property
    def starts(self) -> NDArray[np.int64]:
        """``(n_episodes + 1,)`` row offsets."""


def wilson_interval(
    successes: NDArray[Any], trials: NDArray[Any], confidence: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval of a binomial proportion at ``confidence``.

    :func:`agents.evaluation.statistics.wilson_interval`, elementwise, with the
    coverage given as a confidence; NaN where ``trials`` is 0.
    """
    return statistics.wilson_interval(successes, trials, z_value(confidence))


Unvisited = Literal["exclude", "terminate"]


@dataclass(frozen=True)
class EstimatedModel:
    """Counts from a log and the model they imply.

    Attributes:
        counts: ``(S, A, S)`` transitions observed from ``(s, a)`` to ``s'``.
        reward_sum: ``(S, A)`` summed rewards.
        reward_sq: ``(S, A)`` summed squared rewards.
        start_counts: ``(S,)`` episodes starting in each state.
        valid_seen: ``(S, A)`` actions some logged mask allowed in ``s``.
        terminal: ``(S,)`` states known to be terminal (from the task, or
            observed as the next state of a terminated step).
        task: The task (discount, time limit, names).
    """

    counts: NDArray[np.int64]
    reward_sum: NDArray[np.float64]
    reward_sq: NDArray[np.float64]
    start_counts: NDArray[np.int64]
    valid_seen: NDArray[np.bool_]
    terminal: NDArray[np.bool_]
    task: TaskInfo

    @property
    def gamma(self) -> float:
        """The task's discount."""
        return self.task.gamma

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.counts.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return int(self.counts.shape[1])

    @property
    def visits(self) -> NDArray[np.int64]:
        """``(S, A)`` transitions observed from each pair."""
        return np.asarray(self.counts.sum(axis=2), dtype=np.int64)

    @property
    def transition_probabilities(self) -> NDArray[np.float64]:
        """``(S, A, S)`` observed frequencies; NaN rows for unvisited pairs."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.counts / self.visits[:, :, None], dtype=np.float64)

    def transition_interval(
        self, confidence: float = 0.95
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(low, high)``, each ``(S, A, S)``: a Wilson interval per probability."""
        return wilson_interval(
            self.counts,
            np.broadcast_to(self.visits[:, :, None], self.counts.shape),
            confidence,
        )

    @property
    def mean_rewards(self) -> NDArray[np.float64]:
        """``(S, A)`` mean observed reward; NaN for unvisited pairs."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.reward_sum / self.visits, dtype=np.float64)

    @property
    def reward_se(self) -> NDArray[np.float64]:
        """``(S, A)`` standard error of each mean reward (0 with one visit)."""
        n = self.visits.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.reward_sum / n
            variance = np.maximum(self.reward_sq / n - mean * mean, 0.0)
            variance *= n / np.maximum(n - 1.0, 1.0)
            return np.asarray(np.sqrt(variance / n), dtype=np.float64)

    @property
    def start_distribution(self) -> NDArray[np.float64]:
        """``(S,)`` the observed distribution of first states."""
        total = max(int(self.start_counts.sum()), 1)
        return np.asarray(self.start_counts / total, dtype=np.float64)

    def to_mdp(self, unvisited: Unvisited = "exclude") -> TabularMDP:
        """The estimate as a :class:`~access_review_env.TabularMDP`.

        Args:
            unvisited: What a valid but never-logged (state, action) becomes.
                ``"exclude"`` (for planning): not an option at all, so a plan
                only uses actions the log supports. ``"terminate"`` (for
                evaluating a given policy): reward 0 and the episode ends, a
                neutral guess, since nothing is known about it.

        A non-terminal state with no usable action (never acted in) is treated
        as terminal, value 0: the log says nothing about it. The initial
        distribution is the observed one, and the horizon the task's time
        limit, as in the exact values (:func:`~agents.offline.collection.task_arrays`).

        Raises:
            ValueError: For an unknown rule, or ``"terminate"`` without a
                known terminal state.
        """
        if unvisited not in ("exclude", "terminate"):
            raise ValueError(
                f"unvisited must be 'exclude' or 'terminate', got {unvisited!r}"
            )
        visits = self.visits
        visited = visits > 0
        transitions = np.zeros(self.counts.shape)
        np.divide(
            self.counts, visits[:, :, None], out=transitions, where=visited[:, :, None]
        )
        rewards = np.zeros(visits.shape)
        np.divide(self.reward_sum, visits, out=rewards, where=visited)
        valid = visited & ~self.terminal[:, None]
        if unvisited == "terminate":
            if not self.terminal.any():
                raise ValueError(
                    "cannot send unvisited actions to a terminal state: the log "
                    "shows none"
                )
            fill = self.valid_seen & ~visited & ~self.terminal[:, None]
            transitions[fill] = 0.0
            transitions[fill, int(np.argmax(self.terminal))] = 1.0
            valid = valid | fill
        terminal = self.terminal | ~valid.any(axis=1)
        return TabularMDP(
            transitions=transitions,
            rewards=rewards,
            terminal=terminal,
            available_actions=valid,
            gamma=self.gamma,
            initial_distribution=self.start_distribution,
            state_names=self.task.state_names,
            action_names=self.task.action_names,
            horizon=self.task.time_limit,
        )


def estimate_model(
    data: TransitionData, task: TaskInfo, *, keep: NDArray[np.bool_] | None = None
) -> EstimatedModel:
    """Count transitions and rewards per (state, action): no Python loop over rows.

    Args:
        data: Logged transitions (a joined log's episodes, or trajectories).
        task: The task (a log's ``metadata.task``, or ``TaskInfo.of(arrays)``);
            its terminal states are known terminal, and states reached by a
            terminated step are added.
        keep: ``(n_episodes,)`` which episodes to count; all when None.
    """
    n_episodes = int(data.starts.size - 1)
    if keep is None:
        return estimate_models(data, task, np.zeros(n_episodes, dtype=np.int64), 1)[0]
    groups = np.where(np.asarray(keep, dtype=bool), 0, 1)
    return estimate_models(data, task, groups, 2)[0]


@dataclass(frozen=True)
class GroupCounts:
    """The counts of :class:`EstimatedModel`, one set per group of episodes.

    What a bootstrap over episodes resamples: with episodes in ``G`` groups,
    a model of any weighting of the groups is a weighted sum of these arrays.

    Attributes:
        counts: ``(G, S, A, S)`` transitions per group.
        reward_sum: ``(G, S, A)`` summed rewards.
        reward_sq: ``(G, S, A)`` summed squared rewards.
        start_counts: ``(G, S)`` episodes starting in each state.
        valid_seen: ``(G, S, A)`` actions some logged mask allowed.
        terminal: ``(G, S)`` states known to be terminal.
        task: The task.
    """

    counts: NDArray[np.int64]
    reward_sum: NDArray[np.float64]
    reward_sq: NDArray[np.float64]
    start_counts: NDArray[np.int64]
    valid_seen: NDArray[np.bool_]
    terminal: NDArray[np.bool_]
    task: TaskInfo

    @property
    def n_groups(self) -> int:
        """Number of groups ``G``."""
        return int(self.counts.shape[0])

    def model(self, group: int) -> EstimatedModel:
        """The model of one group's episodes."""
        arrays = {name: getattr(self, name)[group] for name in SUMMED + SEEN}
        return EstimatedModel(**arrays, task=self.task)

    def total(self, groups: slice = slice(None)) -> EstimatedModel:
        """The model of the episodes of ``groups`` (all of them by default)."""
        return _merged(
            {name: getattr(self, name)[groups] for name in SUMMED + SEEN}, self.task
        )


SUMMED = ("counts", "reward_sum", "reward_sq", "start_counts")
"""The counts of :class:`EstimatedModel` that add up over episodes."""
SEEN = ("valid_seen", "terminal")
"""Its flags that hold for a union of episodes if they hold for any part."""


def _merged(stacked: Mapping[str, NDArray[Any]], task: TaskInfo) -> EstimatedModel:
    """The model of several parts, from their arrays stacked on a first axis."""
    arrays = {name: stacked[name].sum(axis=0) for name in SUMMED}
    arrays |= {name: stacked[name].any(axis=0) for name in SEEN}
    return EstimatedModel(**arrays, task=task)


def count_groups(
    data: TransitionData,
    task: TaskInfo,
    groups: NDArray[np.integer[Any]],
    n_groups: int,
) -> GroupCounts:
    """Count transitions and rewards per group of episodes, in one pass over the rows.

    Args:
        data: Logged transitions.
        task: The task.
        groups: ``(n_episodes,)`` each episode's group in ``[0, n_groups)``.
        n_groups: Number of groups.
    """
    n_states, n_actions = task.n_states, task.n_actions
    groups = np.asarray(groups, dtype=np.int64)
    size = n_states * n_actions
    row_group = np.repeat(groups, np.diff(data.starts))
    pair = data.state.astype(np.int64) * n_actions + data.action
    pair += row_group * size
    counts = np.bincount(
        pair * n_states + data.next_state, minlength=n_groups * size * n_states
    )
    reward_sum = np.bincount(pair, weights=data.reward, minlength=n_groups * size)
    reward_sq = np.bincount(
        pair, weights=data.reward * data.reward, minlength=n_groups * size
    )
    first_states = data.state[data.starts[:-1]].astype(np.int64)
    starts = np.bincount(
        groups * n_states + first_states, minlength=n_groups * n_states
    )
    valid_seen = _valid_seen(data, row_group, n_groups, n_states, n_actions)
    ended = data.terminated
    terminal = (
        np.bincount(
            row_group[ended] * n_states + data.next_state[ended],
            minlength=n_groups * n_states,
        ).reshape(n_groups, n_states)
        > 0
    )
    terminal[:, list(task.terminal_states)] = True
    return GroupCounts(
        counts=counts.reshape(n_groups, n_states, n_actions, n_states).astype(np.int64),
        reward_sum=reward_sum.reshape(n_groups, n_states, n_actions).astype(np.float64),
        reward_sq=reward_sq.reshape(n_groups, n_states, n_actions).astype(np.float64),
        start_counts=starts.reshape(n_groups, n_states).astype(np.int64),
        valid_seen=valid_seen,
        terminal=terminal,
        task=task,
    )


def estimate_models(
    data: TransitionData,
    task: TaskInfo,
    groups: NDArray[np.integer[Any]],
    n_groups: int,
) -> list[EstimatedModel]:
    """One model per group of episodes, all counted in one pass over the rows.

    Args:
        data: Logged transitions.
        task: The task.
        groups: ``(n_episodes,)`` each episode's group in ``[0, n_groups)``.
        n_groups: Number of groups.

    Returns:
        ``n_groups`` models; their sum (see :func:`combine`) is the model of
        all episodes.
    """
    counted = count_groups(data, task, groups, n_groups)
    return [counted.model(g) for g in range(n_groups)]


def _valid_seen(
    data: TransitionData,
    row_group: NDArray[np.int64],
    n_groups: int,
    n_states: int,
    n_actions: int,
) -> NDArray[np.bool_]:
    """``(G, S, A)`` the actions some logged mask allowed, per group and state."""
    keys = (row_group * n_states + data.state) << n_actions
    keys |= data.valid_actions.astype(np.int64)
    if n_actions <= 16:
        present = np.bincount(keys, minlength=(n_groups * n_states) << n_actions)
        codes = np.flatnonzero(present)
    else:
        codes = np.unique(keys)
    group_state = codes >> n_actions
    bits = codes & ((1 << n_actions) - 1)
    allowed = ((bits[:, None] >> np.arange(n_actions)) & 1).astype(bool)
    seen = np.zeros((n_groups * n_states, n_actions), dtype=bool)
    np.logical_or.at(seen, group_state, allowed)
    return seen.reshape(n_groups, n_states, n_actions)


def combine(models: Sequence[EstimatedModel]) -> EstimatedModel:
    """The model of the union of the logs the ``models`` were counted from.

    Raises:
        ValueError: For no models.
    """
    if not models:
        raise ValueError("combine needs at least one model")
    stacked = {
        name: np.stack([getattr(m, name) for m in models]) for name in SUMMED + SEEN
    }
    return _merged(stacked, models[0].task)


def plan(model: EstimatedModel) -> NDArray[np.int64]:
    """``(S,)`` the certainty-equivalent plan: value iteration on the estimate.

    Only actions the log supports are considered, so the plan is on valid
    actions. The estimate has the task's time limit as its horizon, as the
    exact values do; the plan is the greedy first action with the whole limit
    left. In a state the log never acted in, the plan takes the lowest-index
    action a logged mask allowed there, or action 0.
    """
    policy = value_iteration(model.to_mdp("exclude")).policy.copy()
    unknown = model.visits.sum(axis=1) == 0
    fallback = np.where(
        model.valid_seen.any(axis=1), np.argmax(model.valid_seen, axis=1), 0
    )
    policy[unknown] = fallback[unknown]
    return policy


def exact_value(
    mdp: TabularMDP,
    policy: NDArray[Any] | BehaviourPolicy,
    start_distribution: NDArray[np.float64] | None = None,
) -> float:
    """Exact expected discounted return of ``policy`` on ``mdp`` from its start.

    By :func:`agents.planning.policy_evaluation` with ``mdp``'s own horizon.
    With :func:`~agents.offline.collection.task_arrays` that is the env as
    registered, its 20-step time limit included: what a logged return
    estimates, truncated episodes and all. Every valid route of AccessReview-v0
    closes within 3 steps, so there the limit does not bind and the value is
    also the infinite-horizon one; on AccessReviewRisk-v0 only repeated
    evidence requests can reach it.

    Args:
        mdp: The true task's arrays.
        policy: ``(S,)`` actions, an ``(S, A)`` table or a BehaviourPolicy.
        start_distribution: ``(S,)``; the task's own when None.
    """
    table = policy.probabilities if isinstance(policy, BehaviourPolicy) else policy
    start = (
        mdp.initial_distribution if start_distribution is None else start_distribution
    )
    return float(np.dot(start, policy_evaluation(mdp, table).V))


def exact_regret(
    mdp: TabularMDP,
    policy: NDArray[Any] | BehaviourPolicy,
    start_distribution: NDArray[np.float64] | None = None,
) -> float:
    """``V*(start) - V^policy(start)`` on the true task, exactly.

    ``V*`` is value iteration on ``mdp`` with its horizon (see
    :func:`exact_value`): with :func:`~agents.offline.collection.task_arrays`,
    the best policy on valid actions of the env as registered.
    """
    start = (
        mdp.initial_distribution if start_distribution is None else start_distribution
    )
    optimum = float(np.dot(start, value_iteration(mdp).V))
    return optimum - exact_value(mdp, policy, start)


@dataclass(frozen=True)
class OptimumCurve:
    """How the certainty-equivalent plan improves with the number of logged episodes.

    Attributes:
        budgets: ``(B,)`` increasing episode counts (prefixes of each log).
        regret: ``(R, B)`` exact regret of the plan from each log's first
            ``budgets[b]`` episodes, for ``R`` independent logs.
        optimal_policy: ``(S,)`` the true optimum.
        env_kwargs: The task's configuration.
    """

    budgets: NDArray[np.int64]
    regret: NDArray[np.float64]
    optimal_policy: NDArray[np.int64]
    env_kwargs: Mapping[str, Any]

    @property
    def matched(self) -> NDArray[np.bool_]:
        """``(R, B)`` the plan has zero regret (to 1e-9)."""
        return np.asarray(self.regret <= 1e-9, dtype=bool)

    def match_rate(
        self, confidence: float = 0.95
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(rate, low, high)``, each ``(B,)``: share of logs whose plan is optimal."""
        hits = self.matched.sum(axis=0)
        n = np.full(hits.shape, self.regret.shape[0])
        low, high = wilson_interval(hits, n, confidence)
        return hits / n, low, high

    @property
    def episodes_to_optimum(self) -> NDArray[np.float64]:
        """``(R,)`` per log, the budget from which every plan is optimal.

        That is the smallest budget such that it and every larger budget give
        a zero-regret plan; ``inf`` if the largest budget's plan is not optimal.
        """
        matched = self.matched
        stays = np.flip(
            np.logical_and.accumulate(np.flip(matched, axis=1), axis=1), axis=1
        )
        first = np.argmax(stays, axis=1)
        result = self.budgets[first].astype(np.float64)
        result[~stays[:, -1]] = np.inf
        return np.asarray(result, dtype=np.float64)

    def summary(self, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> dict[str, float]:
        """Quantiles of :attr:`episodes_to_optimum` over logs (``inf`` if unreached)."""
        values = np.sort(self.episodes_to_optimum)
        return {
            f"q{round(q * 100):02d}": float(
                values[min(int(q * values.size), values.size - 1)]
            )
            for q in quantiles
        }


def episodes_to_optimum(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    behaviour: BehaviourPolicy,
    budgets: Sequence[int],
    n_repeats: int,
    seed: int,
    num_envs: int | None = None,
) -> OptimumCurve:
    """Plan on growing prefixes of independent logs and score each plan exactly.

    For each of ``n_repeats`` logs of ``max(budgets)`` episodes, the counts of
    its first ``budgets[b]`` episodes are estimated (incrementally: each
    episode is counted once), planned on, and the plan's exact regret on the
    true task recorded.

    Raises:
        ValueError: For empty, non-positive or non-increasing budgets, or
            ``n_repeats < 1``.
        TypeError: If ``n_repeats`` is not an integer.
    """
    budget_array = np.asarray(budgets, dtype=np.int64)
    if (
        budget_array.size == 0
        or np.any(budget_array < 1)
        or np.any(np.diff(budget_array) <= 0)
    ):
        raise ValueError(
            f"budgets must be positive and increasing, got {list(budgets)}"
        )
    n_repeats = check_integer("n_repeats", n_repeats, low=1)
    mdp = task_arrays(env_id, env_kwargs)
    task = TaskInfo.of(mdp)
    rng = np.random.default_rng(seed)
    regret = np.zeros((n_repeats, budget_array.size))
    optimal = value_iteration(mdp)
    optimum_start = float(np.dot(mdp.initial_distribution, optimal.V))
    for repeat in range(n_repeats):
        trajectories, _ = simulate(
            env_id, env_kwargs, behaviour, int(budget_array[-1]), rng, num_envs
        )
        total: EstimatedModel | None = None
        previous = 0
        for index, budget in enumerate(budget_array):
            keep = np.zeros(trajectories.n_episodes, dtype=bool)
            keep[previous:budget] = True
            part = estimate_model(trajectories, task, keep=keep)
            total = part if total is None else combine([total, part])
            previous = int(budget)
            policy = plan(total)
            regret[repeat, index] = optimum_start - exact_value(mdp, policy)
    return OptimumCurve(budget_array, regret, optimal.policy, dict(env_kwargs))


def period_index(
    arrived_at: NDArray[np.datetime64], schedule: Sequence[Mapping[str, Any]]
) -> NDArray[np.int64]:
    """``(n,)`` the index of the schedule period each arrival time falls in."""
    starts = np.array([np.datetime64(p["start"], "ms") for p in schedule])
    return np.asarray(
        np.searchsorted(starts, arrived_at, side="right") - 1, dtype=np.int64
    )


def sample_value(
    arrived_at: NDArray[np.datetime64],
    metadata: LogMetadata,
    policy: NDArray[Any] | BehaviourPolicy | None,
) -> float:
    """Exact expected discounted return of ``policy`` over a sample's requests.

    Each request follows the world of the period it arrived in, so the truth
    for a sample spanning several periods is the average of each period's exact
    value weighted by the sample's requests in it (arrivals do not depend on
    outcomes, so conditioning on them keeps every estimator's target exact).

    Args:
        arrived_at: ``(n_episodes,)`` arrival times of the sample's requests.
        metadata: The log's metadata (its schedule gives each period's world).
        policy: ``(S,)`` actions, ``(S, A)`` probabilities or a BehaviourPolicy;
            None: each period's own optimum (so the difference with a
            policy's value is its exact regret on the sample).
    """
    index = period_index(arrived_at, metadata.schedule)
    weights = np.bincount(index, minlength=len(metadata.schedule)).astype(np.float64)
    if weights.sum() == 0:
        return float("nan")
    values = [
        (
            0.0
            if not weight
            else optimal_start_value(mdp)
            if policy is None
            else exact_value(mdp, policy)
        )
        for mdp, weight in zip(period_arrays(metadata), weights, strict=True)
    ]
    return float(np.dot(weights, values) / weights.sum())
