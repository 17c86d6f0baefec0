"""Reading any policy as an ``(S, A)`` table of action probabilities, or saying why not.

How a policy is read decides how it is scored (:class:`PolicyReading`):

* ``"stochastic"``: a :class:`~agents.policies.predictor.StochasticPolicy` is
  read from its ``action_probabilities``, in batches of
  :data:`PROBABILITY_BATCH` states;
* ``"greedy"``: any other policy is asked for its deterministic action
  (``predict(..., deterministic=True)``) :data:`PROBES` times in every
  non-terminal state, with the harness's generator seeding every global
  generator it could draw from
  (:func:`~agents.policies.global_random.seeded_global_random`); when it gives
  one answer per state, that answer is its table;
* ``"sampled"``: such a policy answered differently in some state. One draw
  per state would give the value of one arbitrary deterministic policy, not
  of this one, so it has no table: it is scored by Monte Carlo alone, and
  :attr:`PolicyReading.reason` says why.

An action table (array or list) is deterministic by construction and is
read once per state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from agents.policies.global_random import seeded_global_random
from agents.policies.predictor import (
    AgentError,
    PolicyLike,
    StochasticPolicy,
    accepts_action_masks,
    as_predictor,
    predict_action,
)

PROBES = 8
"""Times a policy without stated probabilities is asked in each state."""

PROBABILITY_BATCH = 4_096
"""States per ``action_probabilities`` call when a table is read."""

ROW_SUM_TOLERANCE = 1e-6
"""How far from 1 a stated probability row may sum (float32 networks); rows
within it are renormalized, so the exact value and the rollouts use one table."""

Mode = Literal["greedy", "stochastic", "sampled"]
"""How a policy was read and is scored (see the module docstring)."""

MODES: tuple[Mode, ...] = ("greedy", "stochastic", "sampled")


@dataclass(frozen=True)
class PolicyReading:
    """A policy read as an ``(S, A)`` probability table, or why it has none.

    Attributes:
        mode: ``"greedy"``, ``"stochastic"`` or ``"sampled"`` (see the module
            docstring).
        table: ``(S, A)`` action probabilities; terminal rows put all mass on
            action 0. None when the policy cannot be read as a table.
        reason: Why ``table`` is None (None when there is a table).
    """

    mode: Mode
    table: NDArray[np.float64] | None
    reason: str | None = None


class ProbabilityTable:
    """An ``(S, A)`` table of action probabilities as a :class:`StochasticPolicy`.

    Scoring rolls out the table it evaluated exactly through this, so both
    come from the very same numbers.
    """

    def __init__(self, table: NDArray[np.float64]) -> None:
        """Read probabilities from ``table`` ``(S, A)``."""
        self.table = np.asarray(table, dtype=np.float64)

    def action_probabilities(
        self, states: NDArray[np.int64], masks: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """``(n, A)`` the table's rows of ``states``."""
        return np.asarray(self.table[np.asarray(states, dtype=np.int64)])


def checked_probabilities(
    probabilities: Any,
    states: NDArray[np.int64],
    n_actions: int,
    name: str = "policy",
) -> NDArray[np.float64]:
    """``(n, A)`` stated probabilities, checked and renormalized.

    Args:
        probabilities: What ``action_probabilities(states, masks)`` returned.
        states: ``(n,)`` the states asked about (for the error message).
        n_actions: ``A``.
        name: How an error names the policy.

    Raises:
        AgentError: If the answer is not ``(n, A)`` finite, non-negative rows
            each summing to 1 within :data:`ROW_SUM_TOLERANCE`.
    """
    shape = (len(states), n_actions)
    array = np.asarray(probabilities, dtype=np.float64)
    if array.shape != shape:
        raise AgentError(
            f"{name}.action_probabilities(states, masks) returned shape "
            f"{array.shape} for {len(states)} states; allowed: {shape}, one row "
            "of action probabilities per state"
        )
    sums = array.sum(axis=1)
    bad = ~np.isfinite(array).all(axis=1) | (array < 0).any(axis=1)
    bad |= ~(np.abs(sums - 1.0) <= ROW_SUM_TOLERANCE)
    if bad.any():
        row = int(np.argmax(bad))
        raise AgentError(
            f"{name} gave action probabilities {array[row].tolist()} in state "
            f"{int(states[row])}; allowed: non-negative numbers summing to 1 "
            f"(within {ROW_SUM_TOLERANCE})"
        )
    return np.asarray(array / sums[:, None])


def stochastic_table(
    policy: StochasticPolicy,
    masks: NDArray[np.bool_],
    live: NDArray[np.bool_],
    name: str = "policy",
) -> NDArray[np.float64]:
    """``(S, A)`` a stochastic policy's probabilities, read in batches.

    Args:
        policy: The policy.
        masks: ``(S, A)`` each state's valid actions.
        live: ``(S,)`` the non-terminal states, the only ones asked about;
            terminal rows put all mass on action 0.
        name: How an error names the policy.

    Raises:
        AgentError: For probabilities that are not distributions (see
            :func:`checked_probabilities`).
    """
    n_states, n_actions = masks.shape
    table = np.zeros((n_states, n_actions))
    table[:, 0] = 1.0
    states = np.flatnonzero(live)
    for start in range(0, states.size, PROBABILITY_BATCH):
        batch = states[start : start + PROBABILITY_BATCH]
        answer = policy.action_probabilities(batch, masks[batch].copy())
        table[batch] = checked_probabilities(answer, batch, n_actions, name)
    return table


def read_policy(
    policy: PolicyLike | StochasticPolicy,
    masks: NDArray[np.bool_],
    live: NDArray[np.bool_],
    *,
    rng: np.random.Generator,
    probes: int = PROBES,
    observe: Callable[[int], Any] | None = None,
    name: str = "policy",
) -> PolicyReading:
    """Read ``policy`` as a table: from its probabilities, or by probing it.

    Args:
        policy: A :class:`StochasticPolicy` or anything
            :func:`~agents.policies.predictor.as_predictor` accepts (SB3
            models and MaskablePPO with each state's mask included).
        masks: ``(S, A)`` each state's valid actions (``info["action_mask"]``).
        live: ``(S,)`` the non-terminal states, the only ones read.
        rng: The harness's generator: it seeds the global generators while
            the policy is probed.
        probes: Times a policy without stated probabilities is asked per
            state (an action table is asked once).
        observe: The observation the env shows in a state (the state itself
            when None, as for index observations).
        name: How messages name the policy.

    Returns:
        The reading; see :class:`PolicyReading`. A policy that raises
        ``IndexError``, ``TypeError`` or ``ValueError`` when asked about a
        state gets no table, with the error as the reason.

    Raises:
        AgentError: If the policy answers with an action outside the space,
            or states probabilities that are not distributions.
    """
    if isinstance(policy, StochasticPolicy):
        return PolicyReading("stochastic", stochastic_table(policy, masks, live, name))
    if isinstance(policy, np.ndarray | list | tuple):
        probes = 1
    predictor = as_predictor(policy)
    masked = accepts_action_masks(predictor)
    table = np.zeros(masks.shape)
    table[:, 0] = 1.0
    with seeded_global_random(rng):
        for state in np.flatnonzero(live):
            observation = int(state) if observe is None else observe(int(state))
            answers: Counter[int] = Counter()
            try:
                for _ in range(probes):
                    # A fresh, writable mask, as the env hands out (torch warns
                    # on read-only arrays).
                    answers[
                        predict_action(
                            predictor,
                            observation,
                            masks[state].copy(),
                            True,
                            masked,
                            name,
                        )
                    ] += 1
            except (IndexError, TypeError, ValueError) as error:
                return PolicyReading(
                    "greedy",
                    None,
                    f"{name} could not be asked for its action in state "
                    f"{int(state)} ({type(error).__name__}: {error}); it is "
                    "scored by Monte Carlo alone",
                )
            if len(answers) > 1:
                counts = ", ".join(f"{a} x{n}" for a, n in sorted(answers.items()))
                return PolicyReading(
                    "sampled",
                    None,
                    f"{name} answered differently when asked {probes} times in "
                    f"state {int(state)} (actions {counts}): one answer per state "
                    "would be the value of another, deterministic policy, so it "
                    "has no exact value and is scored by Monte Carlo alone; give "
                    "it action_probabilities(states, masks) to be scored exactly",
                )
            table[state] = 0.0
            table[state, next(iter(answers))] = 1.0
    return PolicyReading("greedy", table)


def deterministic_table(actions: Any, n_actions: int) -> NDArray[np.float64]:
    """``(S, A)`` one-hot table of a deterministic ``(S,)`` policy."""
    return np.asarray(np.eye(n_actions)[np.asarray(actions)], dtype=np.float64)
