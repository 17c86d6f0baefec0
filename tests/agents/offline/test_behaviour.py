"""Behaviour policies: known probabilities, only valid actions, batched sampling."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from access_review_env import ENV_ID, TABLE_ENV_IDS, TabularMDP
from agents.offline import (
    BehaviourPolicy,
    epsilon_greedy_policy,
    softmax_policy,
    tabulate_policy,
    task_arrays,
    uniform_policy,
)
from agents.planning import value_iteration

MDP = task_arrays(ENV_ID)


def all_policies(mdp: TabularMDP) -> list[BehaviourPolicy]:
    """One policy of each kind on a task."""
    optimum = value_iteration(mdp)
    return [
        uniform_policy(mdp),
        epsilon_greedy_policy(mdp, optimum.policy, 0.3),
        softmax_policy(mdp, optimum.Q, temperature=20.0),
        tabulate_policy(mdp, optimum.policy),
    ]


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_rows_are_distributions_over_valid_actions(env_id: str) -> None:
    """Every row sums to 1; non-terminal rows put no mass on invalid actions."""
    mdp = task_arrays(env_id)
    for policy in all_policies(mdp):
        assert np.allclose(policy.probabilities.sum(axis=1), 1.0), policy.name
        live = ~mdp.terminal
        invalid = ~mdp.available_actions[live]
        assert np.all(policy.probabilities[live][invalid] == 0.0), policy.name


def test_epsilon_greedy_probabilities() -> None:
    """Greedy: 1 - epsilon + epsilon / n_valid; others epsilon / n_valid."""
    policy = epsilon_greedy_policy(MDP, np.array([2, 0, 3, 0]), 0.3)
    assert policy.probabilities[0].tolist() == pytest.approx([0.1, 0.1, 0.8, 0.0])
    assert policy.probabilities[1].tolist() == pytest.approx([0.85, 0.0, 0.15, 0.0])
    assert policy.probabilities[2].tolist() == pytest.approx([0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_sampling_matches_the_table(env_id: str) -> None:
    """Chi-square goodness of fit per state, 60,000 draws, level 1e-4 per state.

    At most 3 policies x 5 states are tested per task, so the chance of a false
    failure is below 2e-3.
    """
    mdp = task_arrays(env_id)
    rng = np.random.default_rng(3)
    for policy in all_policies(mdp)[:3]:
        for state in np.flatnonzero(~mdp.terminal):
            states = np.full(60_000, state)
            actions, propensities = policy.sample(states, rng)
            assert np.all(propensities == policy.probabilities[state, actions])
            expected = policy.probabilities[state] * states.size
            observed = np.bincount(actions, minlength=mdp.n_actions)
            support = expected > 0
            assert np.all(observed[~support] == 0)
            if support.sum() > 1:
                p_value = stats.chisquare(observed[support], expected[support]).pvalue
                assert p_value > 1e-4, (policy.name, state)


def test_json_round_trip() -> None:
    """to_json / from_json rebuilds the same table, name and parameters."""
    policy = epsilon_greedy_policy(MDP, np.array([2, 0, 3, 0]), 0.25)
    again = BehaviourPolicy.from_json(policy.to_json())
    assert np.array_equal(again.probabilities, policy.probabilities)
    assert (again.name, dict(again.params)) == (policy.name, dict(policy.params))
    assert "epsilon_greedy" in repr(policy)


def test_tabulate_keeps_a_policy_and_reads_tables() -> None:
    """A BehaviourPolicy passes through; a stochastic table keeps its values."""
    uniform = uniform_policy(MDP)
    assert np.array_equal(
        tabulate_policy(MDP, uniform).probabilities, uniform.probabilities
    )
    table = tabulate_policy(MDP, uniform.probabilities)
    assert table.name == "tabular"
    assert np.array_equal(table.probabilities, uniform.probabilities)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: epsilon_greedy_policy(MDP, np.array([2, 0, 3, 0]), 1.5),
            ValueError,
            "epsilon",
        ),
        (
            lambda: epsilon_greedy_policy(
                MDP,
                np.array([2, 0, 3, 0]),
                "0.1",  # type: ignore[arg-type]
            ),
            TypeError,
            "epsilon",
        ),
        (
            lambda: epsilon_greedy_policy(MDP, np.array([3, 0, 3, 0]), 0.1),
            ValueError,
            "state 0",
        ),
        (
            lambda: softmax_policy(MDP, np.zeros((4, 4)), temperature=0.0),
            ValueError,
            "temperature",
        ),
        (
            lambda: tabulate_policy(MDP, np.array([0, 1, 3, 0])),
            ValueError,
            "state 1",
        ),
        (lambda: BehaviourPolicy(np.full((2, 2), 0.6)), ValueError, "row 0"),
        (lambda: BehaviourPolicy.from_json({"name": "x"}), ValueError, "probabilities"),
    ],
)
def test_bad_policies_are_refused(
    make: Callable[[], object], error: type[Exception], message: str
) -> None:
    """Each bad input names what is wrong."""
    with pytest.raises(error, match=message):
        make()
