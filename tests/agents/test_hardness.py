"""Hardness measures, batched policy evaluation, and exact regret during training."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from access_review_env import ENV_ID, RISK_ENV_ID, Action, State, TabularMDP
from agents.evaluation.training_regret import (
    EpsilonGreedyRegret,
    RegretTracker,
    softmax_regret,
)
from agents.learners.batched import (
    BatchedQLearning,
    BatchedReinforce,
    train_q_learning_batched,
    train_reinforce_batched,
)
from agents.planning import (
    as_tabular,
    behaviour_regret_q_learning,
    behaviour_regret_reinforce,
    diameter,
    evaluate_policies,
    greedy_regret,
    hardness,
    policy_evaluation,
    policy_regret,
    restart_transitions,
    suboptimality_gaps,
    value_iteration,
)
from agents.policies.selection import epsilon_greedy_probabilities, masked_softmax_rows
from tests.helpers import random_mdps

NEW, EVIDENCE, REVIEW, CLOSED = State
AUTO, REQUEST, HUMAN, ROTATION = Action
EXPLORING = np.array([1 / 3, 1 / 3, 1 / 3, 0.0])


def task(p: float = 0.25, **kwargs: Any) -> gym.Env[int, int]:
    """AccessReview-v0 as registered, at abandonment probability ``p``."""
    return gym.make(ENV_ID, abandonment_prob=p, **kwargs)


def valid_mask(env: gym.Env[int, int]) -> np.ndarray:
    """The env's valid actions: the masks a learner chooses among."""
    return np.asarray(env.unwrapped.mdp.valid_action_mask)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("p", "smallest", "where"),
    [(0.04, 0.48, (NEW, HUMAN)), (0.05, 0.65, (NEW, REQUEST))],
)
def test_smallest_gap_near_the_crossover(
    p: float, smallest: float, where: tuple[int, int]
) -> None:
    """Asking for evidence is worth 59 - 113 p against review's 54: 0.48 and 0.65.

    The same on the env as registered (time limit, penalized invalid actions
    available), without the limit, and on the lesson's valid-only view.
    """
    env = task(p)
    for model in (env, env.unwrapped.mdp.arrays, env.unwrapped.mdp.workflow_arrays):  # type: ignore[attr-defined]
        gaps = suboptimality_gaps(model)
        assert math.isclose(gaps.smallest, smallest, abs_tol=1e-9)
        assert gaps.argmin == where
    summary = hardness(env)
    assert summary.gap_names == (
        "new_request",
        "human_review" if p < 5 / 113 else "request_evidence",
    )
    assert summary.horizon == 20


def test_gaps_at_the_default_configuration() -> None:
    """At p = 0.25: 174 and 23.25 at new_request, 8 at evidence_ready.

    Penalized invalid actions are actions of the registered env, with gaps of
    their own (a stall costs 10 and the step): the lesson's valid-only view
    leaves them out.
    """
    workflow = suboptimality_gaps(task().unwrapped.mdp.workflow_arrays)  # type: ignore[attr-defined]
    assert workflow.smallest == pytest.approx(8.0)
    assert workflow.argmin == (EVIDENCE, HUMAN)
    assert workflow.inverse_sum == pytest.approx(1 / 174 + 1 / 23.25 + 1 / 8)
    assert workflow.gaps[NEW, HUMAN] == 0.0 and workflow.gaps[REVIEW, ROTATION] == 0.0
    assert np.isnan(workflow.gaps[CLOSED]).all()
    assert np.isnan(workflow.gaps[REVIEW, AUTO])
    registered = suboptimality_gaps(task())
    assert registered.gaps[REVIEW, AUTO] == pytest.approx(80 - (-10 + 0.9 * 80))
    assert registered.gaps[NEW, ROTATION] == pytest.approx(54 - (-10 + 0.9 * 54))
    raising = suboptimality_gaps(task(invalid_action="raise"))
    assert raising.inverse_sum == pytest.approx(workflow.inverse_sum)


def test_margins_of_the_best_action_per_state() -> None:
    """23.25 at new_request (p = 0.25), 0 at the tie p = 5/113, inf with one action.

    On the valid actions (review_queue has one); on the env as registered a
    penalized stall is the runner-up there: 80 against -10 + 0.9 x 80.
    """
    margins = suboptimality_gaps(task().unwrapped.mdp.workflow_arrays).margins  # type: ignore[attr-defined]
    assert margins[:3].tolist() == pytest.approx([23.25, 8.0, np.inf])
    assert np.isnan(margins[CLOSED])
    registered = suboptimality_gaps(task()).margins
    assert registered[REVIEW] == pytest.approx(80 - (-10 + 0.9 * 80))
    tie = suboptimality_gaps(task(5 / 113).unwrapped.mdp.workflow_arrays)  # type: ignore[attr-defined]
    assert tie.margins[NEW] == 0.0


def test_diameter_of_the_task() -> None:
    """Reaching evidence_ready from review_queue: close, restart, ask until it works.

    1 + 1 / (1 - p) steps; unreachable at p = 1; 3 with exploring starts.
    """
    for p in (0.0, 0.25, 0.5):
        result = diameter(task(p))
        assert result.diameter == pytest.approx(1 + 1 / (1 - p))
        assert result.pair == (REVIEW, EVIDENCE)
    assert diameter(task(1.0)).diameter == math.inf
    assert diameter(task(1.0), EXPLORING).diameter == pytest.approx(3.0)
    summary = hardness(task(0.04))
    assert summary.smallest_gap == pytest.approx(0.48)
    assert summary.diameter == pytest.approx(1 + 1 / 0.96)


def test_hardness_of_the_second_task() -> None:
    """AccessReviewRisk-v0: a finite diameter from its start distribution."""
    summary = hardness(gym.make(RISK_ENV_ID))
    assert summary.diameter is not None and summary.diameter_note is None
    assert summary.smallest_gap > 0 and math.isfinite(summary.diameter)
    held_out = hardness(
        gym.make(RISK_ENV_ID, unjustified_share=0.0, abandonment_prob=0.04)
    )
    assert held_out.smallest_gap == pytest.approx(0.48)


def brute_force_hitting_times(mdp: TabularMDP) -> np.ndarray:
    """Smallest expected hitting times by trying every deterministic policy."""
    moves = restart_transitions(mdp)
    states = np.flatnonzero(~mdp.terminal)
    best = np.full((mdp.n_states, mdp.n_states), np.inf)
    choices = [np.flatnonzero(mdp.available_actions[s]) for s in states]
    for actions in itertools.product(*choices):
        chain = np.zeros((mdp.n_states, mdp.n_states))
        chain[states] = moves[states, list(actions)]
        for target in states:
            others = [s for s in states if s != target]
            sure = _surely_hitting(chain, states, int(target))
            inner = [s for s in others if sure[s]]
            times = np.full(mdp.n_states, np.inf)
            times[target] = 0.0
            if inner:
                system = np.eye(len(inner)) - chain[np.ix_(inner, inner)]
                times[inner] = np.linalg.solve(system, np.ones(len(inner)))
            best[states, target] = np.minimum(best[states, target], times[states])
    return best


def _surely_hitting(chain: np.ndarray, states: np.ndarray, target: int) -> np.ndarray:
    """Whether the chain from each state reaches ``target`` with probability 1."""
    edges = chain > 0
    can_reach = np.zeros(chain.shape[0], dtype=bool)
    can_reach[target] = True
    for _ in states:
        can_reach |= (edges & can_reach[None, :]).any(axis=1)
    sure = np.zeros(chain.shape[0], dtype=bool)
    for s in states:
        seen = {int(s)}
        frontier = [int(s)]
        while frontier:
            x = frontier.pop()
            if x == target:
                continue
            for y in np.flatnonzero(edges[x]):
                if int(y) not in seen:
                    seen.add(int(y))
                    frontier.append(int(y))
        sure[s] = all(can_reach[x] for x in seen)
    return sure


@st.composite
def sparse_mdps(draw: st.DrawFn) -> TabularMDP:
    """Random MDPs whose rows keep few next states, so some pairs are unreachable."""
    mdp = draw(random_mdps())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    transitions = mdp.transitions.copy()
    live = ~mdp.terminal
    keep = rng.random(transitions.shape) < 0.35
    keep[
        np.arange(mdp.n_states)[:, None],
        np.arange(mdp.n_actions)[None, :],
        transitions.argmax(axis=2),
    ] = True
    transitions[live] = np.where(keep[live], transitions[live], 0.0)
    transitions[live] /= transitions[live].sum(axis=2, keepdims=True)
    return TabularMDP(
        transitions,
        mdp.rewards,
        mdp.terminal,
        mdp.available_actions,
        mdp.gamma,
        mdp.initial_distribution,
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.one_of(random_mdps(), sparse_mdps()))
def test_diameter_matches_a_brute_force_search(mdp: TabularMDP) -> None:
    """Random MDPs: each hitting time is the best over all deterministic policies."""
    sizes = [int(mdp.available_actions[s].sum()) for s in np.flatnonzero(~mdp.terminal)]
    assume(math.prod(sizes) <= 256)
    result = diameter(mdp)
    expected = brute_force_hitting_times(mdp)
    states = np.flatnonzero(~mdp.terminal)
    np.testing.assert_allclose(
        result.hitting_times[np.ix_(states, states)],
        expected[np.ix_(states, states)],
        rtol=1e-9,
    )


def _random_policies(mdp: TabularMDP, rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, S, A)`` random stochastic policies over the available actions."""
    weights = rng.random((n, mdp.n_states, mdp.n_actions)) * mdp.available_actions
    weights[:, mdp.terminal] = 0.0
    weights[:, mdp.terminal, 0] = 1.0
    return np.asarray(weights / weights.sum(axis=2, keepdims=True))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(random_mdps(), st.integers(0, 2**32 - 1), st.sampled_from([None, 1, 7]))
def test_batched_policy_evaluation_matches_the_scalar_one(
    mdp: TabularMDP, seed: int, horizon: int | None
) -> None:
    """Batched values equal policy_evaluation's, policy by policy.

    Random stochastic policies, with and without a horizon.
    """
    policies = _random_policies(mdp, np.random.default_rng(seed), 5)
    values = evaluate_policies(mdp, policies, horizon=horizon)
    for policy, value in zip(policies, values, strict=True):
        expected = policy_evaluation(mdp, policy, horizon=horizon).V
        np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-9)


def test_batched_evaluation_honours_the_registered_time_limit() -> None:
    """Batched evaluation honours the time limit, as policy_evaluation does.

    A policy that stalls on a penalized invalid action is worth -87.84 from
    the start with the 20-step limit (what its rollouts return), -100
    without it.
    """
    env = task()
    stall = np.zeros((4, 4))
    stall[:, ROTATION] = 1.0
    assert as_tabular(env).horizon == 20
    limited = evaluate_policies(env, stall[None])[0, NEW]
    assert limited == pytest.approx(-10 * (1 - 0.9**20) / 0.1)
    assert evaluate_policies(env, stall[None], horizon=None)[0, NEW] == pytest.approx(
        -100.0
    )


def test_behaviour_policies_are_distributions_over_valid_actions() -> None:
    """Epsilon-greedy puts 1 - eps + eps / n on the greedy action; softmax masks."""
    env = task()
    valid = valid_mask(env) != 0
    q = np.zeros((2, 4, 4))
    q[1, NEW] = [-120.0, 30.0, 54.0, 999.0]
    policies = epsilon_greedy_probabilities(q, valid, 0.15)
    np.testing.assert_allclose(policies[1, NEW], [0.05, 0.05, 0.9, 0.0])
    np.testing.assert_allclose(policies[0, NEW], [0.9, 0.05, 0.05, 0.0])
    np.testing.assert_allclose(policies[:, :3].sum(axis=2), 1.0)
    assert np.all(policies[:, CLOSED] == 0.0)
    softmax = masked_softmax_rows(np.zeros((4, 4)), valid)
    np.testing.assert_allclose(softmax[NEW], [1 / 3, 1 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(softmax[REVIEW], [0.0, 0.0, 0.0, 1.0])
    assert np.all(softmax[CLOSED] == 0.0)


def test_regret_of_the_first_behaviour_policy() -> None:
    """All-zero Q: epsilon-greedy prefers auto_approve, the lowest valid index.

    Its regret is V*(new_request) minus its exact value, here computed by the
    scalar policy evaluation.
    """
    env = task()
    valid = valid_mask(env)
    policy = epsilon_greedy_probabilities(np.zeros((4, 4)), valid, 0.15)
    policy[CLOSED, 0] = 1.0
    expected = 54.0 - policy_evaluation(env, policy).V[NEW]
    regret = behaviour_regret_q_learning(env, np.zeros((3, 2, 4, 4)), 0.15, valid)
    assert regret.shape == (3, 2)
    np.testing.assert_allclose(regret, expected)
    uniform = behaviour_regret_reinforce(env, np.zeros((4, 4)), valid)
    # Uniform over the valid actions: evidence_ready is worth (70 + 62) / 2.
    request = 0.75 * (-4 + 0.9 * 66) + 0.25 * -54
    assert uniform == pytest.approx(54.0 - (-120 + request + 54) / 3)


def test_greedy_regret_is_zero_exactly_for_optimal_tables() -> None:
    """Q* has zero regret; the optimal table with one wrong row does not."""
    env = task()
    optimal = value_iteration(env).Q.copy()
    optimal[~np.isfinite(optimal)] = 0.0
    wrong = optimal.copy()
    wrong[NEW, REQUEST] = 60.0
    regret = greedy_regret(env, np.stack([optimal, wrong]), valid_mask(env))
    assert regret[0] == pytest.approx(0.0, abs=1e-9)
    assert regret[1] == pytest.approx(54.0 - 30.75)
    exploring = dataclasses.replace(as_tabular(env), initial_distribution=EXPLORING)
    from_anywhere = policy_regret(
        exploring, epsilon_greedy_probabilities(wrong, valid_mask(env), 0.0)
    )
    assert from_anywhere == pytest.approx((54.0 - 30.75) / 3)


def test_evaluation_rejects_bad_policies() -> None:
    """A row that is not a distribution, or mass on a missing action, is refused."""
    env = task(invalid_action="raise")
    with pytest.raises(ValueError, match="distribution"):
        evaluate_policies(env, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        evaluate_policies(env, np.zeros((3, 4)))
    stall = np.zeros((4, 4))
    stall[:, ROTATION] = 1.0
    with pytest.raises(ValueError, match="action 3 in state 0"):
        evaluate_policies(env, stall)


@pytest.mark.parametrize("algorithm", ["q_learning", "reinforce"])
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_the_tracker_sums_the_exact_regret_of_every_episode(
    algorithm: str, env_id: str
) -> None:
    """The tracker's running sums are exact.

    With a checkpoint after every episode, the snapshots are every behaviour
    policy: the tracker's sums equal their regrets summed by hand.
    """
    env = gym.make(env_id, abandonment_prob=0.04)
    valid = valid_mask(env)
    checkpoints = np.arange(61)
    envs = gym.make_vec(
        env_id,
        num_envs=6,
        vectorization_mode="vector_entry_point",
        abandonment_prob=0.04,
        exploring_starts=algorithm == "reinforce",
    )
    result: BatchedQLearning | BatchedReinforce
    if algorithm == "q_learning":
        tracker = RegretTracker(EpsilonGreedyRegret(env, valid, 0.15), 6, checkpoints)
        result = train_q_learning_batched(
            envs,
            60,
            rng=np.random.default_rng(0),
            checkpoints=checkpoints,
            observer=tracker,
        )
        each = behaviour_regret_q_learning(env, result.log.snapshots, 0.15, valid)
    else:
        tracker = RegretTracker(softmax_regret(env, valid), 6, checkpoints)
        result = train_reinforce_batched(
            envs,
            60,
            rng=np.random.default_rng(0),
            checkpoints=checkpoints,
            observer=tracker,
        )
        each = behaviour_regret_reinforce(env, result.log.snapshots, valid)
    by_hand = np.concatenate([np.zeros((1, 6)), np.cumsum(each[:-1], axis=0)])
    np.testing.assert_allclose(tracker.cumulative, by_hand, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(tracker.regret, each, rtol=1e-12, atol=1e-12)
    assert np.all(tracker.cumulative[-1] > 0)
