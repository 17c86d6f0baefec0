"""The environment through Gymnasium's API: checkers, seeding, rules and info."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.env_match import check_environments_match
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import access_review_env
from access_review_env import (
    ENV_ID,
    MAX_EPISODE_STEPS,
    OUTCOMES,
    STATES,
    AccessReviewEnv,
    InvalidActionError,
)

pytestmark = pytest.mark.env

CHI_SQUARE_LEVEL = 0.001
"""Significance level of the sampling tests: a correct env fails 1 in 1,000 seeds;
the seeds are fixed, so a pass is repeatable."""


def test_gymnasium_checker_passes_without_warnings() -> None:
    """Gymnasium's check_env passes on the unwrapped env with warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ENV_ID).unwrapped)


def test_sb3_checker_passes_without_warnings() -> None:
    """SB3's check_env passes on AccessReviewEnv() with warnings turned into errors."""
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(AccessReviewEnv())


@pytest.mark.processes
@pytest.mark.parametrize(
    "code",
    [
        "import gymnasium as gym, access_review_env; env = gym.make('AccessReview-v0')",
        "import gymnasium as gym; env = gym.make('access_review_env:AccessReview-v0')",
    ],
)
def test_make_works_in_a_fresh_interpreter(code: str, tmp_path: Path) -> None:
    """A fresh ``python -W error`` can gym.make the env by either ID, warning-free.

    Both ``AccessReview-v0`` after ``import access_review_env`` and
    ``access_review_env:AccessReview-v0`` work; reset(seed=0) gives state 0 and
    spec.max_episode_steps is MAX_EPISODE_STEPS.
    """
    check = code + "; print(env.reset(seed=0)[0], env.spec.max_episode_steps)"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", str(MAX_EPISODE_STEPS)]


def test_registration_is_idempotent() -> None:
    """Calling register_access_review() again raises no warning and keeps the spec.

    The spec still has max_episode_steps == MAX_EPISODE_STEPS and reward_threshold ==
    REWARD_THRESHOLD.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        access_review_env.register_access_review()
    spec = gym.spec(ENV_ID)
    assert spec.max_episode_steps == MAX_EPISODE_STEPS
    assert spec.reward_threshold == access_review_env.REWARD_THRESHOLD


def test_wrappers_hide_P_but_unwrapped_and_get_wrapper_attr_reach_it() -> None:
    """A made env hides .P (AttributeError); get_wrapper_attr('P') == unwrapped.P."""
    env = gym.make(ENV_ID)
    with pytest.raises(AttributeError):
        _ = env.P  # type: ignore[attr-defined]
    assert env.get_wrapper_attr("P") == env.unwrapped.P  # type: ignore[attr-defined]


def test_same_seed_gives_same_trajectory() -> None:
    """Two made envs seeded 7 match in obs, reward, flags and info over 500 steps."""
    check_environments_match(gym.make(ENV_ID), gym.make(ENV_ID), num_steps=500, seed=7)


def test_different_seeds_give_different_trajectories() -> None:
    """Seeds 0 and 1 give different request_evidence outcomes over 200 episodes."""

    def route(seed: int) -> list[int]:
        env = gym.make(ENV_ID)
        env.reset(seed=seed)
        states = []
        for _ in range(200):
            states.append(env.step(1)[0])
            env.reset()
        return states

    assert route(0) != route(1)


def test_env_pickles_mid_episode_and_continues_identically() -> None:
    """A pickled copy of a running env steps and resets exactly like the original.

    With exploring starts, seed 3 and 50 request_evidence steps, observation, reward,
    terminated and truncated match, and so do the states after each reset.
    """
    env = gym.make(ENV_ID, exploring_starts=True)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(50):
        a, b = env.step(1), clone.step(1)
        assert a[:4] == b[:4]
        if a[2] or a[3]:
            assert env.reset()[0] == clone.reset()[0]


def test_runs_under_async_vector_env() -> None:
    """Two async vector envs reset to [0, 0]; human_review moves both to 2 for -18."""
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="async")
    try:
        observations, _ = envs.reset(seed=0)
        assert observations.tolist() == [0, 0]
        observations, rewards, *_ = envs.step(np.array([2, 2]))
        assert observations.tolist() == [2, 2]
        assert rewards.tolist() == [-18.0, -18.0]
    finally:
        envs.close()


def test_sampled_transitions_match_P() -> None:
    """At p=0.3 request_evidence leads to evidence_ready 70% and closed 30% of the time.

    Over 20,000 samples no other state is reached and the chi-square p-value is above
    CHI_SQUARE_LEVEL.
    """
    env = AccessReviewEnv(abandonment_prob=0.3)
    env.reset(seed=11)
    n_samples = 20_000
    counts = np.zeros(len(STATES))
    for _ in range(n_samples):
        env.reset()
        next_state, *_ = env.step(1)
        counts[next_state] += 1
    expected = np.array([0.0, 0.7, 0.0, 0.3]) * n_samples
    observed_states = expected > 0
    assert counts[~observed_states].sum() == 0
    p_value = stats.chisquare(counts[observed_states], expected[observed_states]).pvalue
    assert p_value > CHI_SQUARE_LEVEL


def test_reset_starts_at_new_request(env: gym.Env[int, int]) -> None:
    """reset(seed=1) returns state 0 (new_request), which info['state'] repeats."""
    state, info = env.reset(seed=1)
    assert (state, info["state"]) == (0, 0)


def test_exploring_starts_cover_all_non_terminal_states_uniformly() -> None:
    """exploring_starts resets never start in closed and hit states 0-2 uniformly."""
    env = AccessReviewEnv(exploring_starts=True)
    env.reset(seed=5)
    counts = np.bincount([env.reset()[0] for _ in range(6_000)], minlength=4)
    assert counts[3] == 0
    assert stats.chisquare(counts[:3]).pvalue > CHI_SQUARE_LEVEL


@pytest.mark.parametrize("start", [1, "evidence_ready", np.int64(2), "review_queue"])
def test_start_state_option(start: object) -> None:
    """options={'start_state': s} starts at s, given as an int, np.int64 or state name.

    The observation is that state's index, and info['state'] repeats it.
    """
    state, info = AccessReviewEnv().reset(seed=0, options={"start_state": start})
    assert state == info["state"]
    assert state == (STATES.index(start) if isinstance(start, str) else int(start))  # type: ignore[call-overload]


@pytest.mark.parametrize("start", [3, "closed", "nowhere", -1, True, 1.0])
def test_bad_start_state_names_the_allowed_states(start: object) -> None:
    """A closed, unknown, negative, bool or float start_state raises ValueError.

    The message lists the allowed states: 0 (new_request), 1 (evidence_ready), ...
    """
    with pytest.raises(
        ValueError, match=r"allowed: 0 \(new_request\), 1 \(evidence_ready\)"
    ):
        AccessReviewEnv().reset(options={"start_state": start})


def test_unknown_reset_option_is_rejected() -> None:
    """An unknown reset option key raises ValueError naming the key ('start')."""
    with pytest.raises(ValueError, match=r"unknown reset option.*'start'"):
        AccessReviewEnv().reset(options={"start": 1})


@pytest.mark.parametrize("action", [1, np.int64(1), np.int8(1), np.array(1)])
def test_integer_actions_are_accepted(action: Any) -> None:
    """A Python int, np.int64, np.int8 or 0-d integer array all step as action 1."""
    env = AccessReviewEnv(abandonment_prob=0.0)
    env.reset(seed=0)
    assert env.step(action)[0] == 1


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (1.0, TypeError, "must be an integer in \\[0, 3\\], got 1.0"),
        (True, TypeError, "got True"),
        (np.bool_(True), TypeError, "got "),
        (None, TypeError, "got None"),
        ("1", TypeError, "got '1'"),
        (4, ValueError, "action 4 is out of range.*\\[0, 3\\]"),
        (-1, ValueError, "action -1 is out of range"),
        (np.array([1]), ValueError, "array of shape \\(1,\\)"),
        (np.array([[1, 2]]), ValueError, "array of shape \\(1, 2\\)"),
        (np.array(1.0), TypeError, "must be an integer"),
    ],
)
def test_bad_actions_raise_clear_errors(action: Any, error: type, message: str) -> None:
    """Non-integer actions raise TypeError; out-of-range or shaped arrays ValueError.

    Messages quote the value given, the range [0, 3] or the array's shape.
    """
    env = AccessReviewEnv()
    env.reset(seed=0)
    with pytest.raises(error, match=message):
        env.step(action)


def test_invalid_action_is_penalized_by_default() -> None:
    """By default an invalid action pays invalid_action_reward and stays in place.

    Neither terminated nor truncated; info['invalid_action'] is True and info['outcome']
    is 'pending'.
    """
    env = AccessReviewEnv(invalid_action_reward=-7.0)
    env.reset(seed=0)
    state, reward, terminated, truncated, info = env.step(3)
    assert (state, reward, terminated, truncated) == (0, -7.0, False, False)
    assert info["invalid_action"] is True
    assert OUTCOMES[info["outcome"]] == "pending"


def test_invalid_action_raises_naming_state_and_valid_actions() -> None:
    """Under invalid_action='raise' an invalid action raises InvalidActionError.

    For auto_approve in review_queue the message names the state and the valid actions,
    e.g. '3 (approve_rotation)'.
    """
    env = AccessReviewEnv(invalid_action="raise")
    env.reset(seed=0, options={"start_state": "review_queue"})
    with pytest.raises(
        InvalidActionError, match=r"review_queue.*3 \(approve_rotation\)"
    ):
        env.step(0)


def test_time_limit_truncates_a_stalled_episode(env: gym.Env[int, int]) -> None:
    """Repeated invalid actions truncate at step MAX_EPISODE_STEPS, never terminate."""
    for _ in range(MAX_EPISODE_STEPS - 1):
        assert env.step(3)[2:4] == (False, False)
    assert env.step(3)[2:4] == (False, True)


@pytest.mark.parametrize(
    ("p", "actions", "outcome", "cost", "rewards"),
    [
        (0.25, [0], "unsupported_approval", 1.0, [-120.0]),
        (0.0, [1, 0], "evidence_approval", 0.0, [-4.0, 70.0]),
        (0.0, [1, 2, 3], "reviewed_approval", 0.0, [-4.0, -10.0, 80.0]),
        (0.25, [2, 3], "reviewed_approval", 0.0, [-18.0, 80.0]),
        (1.0, [1], "abandoned", 0.0, [-54.0]),
    ],
)
def test_routes_give_outcomes_costs_and_rewards(
    p: float, actions: list[int], outcome: str, cost: float, rewards: list[float]
) -> None:
    """Each route yields its spec rewards and outcome; only auto-approval costs 1.

    Only the last step terminates and info['outcome'] is 'pending' before it, e.g.
    auto_approve: -120, unsupported_approval; request_evidence, auto_approve: -4, +70,
    evidence_approval; human_review, approve_rotation: -18, +80, reviewed_approval;
    request_evidence at p=1: -54, abandoned.
    """
    env = AccessReviewEnv(abandonment_prob=p)
    env.reset(seed=0)
    seen_rewards, costs = [], []
    for i, action in enumerate(actions):
        _, reward, terminated, _, info = env.step(action)
        seen_rewards.append(reward)
        costs.append(info["cost"])
        assert terminated == (i == len(actions) - 1)
        assert OUTCOMES[info["outcome"]] == (outcome if terminated else "pending")
    assert seen_rewards == rewards
    assert sum(costs) == cost


def test_speed_only_preset_rewards_the_unsupported_approval() -> None:
    """Under the speed_only preset auto_approve from new_request pays +100."""
    env = AccessReviewEnv(rewards="speed_only")
    env.reset(seed=0)
    assert env.step(0)[1] == 100.0


def test_reward_override_is_used_by_step() -> None:
    """With rewards={'abandoned': -99.0} and p=1, request_evidence returns -99.0."""
    env = AccessReviewEnv(abandonment_prob=1.0, rewards={"abandoned": -99.0})
    env.reset(seed=0)
    assert env.step(1)[1] == -99.0


INFO_TYPES = {
    "state": int,
    "action_mask": np.ndarray,
    "cost": np.float64,
    "outcome": int,
    "invalid_action": bool,
    "prob": np.float64,
}


def _check_info(info: dict[str, Any], state: int, env: AccessReviewEnv) -> None:
    assert {key: type(value) for key, value in info.items()} == INFO_TYPES
    assert info["action_mask"].dtype == np.bool_
    np.testing.assert_array_equal(
        info["action_mask"], env.sparse.valid_action_mask[state]
    )
    np.testing.assert_array_equal(env.action_masks(), info["action_mask"])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    actions=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    p=st.sampled_from([0.0, 0.25, 1.0]),
)
def test_info_keys_and_types_are_stable_at_reset_and_every_step(
    seed: int, actions: list[int], p: float
) -> None:
    """Info has the same six keys and types after reset and after every step.

    The action mask is a fresh bool array equal to valid_action_mask[state] and
    action_masks(); cost is 1.0 only for unsupported_approval; a terminal step's outcome
    is never 'pending'; observations are int, rewards float, flags bool.
    """
    env = AccessReviewEnv(abandonment_prob=p, exploring_starts=True)
    state, info = env.reset(seed=seed)
    _check_info(info, state, env)
    masks_seen = [info["action_mask"]]
    for action in actions:
        state, reward, terminated, truncated, info = env.step(action)
        assert type(state) is int and type(reward) is float
        assert type(terminated) is bool and type(truncated) is bool
        _check_info(info, state, env)
        assert all(info["action_mask"] is not seen for seen in masks_seen)
        masks_seen.append(info["action_mask"])
        assert info["cost"] == (
            1.0 if OUTCOMES[info["outcome"]] == "unsupported_approval" else 0.0
        )
        if terminated:
            assert OUTCOMES[info["outcome"]] != "pending"
            state, info = env.reset()
            _check_info(info, state, env)


def test_ansi_render_shows_state_and_last_transition() -> None:
    """ANSI render shows [state], the last transition with its reward, valid actions."""
    env = AccessReviewEnv(abandonment_prob=0.0, render_mode="ansi")
    env.reset(seed=0)
    env.step(1)
    text = env.render()
    assert isinstance(text, str)
    assert "[evidence_ready]" in text
    assert "last: request_evidence -> evidence_ready (reward -4.0)" in text
    assert "valid: auto_approve, human_review" in text


def test_human_render_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """In human render mode reset prints the rendering, [new_request], to stdout."""
    env = AccessReviewEnv(render_mode="human")
    env.reset(seed=0)
    assert "[new_request]" in capsys.readouterr().out


def test_unknown_render_mode_is_rejected() -> None:
    """A render mode the env cannot produce is an error listing the allowed ones."""
    with pytest.raises(
        ValueError,
        match=r"render_mode must be one of None, 'ansi', 'human', 'rgb_array'",
    ):
        AccessReviewEnv(render_mode="rgb")


def test_an_unknown_keyword_is_refused_in_pythons_wording() -> None:
    """Python's "unexpected keyword argument 'name'", plus the allowed keywords.

    Callers match that wording: TorchRL's GymEnv passes ``frameskip`` and
    retries without it when the env refuses it so.
    """
    with pytest.raises(
        TypeError,
        match=r"AccessReview-v0 got an unexpected keyword argument 'frameskip'; "
        r"allowed: abandonment_prob, rewards",
    ):
        gym.make(ENV_ID, frameskip=1)
    with pytest.raises(
        TypeError, match=r"got unexpected keyword arguments 'frameskip', 'speed'"
    ):
        gym.make(ENV_ID, speed=2, frameskip=1)


def test_rgb_array_render_highlights_state_and_colours_the_outcome() -> None:
    """rgb_array returns an RGB image; closed turns green or red by outcome."""
    env = AccessReviewEnv(render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3
    closed_box = (image.shape[0] // 2, image.shape[1] - 30)
    assert tuple(image[closed_box]) == (215, 220, 228)
    env.step(0)
    assert tuple(env.render()[closed_box]) == (219, 68, 55)  # type: ignore[index]
    env.reset()
    env.step(2)
    env.step(3)
    assert tuple(env.render()[closed_box]) == (15, 157, 88)  # type: ignore[index]


def test_recommended_gamma_is_readable_by_agents(env: gym.Env[int, int]) -> None:
    """A made env exposes the recommended discount as unwrapped.mdp.gamma == 0.9."""
    assert env.unwrapped.mdp.gamma == 0.9  # type: ignore[attr-defined]


def test_replacing_np_random_discards_buffered_draws() -> None:
    """Assigning np_random discards buffered draws, so equal generators agree.

    Two envs with different seeds and histories, given equal new generators, give the
    same reset states and next states for 30 episodes.
    """
    a, b = AccessReviewEnv(), AccessReviewEnv()
    a.reset(seed=0)
    a.step(1)
    b.reset(seed=99)
    for env in (a, b):
        env.np_random = np.random.default_rng(4)
    for _ in range(30):
        env_a, env_b = a.reset(), b.reset()
        assert env_a[0] == env_b[0]
        assert a.step(1)[0] == b.step(1)[0]


@pytest.mark.parametrize(
    ("seed", "options", "error", "message"),
    [
        (5, {"start_state": "closed"}, ValueError, "start_state 'closed'"),
        (5, {"start": 1}, ValueError, "unknown reset option"),
        (5, 5, TypeError, "options must be a dict"),
        (-1, None, gym.error.Error, "Seed must be greater or equal to zero"),
    ],
)
def test_a_rejected_reset_keeps_the_generator_and_ends_the_episode(
    seed: int, options: Any, error: type, message: str
) -> None:
    """Through gym.make, a rejected reset neither seeds nor lets the old episode on.

    TimeLimit restarts its count before the env sees the options, so the old
    episode cannot go on: step raises ResetNeeded. The next good reset
    continues the generator as if the rejected call never happened, and the
    time limit counts from there.
    """
    env, twin = (gym.make(ENV_ID, exploring_starts=True) for _ in range(2))
    for each in (env, twin):
        each.reset(seed=0)
        each.step(3)
    with pytest.raises(error, match=message):
        env.reset(seed=seed, options=options)
    with pytest.raises(ResetNeeded, match="last reset was rejected"):
        env.step(0)
    for _ in range(20):
        assert env.reset()[0] == twin.reset()[0]
        assert env.step(1)[:4] == twin.step(1)[:4]
    env.reset(options={"start_state": "review_queue"})
    flags = [env.step(0)[2:4] for _ in range(MAX_EPISODE_STEPS)]
    assert flags == [(False, False)] * (MAX_EPISODE_STEPS - 1) + [(False, True)]


def test_a_rejected_reset_is_pickled_with_the_env() -> None:
    """A pickled copy of an env whose reset was rejected still needs a reset."""
    env = AccessReviewEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="start_state"):
        env.reset(options={"start_state": 3})
    clone = pickle.loads(pickle.dumps(env))
    with pytest.raises(ResetNeeded):
        clone.step(0)
    assert clone.reset()[0] == 0 and clone.step(2)[0] == 2


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (5, TypeError, r"options must be a dict \(allowed keys: start_state\) .*got 5"),
        (["start_state"], TypeError, r"got \['start_state'\]"),
        ({"start_state": "closed"}, ValueError, r"^start_state 'closed' is not a"),
        ({"start_state": 3}, ValueError, r"^start_state 3 is not a"),
        ({"start_state": "3"}, ValueError, r"^start_state '3' is not a"),
    ],
)
def test_bad_reset_options_are_named_as_written(
    options: Any, error: type, message: str
) -> None:
    """Messages repeat the caller's value ('closed', not its index 3)."""
    with pytest.raises(error, match=message):
        AccessReviewEnv().reset(options=options)


@pytest.mark.parametrize("name", ["mdp", "exploring_starts"])
def test_the_model_is_read_only(name: str) -> None:
    """Replacing the model would desynchronise P and planning from step."""
    env = gym.make(ENV_ID)
    other = AccessReviewEnv(abandonment_prob=1.0, exploring_starts=True)
    with pytest.raises(AttributeError):
        setattr(env.unwrapped, name, getattr(other, name))
    assert env.unwrapped.P[0][1][0][0] == 0.75  # type: ignore[attr-defined]
    assert env.unwrapped.exploring_starts is False  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["False", 0, None])
def test_exploring_starts_must_be_a_bool(value: Any) -> None:
    """A string "False" is not False."""
    with pytest.raises(TypeError, match="exploring_starts must be True or False"):
        AccessReviewEnv(exploring_starts=value)
