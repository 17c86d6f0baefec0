"""Policies: the PolicyPredictor interface, adapters, and action selection."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access_review_env import ENV_ID
from agents import (
    PolicyPredictor,
    as_predictor,
    epsilon_greedy,
    masked_softmax,
    train_q_learning,
    train_reinforce,
)
from agents.policies import UniformStream

OPTIMAL_ROUTE = [2, 0, 3, 0]
"""human_review, then approve_rotation; auto_approve on evidence."""


@pytest.mark.parametrize(
    "make_policy",
    [
        lambda: lambda state: 2,
        lambda: OPTIMAL_ROUTE,
        lambda: np.array(OPTIMAL_ROUTE),
        lambda: train_q_learning(gym.make(ENV_ID), 500, rng=np.random.default_rng(0)),
    ],
    ids=["function", "list", "array", "agent"],
)
def test_policies_of_every_kind_satisfy_the_protocol(make_policy: Any) -> None:
    """Functions, action tables and learned agents all become PolicyPredictors."""
    assert isinstance(as_predictor(make_policy()), PolicyPredictor)


def test_an_object_that_is_no_policy_is_refused() -> None:
    """A number is neither a predictor, a function nor a table: TypeError."""
    with pytest.raises(TypeError, match="predict"):
        as_predictor(3)  # type: ignore[arg-type]


def test_agents_predict_like_sb3_models() -> None:
    """Predict takes batches and masks and returns (actions, None)."""
    agent = train_q_learning(gym.make(ENV_ID), 3_000, rng=np.random.default_rng(0))
    actions, state = agent.predict(np.array([0, 1, 2]), deterministic=True)
    assert actions.tolist() == [2, 0, 3] and state is None
    masked, _ = agent.predict(np.array(0), action_masks=np.array([1, 1, 0, 0]))
    assert int(masked) == 1


@pytest.mark.parametrize("kind", ["q_learning", "reinforce", "table"])
@pytest.mark.parametrize(
    ("observation", "error", "message"),
    [
        (
            -1,
            ValueError,
            r"observation -1 is not a state; allowed: integers in \[0, 3\]",
        ),
        (4, ValueError, r"observation 4 is not a state; allowed: integers in \[0, 3\]"),
        (np.array([0, 1, 9]), ValueError, "observation 9 is not a state"),
        (np.array([[0], [-2]]), ValueError, "observation -2 is not a state"),
        (2.5, TypeError, r"integers in \[0, 3\]; got 2.5"),
        (2.0, TypeError, "got 2.0"),
        ("2", TypeError, "got '2'"),
        (True, TypeError, "got True"),
        (np.array([True]), TypeError, "got array"),
        (None, TypeError, "got None"),
    ],
)
def test_predict_refuses_observations_that_are_not_states(
    kind: str, observation: Any, error: type, message: str
) -> None:
    """-1 is not closed (no counting from the end); 2.5, '2' and True are no states."""
    env = gym.make(ENV_ID, exploring_starts=True)
    rng = np.random.default_rng(0)
    policy: PolicyPredictor
    if kind == "q_learning":
        policy = train_q_learning(env, 50, rng=rng)
    elif kind == "reinforce":
        policy = train_reinforce(env, 50, rng=rng)
    else:
        policy = as_predictor(OPTIMAL_ROUTE)
    with pytest.raises(error, match=message):
        policy.predict(observation, deterministic=True)


@pytest.mark.parametrize(
    "observation", [3, np.int64(3), np.uint8(3), np.array(3), np.array([[3, 0]])]
)
def test_predict_accepts_integer_states_of_any_integer_type(observation: Any) -> None:
    """Python and NumPy integers, 0-d and shaped arrays: the shape comes back."""
    agent = train_q_learning(gym.make(ENV_ID), 50, rng=np.random.default_rng(0))
    actions, _ = agent.predict(observation, deterministic=True)
    assert actions.shape == np.shape(observation) and actions.dtype == np.int64


def test_function_policies_refuse_non_integer_observations() -> None:
    """A plain function is never handed a float or a string as its state."""
    with pytest.raises(TypeError, match=r"states, integers; got array\(1\.5\)"):
        as_predictor(lambda state: 2).predict(np.array(1.5))


def test_epsilon_greedy_only_returns_valid_actions_and_explores_uniformly() -> None:
    """Epsilon = 1 draws each valid action about equally often, never an invalid one."""
    uniform = UniformStream(np.random.default_rng(0))
    counts = np.zeros(4)
    for _ in range(9_000):
        counts[epsilon_greedy([9.0, 0.0, 0.0, 0.0], (1, 3), 1.0, uniform)] += 1
    assert counts[0] == counts[2] == 0
    assert abs(counts[1] - 4_500) < 4 * math.sqrt(9_000 * 0.25)


def test_epsilon_greedy_exploits_at_zero_epsilon() -> None:
    """Epsilon = 0 picks the best valid action, lowest index on ties."""
    uniform = UniformStream(np.random.default_rng(0))
    assert epsilon_greedy([9.0, 1.0, 5.0, 5.0], (1, 2, 3), 0.0, uniform) == 2


def test_masked_softmax_gives_zero_to_masked_actions() -> None:
    """Masked actions get probability 0; the rest sum to 1."""
    probabilities = masked_softmax(np.array([100.0, 1.0, 1.0]), np.array([0, 1, 1]))
    np.testing.assert_allclose(probabilities, [0.0, 0.5, 0.5])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    weights=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=5),
    trailing=st.integers(1, 3),
)
def test_sampling_never_picks_a_trailing_masked_action(
    weights: list[float], trailing: int
) -> None:
    """Even the largest draw below 1 lands on a nonzero-probability action."""
    from agents.policies import sample_index

    probabilities = np.array(weights + [0.0] * trailing)
    probabilities /= probabilities.sum()
    assert (
        sample_index(probabilities, float(np.nextafter(1.0, 0.0))) == len(weights) - 1
    )
    assert sample_index(probabilities, 0.0) == 0
