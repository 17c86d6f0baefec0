"""What a log's task allows each row to say: the rules a log is checked against.

A log names its task (``env_id``) and, for each period of its schedule, the
configuration its requests ran under (the env kwargs: probabilities, reward
specification). :class:`TaskRules` makes each configuration with ``gym.make``
and reads from ``env.unwrapped.mdp`` what a row may hold: the states an
episode can start in, each state's valid-action mask, the terminal states,
the time limit, and every result (next state, reward, cost, outcome,
termination) each valid action can have. The model is the truth a row is
checked against.

Rows are checked as whole arrays, since a log can hold millions: a result is
encoded as one integer and looked up among the encoded results the task
allows. :mod:`agents.offline.logs` applies the rules and names the file, row
and rule of the first row that breaks one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from access_review_env import Branch, TaskMDP
from access_review_env.wrappers import time_limit
from agents.offline.clock import DriftSchedule


def made_task(
    env_id: str, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[TaskMDP, int | None]:
    """The task's MDP and time limit, as ``gym.make(env_id, **env_kwargs)`` makes it.

    Raises:
        TypeError: If the env is not one of this package's tasks (it exposes
            no ``unwrapped.mdp``, so its exact values are unknown).
    """
    mdp, limit, _ = _made(env_id, env_kwargs)
    return mdp, limit


def _made(
    env_id: str, env_kwargs: Mapping[str, Any] | None
) -> tuple[TaskMDP, int | None, bool]:
    """The task's MDP, time limit and whether resets start anywhere (exploring)."""
    env = gym.make(env_id, **dict(env_kwargs or {}))
    try:
        mdp = getattr(env.unwrapped, "mdp", None)
        limit = time_limit(env)
        exploring = bool(getattr(env.unwrapped, "exploring_starts", False))
    finally:
        env.close()
    if not isinstance(mdp, TaskMDP):
        raise TypeError(
            f"{env_id} exposes no env.unwrapped.mdp task table, so its exact "
            "values are unknown"
        )
    return mdp, limit, exploring


def mask_bits(mask: NDArray[Any]) -> NDArray[np.uint32]:
    """``(N,)`` an ``(N, A)`` 0/1 valid-action mask as bits (bit ``a``: action a)."""
    n_actions = mask.shape[1]
    if n_actions > 32:
        raise ValueError(
            f"masks of more than 32 actions are not supported, got {n_actions}"
        )
    weights = np.left_shift(np.uint32(1), np.arange(n_actions, dtype=np.uint32))
    return np.asarray((mask != 0).astype(np.uint32) @ weights, dtype=np.uint32)


def _lookup(values: NDArray[Any], table: NDArray[Any]) -> NDArray[np.int64]:
    """``(n,)`` the index of each value in the sorted ``table``, -1 if absent."""
    index = np.searchsorted(table, values)
    if table.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    clipped = np.minimum(index, table.size - 1)
    return np.where(table[clipped] == values, clipped, -1).astype(np.int64)


@dataclass(frozen=True)
class TaskRules:
    """The rules of one log's task, for every period of its schedule.

    Attributes:
        env_id: The task.
        mdps: ``(P,)`` each period's task model (equal kwargs share one).
        period_names: ``(P,)`` the periods' names.
        first_request: ``(P + 1,)`` the first request id of each period (ids
            are numbered in arrival order, period after period), then the
            total number of requests.
        period_starts: ``(P + 1,)`` when each period starts, then the end.
        time_limit: The registered time limit in steps, or None.
        starts: ``(P, S)`` the states a request of each period can start in.
        masks: ``(P, S)`` each state's valid-action mask as bits (0 when
            terminal).
        terminal: ``(S,)`` the terminal states.
        rewards: ``(R,)`` sorted: every reward a valid action can pay.
        costs: ``(C,)`` sorted: every cost a valid action can have.
        results: Sorted codes (see :meth:`result_codes`) of every result a
            valid action can have, in each period.
    """

    env_id: str
    mdps: tuple[TaskMDP, ...]
    period_names: tuple[str, ...]
    first_request: NDArray[np.int64]
    period_starts: NDArray[np.datetime64]
    time_limit: int | None
    starts: NDArray[np.bool_]
    masks: NDArray[np.uint32]
    terminal: NDArray[np.bool_]
    rewards: NDArray[np.float64]
    costs: NDArray[np.float32]
    results: NDArray[np.int64]

    @classmethod
    def of(cls, env_id: str, schedule: Sequence[Mapping[str, Any]]) -> TaskRules:
        """Make every period's configuration and collect what it allows.

        Args:
            env_id: The task the log names.
            schedule: The log's periods (``DriftSchedule.to_json``).

        Raises:
            ValueError: For a malformed schedule, or periods whose tasks
                differ in states, actions, outcomes, terminal states or time
                limit.
            TypeError: If the env is not one of this package's tasks.
            gymnasium.error.Error: If ``env_id`` is not registered.
        """
        periods = DriftSchedule.from_json(schedule).periods
        made: dict[str, tuple[TaskMDP, int | None, bool]] = {}
        worlds = []
        for period in periods:
            key = repr(sorted(period.env_kwargs.items()))
            if key not in made:
                made[key] = _made(env_id, period.env_kwargs)
            worlds.append(made[key])
        first, limit, _ = worlds[0]
        table = first.table
        for period, (mdp, period_limit, _) in zip(periods, worlds, strict=True):
            same = (
                mdp.table.state_names,
                mdp.table.action_names,
                mdp.table.outcomes,
                mdp.table.terminal_states,
                period_limit,
            ) == (
                table.state_names,
                table.action_names,
                table.outcomes,
                table.terminal_states,
                limit,
            )
            if not same:
                raise ValueError(
                    f"period {period.name!r} makes a task with other states, "
                    "actions, outcomes, terminal states or time limit than the "
                    "first period's"
                )
        terminal = np.zeros(first.n_states, dtype=bool)
        terminal[list(table.terminal_states)] = True
        starts = np.array(
            [
                ~terminal if exploring else mdp.start_distribution > 0
                for mdp, _, exploring in worlds
            ]
        )
        masks = np.array(
            [
                np.where(terminal, 0, mask_bits(mdp.valid_action_mask))
                for mdp, _, _ in worlds
            ],
            dtype=np.uint32,
        )
        branches = [
            (p, s, a, b)
            for p, (mdp, _, _) in enumerate(worlds)
            for s in np.flatnonzero(~terminal)
            for a in np.flatnonzero(mdp.valid_action_mask[s])
            for b in mdp.branches[s][a]
        ]
        rewards = np.unique(np.array([b.reward for *_, b in branches], np.float64))
        costs = np.unique(np.array([b.cost for *_, b in branches], np.float32))
        rules = cls(
            env_id,
            tuple(mdp for mdp, _, _ in worlds),
            tuple(period.name for period in periods),
            np.cumsum([0] + [period.n_requests for period in periods]),
            np.array(
                [period.start for period in periods] + [periods[-1].end],
                dtype="datetime64[ms]",
            ),
            limit,
            starts,
            masks,
            terminal,
            rewards,
            costs,
            np.zeros(0, dtype=np.int64),
        )
        codes = rules.result_codes(
            np.array([p for p, *_ in branches], dtype=np.int64),
            np.array([s for _, s, *_ in branches], dtype=np.int64),
            np.array([a for *_, a, _ in branches], dtype=np.int64),
            np.array([b.next_state for *_, b in branches], dtype=np.int64),
            np.array([b.reward for *_, b in branches], dtype=np.float64),
            np.array([b.cost for *_, b in branches], dtype=np.float32),
            np.array([table.outcomes.index(b.outcome) for *_, b in branches]),
            np.array([b.terminated for *_, b in branches], dtype=bool),
        )
        object.__setattr__(rules, "results", np.unique(codes))
        return rules

    @property
    def mdp(self) -> TaskMDP:
        """The first period's task model (names, discount, terminal states)."""
        return self.mdps[0]

    @property
    def n_requests(self) -> int:
        """Requests the schedule holds (ids ``0 .. n_requests - 1``)."""
        return int(self.first_request[-1])

    def period_of(self, request_id: NDArray[np.int64]) -> NDArray[np.int64]:
        """``(n,)`` the period each request id belongs to (ids in range)."""
        if len(self.mdps) == 1:
            return np.zeros(request_id.shape, dtype=np.int64)
        index = np.searchsorted(self.first_request[1:-1], request_id, side="right")
        return np.asarray(index, dtype=np.int64)

    def period_at(self, times: NDArray[np.datetime64]) -> NDArray[np.int64]:
        """``(n,)`` the period each time falls in; -1 before, P after the schedule."""
        index = np.searchsorted(self.period_starts, times, side="right") - 1
        return np.asarray(index, dtype=np.int64)

    def result_codes(
        self,
        period: NDArray[np.int64],
        state: NDArray[Any],
        action: NDArray[Any],
        next_state: NDArray[Any],
        reward: NDArray[np.float64],
        cost: NDArray[np.float32],
        outcome: NDArray[Any],
        terminated: NDArray[np.bool_],
    ) -> NDArray[np.int64]:
        """``(n,)`` each row's result as one integer; -1 for an unknown reward or cost.

        The code is the row's index in the grid of periods, states, actions,
        next states, rewards, costs, outcomes and termination. All arguments
        are ``(n,)`` and in range, except rewards and costs.
        """
        n_states, n_actions = self.terminal.size, len(self.mdp.table.action_names)
        reward_index = _lookup(reward, self.rewards)
        cost_index = _lookup(cost.astype(np.float32), self.costs)
        code = period.astype(np.int64) * n_states + state
        code = code * n_actions + action
        code = code * n_states + next_state
        code = code * max(self.rewards.size, 1) + reward_index
        code = code * max(self.costs.size, 1) + cost_index
        code = code * len(self.mdp.table.outcomes) + outcome
        code = code * 2 + terminated
        return np.where((reward_index < 0) | (cost_index < 0), -1, code)

    def allowed(self, codes: NDArray[np.int64]) -> NDArray[np.bool_]:
        """``(n,)`` whether each code is a result the task allows."""
        return np.asarray(_lookup(codes, self.results) >= 0, dtype=bool)

    def explain(
        self,
        period: int,
        state: int,
        action: int,
        next_state: int,
        reward: float,
        cost: float,
        outcome: int,
        terminated: bool,
    ) -> str:
        """Which rule one logged result breaks, with what the task allows instead."""
        mdp = self.mdps[period]
        names = mdp.table
        where = f"{names.action_names[action]} in {names.state_names[state]}" + (
            f" (period {self.period_names[period]})" if len(self.mdps) > 1 else ""
        )
        branches: tuple[Branch, ...] = mdp.branches[state][action]
        following = [b for b in branches if b.next_state == next_state]
        if not following:
            reachable = sorted({names.state_names[b.next_state] for b in branches})
            return (
                f"next_state {names.state_names[next_state]} cannot follow {where}; "
                f"the task reaches {', '.join(reachable)}"
            )
        paying = [b for b in following if b.reward == reward]
        if not paying:
            pays = sorted({b.reward for b in following})
            return (
                f"reward {reward!r} is not one the task pays for {where} to "
                f"{names.state_names[next_state]} under the log's reward "
                f"specification; it pays {', '.join(map(repr, pays))}"
            )
        return (
            f"cost {cost!r}, outcome {names.outcomes[outcome]} and terminated "
            f"{terminated} do not match a result of {where} to "
            f"{names.state_names[next_state]} with reward {reward!r}; the task's: "
            + "; ".join(
                f"cost {b.cost!r}, outcome {b.outcome}, terminated {b.terminated}"
                for b in paying
            )
        )
