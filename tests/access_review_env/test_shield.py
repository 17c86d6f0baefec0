"""SafetyShield under Gymnasium's observation and reward wrappers, on either side.

The shield must decide from the task env's true state, so no observation
wrapper changes what it lets through, and a blocked action must return what an
invalid action returns under the same wrapper stack. Each check runs the
shielded stack in lockstep with a twin stack without the shield, fed the action
the shield says it executed (the agent's, ``safe_action``, or for a blocked
one an invalid action of the test's own choosing): every observation, reward
and end flag must be equal, with no cost executed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import (
    ClipReward,
    DelayObservation,
    FlattenObservation,
    MaxAndSkipObservation,
    NormalizeObservation,
    NormalizeReward,
    RecordEpisodeStatistics,
    StickyAction,
    TimeAwareObservation,
    TransformAction,
    TransformObservation,
    TransformReward,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from access_review_env import (
    ENV_ID,
    RISK_ENV_ID,
    CostCounter,
    InvalidActionError,
    SafetyShield,
)

pytestmark = pytest.mark.env

Env = gym.Env[Any, Any]


def _renumber(env: Env, rng: np.random.Generator) -> Env:
    """Renumber a Discrete observation, or reorder a vector's components."""
    space = env.observation_space
    if isinstance(space, spaces.Discrete):
        order = rng.permutation(int(space.n))
        return TransformObservation(env, lambda obs: int(order[obs]), space)
    assert isinstance(space, spaces.Box) and len(space.shape) == 1
    order = rng.permutation(space.shape[0])
    return TransformObservation(env, lambda obs: obs[order], space)


def _normalize_observation(env: Env, rng: np.random.Generator) -> Env:
    if isinstance(env.observation_space, spaces.Discrete):
        env = FlattenObservation(env)
    return NormalizeObservation(env)


WRAPPERS: dict[str, Callable[[Env, np.random.Generator], Env]] = {
    "renumber": _renumber,
    "flatten": lambda env, rng: FlattenObservation(env),
    "delay": lambda env, rng: DelayObservation(env, delay=1),
    "time_aware": lambda env, rng: TimeAwareObservation(env),
    "normalize_observation": _normalize_observation,
    "scale_reward": lambda env, rng: TransformReward(env, lambda r: float(r) / 100),
    "clip_reward": lambda env, rng: ClipReward(env, -5.0, 5.0),
    "normalize_reward": lambda env, rng: NormalizeReward(env, gamma=0.9),
    # Stacked RecordEpisodeStatistics each need a key of their own.
    "episode_statistics": lambda env, rng: RecordEpisodeStatistics(
        env, stats_key=f"episode_{rng.integers(2**62)}"
    ),
}


def _stack(
    env_id: str,
    env_kwargs: dict[str, Any],
    inner: Sequence[str],
    outer: Sequence[str],
    shield_kwargs: dict[str, Any] | None,
    wrapper_seed: int,
) -> tuple[Env, CostCounter]:
    """``outer(shield(inner(CostCounter(gym.make(env_id)))))``, shield optional."""
    rng = np.random.default_rng(wrapper_seed)
    counter = CostCounter(gym.make(env_id, **env_kwargs))
    env: Env = counter
    for name in inner:
        env = WRAPPERS[name](env, rng)
    if shield_kwargs is not None:
        env = SafetyShield(env, **shield_kwargs)
    for name in outer:
        env = WRAPPERS[name](env, rng)
    return env, counter


def _assert_same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _run_lockstep(
    env_id: str,
    inner: Sequence[str],
    outer: Sequence[str],
    shield_kwargs: dict[str, Any],
    actions: Sequence[int],
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
) -> int:
    """Drive ``actions`` through the shielded stack and its twin; check each step.

    Returns:
        The number of unsafe attempts (so callers can see the check was not
        vacuous).
    """
    env_kwargs = env_kwargs or {}
    shielded, counter = _stack(env_id, env_kwargs, inner, outer, shield_kwargs, seed)
    twin, _ = _stack(env_id, env_kwargs, inner, outer, None, seed)
    shield = next(e for e in _chain(shielded) if isinstance(e, SafetyShield))
    task = shielded.unwrapped
    mdp = task.mdp  # type: ignore[attr-defined]
    valid = mdp.valid_action_mask.astype(bool)
    mode = shield_kwargs.get("mode", "block")
    observation, info = shielded.reset(seed=seed)
    twin_observation, _ = twin.reset(seed=seed)
    _assert_same(observation, twin_observation)
    attempts = episode_attempts = 0
    for action in actions:
        state = task.state  # type: ignore[attr-defined]
        label, executed = "passed", action
        if shield.unsafe[state, action]:
            attempts += 1
            episode_attempts += 1
            safe = shield.safe_action
            if (
                mode == "reroute"
                and valid[state, safe]
                and not shield.unsafe[state, safe]
            ):
                label, executed = "rerouted", safe
            else:
                # Any invalid action stands for the env's invalid-action path;
                # the highest, where the shield uses the lowest.
                label, executed = "blocked", int(np.flatnonzero(~valid[state])[-1])
        observation, reward, terminated, truncated, info = shielded.step(action)
        expected = twin.step(executed)
        assert info["shield"] == label
        assert info["shield_attempts"] == episode_attempts
        if label == "blocked":
            assert expected[4]["invalid_action"] is True
            assert info["invalid_action"] is False and info["cost"] == 0.0
            assert task.state == state  # type: ignore[attr-defined]
        _assert_same(observation, expected[0])
        _assert_same(reward, expected[1])
        assert (terminated, truncated) == expected[2:4]
        assert info["state"] == expected[4]["state"]
        assert counter.total_cost == 0.0
        if terminated or truncated:
            shielded.reset()
            twin.reset()
            episode_attempts = 0
    assert shield.total_attempts == attempts
    return attempts


def _chain(env: Env) -> list[Env]:
    chain = [env]
    while isinstance(env, gym.Wrapper):
        env = env.env
        chain.append(env)
    return chain


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
@pytest.mark.parametrize("side", ["inner", "outer"])
def test_each_wrapper_on_either_side_neither_bypasses_nor_changes_a_block(
    env_id: str, wrapper: str, side: str
) -> None:
    """Every wrapper alone, below or above the shield: 300 random actions."""
    actions = np.random.default_rng(3).integers(0, 5, 300) % (
        4 if env_id == ENV_ID else 5
    )
    inner, outer = ([wrapper], []) if side == "inner" else ([], [wrapper])
    attempts = _run_lockstep(
        env_id, inner, outer, {"shield_mask": False}, actions.tolist(), seed=3
    )
    assert attempts > 0


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    env_id=st.sampled_from([ENV_ID, RISK_ENV_ID]),
    inner=st.lists(st.sampled_from(sorted(WRAPPERS)), max_size=3),
    outer=st.lists(st.sampled_from(sorted(WRAPPERS)), max_size=3),
    mode=st.sampled_from(["block", "reroute"]),
    shield_mask=st.booleans(),
    exploring_starts=st.booleans(),
    actions=st.lists(st.integers(0, 19), min_size=1, max_size=60),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_wrapper_stack_lets_a_costly_transition_through(
    env_id: str,
    inner: list[str],
    outer: list[str],
    mode: str,
    shield_mask: bool,
    exploring_starts: bool,
    actions: list[int],
    seed: int,
) -> None:
    """Any stack of observation and reward wrappers around the shield.

    No cost is executed, every unsafe attempt is counted, and a blocked step
    returns exactly what an invalid action returns under the same stack.
    """
    n_actions = 4 if env_id == ENV_ID else 5
    _run_lockstep(
        env_id,
        inner,
        outer,
        {"mode": mode, "shield_mask": shield_mask},
        [a % n_actions for a in actions],
        seed,
        {"exploring_starts": exploring_starts},
    )


def test_a_renumbered_observation_does_not_let_auto_approve_through() -> None:
    """Observation 3 (renumbered new_request) does not fool the shield."""
    env = gym.make(ENV_ID)
    renumbered = TransformObservation(env, lambda obs: 3 - obs, env.observation_space)
    shield = SafetyShield(renumbered, shield_mask=False)
    observation, _ = shield.reset(seed=0)
    _, reward, terminated, _, info = shield.step(0)
    assert observation == 3
    assert (reward, terminated, info["cost"], info["shield"]) == (
        -10.0,
        False,
        0.0,
        "blocked",
    )


def test_a_one_hot_observation_passes_through_the_shield() -> None:
    """Under FlattenObservation the shield steps and returns the one-hot vector."""
    env = FlattenObservation(gym.make(ENV_ID))
    shield = SafetyShield(env)
    shield.reset(seed=0)
    observation, *_, info = shield.step(0)
    assert observation.tolist() == [1, 0, 0, 0] and info["shield"] == "blocked"
    assert shield.observation_space == env.observation_space


def test_a_blocked_action_pays_the_transformed_penalty_of_an_invalid_one() -> None:
    """TransformReward below the shield: blocked and invalid both pay -0.1."""
    env = TransformReward(gym.make(ENV_ID), lambda r: float(r) / 100)
    shield = SafetyShield(env, shield_mask=False)
    shield.reset(seed=0)
    _, blocked, *_ = shield.step(0)
    shield.step(2)
    _, invalid, *_, info = shield.step(0)
    assert blocked == invalid == pytest.approx(-0.1)
    assert info["invalid_action"] is True and info["shield"] == "passed"


def test_a_blocked_action_raises_where_invalid_actions_raise() -> None:
    """Under invalid_action="raise" a blocked action is refused, not paid."""
    shield = SafetyShield(gym.make(ENV_ID, invalid_action="raise"), shield_mask=False)
    shield.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"auto_approve.*new_request"):
        shield.step(0)
    assert shield.total_attempts == 1 and shield.unwrapped.state == 0  # type: ignore[attr-defined]
    _, reward, *_ = shield.step(2)
    assert reward == -18.0


@pytest.mark.parametrize(
    "wrap",
    [
        lambda env: TransformAction(env, lambda a: a, env.action_space),
        lambda env: StickyAction(env, 0.5),
        lambda env: MaxAndSkipObservation(env, skip=2),
    ],
    ids=["TransformAction", "StickyAction", "MaxAndSkipObservation"],
)
def test_the_shield_refuses_to_sit_above_a_wrapper_that_changes_actions(
    wrap: Callable[[Env], Env],
) -> None:
    """Below the shield such a wrapper would execute actions it never judged."""
    with pytest.raises(ValueError, match="cannot sit above"):
        SafetyShield(wrap(gym.make(ENV_ID)))


def test_the_shield_needs_a_task_env() -> None:
    """Any other env is refused with the type it got."""
    with pytest.raises(TypeError, match="CartPoleEnv"):
        SafetyShield(gym.make("CartPole-v1"))  # type: ignore[arg-type]
