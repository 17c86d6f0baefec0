"""The table format: a task is data, checked for consistency when it is built."""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Any

import pytest

from access_review_env import (
    ACCESS_REVIEW,
    ACTIONS,
    NON_TERMINAL_STATES,
    STATES,
    TERMINAL_STATE,
    Action,
    State,
)
from access_review_env.tasks import (
    StartRule,
    TransitionRule,
    probability_text,
    probability_value,
    rest,
    share,
)

pytestmark = pytest.mark.env


def test_states_and_actions_are_int_enums_whose_names_are_the_observations() -> None:
    """State.X and Action.X are the indices; STATES / ACTIONS are their names."""
    assert [s.name.lower() for s in State] == list(STATES)
    assert [a.name.lower() for a in Action] == list(ACTIONS)
    assert int(State.REVIEW_QUEUE) == 2 and int(Action.APPROVE_ROTATION) == 3


def test_terminal_and_non_terminal_states_are_derived_from_the_table() -> None:
    """Only closed is terminal; the other three are where episodes run."""
    assert ACCESS_REVIEW.terminal_states == (TERMINAL_STATE,) == (State.CLOSED,)
    assert NON_TERMINAL_STATES == (0, 1, 2)


def test_probabilities_are_products_of_parameters_and_complements() -> None:
    """share(p) is p, rest(p) is 1 - p, a product multiplies, () is 1."""
    parameters = {"p": 0.25, "q": 0.5}
    assert probability_value((), parameters) == 1.0
    assert probability_value((rest("p"),), parameters) == 0.75
    assert probability_value((rest("p"), share("q")), parameters) == 0.375
    assert probability_text((rest("p"), share("q"))) == "(1 - p) * q"
    assert probability_text(()) == "1"


def _table(**changes: Any) -> Any:
    return dataclasses.replace(ACCESS_REVIEW, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rules": (*ACCESS_REVIEW.rules, ACCESS_REVIEW.rules[0])}, "unique"),
        (
            {
                "rules": (
                    TransitionRule("x", 0, 0, 3, (share("nowhere"),)),
                    *ACCESS_REVIEW.rules[1:],
                )
            },
            "unknown parameter",
        ),
        ({"rules": ACCESS_REVIEW.rules[:1] + ACCESS_REVIEW.rules[2:]}, "sum to 1"),
        ({"starts": (StartRule(0, (share("abandonment_prob"),)),)}, "sum to 1"),
        (
            {"reward_presets": {"outcome_aware": {"abandoned": 1.0}}},
            "reward exactly the rules",
        ),
        (
            {"rules": (*ACCESS_REVIEW.rules, TransitionRule("y", 3, 0, 3))},
            "leaves a terminal state",
        ),
        ({"outcomes": ("closed",)}, "first outcome must be 'pending'"),
        ({"default_preset": "fastest"}, "unknown default preset"),
    ],
)
def test_an_inconsistent_table_is_refused_when_built(
    changes: dict[str, Any], message: str
) -> None:
    """Duplicate names, unknown parameters, branches not summing to 1: ValueError."""
    with pytest.raises(ValueError, match=message):
        _table(**changes)


def test_states_must_be_numbered_from_zero() -> None:
    """An IntEnum with a gap cannot be a task's states: indices are observations."""

    class Gappy(IntEnum):
        FIRST = 0
        THIRD = 2

    with pytest.raises(ValueError, match="numbered 0, 1, 2"):
        _table(states=Gappy)
