"""Off-policy evaluation: the value of a target policy from a behaviour policy's log.

Five estimators of ``E[sum_t gamma^t r_t]`` under the target, from episodes
logged under the behaviour (Precup, Sutton and Singh, 2000; Jiang and Li, 2016;
Sutton and Barto, section 5.5). With per-decision ratios
``rho_t = pi(a_t | s_t) / mu(a_t | s_t)`` (``mu`` is the logged propensity) and
``w_t = rho_0 ... rho_t``:

* ``is`` (ordinary importance sampling): mean of ``w_T G``; unbiased.
* ``wis`` (weighted): ``sum w_T G / sum w_T``; biased, consistent, lower variance.
* ``pdis`` (per-decision): mean of ``sum_t gamma^t w_t r_t``; unbiased.
* ``dr`` (doubly robust, per-decision): mean of
  ``sum_t gamma^t (w_t (r_t - Q(s_t, a_t)) + w_{t-1} V(s_t))`` with ``Q``, ``V``
  the target's values on a model fitted to *other* episodes (cross-fitting),
  so it stays unbiased.
* ``model`` (fitted model, certainty equivalence): the target's exact value on
  the estimated model, from the observed start distribution; consistent. Its
  interval is a bootstrap over episodes: the log's episodes are resampled, so
  rewards, transitions and starts are redrawn together, as they were logged.

A target the log does not cover gets no value, only the reason
(:attr:`Estimate.reason`): importance weights need the behaviour to take, with
positive probability, every action the target takes in a state it reaches,
and the fitted model needs a logged transition for each such (state, action).
An estimate is never a zero-width interval around a guess.

Every estimator targets the value from the *logged* start distribution, and the
discounted return of an episode up to its logged end, the time limit's cut
included. The exact truth they are tested against is therefore ``V^pi`` of the
env as registered (:func:`~agents.offline.model.exact_value` on
:func:`~agents.offline.collection.task_arrays`: the 20-step limit as a finite
horizon); the fitted model plans and evaluates with the same horizon. For
policies on valid actions of AccessReview-v0 the limit never binds (every route
closes within 3 steps), so this is also the infinite-horizon value. All of it
is whole-array NumPy: a loop over the step index (at most the time limit),
never over episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env.validation import check_integer
from agents.evaluation.statistics import z_value
from agents.offline.behaviour import BehaviourPolicy
from agents.offline.logs import Episodes, TaskInfo
from agents.offline.model import (
    EstimatedModel,
    GroupCounts,
    combine,
    count_groups,
    estimate_model,
    estimate_models,
)
from agents.planning import policy_evaluation

ESTIMATORS = ("is", "wis", "pdis", "dr", "model")
"""Names of the estimators, in the order :func:`evaluate_off_policy` returns them."""
UNBIASED = frozenset({"is", "pdis", "dr"})


@dataclass(frozen=True)
class Estimate:
    """One estimator's value with its interval.

    Attributes:
        estimator: One of :data:`ESTIMATORS`.
        value: The estimate.
        low: Lower end of the interval.
        high: Upper end.
        se: Standard error (normal or delta-method; for ``model`` the standard
            deviation of the bootstrap resamples).
        ess: Effective sample size: Kish's ``(sum w)^2 / sum w^2`` of the
            episodes' importance weights (``model``: the number of episodes).
        n_episodes: Episodes used.
        confidence: Coverage the interval aims at.
        reason: Why there is no value (value, interval and standard error
            are then NaN), or None.
    """

    estimator: str
    value: float
    low: float
    high: float
    se: float
    ess: float
    n_episodes: int
    confidence: float
    reason: str | None = None

    @classmethod
    def refused(
        cls,
        estimator: str,
        reason: str,
        ess: float,
        n_episodes: int,
        confidence: float,
    ) -> Estimate:
        """No value, with the reason."""
        nan = float("nan")
        return cls(estimator, nan, nan, nan, nan, ess, n_episodes, confidence, reason)

    def covers(self, truth: float) -> bool:
        """Whether ``truth`` lies in ``[low, high]`` (never, without a value)."""
        return self.low <= truth <= self.high

    def to_json(self) -> dict[str, Any]:
        """Every field as plain Python."""
        return asdict(self)


@dataclass(frozen=True)
class Weights:
    """Importance weights of a log under a target.

    Attributes:
        ratio: ``(n_transitions,)`` ``rho_t``.
        cumulative: ``(n_transitions,)`` ``w_t = rho_0 ... rho_t``.
        previous: ``(n_transitions,)`` ``w_{t-1}`` (1 at an episode's first step).
        episode: ``(n_episodes,)`` ``w_T``, each episode's full weight.
    """

    ratio: NDArray[np.float64]
    cumulative: NDArray[np.float64]
    previous: NDArray[np.float64]
    episode: NDArray[np.float64]

    @property
    def ess(self) -> float:
        """Kish's effective sample size of the episode weights."""
        total = float(self.episode.sum())
        squares = float(np.dot(self.episode, self.episode))
        return total * total / squares if squares > 0 else 0.0


def check_target(episodes: Episodes, target: BehaviourPolicy) -> None:
    """Refuse a target whose table does not match the log's task.

    Raises:
        ValueError: Naming both shapes.
    """
    if (target.n_states, target.n_actions) != (episodes.n_states, episodes.n_actions):
        raise ValueError(
            f"the target policy is ({target.n_states}, {target.n_actions}); the "
            f"log's task has {episodes.n_states} states and {episodes.n_actions} "
            "actions"
        )


@dataclass(frozen=True)
class Support:
    """Whether a log covers a target, for each kind of estimator.

    Only states the target can reach count: from the logged start states,
    through the transitions logged for the actions it takes.

    Attributes:
        weights: Why importance weights (IS, WIS, PDIS, DR) cannot estimate
            the target: it takes an action the behaviour never takes (the
            logged behaviour table gives it 0; without the table, the log
            never shows it). None if they can.
        model: Why the fitted model cannot: the log has no transition for an
            action the target takes. None if it can.
    """

    weights: str | None
    model: str | None


def _name(names: Sequence[str], index: int) -> str:
    return names[index] if index < len(names) else str(index)


def check_support(
    episodes: Episodes, target: BehaviourPolicy, model: EstimatedModel | None = None
) -> Support:
    """Which estimators the log supports for ``target`` (see :class:`Support`).

    Args:
        episodes: The log; its ``behaviour`` table, when known, says which
            actions the behaviour could take.
        target: The policy to evaluate.
        model: The log's estimated model, if already counted.
    """
    check_target(episodes, target)
    if model is None:
        model = estimate_model(episodes, episodes.task)
    live = ~model.terminal
    takes = (target.probabilities > 0.0) & live[:, None]
    visited = model.visits > 0
    step = np.any(takes[:, :, None] & (model.counts > 0), axis=1)
    reached = model.start_counts > 0
    for _ in range(model.n_states):
        grown = reached | np.any(step[reached], axis=0)
        if np.array_equal(grown, reached):
            break
        reached = grown
    needed = takes & reached[:, None]
    behaviour = episodes.behaviour
    possible = visited if behaviour is None else behaviour > 0.0
    states, actions = episodes.task.state_names, episodes.task.action_names

    def reason(missing: NDArray[np.bool_], why: str) -> str | None:
        if not missing.any():
            return None
        state, action = (int(i) for i in np.argwhere(missing)[0])
        return (
            f"the target takes {_name(actions, action)} in {_name(states, state)}, "
            f"{why} ({int(missing.sum())} such (state, action) pair(s))"
        )

    return Support(
        weights=reason(
            needed & ~possible,
            "which the behaviour never takes there"
            + (" (logged probability 0)" if behaviour is not None else ""),
        ),
        model=reason(needed & ~visited, "and the log has no transition for it"),
    )


def importance_weights(episodes: Episodes, target: BehaviourPolicy) -> Weights:
    """Per-decision and cumulative importance weights, one pass per step index."""
    check_target(episodes, target)
    ratio = target.probability(episodes.state, episodes.action) / episodes.propensity
    cumulative = ratio.copy()
    first, lengths = episodes.starts[:-1], episodes.lengths
    for t in range(1, int(lengths.max(initial=0))):
        rows = first[lengths > t] + t
        cumulative[rows] *= cumulative[rows - 1]
    previous = np.ones_like(cumulative)
    later = episodes.step > 0
    previous[later] = cumulative[np.flatnonzero(later) - 1]
    last = episodes.starts[1:] - 1
    return Weights(ratio, cumulative, previous, cumulative[last])


def _weights_refusal(
    name: str,
    episodes: Episodes,
    target: BehaviourPolicy,
    weights: Weights,
    support: Support | None,
    confidence: float,
) -> Estimate | None:
    """The refusal of an importance-weighted estimator, or None if it may go on."""
    if support is None:
        support = check_support(episodes, target)
    reason = support.weights
    if reason is None and not np.any(weights.episode > 0.0):
        reason = (
            "no logged episode has positive weight under the target (every "
            "importance weight is 0)"
        )
    if reason is None:
        return None
    return Estimate.refused(name, reason, weights.ess, episodes.n_episodes, confidence)


def _mean_estimate(
    name: str, terms: NDArray[np.float64], ess: float, confidence: float
) -> Estimate:
    n = terms.size
    value = float(terms.mean()) if n else float("nan")
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    z = z_value(confidence)
    return Estimate(name, value, value - z * se, value + z * se, se, ess, n, confidence)


def ordinary_is(
    episodes: Episodes,
    target: BehaviourPolicy,
    confidence: float = 0.95,
    weights: Weights | None = None,
    support: Support | None = None,
) -> Estimate:
    """Trajectory-wise importance sampling: mean of ``w_T G``; unbiased.

    No value (see :attr:`Estimate.reason`) if the behaviour does not cover
    the target or every weight is 0.
    """
    if weights is None:
        weights = importance_weights(episodes, target)
    refusal = _weights_refusal("is", episodes, target, weights, support, confidence)
    if refusal is not None:
        return refusal
    terms = weights.episode * episodes.returns()
    return _mean_estimate("is", terms, weights.ess, confidence)


def weighted_is(
    episodes: Episodes,
    target: BehaviourPolicy,
    confidence: float = 0.95,
    weights: Weights | None = None,
    support: Support | None = None,
) -> Estimate:
    """Weighted importance sampling, with a delta-method interval; consistent.

    No value (see :attr:`Estimate.reason`) if the behaviour does not cover
    the target or fewer than two episodes have positive weight.
    """
    if weights is None:
        weights = importance_weights(episodes, target)
    refusal = _weights_refusal("wis", episodes, target, weights, support, confidence)
    if refusal is not None:
        return refusal
    if np.count_nonzero(weights.episode) < 2:
        return Estimate.refused(
            "wis",
            "only one logged episode has positive weight under the target: its "
            "return is the estimate, and one return gives no interval",
            weights.ess,
            episodes.n_episodes,
            confidence,
        )
    returns = episodes.returns()
    total = float(weights.episode.sum())
    z = z_value(confidence)
    value = float(np.dot(weights.episode, returns) / total)
    residual = weights.episode * (returns - value)
    se = float(np.sqrt(np.dot(residual, residual)) / total)
    return Estimate(
        "wis",
        value,
        value - z * se,
        value + z * se,
        se,
        weights.ess,
        episodes.n_episodes,
        confidence,
    )


def per_decision_is(
    episodes: Episodes,
    target: BehaviourPolicy,
    confidence: float = 0.95,
    weights: Weights | None = None,
    support: Support | None = None,
) -> Estimate:
    """Per-decision importance sampling: reward ``t`` weighted by ``w_t``; unbiased.

    No value (see :attr:`Estimate.reason`) if the behaviour does not cover
    the target or every weight is 0.
    """
    if weights is None:
        weights = importance_weights(episodes, target)
    refusal = _weights_refusal("pdis", episodes, target, weights, support, confidence)
    if refusal is not None:
        return refusal
    terms = episodes.per_episode(
        episodes.discounts() * weights.cumulative * episodes.reward
    )
    return _mean_estimate("pdis", terms, weights.ess, confidence)


def target_values(
    model: EstimatedModel, target: BehaviourPolicy
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(Q, V)``, ``(S, A)`` and ``(S,)``: the target's values on an estimated model.

    Actions the model has no data for end with reward 0 (see
    :meth:`EstimatedModel.to_mdp`); entries that stay undefined are 0, which
    keeps the doubly robust estimate unbiased (any fixed ``Q`` does).
    """
    mdp = model.to_mdp("terminate")
    probabilities = np.where(mdp.terminal[:, None], 0.0, target.probabilities)
    supported = (probabilities * ~mdp.available_actions).sum(axis=1) == 0
    probabilities[~supported] = 0.0
    rows = probabilities.sum(axis=1)
    fallback = np.argmax(mdp.available_actions, axis=1)
    empty = rows == 0
    probabilities[empty, fallback[empty]] = 1.0
    result = policy_evaluation(mdp, probabilities)
    q_values = np.where(np.isfinite(result.Q), result.Q, 0.0)
    q_values[~supported | mdp.terminal] = 0.0
    v_values = (target.probabilities * q_values).sum(axis=1)
    return q_values, v_values


def _check_folds(folds: int, n_episodes: int) -> int:
    """Cross-fitting folds: at least 2, and at most one per episode."""
    folds = check_integer("folds", folds, low=2)
    if folds > n_episodes:
        raise ValueError(
            f"folds must be at most the number of complete episodes "
            f"({n_episodes:,}), got {folds:,}: a fold without episodes corrects "
            "nothing and its model leaves none out"
        )
    return folds


def doubly_robust(
    episodes: Episodes,
    target: BehaviourPolicy,
    folds: int = 2,
    confidence: float = 0.95,
    weights: Weights | None = None,
    fold_models: Sequence[EstimatedModel] | None = None,
    support: Support | None = None,
) -> Estimate:
    """Per-decision doubly robust estimate with cross-fitted model values.

    Episodes are split into ``folds`` by index; each fold's ``Q`` and ``V``
    come from a model estimated on the other folds, so they are independent of
    the episodes they correct and the estimate stays unbiased. Fold ``k`` holds
    the episodes whose index is ``k`` modulo ``folds``; ``fold_models`` (one
    model per fold, as :func:`~agents.offline.model.estimate_models` counts
    them) saves the counting when given. No value (see
    :attr:`Estimate.reason`) if the behaviour does not cover the target or
    every weight is 0.

    Raises:
        ValueError: If ``folds < 2`` or more than the episodes (a fold
            would be empty).
    """
    folds = _check_folds(folds, episodes.n_episodes)
    if weights is None:
        weights = importance_weights(episodes, target)
    fold = np.arange(episodes.n_episodes) % folds
    if fold_models is None:
        fold_models = estimate_models(episodes, episodes.task, fold, folds)
    if support is None:
        support = check_support(episodes, target, combine(fold_models))
    refusal = _weights_refusal("dr", episodes, target, weights, support, confidence)
    if refusal is not None:
        return refusal
    q_rows = np.zeros(episodes.n_transitions)
    v_rows = np.zeros(episodes.n_transitions)
    row_fold = np.repeat(fold, episodes.lengths)
    for k in range(folds):
        others = combine([m for j, m in enumerate(fold_models) if j != k])
        q_values, v_values = target_values(others, target)
        rows = row_fold == k
        states = episodes.state[rows]
        q_rows[rows] = q_values[states, episodes.action[rows]]
        v_rows[rows] = v_values[states]
    terms = episodes.per_episode(
        episodes.discounts()
        * (weights.cumulative * (episodes.reward - q_rows) + weights.previous * v_rows)
    )
    return _mean_estimate("dr", terms, weights.ess, confidence)


BOOTSTRAP_GROUPS = 1_000
"""Episodes are resampled in at most this many groups (episode ``i`` in group
``i`` modulo their number): each episode alone in small logs; in large ones,
groups of independent episodes, as independent as the episodes themselves,
whose counts are summed once."""


def bootstrap_groups(n_episodes: int, folds: int = 1) -> int:
    """How many groups the bootstrap resamples: ``min(n, BOOTSTRAP_GROUPS)``.

    Rounded down to a multiple of ``folds`` when there are at least ``folds``
    episodes, so that each group lies within one cross-fitting fold.
    """
    groups = max(1, min(n_episodes, BOOTSTRAP_GROUPS))
    return groups - groups % folds if groups >= folds else groups


def policy_values(
    counts: NDArray[np.float64],
    reward_sum: NDArray[np.float64],
    start_counts: NDArray[np.float64],
    terminal: NDArray[np.bool_],
    target: BehaviourPolicy,
    task: TaskInfo,
) -> NDArray[np.float64]:
    """``(D,)`` the target's value on ``D`` models given by their counts, at once.

    Model ``d`` has transition probabilities ``counts[d] / visits`` and mean
    rewards ``reward_sum[d] / visits``; an action without visits earns 0 and
    ends the episode (as :meth:`EstimatedModel.to_mdp` with ``"terminate"``).
    Values are by backward induction over the task's time limit or, without
    one, by one batched linear solve, from the start distribution the start
    counts give.

    Args:
        counts: ``(D, S, A, S)`` transitions.
        reward_sum: ``(D, S, A)`` summed rewards.
        start_counts: ``(D, S)`` episodes starting in each state.
        terminal: ``(S,)`` terminal states (value 0).
        target: The policy.
        task: The task (discount, time limit).
    """
    visits = counts.sum(axis=3)
    scale = 1.0 / np.maximum(visits, 1.0)
    live = ~terminal
    probabilities = np.where(live[:, None], target.probabilities, 0.0)
    r_pi = np.einsum("sa,dsa->ds", probabilities, reward_sum * scale)[:, live]
    p_pi = np.einsum("sa,dsat->dst", probabilities, counts * scale[..., None])
    inner = p_pi[:, live][:, :, live]
    values = np.zeros(r_pi.shape)
    if task.time_limit is None:
        system = np.eye(int(live.sum())) - task.gamma * inner
        values = np.linalg.solve(system, r_pi[..., None])[..., 0]
    else:
        for _ in range(task.time_limit):
            values = r_pi + task.gamma * np.einsum("dst,dt->ds", inner, values)
    starts = start_counts[:, live] / np.maximum(
        start_counts.sum(axis=1, keepdims=True), 1.0
    )
    return np.asarray((starts * values).sum(axis=1), dtype=np.float64)


def model_based(
    episodes: Episodes,
    target: BehaviourPolicy,
    rng: np.random.Generator,
    n_draws: int = 200,
    confidence: float = 0.95,
    groups: GroupCounts | None = None,
    support: Support | None = None,
) -> Estimate:
    """The target's exact value on the model fitted to the log; consistent.

    The interval is the central ``confidence`` range of the value over
    ``n_draws`` bootstrap resamples of the log's episodes (in at most
    :data:`BOOTSTRAP_GROUPS` groups, see :func:`bootstrap_groups`): each
    resample is a model whose rewards, transitions and starts come from the
    same resampled episodes, as they came from the same logged ones.
    ``groups`` (the log counted in such groups) saves the counting when
    given. No value (see :attr:`Estimate.reason`) if the log has no
    transition for an action the target takes.

    Raises:
        ValueError: If ``n_draws < 2``.
    """
    n_draws = check_integer("n_draws", n_draws, low=2)
    task = episodes.task
    if groups is None:
        n_groups = bootstrap_groups(episodes.n_episodes)
        index = np.arange(episodes.n_episodes) % n_groups
        groups = count_groups(episodes, task, index, n_groups)
    model = groups.total()
    if support is None:
        support = check_support(episodes, target, model)
    n = episodes.n_episodes
    if support.model is not None:
        return Estimate.refused("model", support.model, float(n), n, confidence)
    n_groups = groups.n_groups
    # Row 0 is the log itself; row d > 0 counts how often resample d drew
    # each group (n_groups draws with replacement).
    drawn = rng.integers(n_groups, size=(n_draws, n_groups))
    drawn += np.arange(1, n_draws + 1)[:, None] * n_groups
    weights = np.bincount(
        np.concatenate([np.arange(n_groups), drawn.ravel()]),
        minlength=(n_draws + 1) * n_groups,
    ).reshape(n_draws + 1, n_groups)
    parts = (groups.counts, groups.reward_sum, groups.start_counts)
    stats = np.hstack([part.reshape(n_groups, -1) for part in parts]).astype(float)
    # Only the columns some episode touched. einsum, not BLAS: a product this
    # small is fastest on one thread, and BLAS threads stall on busy cores.
    used = np.flatnonzero(stats.any(axis=0))
    sums = np.zeros((n_draws + 1, stats.shape[1]))
    sums[:, used] = np.einsum("dg,gk->dk", weights.astype(float), stats[:, used])
    ends = np.cumsum([part[0].size for part in parts])
    counts, reward_sum, start_counts = np.split(sums, ends[:-1], axis=1)
    values = policy_values(
        counts.reshape(-1, *model.counts.shape),
        reward_sum.reshape(-1, *model.reward_sum.shape),
        start_counts,
        model.terminal,
        target,
        task,
    )
    value, draws = float(values[0]), values[1:]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Estimate(
        "model",
        value,
        float(low),
        float(high),
        float(draws.std(ddof=1)),
        float(n),
        n,
        confidence,
    )


def evaluate_off_policy(
    episodes: Episodes,
    target: BehaviourPolicy,
    rng: np.random.Generator,
    *,
    confidence: float = 0.95,
    folds: int = 2,
    n_draws: int = 200,
) -> dict[str, Estimate]:
    """All five estimators of the target's value, keyed by :data:`ESTIMATORS`.

    An estimator the log cannot support for this target has no value and says
    why (:attr:`Estimate.reason`; see :func:`check_support`).

    Args:
        episodes: A joined log (:func:`~agents.offline.logs.join`).
        target: The policy to evaluate, as a table (see
            :func:`~agents.offline.behaviour.tabulate_policy`).
        rng: Draws the model-based interval's bootstrap.
        confidence: Coverage of every interval.
        folds: Cross-fitting folds of the doubly robust estimate.
        n_draws: Bootstrap resamples of the model-based interval.

    Raises:
        ValueError: If the log is empty, the target does not fit its task, or
            ``folds`` is below 2 or above the number of episodes.
    """
    if episodes.n_episodes == 0:
        raise ValueError("cannot evaluate a policy on a log with no complete episode")
    folds = _check_folds(folds, episodes.n_episodes)
    weights = importance_weights(episodes, target)
    n_groups = bootstrap_groups(episodes.n_episodes, folds)
    index = np.arange(episodes.n_episodes) % n_groups
    groups = count_groups(episodes, episodes.task, index, n_groups)
    if n_groups % folds == 0:
        fold_models = [groups.total(slice(k, None, folds)) for k in range(folds)]
    else:
        fold = np.arange(episodes.n_episodes) % folds
        fold_models = estimate_models(episodes, episodes.task, fold, folds)
    support = check_support(episodes, target, groups.total())
    return {
        "is": ordinary_is(episodes, target, confidence, weights, support),
        "wis": weighted_is(episodes, target, confidence, weights, support),
        "pdis": per_decision_is(episodes, target, confidence, weights, support),
        "dr": doubly_robust(
            episodes, target, folds, confidence, weights, fold_models, support
        ),
        "model": model_based(
            episodes, target, rng, n_draws, confidence, groups, support
        ),
    }
