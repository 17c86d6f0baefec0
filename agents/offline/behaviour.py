"""Policies whose action probabilities are known: the behaviour that writes a log.

Off-policy evaluation divides by the probability with which the logging
(behaviour) policy chose each logged action, so that policy must be a table of
probabilities, not a black box. A :class:`BehaviourPolicy` is such a table over
a task's states and actions; it puts mass only on each state's valid actions
and samples a whole batch of states at once. Target policies are read into the
same form (:func:`tabulate_policy`), so a log's propensities and a target's
probabilities are looked up alike.

Every constructor here takes the task's arrays with only its valid actions
available: :func:`~agents.offline.collection.task_arrays` (or
``mdp.workflow_arrays``), never ``mdp.arrays``, which also makes the penalized
invalid actions available. Collection refuses a policy that puts mass on an
invalid action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from access_review_env import TabularMDP
from access_review_env.validation import check_real, check_unit_interval
from agents.planning import policy_matrix


@dataclass(frozen=True)
class BehaviourPolicy:
    """A stochastic policy given as a table of action probabilities.

    Attributes:
        probabilities: ``(S, A)``; each row a distribution. Rows of non-terminal
            states put mass only on that state's valid actions; a terminal
            state's row is one-hot on action 0 (no decision is taken there).
        name: A short description, written to a log's metadata.
        params: How the policy was built (e.g. ``{"epsilon": 0.3}``), for the
            metadata.

    Raises:
        ValueError: If ``probabilities`` is not a finite ``(S, A)`` table of
            distributions.
    """

    probabilities: NDArray[np.float64]
    name: str = "tabular"
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the table, freeze it and precompute the sampling thresholds."""
        table = np.array(self.probabilities, dtype=np.float64)
        if table.ndim != 2 or table.shape[1] < 1:
            raise ValueError(
                f"probabilities must be an (S, A) table, got shape {table.shape}"
            )
        if not np.all(np.isfinite(table)) or np.any(table < 0.0):
            raise ValueError("probabilities must be finite and non-negative")
        sums = table.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-9):
            bad = int(np.argmax(np.abs(sums - 1.0)))
            raise ValueError(
                f"row {bad} of probabilities sums to {sums[bad]!r}; every row "
                "must be a distribution over actions"
            )
        table /= sums[:, None]
        cumulative = np.cumsum(table, axis=1)
        cumulative[:, -1] = 1.0
        table.flags.writeable = False
        cumulative.flags.writeable = False
        object.__setattr__(self, "probabilities", table)
        object.__setattr__(self, "_cumulative", cumulative)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.probabilities.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return int(self.probabilities.shape[1])

    def sample(
        self, states: NDArray[np.integer[Any]], rng: np.random.Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Draw one action per state, with the probability of each draw.

        Args:
            states: ``(N,)`` state indices.
            rng: Source of the draws (one uniform per state).

        Returns:
            ``(actions, propensities)``, both ``(N,)``: the sampled actions and
            the probability the policy gave each of them.
        """
        states = np.asarray(states)
        cumulative: NDArray[np.float64] = self.__dict__["_cumulative"]
        uniforms = np.asarray(rng.random(states.shape[0]), dtype=np.float64)
        rows = cumulative[states]
        # The first action whose cumulative probability exceeds the draw; a
        # zero-probability action never gets there, as its cumulative value
        # equals its predecessor's.
        actions = np.count_nonzero(rows <= uniforms[:, None], axis=1).astype(np.int64)
        return actions, self.probabilities[states, actions]

    def probability(
        self, states: NDArray[np.integer[Any]], actions: NDArray[np.integer[Any]]
    ) -> NDArray[np.float64]:
        """``(N,)`` the probability of each ``actions[i]`` in ``states[i]``."""
        return np.asarray(self.probabilities[states, actions], dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description: name, params and the probability table."""
        return {
            "name": self.name,
            "params": dict(self.params),
            "probabilities": self.probabilities.tolist(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BehaviourPolicy:
        """Rebuild a policy from :meth:`to_json`'s output.

        Raises:
            ValueError: If a key is missing or the table is malformed.
        """
        try:
            return cls(
                np.asarray(data["probabilities"], dtype=np.float64),
                str(data["name"]),
                dict(data["params"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(
                "a policy description needs 'name', 'params' and 'probabilities', "
                f"got keys {sorted(data)}"
            ) from error

    def __repr__(self) -> str:
        """Name and parameters (the table is printed only by ``to_json``)."""
        return f"BehaviourPolicy({self.name!r}, {json.dumps(dict(self.params))})"


def _live_mask(mdp: TabularMDP) -> NDArray[np.bool_]:
    live = mdp.available_actions & ~mdp.terminal[:, None]
    return np.asarray(live, dtype=bool)


def _finish(mdp: TabularMDP, table: NDArray[np.float64]) -> NDArray[np.float64]:
    """Put terminal rows on action 0, as the planners' greedy policies do."""
    table = np.array(table, dtype=np.float64)
    table[mdp.terminal] = 0.0
    table[mdp.terminal, 0] = 1.0
    return table


def uniform_policy(mdp: TabularMDP) -> BehaviourPolicy:
    """Uniformly random among each state's valid actions."""
    live = _live_mask(mdp)
    counts = np.maximum(live.sum(axis=1, keepdims=True), 1)
    return BehaviourPolicy(_finish(mdp, live / counts), "uniform", {})


def epsilon_greedy_policy(
    mdp: TabularMDP, actions: NDArray[np.integer[Any]], epsilon: float
) -> BehaviourPolicy:
    """``actions[s]`` with probability ``1 - epsilon``, else uniform over valid actions.

    Args:
        mdp: The task's arrays (valid actions and terminal states are read there).
        actions: ``(S,)`` the greedy action per state; it must be valid in
            every non-terminal state.
        epsilon: Exploration probability in [0, 1].

    Raises:
        TypeError: If ``epsilon`` is not a real number.
        ValueError: For an ``epsilon`` outside [0, 1], a wrong shape, or a
            greedy action that is invalid in its state.
    """
    epsilon = check_unit_interval("epsilon", epsilon)
    actions = np.asarray(actions)
    if actions.shape != (mdp.n_states,) or actions.dtype.kind not in "iu":
        raise ValueError(
            f"actions must be ({mdp.n_states},) integers, got {actions.dtype} "
            f"{actions.shape}"
        )
    live = _live_mask(mdp)
    states = np.flatnonzero(~mdp.terminal)
    greedy = actions[states]
    if np.any((greedy < 0) | (greedy >= mdp.n_actions)) or not np.all(
        live[states, greedy]
    ):
        bad = int(
            states[np.argmin(live[states, np.clip(greedy, 0, mdp.n_actions - 1)])]
        )
        raise ValueError(
            f"greedy action {int(actions[bad])} is not valid in state {bad}; valid "
            f"actions there: {np.flatnonzero(live[bad]).tolist()}"
        )
    counts = np.maximum(live.sum(axis=1, keepdims=True), 1)
    table = epsilon * live / counts
    table[states, greedy] += 1.0 - epsilon
    return BehaviourPolicy(
        _finish(mdp, table),
        "epsilon_greedy",
        {"epsilon": float(epsilon), "greedy": [int(a) for a in actions]},
    )


def softmax_policy(
    mdp: TabularMDP, preferences: NDArray[np.float64], temperature: float = 1.0
) -> BehaviourPolicy:
    """Softmax of ``preferences / temperature`` over each state's valid actions.

    Args:
        mdp: The task's arrays.
        preferences: ``(S, A)`` finite preferences (e.g. Q values; ``-inf``
            entries of invalid actions are ignored).
        temperature: Positive; lower is greedier.

    Raises:
        TypeError: If ``temperature`` is not a real number.
        ValueError: For a non-positive temperature or a wrong shape.
    """
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    preferences = np.asarray(preferences, dtype=np.float64)
    if preferences.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"preferences must have shape {(mdp.n_states, mdp.n_actions)}, got "
            f"{preferences.shape}"
        )
    live = _live_mask(mdp)
    scaled = np.where(live, preferences / temperature, -np.inf)
    top = np.max(scaled, axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    weights = np.where(live, np.exp(scaled - top), 0.0)
    sums = np.maximum(weights.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    return BehaviourPolicy(
        _finish(mdp, weights / sums),
        "softmax",
        {"temperature": float(temperature)},
    )


def tabulate_policy(
    mdp: TabularMDP, policy: NDArray[Any] | BehaviourPolicy
) -> BehaviourPolicy:
    """A plan's actions or a probability table, as a :class:`BehaviourPolicy`.

    Target policies are read this way, so that their probabilities are looked
    up as a log's propensities are.

    Args:
        mdp: The task's arrays, valid actions only (see the module docstring).
        policy: A :class:`BehaviourPolicy`, ``(S,)`` integer actions (a
            deterministic policy, e.g. ``value_iteration(...).policy``), or an
            ``(S, A)`` probability table.

    Raises:
        ValueError: For a wrong shape, or mass on an action invalid in a
            non-terminal state (see :func:`agents.planning.policy_matrix`).
    """
    if isinstance(policy, BehaviourPolicy):
        table = policy_matrix(mdp, policy.probabilities)
        return BehaviourPolicy(_finish(mdp, table), policy.name, policy.params)
    array = np.asarray(policy)
    table = policy_matrix(mdp, array)
    if array.ndim == 1:
        return BehaviourPolicy(
            _finish(mdp, table), "deterministic", {"actions": array.tolist()}
        )
    return BehaviourPolicy(_finish(mdp, table), "tabular", {})
