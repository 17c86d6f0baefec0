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

from access_review_env import TABLE_ENV_IDS, Branch, TaskMDP
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
            f"offline evaluation reads a task's table, which {env_id} has not "
            f"(its env.unwrapped.mdp is a {type(mdp).__name__}); tasks it "
            f"supports: {', '.join(TABLE_ENV_IDS)}"
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


def _results(
    mdp: TaskMDP, terminal: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Rewards, costs and terminations of every result of the valid actions.

    Each ``(S * A * S * O, K)``, indexed by state, action, next state and
    outcome; ``K`` is the most results any of these has (NaN past them).
    """
    n_states, n_actions = mdp.n_states, mdp.n_actions
    outcomes = mdp.table.outcomes
    found: dict[int, list[Branch]] = {}
    for state in map(int, np.flatnonzero(~terminal)):
        for action in map(int, np.flatnonzero(mdp.valid_action_mask[state])):
            for branch in mdp.branches[state][action]:
                key = (state * n_actions + action) * n_states + branch.next_state
                key = key * len(outcomes) + outcomes.index(branch.outcome)
                found.setdefault(key, []).append(branch)
    width = max((len(branches) for branches in found.values()), default=1)
    shape = (n_states * n_actions * n_states * len(outcomes), width)
    rewards, costs, ends = (np.full(shape, np.nan) for _ in range(3))
    for key, branches in found.items():
        for k, branch in enumerate(branches):
            rewards[key, k] = branch.reward
            costs[key, k] = branch.cost
            ends[key, k] = branch.terminated
    return rewards, costs, ends


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
        world: ``(P,)`` each period's index among the distinct tables of
            results below (periods whose actions have the same possible
            results share one).
        rewards: ``(W * S * A * S * O, K)`` per world, state, action, next
            state and outcome, the reward of each result the task has there
            (NaN past the ``K`` it has at most).
        costs: ``(W * S * A * S * O, K)`` their costs (NaN past them).
        terminated: ``(W * S * A * S * O, K)`` their termination as 0 or 1
            (-1 past them).
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
    world: NDArray[np.intp]
    rewards: NDArray[np.float64]
    costs: NDArray[np.float32]
    terminated: NDArray[np.int8]

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
        tables: dict[bytes, int] = {}
        world: list[int] = []
        results: list[tuple[NDArray[np.float64], ...]] = []
        for mdp, _, _ in worlds:
            result = _results(mdp, terminal)
            signature = b"".join(part.tobytes() for part in result)
            world.append(tables.setdefault(signature, len(tables)))
            if world[-1] == len(results):
                results.append(result)
        width = max(result[0].shape[1] for result in results)
        rewards, costs, terminated = (
            np.concatenate(
                [
                    np.pad(
                        result[i],
                        ((0, 0), (0, width - result[i].shape[1])),
                        constant_values=np.nan,
                    )
                    for result in results
                ]
            )
            for i in range(3)
        )
        return cls(
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
            np.array(world, dtype=np.intp),
            rewards,
            costs.astype(np.float32),
            np.nan_to_num(terminated, nan=-1).astype(np.int8),
        )

    @property
    def mdp(self) -> TaskMDP:
        """The first period's task model (names, discount, terminal states)."""
        return self.mdps[0]

    @property
    def n_requests(self) -> int:
        """Requests the schedule holds (ids ``0 .. n_requests - 1``)."""
        return int(self.first_request[-1])

    def period_of(self, request_id: NDArray[np.int64]) -> NDArray[np.intp] | None:
        """``(n,)`` the period each request id belongs to (ids in range).

        None when the schedule has one period: every row's period is 0.
        """
        if len(self.mdps) == 1:
            return None
        index = np.searchsorted(self.first_request[1:-1], request_id, side="right")
        return np.asarray(index, dtype=np.intp)

    def allowed(
        self,
        period: NDArray[np.intp] | None,
        state: NDArray[Any],
        action: NDArray[Any],
        next_state: NDArray[Any],
        reward: NDArray[np.float64],
        cost: NDArray[np.float32],
        outcome: NDArray[Any],
        terminated: NDArray[np.bool_],
    ) -> NDArray[np.bool_]:
        """``(n,)`` whether each row's result is one the task has for its action.

        The row's world, state, action, next state and outcome index the
        tables; the reward, cost and termination must be those of one of the
        results there. All arguments are ``(n,)`` and in range; ``period``
        None means period 0 for every row.
        """
        n_states, n_actions = self.terminal.size, len(self.mdp.table.action_names)
        n_outcomes = len(self.mdp.table.outcomes)
        key = state.astype(np.intp) * n_actions + action
        key = key * n_states + next_state
        key = key * n_outcomes + outcome
        if period is not None:
            key += self.world[period] * (n_states * n_actions * n_states * n_outcomes)
        ok = np.zeros(key.shape, dtype=bool)
        for k in range(self.rewards.shape[1]):
            ok |= (
                (reward == self.rewards[key, k])
                & (cost == self.costs[key, k])
                & (terminated == self.terminated[key, k])
            )
        return ok

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
