"""Q-learning and REINFORCE, trained only through reset / step / info."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID, Action, State
from agents import (
    QLearningConfig,
    ReinforceConfig,
    masked_softmax,
    policy_gradient_step,
    train_q_learning,
    train_reinforce,
    value_iteration,
)

NEW, EVIDENCE, REVIEW, CLOSED = State
AUTO, REQUEST, HUMAN, ROTATION = Action

Q_REQUEST_TOLERANCE = 15.0
"""Q(new_request, request_evidence) after 20,000 episodes: over seeds 0-19 its
standard deviation was 4.1 around 31.0 (exact 30.75), so 15 is about 3.5 sd."""


def test_q_learning_reproduces_the_lesson_at_p_025() -> None:
    """20,000 episodes: Q(new_request) near -120 / 30.75 / 54; greedy human_review."""
    agent = train_q_learning(gym.make(ENV_ID), 20_000, rng=np.random.default_rng(13))
    q_new = agent.q_table[NEW]
    assert math.isclose(q_new[AUTO], -120.0, abs_tol=1e-9)
    assert math.isclose(q_new[HUMAN], 54.0, abs_tol=1e-6)
    assert abs(q_new[REQUEST] - 30.75) < Q_REQUEST_TOLERANCE
    assert agent.greedy_actions[:3].tolist() == [HUMAN, AUTO, ROTATION]
    assert len(agent.log.returns) == 20_000


@pytest.mark.slow
def test_q_learning_estimate_is_unbiased_over_seeds() -> None:
    """The mean of Q(new_request, request_evidence) over 20 seeds is within 3 of 30.75.

    3 is about 3.3 standard errors (sd 4.1 / sqrt(20)).
    """
    estimates = [
        train_q_learning(
            gym.make(ENV_ID), 20_000, rng=np.random.default_rng(seed)
        ).q_table[NEW, REQUEST]
        for seed in range(20)
    ]
    assert abs(np.mean(estimates) - 30.75) < 3.0


def test_q_learning_learns_request_evidence_without_abandonment() -> None:
    """At p = 0, the learned start action is request_evidence, worth 59."""
    env = gym.make(ENV_ID, abandonment_prob=0.0)
    agent = train_q_learning(env, 20_000, rng=np.random.default_rng(13))
    assert agent.greedy_actions[NEW] == REQUEST
    assert math.isclose(agent.q_table[NEW, REQUEST], 59.0, abs_tol=1e-6)


def test_q_learning_bootstraps_through_truncation_but_not_termination() -> None:
    """With a 1-step time limit every episode is cut, yet Q(new, human_review) is 54.

    Cutting the bootstrap at the time limit would leave Q(new_request,
    human_review) at its immediate reward, -18.
    """
    env = gym.make(ENV_ID, max_episode_steps=1, exploring_starts=True)
    config = QLearningConfig(epsilon=1.0)
    agent = train_q_learning(env, 30_000, config, rng=np.random.default_rng(0))
    assert math.isclose(agent.q_table[REVIEW, ROTATION], 80.0)
    assert math.isclose(agent.q_table[NEW, HUMAN], 54.0, abs_tol=0.5)
    assert math.isclose(agent.q_table[NEW, AUTO], -120.0)
    assert math.isclose(agent.q_table[EVIDENCE, AUTO], 70.0)


def test_q_learning_with_a_constant_learning_rate() -> None:
    """A constant alpha converges on the deterministic entries too."""
    config = QLearningConfig(alpha=0.1)
    agent = train_q_learning(
        gym.make(ENV_ID), 5_000, config, rng=np.random.default_rng(1)
    )
    assert math.isclose(agent.q_table[REVIEW, ROTATION], 80.0, abs_tol=1e-6)
    assert agent.greedy_actions[NEW] == HUMAN


@pytest.mark.parametrize("train", [train_q_learning, train_reinforce])
def test_learners_never_choose_a_masked_action(train: Any) -> None:
    """Under invalid_action='raise' a masked action would raise; training completes."""
    env = gym.make(ENV_ID, invalid_action="raise", exploring_starts=True)
    agent = train(env, 3_000, rng=np.random.default_rng(2))
    assert len(agent.log.returns) == 3_000


def test_q_learning_is_reproducible_from_its_generator() -> None:
    """The same generator seed gives the same table."""
    first = train_q_learning(gym.make(ENV_ID), 2_000, rng=np.random.default_rng(5))
    second = train_q_learning(gym.make(ENV_ID), 2_000, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(first.q_table, second.q_table)


def test_callback_sees_progress_and_can_stop_training() -> None:
    """The callback gets each episode's snapshot; returning False stops."""
    seen: list[float] = []

    def record(episode: int, agent: Any) -> bool:
        seen.append(agent.q_table[NEW, HUMAN])
        return episode < 9

    agent = train_q_learning(
        gym.make(ENV_ID), 1_000, rng=np.random.default_rng(0), callback=record
    )
    assert len(seen) == 10 and len(agent.log.returns) == 10


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (lambda: QLearningConfig(epsilon=1.5), "epsilon"),
        (lambda: QLearningConfig(alpha=0.0), "alpha"),
        (lambda: QLearningConfig(gamma=-0.1), "gamma"),
        (lambda: ReinforceConfig(learning_rate=0.0), "learning_rate"),
    ],
)
def test_bad_hyperparameters_are_rejected(config: Any, message: str) -> None:
    """Out-of-range hyperparameters are errors naming the field."""
    with pytest.raises(ValueError, match=message):
        config()


def _as_any(value: Any) -> Any:
    """``value``, typed so that a test may pass it where the types forbid it."""
    return value


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        (lambda: QLearningConfig(initial_q=math.nan), ValueError, "initial_q"),
        (lambda: QLearningConfig(initial_q=-math.inf), ValueError, "initial_q"),
        (lambda: QLearningConfig(initial_q=math.inf), ValueError, "initial_q"),
        (lambda: QLearningConfig(epsilon=True), TypeError, "epsilon"),
        (lambda: QLearningConfig(alpha=_as_any("0.1")), TypeError, "alpha"),
        (lambda: ReinforceConfig(learning_rate=math.inf), ValueError, "learning_rate"),
        (lambda: ReinforceConfig(learning_rate=math.nan), ValueError, "learning_rate"),
        (lambda: ReinforceConfig(baseline_rate=1.5), ValueError, "baseline_rate"),
        (lambda: ReinforceConfig(gamma=_as_any(None)), TypeError, "gamma"),
    ],
)
def test_configs_refuse_what_training_or_the_file_would(
    config: Any, error: type, message: str
) -> None:
    """Non-finite values fail at construction, naming the field and its range.

    Before, initial_q=nan was accepted and learning_rate=inf crashed training
    later with an unrelated message.
    """
    with pytest.raises(error, match=rf"{message} must be .*finite|{message} must be"):
        config()


def _sampled(agent: Any, n: int = 300) -> list[int]:
    """Stochastic actions in new_request (all three valid ones are likely)."""
    return [int(agent.predict(0)[0]) for _ in range(n)]


def test_a_reinforce_agent_never_shares_the_callers_generator() -> None:
    """Sampling from the agent leaves the caller's generator, and vice versa.

    The agent's generator is spawned from the caller's without drawing from
    it, so the agent's actions are still reproducible from the caller's seed.
    """
    env = gym.make(ENV_ID, exploring_starts=True)
    caller = np.random.default_rng(3)
    agent = train_reinforce(env, 300, rng=caller)
    twin = train_reinforce(env, 300, rng=np.random.default_rng(3))
    assert agent.rng is not caller
    before = caller.bit_generator.state
    actions = _sampled(agent)
    assert caller.bit_generator.state == before
    caller.random(1_000)
    assert _sampled(twin) == actions
    assert len(set(actions)) == 3


def test_callbacks_that_sample_do_not_change_training_or_the_agent() -> None:
    """Snapshots get copies of the agent's generator: sampling them changes nothing."""
    env = gym.make(ENV_ID, exploring_starts=True)

    def sample(episode: int, snapshot: Any) -> None:
        _sampled(snapshot, 5)

    quiet = train_reinforce(env, 200, rng=np.random.default_rng(4))
    busy = train_reinforce(env, 200, rng=np.random.default_rng(4), callback=sample)
    np.testing.assert_array_equal(quiet.logits, busy.logits)
    assert _sampled(quiet) == _sampled(busy)


@pytest.mark.parametrize("n_episodes", [0, -5])
def test_non_positive_episode_counts_are_rejected(n_episodes: int) -> None:
    """n_episodes must be at least 1."""
    with pytest.raises(ValueError, match="n_episodes must be an integer >= 1"):
        train_q_learning(gym.make(ENV_ID), n_episodes, rng=np.random.default_rng(0))


def test_learners_refuse_non_discrete_spaces() -> None:
    """Tabular learners need Discrete spaces."""
    with pytest.raises(TypeError, match="Discrete"):
        train_q_learning(gym.make("CartPole-v1"), 10, rng=np.random.default_rng(0))


@pytest.mark.parametrize(
    ("p", "optimal"),
    [(0.25, [HUMAN, AUTO, ROTATION]), (0.0, [REQUEST, AUTO, ROTATION])],
)
def test_reinforce_reaches_the_optimal_action_in_every_state(
    p: float, optimal: list[int]
) -> None:
    """With exploring starts (evidence_ready is off the optimal path at p = 0.25)."""
    env = gym.make(ENV_ID, abandonment_prob=p, exploring_starts=True)
    agent = train_reinforce(env, 5_000, rng=np.random.default_rng(0))
    assert agent.greedy_actions[:3].tolist() == optimal
    assert agent.probabilities(NEW)[optimal[0]] > 0.9


def test_reinforce_lesson_single_update() -> None:
    """Returns -120 / 30.75 / 54, step 0.03: 1/3 each -> 0.089 / 0.403 / 0.508."""
    logits = policy_gradient_step(
        np.zeros(3),
        np.array([0, 1, 2]),
        np.array([-120.0, 30.75, 54.0]),
        step_size=0.03,
    )
    probabilities = masked_softmax(logits, np.ones(3))
    np.testing.assert_allclose(probabilities, [0.089, 0.403, 0.508], atol=5e-4)


@pytest.mark.parametrize("train", [train_q_learning, train_reinforce])
def test_callback_every_thins_the_calls(train: Any) -> None:
    """callback_every=100 over 1,000 episodes calls back 10 times, after each 100th."""
    seen: list[int] = []
    train(
        gym.make(ENV_ID),
        1_000,
        rng=np.random.default_rng(0),
        callback=lambda episode, agent: seen.append(episode),
        callback_every=100,
    )
    assert seen == list(range(99, 1_000, 100))


@pytest.mark.parametrize("train", [train_q_learning, train_reinforce])
def test_both_learners_find_the_risk_aware_policy_on_the_second_task(
    train: Any,
) -> None:
    """On AccessReviewRisk-v0 with exploring starts, every greedy action is optimal.

    Review required requests, approve clear ones, deny after an adverse finding.
    """
    env = gym.make(RISK_ENV_ID, exploring_starts=True)
    optimal = value_iteration(gym.make(RISK_ENV_ID)).policy
    budget = 20_000 if train is train_q_learning else 5_000
    agent = train(env, budget, rng=np.random.default_rng(0))
    live = list(env.unwrapped.mdp.table.non_terminal_states)  # type: ignore[attr-defined]
    assert agent.greedy_actions[live].tolist() == optimal[live].tolist()
