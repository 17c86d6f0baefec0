"""SafetyShield and CostCounter: unsafe actions stopped before the env steps."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

from access_review_env import ENV_ID, RISK_ENV_ID, CostCounter, SafetyShield
from access_review_env.tasks.access_review_risk import RiskAction, RiskState
from agents import train_q_learning

pytestmark = pytest.mark.env


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
@pytest.mark.parametrize("mode", ["block", "reroute"])
def test_the_shield_passes_gymnasiums_checker(env_id: str, mode: str) -> None:
    """check_env passes on a shielded env with warnings as errors.

    All but the one that says a wrapped env is being checked.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped")
        check_env(SafetyShield(gym.make(env_id), mode=mode))  # type: ignore[arg-type]


def test_unsafe_actions_come_from_the_table() -> None:
    """In AccessReview-v0 only auto_approve at new_request has cost; nothing else."""
    shield = SafetyShield(gym.make(ENV_ID))
    expected = np.zeros((4, 4), dtype=bool)
    expected[0, 0] = True
    np.testing.assert_array_equal(shield.unsafe, expected)


def test_blocking_keeps_the_state_pays_the_penalty_and_counts() -> None:
    """A blocked action is not executed: same state, reward -10, info says so."""
    shield = SafetyShield(gym.make(ENV_ID, invalid_action_reward=-7.0))
    state, info = shield.reset(seed=0)
    assert info["action_mask"].tolist() == [0, 1, 1, 0]
    assert (info["shield"], info["shield_attempts"]) == ("passed", 0)
    next_state, reward, terminated, truncated, info = shield.step(0)
    assert (next_state, reward, terminated, truncated) == (state, -7.0, False, False)
    assert (info["shield"], info["shield_attempts"], info["cost"]) == (
        "blocked",
        1,
        0.0,
    )
    _, reward, *_, info = shield.step(2)
    assert reward == -18.0 and info["shield"] == "passed"


def test_rerouting_executes_the_safe_action_where_it_can() -> None:
    """Rerouting sends an unsafe approval to human_review where it can.

    Where review is not valid (after a finding), the unsafe action is blocked.
    """
    shield = SafetyShield(gym.make(RISK_ENV_ID), mode="reroute")
    shield.reset(seed=0, options={"start_state": RiskState.NEW_REQUIRED_REVIEW})
    state, reward, *_, info = shield.step(RiskAction.AUTO_APPROVE)
    assert info["shield"] == "rerouted" and reward == -18.0
    assert state in (
        RiskState.REVIEW_FOUND_JUSTIFIED,
        RiskState.REVIEW_FOUND_UNJUSTIFIED,
    )
    shield.reset(options={"start_state": RiskState.REVIEW_FOUND_UNJUSTIFIED})
    state, *_, info = shield.step(RiskAction.APPROVE_ROTATION)
    assert info["shield"] == "blocked" and state == RiskState.REVIEW_FOUND_UNJUSTIFIED


def test_an_insisting_policy_is_still_cut_by_the_time_limit() -> None:
    """Blocked attempts count as steps: 20 of them truncate the episode."""
    shield = SafetyShield(gym.make(ENV_ID), shield_mask=False)
    shield.reset(seed=0)
    for step in range(1, 21):
        *_, terminated, truncated, info = shield.step(0)
        assert not terminated and truncated == (step == 20)
    assert info["shield_attempts"] == 20 and shield.total_attempts == 20


def test_mask_aware_learners_never_try_what_the_shield_masks() -> None:
    """Q-learning on a shielded env: no attempt intercepted, no violation executed."""
    counter = CostCounter(gym.make(RISK_ENV_ID))
    shield = SafetyShield(counter)
    train_q_learning(shield, 3_000, rng=np.random.default_rng(0))
    assert shield.total_attempts == 0 and counter.total_cost == 0.0


def test_cost_counter_sums_costs_per_episode() -> None:
    """Each episode's cost sum is kept, and their total."""
    counter = CostCounter(gym.make(ENV_ID))
    for action in (0, 0, 2):
        counter.reset(seed=0)
        terminated = False
        while not terminated:
            *_, terminated, _, _ = counter.step(action if action != 2 else 2)
            action = 3
    assert counter.episode_costs == [1.0, 1.0, 0.0] and counter.total_cost == 2.0


def test_the_shield_refuses_to_step_before_a_reset() -> None:
    """Like OrderEnforcing, a step before reset (or after a rejected one) raises."""
    shield = SafetyShield(gym.make(ENV_ID))
    with pytest.raises(ResetNeeded):
        shield.step(0)
    shield.reset(seed=0)
    with pytest.raises(ValueError, match="unknown reset option"):
        shield.reset(options={"nope": 1})
    with pytest.raises(ResetNeeded):
        shield.step(0)


def test_a_blocked_step_keeps_every_key_the_env_reports() -> None:
    """The blocked step's info has the env's keys (and types) plus the shield's."""
    shield = SafetyShield(gym.make(RISK_ENV_ID))
    _, info = shield.reset(seed=0, options={"start_state": 0})
    *_, blocked = shield.step(0)
    assert set(blocked) == set(info)
    assert {k: type(v) for k, v in blocked.items()} == {
        k: type(v) for k, v in info.items()
    }
    assert blocked["state"] == info["state"] and blocked["outcome"] == 0
