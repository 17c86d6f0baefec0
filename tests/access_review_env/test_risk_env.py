"""AccessReviewRisk-v0: request kinds, hidden justification and denials.

Also the lesson's held-out figures, and the mechanism it shares with v0.
"""

from __future__ import annotations

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import stats

from access_review_env import ENV_ID, RISK_ENV_ID, AccessReviewRiskEnv
from access_review_env.tasks.access_review_risk import RiskAction, RiskState
from access_review_env.wrappers import unsafe_actions
from agents import evaluate, policy_evaluation, value_iteration

pytestmark = pytest.mark.env

S, A = RiskState, RiskAction
CHI_SQUARE_LEVEL = 0.001
"""A correct sampler fails a chi-square test here once in 1,000 seeds."""
POLICIES = {
    "always_auto": [A.AUTO_APPROVE, A.AUTO_APPROVE, 0, 3, 4, 0],
    "always_review": [A.HUMAN_REVIEW, A.HUMAN_REVIEW, 0, 3, 4, 0],
    "risk_aware": [A.HUMAN_REVIEW, A.AUTO_APPROVE, 0, 3, 4, 0],
}


def test_both_checkers_pass_without_warnings() -> None:
    """Gymnasium's and SB3's check_env pass on the unwrapped env, warnings as errors."""
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(RISK_ENV_ID).unwrapped)
        sb3_check_env(AccessReviewRiskEnv())


@pytest.mark.parametrize(
    ("policy", "value"),
    [("always_auto", -25.0), ("always_review", 54.0), ("risk_aware", 62.0)],
)
def test_the_lessons_held_out_figures_are_exact_values(
    policy: str, value: float
) -> None:
    """At c = 0.5, u = 0 and the lesson's rewards: -25 / 54 / 62 from the start."""
    env = gym.make(RISK_ENV_ID, unjustified_share=0.0)
    start = env.unwrapped.mdp.start_distribution  # type: ignore[attr-defined]
    values = policy_evaluation(env, np.array(POLICIES[policy])).V
    assert float(start @ values) == pytest.approx(value)


def test_the_optimal_policy_is_the_risk_aware_one() -> None:
    """Value iteration reviews required-review requests, approves clear ones."""
    optimum = value_iteration(gym.make(RISK_ENV_ID, unjustified_share=0.0))
    assert optimum.policy[:2].tolist() == [A.HUMAN_REVIEW, A.AUTO_APPROVE]
    assert optimum.policy[S.REVIEW_FOUND_UNJUSTIFIED] == A.DENY_REQUEST


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_request_kinds_are_drawn_at_reset_with_the_clear_share(share: float) -> None:
    """Resets start in new_clear_evidence with probability c, else required_review."""
    env = gym.make(RISK_ENV_ID, clear_evidence_share=share)
    env.reset(seed=3)
    n_resets = 5_000
    clear = sum(env.reset()[0] == S.NEW_CLEAR_EVIDENCE for _ in range(n_resets))
    if share in (0.0, 1.0):
        assert clear == share * n_resets
    else:
        test = stats.binomtest(clear, n_resets, share)
        assert test.pvalue > CHI_SQUARE_LEVEL


def _next_states(env: gym.Env[int, int], start: int, action: int, n: int) -> np.ndarray:
    counts = np.zeros(len(S))
    for _ in range(n):
        env.reset(options={"start_state": start})
        counts[env.step(action)[0]] += 1
    return counts


def test_sampled_branches_match_P_with_three_branches() -> None:
    """Asking for evidence has three branches, sampled as P says.

    Evidence, abandonment or withdrawal, with probabilities (1 - u)(1 - p),
    (1 - u) p and u.
    """
    env = gym.make(RISK_ENV_ID, unjustified_share=0.3, abandonment_prob=0.4)
    env.reset(seed=5)
    n = 20_000
    counts = _next_states(env, S.NEW_REQUIRED_REVIEW, A.REQUEST_EVIDENCE, n)
    expected = np.zeros(len(S))
    expected[S.EVIDENCE_READY] = 0.7 * 0.6 * n
    expected[S.CLOSED] = (0.7 * 0.4 + 0.3) * n
    assert counts[expected == 0].sum() == 0
    assert stats.chisquare(counts[expected > 0], expected[expected > 0]).pvalue > (
        CHI_SQUARE_LEVEL
    )


def test_only_a_review_reveals_an_unjustified_request() -> None:
    """human_review leads to review_found_unjustified with probability u."""
    env = gym.make(RISK_ENV_ID, unjustified_share=0.25)
    env.reset(seed=6)
    counts = _next_states(env, S.NEW_REQUIRED_REVIEW, A.HUMAN_REVIEW, 10_000)
    found = counts[[S.REVIEW_FOUND_JUSTIFIED, S.REVIEW_FOUND_UNJUSTIFIED]]
    assert found.sum() == 10_000
    assert stats.binomtest(int(found[1]), 10_000, 0.25).pvalue > CHI_SQUARE_LEVEL


@pytest.mark.parametrize(
    ("start", "action", "outcome", "cost"),
    [
        (S.NEW_REQUIRED_REVIEW, A.AUTO_APPROVE, "unsupported_approval", 1.0),
        (S.NEW_CLEAR_EVIDENCE, A.AUTO_APPROVE, "clear_approval", 0.0),
        (S.NEW_CLEAR_EVIDENCE, A.DENY_REQUEST, "unfair_denial", 1.0),
        (S.EVIDENCE_READY, A.DENY_REQUEST, "unfair_denial", 1.0),
        (S.REVIEW_FOUND_JUSTIFIED, A.APPROVE_ROTATION, "reviewed_approval", 0.0),
        (S.REVIEW_FOUND_JUSTIFIED, A.DENY_REQUEST, "unfair_denial", 1.0),
        (S.REVIEW_FOUND_UNJUSTIFIED, A.APPROVE_ROTATION, "unjustified_approval", 1.0),
        (S.REVIEW_FOUND_UNJUSTIFIED, A.DENY_REQUEST, "justified_denial", 0.0),
    ],
)
def test_cost_marks_unsupported_approvals_and_unfair_denials(
    start: int, action: int, outcome: str, cost: float
) -> None:
    """info["cost"] is 1.0 for every harmful closing and 0.0 for a right one."""
    env = gym.make(RISK_ENV_ID)
    env.reset(seed=0, options={"start_state": start})
    _, _, terminated, _, info = env.step(action)
    outcomes = env.unwrapped.outcomes  # type: ignore[attr-defined]
    assert terminated and outcomes[info["outcome"]] == outcome
    assert info["cost"] == cost


def test_speed_only_wins_with_a_shortcut_that_cost_exposes() -> None:
    """Under speed_only the optimum approves at once; half its episodes violate."""
    env = gym.make(RISK_ENV_ID, rewards="speed_only")
    optimum = value_iteration(env)
    assert optimum.policy[S.NEW_REQUIRED_REVIEW] == A.AUTO_APPROVE
    rollouts = evaluate(env, optimum.policy, n_episodes=2_000, seed=1)
    assert 0.45 < rollouts.violations_per_episode < 0.55
    assert rollouts.outcomes["unsupported_approval"] == rollouts.violations


@pytest.mark.parametrize(
    ("clear", "unjustified", "p"),
    list(
        itertools.product([0.0, 0.5, 1.0], [0.0, 0.3, 0.9, 1.0], [0.0, 0.04, 0.25, 1.0])
    ),
)
def test_the_optimal_policy_never_takes_an_unsafe_action(
    clear: float, unjustified: float, p: float
) -> None:
    """Under outcome_aware, no optimal action has a branch with cost > 0, anywhere."""
    env = gym.make(
        RISK_ENV_ID,
        clear_evidence_share=clear,
        unjustified_share=unjustified,
        abandonment_prob=p,
    )
    mdp = env.unwrapped.mdp  # type: ignore[attr-defined]
    policy = value_iteration(env).policy
    unsafe = unsafe_actions(mdp.sparse)
    live = list(mdp.table.non_terminal_states)
    assert not unsafe[live, policy[live]].any()


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_both_tasks_name_their_states_and_actions(env_id: str) -> None:
    """state_names / action_names are tuples indexed by observation / action."""
    unwrapped = gym.make(env_id).unwrapped
    names = unwrapped.state_names, unwrapped.action_names  # type: ignore[attr-defined]
    assert all(isinstance(n, tuple) for n in names)
    assert len(names[0]) == unwrapped.observation_space.n  # type: ignore[attr-defined]
    assert len(names[1]) == unwrapped.action_space.n  # type: ignore[attr-defined]
