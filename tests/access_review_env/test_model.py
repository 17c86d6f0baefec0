"""The MDP table: validation, reward specifications, ``P`` and the dense arrays."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access_review_env import (
    ACTIONS,
    REWARD_PRESETS,
    STATES,
    TERMINAL_STATE,
    TRANSITION_NAMES,
    AccessReviewMDP,
    TabularMDP,
)

pytestmark = pytest.mark.env


def test_default_table_matches_spec_section_1() -> None:
    """P holds the lesson's seven transitions at the defaults.

    Probabilities, next states and rewards (-120, -4/-54, -18, +70, -10, +80).
    """
    P = AccessReviewMDP().P
    assert P[0][0] == [(1.0, 3, -120.0, True)]
    assert P[0][1] == [(0.75, 1, -4.0, False), (0.25, 3, -54.0, True)]
    assert P[0][2] == [(1.0, 2, -18.0, False)]
    assert P[1][0] == [(1.0, 3, 70.0, True)]
    assert P[1][2] == [(1.0, 2, -10.0, False)]
    assert P[2][3] == [(1.0, 3, 80.0, True)]


def test_closed_absorbs_every_action_with_zero_reward() -> None:
    """Every action in closed stays in closed with reward 0.0 and terminated True."""
    P = AccessReviewMDP().P
    for action in range(len(ACTIONS)):
        assert P[TERMINAL_STATE][action] == [(1.0, TERMINAL_STATE, 0.0, True)]


def test_penalized_invalid_actions_self_loop_in_P() -> None:
    """Penalized invalid actions stay put with prob 1, invalid_action_reward, no end."""
    P = AccessReviewMDP(invalid_action_reward=-3.0).P
    assert P[0][3] == [(1.0, 0, -3.0, False)]
    assert P[2][0] == [(1.0, 2, -3.0, False)]


def test_raised_invalid_actions_have_no_transition_in_P() -> None:
    """Under invalid_action='raise', P has an empty list for each invalid action."""
    P = AccessReviewMDP(invalid_action="raise").P
    assert P[0][3] == []
    assert P[1][1] == []


@settings(max_examples=50, deadline=None)
@given(
    p=st.floats(0.0, 1.0),
    invalid_action=st.sampled_from(["penalize", "raise"]),
    preset=st.sampled_from(sorted(REWARD_PRESETS)),
)
def test_P_invariants(p: float, invalid_action: str, preset: str) -> None:
    """For any p, preset and rule, every P entry is a well-typed distribution.

    Probabilities are floats in (0, 1] summing to 1, next states are ints in range,
    rewards are finite floats and terminated is True exactly on reaching closed; empty
    lists occur only for masked actions under 'raise'.
    """
    mdp = AccessReviewMDP(
        abandonment_prob=p, rewards=preset, invalid_action=invalid_action
    )
    for state, row in mdp.P.items():
        for action, transitions in row.items():
            if transitions:
                assert math.isclose(sum(t[0] for t in transitions), 1.0)
            elif invalid_action == "raise":
                assert not mdp.valid_action_mask[state, action]
            for prob, next_state, reward, terminated in transitions:
                assert type(prob) is float and 0.0 < prob <= 1.0
                assert type(next_state) is int and 0 <= next_state < len(STATES)
                assert type(reward) is float and math.isfinite(reward)
                assert type(terminated) is bool
                assert terminated == (next_state == TERMINAL_STATE)


@settings(max_examples=50, deadline=None)
@given(p=st.floats(0.0, 1.0), invalid_action=st.sampled_from(["penalize", "raise"]))
def test_dense_arrays_agree_with_P(p: float, invalid_action: str) -> None:
    """Dense transitions and rewards equal P's next-state and expected-reward sums.

    Holds for any p and invalid-action rule; terminal marks only closed; an action
    is available exactly where P has a transition (invalid ones too under
    "penalize"), while workflow_arrays keeps the valid ones only; gamma is 0.9.
    """
    mdp = AccessReviewMDP(abandonment_prob=p, invalid_action=invalid_action)
    arrays = mdp.arrays
    for state, row in mdp.P.items():
        for action, transitions in row.items():
            expected_next = np.zeros(len(STATES))
            expected_reward = 0.0
            for prob, next_state, reward, _ in transitions:
                expected_next[next_state] += prob
                expected_reward += prob * reward
            np.testing.assert_allclose(arrays.transitions[state, action], expected_next)
            assert math.isclose(arrays.rewards[state, action], expected_reward)
    np.testing.assert_array_equal(arrays.terminal, [False, False, False, True])
    has_transition = [[bool(mdp.P[s][a]) for a in range(len(ACTIONS))] for s in mdp.P]
    np.testing.assert_array_equal(arrays.available_actions, has_transition)
    np.testing.assert_array_equal(
        mdp.workflow_arrays.available_actions, mdp.valid_action_mask == 1
    )
    assert arrays.gamma == 0.9


def test_valid_action_mask_is_int8_and_matches_spec() -> None:
    """valid_action_mask is int8: rows 1110, 1010, 0001 for states 0-2, 0000 closed."""
    mask = AccessReviewMDP().valid_action_mask
    assert mask.dtype == np.int8
    np.testing.assert_array_equal(
        mask, [[1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    )


def test_P_is_a_fresh_copy_each_time() -> None:
    """Mutating a returned P leaves the next mdp.P unchanged."""
    mdp = AccessReviewMDP()
    mdp.P[0][0].clear()
    assert mdp.P[0][0] == [(1.0, 3, -120.0, True)]


def test_dense_arrays_are_read_only() -> None:
    """Writing into mdp.arrays.rewards raises ValueError: the arrays are read-only."""
    with pytest.raises(ValueError):
        AccessReviewMDP().arrays.rewards[0, 0] = 0.0


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_speed_only_routes_score_100_45_15_at_any_p(p: float) -> None:
    """Under speed_only the first actions are worth 100 / 45 / 15 whatever p is."""
    arrays = AccessReviewMDP(abandonment_prob=p, rewards="speed_only").arrays
    after = {1: 50.0, 2: 50.0}  # the best single step from each successor
    q = [
        arrays.rewards[0, a]
        + 0.9 * sum(arrays.transitions[0, a, s] * after.get(s, 0.0) for s in range(4))
        for a in range(3)
    ]
    np.testing.assert_allclose(q, [100.0, 45.0, 15.0])


def test_reward_override_changes_only_named_transition() -> None:
    """rewards={'abandoned': -80} sets that reward; others keep outcome_aware values."""
    table = AccessReviewMDP(rewards={"abandoned": -80}).reward_table
    assert table["abandoned"] == -80.0
    rest = {k: v for k, v in table.items() if k != "abandoned"}
    default = {
        k: v for k, v in REWARD_PRESETS["outcome_aware"].items() if k != "abandoned"
    }
    assert rest == default


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan, math.inf])
def test_bad_abandonment_prob_is_rejected(p: float) -> None:
    """An abandonment_prob below 0, above 1, NaN or inf raises ValueError."""
    with pytest.raises(ValueError, match=r"abandonment_prob must be"):
        AccessReviewMDP(abandonment_prob=p)


@pytest.mark.parametrize("p", ["0.3", None, True])
def test_non_numeric_abandonment_prob_is_rejected(p: object) -> None:
    """A str, None or bool abandonment_prob raises TypeError citing the [0, 1] range."""
    with pytest.raises(
        TypeError, match="abandonment_prob must be a finite real number in \\[0, 1\\]"
    ):
        AccessReviewMDP(abandonment_prob=p)  # type: ignore[arg-type]


def test_unknown_preset_names_the_allowed_ones() -> None:
    """An unknown preset raises ValueError listing 'outcome_aware', 'speed_only'."""
    with pytest.raises(
        ValueError, match="rewards must be one of 'outcome_aware', 'speed_only'"
    ):
        AccessReviewMDP(rewards="fastest")


def test_unknown_transition_name_names_the_allowed_ones() -> None:
    """An unknown key in a rewards dict raises ValueError listing the valid names."""
    with pytest.raises(ValueError, match=r"unknown transition name.*reviewed_approval"):
        AccessReviewMDP(rewards={"approve": 1.0})


@pytest.mark.parametrize("reward", [math.nan, math.inf, -math.inf])
def test_non_finite_reward_is_rejected(reward: float) -> None:
    """A NaN or infinite reward raises ValueError naming rewards['abandoned']."""
    with pytest.raises(
        ValueError, match=r"rewards\['abandoned'\] must be a finite real number"
    ):
        AccessReviewMDP(rewards={"abandoned": reward})


def test_non_finite_invalid_action_reward_is_rejected() -> None:
    """invalid_action_reward=NaN raises ValueError: it must be a finite real number."""
    with pytest.raises(
        ValueError, match="invalid_action_reward must be a finite real number"
    ):
        AccessReviewMDP(invalid_action_reward=math.nan)


def test_unknown_invalid_action_rule_is_rejected() -> None:
    """An invalid_action rule other than 'penalize' or 'raise' raises ValueError."""
    with pytest.raises(ValueError, match="'penalize', 'raise'"):
        AccessReviewMDP(invalid_action="ignore")  # type: ignore[arg-type]


def test_every_transition_has_a_reward_in_every_preset() -> None:
    """Every reward preset has exactly one reward per name in TRANSITION_NAMES."""
    for preset in REWARD_PRESETS.values():
        assert set(preset) == set(TRANSITION_NAMES)


def test_tabular_mdp_rejects_inconsistent_shapes() -> None:
    """TabularMDP raises ValueError when terminal's shape does not match the states."""
    arrays = AccessReviewMDP().arrays
    with pytest.raises(ValueError, match="terminal has shape"):
        TabularMDP(
            arrays.transitions,
            arrays.rewards,
            np.zeros(3, dtype=bool),
            arrays.available_actions,
            0.9,
            arrays.initial_distribution,
        )


def test_tabular_mdp_rejects_rows_that_are_not_distributions() -> None:
    """TabularMDP raises ValueError when a transition row does not sum to 1."""
    arrays = AccessReviewMDP().arrays
    transitions = arrays.transitions.copy()
    transitions[0, 1] *= 0.5
    with pytest.raises(ValueError, match="probability vector"):
        TabularMDP(
            transitions,
            arrays.rewards,
            arrays.terminal,
            arrays.available_actions,
            0.9,
            arrays.initial_distribution,
        )


def _tabular(**changes: Any) -> TabularMDP:
    arrays = AccessReviewMDP().arrays
    fields: dict[str, Any] = {
        "transitions": np.array(arrays.transitions),
        "rewards": np.array(arrays.rewards),
        "terminal": np.array(arrays.terminal),
        "available_actions": np.array(arrays.available_actions),
        "gamma": arrays.gamma,
        "initial_distribution": np.array(arrays.initial_distribution),
    }
    return TabularMDP(**(fields | changes))


def test_tabular_mdp_refuses_masks_that_are_not_boolean() -> None:
    """An integer or float terminal mask is a TypeError naming the fix, not a NaN."""
    for wrong in (np.array([0, 0, 0, 1]), np.array([0.0, 0.0, 0.0, 1.0])):
        with pytest.raises(TypeError, match=r"terminal must be a boolean array"):
            _tabular(terminal=wrong)


def test_tabular_mdp_takes_plain_lists_of_numbers() -> None:
    """Rewards given as nested lists are converted, not an AttributeError."""
    rewards = AccessReviewMDP().arrays.rewards.tolist()
    assert _tabular(rewards=rewards).rewards.tolist() == rewards


def test_tabular_mdp_copies_what_it_freezes() -> None:
    """The caller's arrays stay writable, and writing them does not reach the MDP."""
    rewards = np.array(AccessReviewMDP().arrays.rewards)
    arrays = _tabular(rewards=rewards)
    rewards[0, 0] = 1.0
    assert arrays.rewards[0, 0] == -120.0
    assert not arrays.rewards.flags.writeable


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"rewards": np.zeros(4)}, ValueError, r"rewards must have shape \(S, A\)"),
        ({"rewards": np.array([["a"] * 4] * 4)}, TypeError, "real numbers"),
        ({"gamma": 1.5}, ValueError, r"gamma must be a finite real number in \[0, 1\]"),
        ({"horizon": 0}, ValueError, "horizon must be an integer >= 1"),
        ({"initial_distribution": np.zeros(4)}, ValueError, "probability vector"),
    ],
)
def test_tabular_mdp_says_what_is_wrong(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Wrong shapes, dtypes or ranges are refused with the field's name."""
    with pytest.raises(error, match=message):
        _tabular(**changes)


@pytest.mark.parametrize("name", ["branches", "arrays", "abandonment_prob", "table"])
def test_a_model_cannot_be_changed_after_it_is_built(name: str) -> None:
    """Fields and derived tables alike refuse assignment.

    So step, P and the planning arrays cannot drift apart.
    """
    mdp = AccessReviewMDP()
    mdp.arrays  # noqa: B018 - computed once, then cached
    with pytest.raises(dataclasses.FrozenInstanceError, match=name):
        setattr(mdp, name, None)
