"""AccessReviewQueue-v0: its ladder, its model, the limiting case and the env."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from access_review_env import (
    QUEUE_ENV_ID,
    QUEUE_LEVELS,
    QUEUE_REWARD_TERMS,
    AccessReviewRiskMDP,
    QueueAction,
    QueueMDP,
    SparseMDP,
    TabularMDP,
)
from access_review_env.model.queue import QueueShape
from access_review_env.tasks.access_review_queue import STAGES
from access_review_env.tasks.access_review_risk import RiskAction, RiskState

pytestmark = pytest.mark.env

LEVEL = 0.001
"""Significance level of the sampling tests (fixed seeds: a pass repeats)."""

SMALL_LEVELS = ("tiny", "small", "medium")
"""Levels built in well under a second; larger ones are in slow tests."""


@pytest.mark.parametrize(
    "level",
    [
        *SMALL_LEVELS,
        pytest.param("large", marks=pytest.mark.slow),
        pytest.param("xlarge", marks=pytest.mark.slow),
    ],
)
def test_each_level_has_the_states_it_states_and_linear_nonzeros(level: str) -> None:
    """A level's model has its stated state count, and few branches per state.

    At most 2 decision branches per (state, action) and 11 event branches per
    state, so the nonzeros grow linearly with the states.
    """
    model = QueueMDP(level).sparse
    assert model.n_states == QUEUE_LEVELS[level].n_states
    assert model.decisions.lengths.max() <= 2
    assert model.events is not None and model.events.lengths.max() <= 11
    assert model.nnz <= model.n_states * (len(QueueAction) * 2 + 11)


def test_the_ladder_spans_a_hundred_to_over_a_million_states() -> None:
    """At least four levels, from about 10^2 to at least 10^6 states, in order."""
    counts = [level.n_states for level in QUEUE_LEVELS.values()]
    assert len(counts) >= 4 and counts == sorted(counts)
    assert counts[0] <= 200 and counts[-1] >= 10**6


@pytest.mark.parametrize("level", SMALL_LEVELS)
def test_states_and_counts_are_one_to_one(level: str) -> None:
    """Every state's counts encode back to that state; counts respect the capacities."""
    shape = QueueMDP(level).shape
    states = np.arange(shape.n_states)
    counts = shape.counts(states)
    np.testing.assert_array_equal(shape.encode(counts), states)
    assert (counts >= 0).all()
    assert (counts[:, 2] + counts[:, 3] <= shape.evidence_capacity).all()
    assert (counts[:, 4:].sum(axis=1) <= shape.reviewers).all()
    assert len({tuple(row) for row in counts.tolist()}) == shape.n_states


def _dense(model: SparseMDP) -> tuple[np.ndarray, np.ndarray]:
    """Decision matrix ``(S*A, S)`` and event matrix ``(S, S)`` of a small model."""
    rows = np.repeat(np.arange(model.decisions.n_rows), model.decisions.lengths)
    decision = np.zeros((model.decisions.n_rows, model.n_states))
    np.add.at(decision, (rows, model.decisions.target), model.decisions.probability)
    assert model.events is not None
    event_rows = np.repeat(np.arange(model.n_states), model.events.lengths)
    event = np.zeros((model.n_states, model.n_states))
    np.add.at(event, (event_rows, model.events.target), model.events.probability)
    return decision, event


@settings(max_examples=25, deadline=None)
@given(
    arrival=st.floats(0.0, 1.0),
    review=st.floats(0.0, 1.0),
    leave=st.floats(0.0, 0.3),
    respond=st.floats(0.0, 1.0),
)
def test_events_follow_counts_and_weights(
    arrival: float, review: float, leave: float, respond: float
) -> None:
    """One event per step, with probability weight x count, or nothing.

    Where the weights sum to at most 1 the rest is "nothing happens";
    otherwise the weights are scaled to sum to 1. Checked on the tiny level
    against weights recomputed from each state's counts.
    """
    mdp = QueueMDP(
        "tiny",
        {
            "arrival_prob": arrival,
            "review_prob": review,
            "leave_prob": leave,
            "response_prob": respond,
        },
    )
    model, shape = mdp.sparse, mdp.shape
    counts = shape.counts(np.arange(shape.n_states))
    p = mdp.parameters
    weights = (
        p["arrival_prob"]
        + p["response_prob"] * counts[:, 2]
        + p["leave_prob"] * (counts[:, 0] + counts[:, 1] + counts[:, 3])
        + p["review_prob"] * (counts[:, 4] + counts[:, 5])
    )
    _, event = _dense(model)
    stays = np.diag(event)
    # A state stays put on "nothing", or on a turned-away arrival.
    full_required = counts[:, 0] == shape.required_capacity
    full_clear = counts[:, 1] == shape.clear_capacity
    turned = p["arrival_prob"] * (
        (1 - p["clear_evidence_share"]) * full_required
        + p["clear_evidence_share"] * full_clear
    )
    scale = np.where(weights > 1.0, 1.0 / np.maximum(weights, 1e-300), 1.0)
    expected_stay = np.maximum(1.0 - weights, 0.0) + turned * scale
    np.testing.assert_allclose(stays, expected_stay, atol=1e-12)


def _risk_to_queue_state(shape: QueueShape) -> dict[int, int]:
    """The queue state holding the one request each risk state describes."""
    stage = {
        RiskState.NEW_REQUIRED_REVIEW: "new_required",
        RiskState.NEW_CLEAR_EVIDENCE: "new_clear",
        RiskState.EVIDENCE_READY: "evidence_ready",
        RiskState.REVIEW_FOUND_JUSTIFIED: "reviewed_justified",
        RiskState.REVIEW_FOUND_UNJUSTIFIED: "reviewed_unjustified",
    }
    mapping = {}
    for risk_state, name in stage.items():
        counts = np.zeros(len(STAGES), dtype=np.int64)
        counts[STAGES.index(name)] = 1
        mapping[int(risk_state)] = int(shape.encode(counts))
    mapping[int(RiskState.CLOSED)] = int(shape.encode(np.zeros(len(STAGES))))
    return mapping


_RISK_TO_QUEUE_ACTION = {
    (RiskState.NEW_REQUIRED_REVIEW, RiskAction.AUTO_APPROVE): "approve_new_required",
    (RiskState.NEW_REQUIRED_REVIEW, RiskAction.REQUEST_EVIDENCE): (
        "request_evidence_new_required"
    ),
    (RiskState.NEW_REQUIRED_REVIEW, RiskAction.HUMAN_REVIEW): "review_new_required",
    (RiskState.NEW_REQUIRED_REVIEW, RiskAction.DENY_REQUEST): "deny_new_required",
    (RiskState.NEW_CLEAR_EVIDENCE, RiskAction.AUTO_APPROVE): "approve_new_clear",
    (RiskState.NEW_CLEAR_EVIDENCE, RiskAction.REQUEST_EVIDENCE): (
        "request_evidence_new_clear"
    ),
    (RiskState.NEW_CLEAR_EVIDENCE, RiskAction.HUMAN_REVIEW): "review_new_clear",
    (RiskState.NEW_CLEAR_EVIDENCE, RiskAction.DENY_REQUEST): "deny_new_clear",
    (RiskState.EVIDENCE_READY, RiskAction.AUTO_APPROVE): "approve_evidence_ready",
    (RiskState.EVIDENCE_READY, RiskAction.HUMAN_REVIEW): "review_evidence_ready",
    (RiskState.EVIDENCE_READY, RiskAction.DENY_REQUEST): "deny_evidence_ready",
    (RiskState.REVIEW_FOUND_JUSTIFIED, RiskAction.APPROVE_ROTATION): (
        "approve_reviewed_justified"
    ),
    (RiskState.REVIEW_FOUND_JUSTIFIED, RiskAction.DENY_REQUEST): (
        "deny_reviewed_justified"
    ),
    (RiskState.REVIEW_FOUND_UNJUSTIFIED, RiskAction.APPROVE_ROTATION): (
        "approve_reviewed_unjustified"
    ),
    (RiskState.REVIEW_FOUND_UNJUSTIFIED, RiskAction.DENY_REQUEST): (
        "deny_reviewed_unjustified"
    ),
}
"""Each valid action of the second task and the queue action that is the same."""

LIMIT = {
    "required_capacity": 1,
    "clear_capacity": 1,
    "evidence_capacity": 1,
    "reviewers": 1,
    "arrival_prob": 0.0,
    "leave_prob": 0.0,
    "response_prob": 1.0,
    "review_prob": 1.0,
    "start": "one_request",
}
"""The parameters under which the queue holds one request, as the second task."""


def _values(arrays: TabularMDP, table: np.ndarray, gamma: float) -> np.ndarray:
    """Exact infinite-horizon values of a policy table ``(S, A)`` by a linear solve."""
    live = ~arrays.terminal
    rewards = np.einsum("sa,sa->s", table, arrays.rewards) * live
    transitions = np.einsum("sa,sat->st", table, arrays.transitions) * live[None, :]
    transitions[~live] = 0.0
    return np.linalg.solve(np.eye(arrays.n_states) - gamma * transitions, rewards)


@settings(max_examples=30, deadline=None)
@given(
    clear=st.floats(0.0, 1.0),
    unjustified=st.floats(0.0, 1.0),
    abandon=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_request_and_no_arrivals_is_the_second_task(
    clear: float, unjustified: float, abandon: float, seed: int
) -> None:
    """With one request and no arrivals, the queue is the second task.

    Answers and reviews come at once, waiting costs nothing: every policy of
    the second task, played in the queue through the same actions, has the
    same start value (discount 0.9).

    The second task's closed state is the empty queue, which absorbs with reward
    0; its states are the queue's states with one request at the same stage.
    """
    shares = {
        "clear_evidence_share": clear,
        "unjustified_share": unjustified,
        "abandonment_prob": abandon,
    }
    queue = QueueMDP(
        "tiny", {**LIMIT, **shares}, rewards={"waiting": 0.0}
    ).sparse.to_tabular()
    risk = AccessReviewRiskMDP(**shares).workflow_arrays
    shape = QueueMDP("tiny", {**LIMIT, **shares}).shape
    to_queue = _risk_to_queue_state(shape)
    names = [action.name.lower() for action in QueueAction]
    rng = np.random.default_rng(seed)
    risk_policy = np.zeros((risk.n_states, risk.n_actions))
    queue_policy = np.zeros((queue.n_states, queue.n_actions))
    queue_policy[:, QueueAction.WAIT] = 1.0
    for state in range(risk.n_states - 1):
        valid = np.flatnonzero(risk.available_actions[state])
        weights = rng.dirichlet(np.ones(len(valid)))
        risk_policy[state, valid] = weights
        target = to_queue[state]
        queue_policy[target] = 0.0
        for action, weight in zip(valid, weights, strict=True):
            key = (RiskState(state), RiskAction(int(action)))
            queue_action = names.index(_RISK_TO_QUEUE_ACTION[key])
            queue_policy[target, queue_action] = weight
    risk_policy[-1, 0] = 1.0
    risk_value = risk.initial_distribution @ _values(risk, risk_policy, 0.9)
    queue_value = queue.initial_distribution @ _values(queue, queue_policy, 0.9)
    assert queue_value == pytest.approx(risk_value, abs=1e-9)


def test_the_limiting_case_optimum_is_the_second_tasks() -> None:
    """V* of the one-request queue equals V* of the second task (60.4 at defaults)."""
    queue = QueueMDP("tiny", LIMIT, rewards={"waiting": 0.0}).sparse.to_tabular()
    risk = AccessReviewRiskMDP(clear_evidence_share=0.4).workflow_arrays

    def optimum(arrays: TabularMDP) -> float:
        V = np.zeros(arrays.n_states)
        live = ~arrays.terminal
        for _ in range(600):
            Q = arrays.rewards + 0.9 * arrays.transitions @ (V * live)
            best = np.where(arrays.available_actions, Q, -np.inf).max(axis=1)
            V = np.where(live, best, 0.0)
        return float(arrays.initial_distribution @ V)

    assert optimum(queue) == pytest.approx(optimum(risk), abs=1e-9)
    assert optimum(risk) == pytest.approx(60.4, abs=1e-9)


@pytest.mark.parametrize(
    ("level", "observation"),
    [
        pytest.param(
            level,
            observation,
            marks=[] if level in SMALL_LEVELS else [pytest.mark.slow],
        )
        for level in QUEUE_LEVELS
        for observation in ("index", "features")
    ],
)
def test_both_checkers_pass(level: str, observation: str) -> None:
    """Gymnasium's and SB3's env checkers pass on every level, in both modes."""
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(QUEUE_ENV_ID, level=level, observation=observation)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_checker.check_env(env, warn=True)


@pytest.mark.parametrize("level", ["tiny", "small"])
def test_steps_sample_the_model(level: str) -> None:
    """From one state and action, next states follow the composed model (chi-square)."""
    env = gym.make(QUEUE_ENV_ID, level=level)
    model = env.unwrapped.sparse  # type: ignore[attr-defined]
    decision, event = _dense(model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        start = int(rng.integers(model.n_states))
        action = int(rng.choice(np.flatnonzero(model.valid_action_mask[start])))
        expected = decision[start * model.n_actions + action] @ event
        seen = np.zeros(model.n_states)
        env.reset(seed=int(rng.integers(2**31)))
        for _ in range(4_000):
            env.reset(options={"start_state": start})
            state, *_ = env.step(action)
            seen[state] += 1
        support = expected > 0
        assert seen[~support].sum() == 0
        if support.sum() > 1:
            result = stats.chisquare(seen[support], expected[support] * seen.sum())
            assert result.pvalue > LEVEL


def test_features_are_normalized_counts() -> None:
    """The feature observation is each stage's count over its capacity, in [0, 1]."""
    env = gym.make(QUEUE_ENV_ID, level="small", observation="features")
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    observation, _ = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    assert observation.shape == (len(mdp.feature_names),)
    for state in itertools.islice(range(mdp.n_states), 0, None, 97):
        features = mdp.features(np.asarray(state))
        counts = mdp.shape.counts(np.asarray(state))
        assert features.min() >= 0.0 and features.max() <= 1.0
        assert features[0] == pytest.approx(
            counts[0] / mdp.parameters["required_capacity"]
        )


def test_reward_terms_and_parameters_are_checked() -> None:
    """Unknown levels, parameters, reward terms and bad values name what is allowed."""
    with pytest.raises(ValueError, match="level must be one of"):
        gym.make(QUEUE_ENV_ID, level="huge")
    with pytest.raises(ValueError, match="unknown reward term"):
        gym.make(QUEUE_ENV_ID, rewards={"speed": 1.0})
    with pytest.raises(ValueError, match=r"arrival_prob must be a finite real"):
        gym.make(QUEUE_ENV_ID, arrival_prob=1.5)
    with pytest.raises(TypeError, match="reviewers must be an integer"):
        gym.make(QUEUE_ENV_ID, reviewers=2.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        gym.make(QUEUE_ENV_ID, capacity=3)
    assert set(QUEUE_REWARD_TERMS) >= {"waiting", "turned_away", "policy_violation"}


def test_an_invalid_action_waits_and_pays_the_penalty() -> None:
    """Under "penalize" an invalid action changes nothing but still lets time pass."""
    env = gym.make(
        QUEUE_ENV_ID, level="tiny", arrival_prob=1.0, clear_evidence_share=0.0
    )
    env.reset(seed=0)
    _, reward, *_, info = env.step(int(QueueAction.APPROVE_NEW_CLEAR))
    assert info["invalid_action"]
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    counts = mdp.shape.counts(np.asarray(info["state"]))
    assert counts[0] == 1  # the step's arrival still happened
    assert reward == pytest.approx(-10.0 - 1.0 * 0)


def test_a_full_intake_turns_arrivals_away() -> None:
    """An arrival that finds its queue full is turned away, at the turned-away cost."""
    env = gym.make(
        QUEUE_ENV_ID,
        level="tiny",
        arrival_prob=1.0,
        clear_evidence_share=0.0,
        leave_prob=0.0,
    )
    env.reset(seed=0)
    outcomes = env.unwrapped.outcomes  # type: ignore[attr-defined]
    for _ in range(2):
        env.step(int(QueueAction.WAIT))
    *_, info = env.step(int(QueueAction.WAIT))
    assert outcomes[info["event_outcome"]] == "turned_away"
