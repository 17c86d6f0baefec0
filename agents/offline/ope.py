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
  the estimated model, from the observed start distribution; consistent.

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
from agents.offline.logs import Episodes
from agents.offline.model import (
    EstimatedModel,
    combine,
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
            deviation of the posterior draws).
        ess: Effective sample size: Kish's ``(sum w)^2 / sum w^2`` of the
            episodes' importance weights (``model``: the number of episodes).
        n_episodes: Episodes used.
        confidence: Coverage the interval aims at.
    """

    estimator: str
    value: float
    low: float
    high: float
    se: float
    ess: float
    n_episodes: int
    confidence: float

    def covers(self, truth: float) -> bool:
        """Whether ``truth`` lies in ``[low, high]``."""
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
) -> Estimate:
    """Trajectory-wise importance sampling: mean of ``w_T G``; unbiased."""
    if weights is None:
        weights = importance_weights(episodes, target)
    terms = weights.episode * episodes.returns()
    return _mean_estimate("is", terms, weights.ess, confidence)


def weighted_is(
    episodes: Episodes,
    target: BehaviourPolicy,
    confidence: float = 0.95,
    weights: Weights | None = None,
) -> Estimate:
    """Weighted importance sampling, with a delta-method interval; consistent."""
    if weights is None:
        weights = importance_weights(episodes, target)
    returns = episodes.returns()
    total = float(weights.episode.sum())
    z = z_value(confidence)
    if total <= 0.0:
        nan = float("nan")
        return Estimate("wis", nan, nan, nan, nan, 0.0, episodes.n_episodes, confidence)
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
) -> Estimate:
    """Per-decision importance sampling: reward ``t`` weighted by ``w_t``; unbiased."""
    if weights is None:
        weights = importance_weights(episodes, target)
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
) -> Estimate:
    """Per-decision doubly robust estimate with cross-fitted model values.

    Episodes are split into ``folds`` by index; each fold's ``Q`` and ``V``
    come from a model estimated on the other folds, so they are independent of
    the episodes they correct and the estimate stays unbiased. Fold ``k`` holds
    the episodes whose index is ``k`` modulo ``folds``; ``fold_models`` (one
    model per fold, as :func:`~agents.offline.model.estimate_models` counts
    them) saves the counting when given.

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


def _draw_values(
    model: EstimatedModel,
    target: BehaviourPolicy,
    rng: np.random.Generator,
    n_draws: int,
) -> NDArray[np.float64]:
    """``(n_draws,)`` the target's value on models drawn from the counts' posterior.

    Transitions ~ Dirichlet(counts), mean rewards ~ Normal(mean, se), starts ~
    Dirichlet(start counts); all draws are evaluated together, by backward
    induction over the model's horizon (the task's time limit) or, without
    one, by one batched linear solve.
    """
    mdp = model.to_mdp("terminate")
    n_states = mdp.n_states
    live = ~mdp.terminal
    counts = model.counts.astype(np.float64)
    gammas = rng.gamma(np.broadcast_to(counts, (n_draws, *counts.shape)) + 0.0)
    sums = gammas.sum(axis=3, keepdims=True)
    transitions = np.where(
        sums > 0, gammas / np.where(sums > 0, sums, 1.0), mdp.transitions
    )
    se = np.nan_to_num(model.reward_se)
    rewards = mdp.rewards + se * rng.standard_normal((n_draws, *se.shape))
    starts = rng.gamma(
        np.broadcast_to(model.start_counts.astype(np.float64), (n_draws, n_states))
    )
    starts /= np.maximum(starts.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    probabilities = np.where(mdp.available_actions, target.probabilities, 0.0)
    r_pi = np.einsum("sa,dsa->ds", probabilities, rewards)[:, live]
    p_pi = np.einsum("sa,dsat->dst", probabilities, transitions)
    inner = p_pi[:, live][:, :, live]
    values = np.zeros((n_draws, n_states))
    if mdp.horizon is None:
        system = np.eye(int(live.sum())) - mdp.gamma * inner
        values[:, live] = np.linalg.solve(system, r_pi[..., None])[..., 0]
    else:
        steps_left = np.zeros_like(r_pi)
        for _ in range(mdp.horizon):
            steps_left = r_pi + mdp.gamma * np.einsum("dst,dt->ds", inner, steps_left)
        values[:, live] = steps_left
    return np.asarray((starts * values).sum(axis=1), dtype=np.float64)


def model_based(
    episodes: Episodes,
    target: BehaviourPolicy,
    rng: np.random.Generator,
    n_draws: int = 200,
    confidence: float = 0.95,
    model: EstimatedModel | None = None,
) -> Estimate:
    """The target's exact value on the model fitted to the log; consistent.

    The interval is the central ``confidence`` range of the value over
    ``n_draws`` models drawn from the counts' posterior (a Bayesian bootstrap).
    ``model``, the log's estimated model, saves the counting when given.
    """
    n_draws = check_integer("n_draws", n_draws, low=2)
    if model is None:
        model = estimate_model(episodes, episodes.task)
    _q_values, v_values = target_values(model, target)
    value = float(np.dot(model.start_distribution, v_values))
    draws = _draw_values(model, target, rng, n_draws)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Estimate(
        "model",
        value,
        float(low),
        float(high),
        float(draws.std(ddof=1)),
        float(episodes.n_episodes),
        episodes.n_episodes,
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

    Args:
        episodes: A joined log (:func:`~agents.offline.logs.join`).
        target: The policy to evaluate, as a table (see
            :func:`~agents.offline.behaviour.tabulate_policy`).
        rng: Draws the model-based interval.
        confidence: Coverage of every interval.
        folds: Cross-fitting folds of the doubly robust estimate.
        n_draws: Posterior draws of the model-based interval.

    Raises:
        ValueError: If the log is empty, the target does not fit its task, or
            ``folds`` is below 2 or above the number of episodes.
    """
    if episodes.n_episodes == 0:
        raise ValueError("cannot evaluate a policy on a log with no complete episode")
    folds = _check_folds(folds, episodes.n_episodes)
    weights = importance_weights(episodes, target)
    fold_models = estimate_models(
        episodes, episodes.task, np.arange(episodes.n_episodes) % folds, folds
    )
    return {
        "is": ordinary_is(episodes, target, confidence, weights),
        "wis": weighted_is(episodes, target, confidence, weights),
        "pdis": per_decision_is(episodes, target, confidence, weights),
        "dr": doubly_robust(
            episodes,
            target,
            folds,
            confidence,
            weights,
            fold_models,
        ),
        "model": model_based(
            episodes,
            target,
            rng,
            n_draws,
            confidence,
            combine(fold_models),
        ),
    }
