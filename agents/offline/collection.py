"""Collecting logged episodes from a behaviour policy, fast, on a clock.

:func:`simulate` runs complete episodes of a task through its vector env (the
native one, ``vector_entry_point``, which both registered tasks have: every
step is a handful of whole-array operations over all sub-envs; a task without
one goes through Gymnasium's ``SyncVectorEnv``), choosing actions with a
:class:`~agents.offline.behaviour.BehaviourPolicy` over the states, so every
logged action comes with its exact probability. :func:`collect` does this for
each period of a :class:`~agents.offline.clock.DriftSchedule` with that period's
world, puts the requests on the clock, and writes what a real system would
have written by the time the log stops: every decision taken before then, and
the outcome rows of every request closed before then.

:func:`task_arrays` gives the exact truth every estimate is compared with.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

import access_review_env
from access_review_env import TabularMDP, TaskMDP
from access_review_env.validation import check_integer
from agents.common.progress import progress_bar
from agents.offline.behaviour import BehaviourPolicy
from agents.offline.clock import MS_PER_DAY, DriftSchedule, WorkflowClock, days
from agents.offline.logs import LogMetadata, OfflineLog
from agents.offline.rules import made_task, mask_bits

DEFAULT_NUM_ENVS = 2**16
"""Sub-envs stepped together; enough to amortize each step's NumPy calls."""


def task_arrays(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> TabularMDP:
    """The exact truth of the offline tools: the task as registered, valid actions only.

    ``mdp.workflow_arrays`` of ``gym.make(env_id, **env_kwargs)`` with the
    env's time limit (20 steps) as a finite horizon, so that planners and
    :func:`~agents.offline.model.exact_value` give the values of the env that
    wrote the log, episodes cut by the limit included. Only valid actions are
    available: behaviour and target policies never take an invalid one (a
    router cannot log or deploy one), and the optimum is over such policies.

    For a policy on valid actions these values are those of
    ``policy_evaluation(gym.make(env_id), policy)``. On AccessReview-v0 every
    valid route closes within 3 steps, so the limit never binds and they are
    also the infinite-horizon values of ``mdp.arrays``; on AccessReviewRisk-v0
    only a policy that asks a clear-evidence request for evidence again and
    again can reach the limit.

    Raises:
        TypeError: If the env exposes no task table.
    """
    mdp, limit = made_task(env_id, env_kwargs)
    return dataclasses.replace(mdp.workflow_arrays, horizon=limit)


@dataclass(frozen=True)
class Trajectories:
    """Complete simulated episodes: ``(n_transitions,)`` per field, by episode, step.

    ``starts`` is ``(n_episodes + 1,)`` row offsets; ``outcome`` indexes the
    task's outcomes (``mdp.table.outcomes``).
    """

    step: NDArray[np.int16]
    state: NDArray[np.int16]
    valid_actions: NDArray[np.uint32]
    action: NDArray[np.int16]
    propensity: NDArray[np.float64]
    reward: NDArray[np.float64]
    next_state: NDArray[np.int16]
    terminated: NDArray[np.bool_]
    truncated: NDArray[np.bool_]
    cost: NDArray[np.float32]
    outcome: NDArray[np.int8]
    starts: NDArray[np.int64]

    @property
    def n_episodes(self) -> int:
        """Number of episodes."""
        return int(self.starts.size - 1)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """``(n_episodes,)`` steps per episode."""
        return np.diff(self.starts)


def _outcome_codes(values: NDArray[Any], codes: Mapping[str, int]) -> NDArray[np.int8]:
    """Outcomes as indices into the task's outcomes (the native env's form)."""
    if values.dtype.kind in "iu":
        return values.astype(np.int8)
    return np.array([codes[str(v)] for v in values], dtype=np.int8)


def make_vector_env(
    env_id: str,
    num_envs: int,
    env_kwargs: Mapping[str, Any],
    max_episode_steps: int | None,
) -> tuple[gym.vector.VectorEnv[Any, Any, Any], str]:
    """The task's native vector env if it registers one, else a ``SyncVectorEnv``."""
    spec = gym.spec(env_id)
    mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
    env = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode=mode,
        max_episode_steps=max_episode_steps,
        **dict(env_kwargs),
    )
    return env, mode


def check_behaviour(behaviour: BehaviourPolicy, mdp: TaskMDP, env_id: str) -> None:
    """Refuse a behaviour of the wrong size or with mass on an invalid action.

    Raises:
        ValueError: Naming the sizes, or the state and action.
    """
    if (behaviour.n_states, behaviour.n_actions) != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"the behaviour policy is ({behaviour.n_states}, "
            f"{behaviour.n_actions}); {env_id} has {mdp.n_states} states and "
            f"{mdp.n_actions} actions"
        )
    live = np.asarray(mdp.table.non_terminal_states)
    invalid = (behaviour.probabilities[live] > 0.0) & (mdp.valid_action_mask[live] == 0)
    if np.any(invalid):
        row, action = (int(i) for i in np.argwhere(invalid)[0])
        state = int(live[row])
        raise ValueError(
            f"the behaviour policy {behaviour.name!r} gives probability to "
            f"{mdp.table.action_names[action]} in {mdp.table.state_names[state]}, "
            "where it is invalid; build it from task_arrays(...), whose available "
            "actions are the valid ones"
        )


def simulate(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    behaviour: BehaviourPolicy,
    n_episodes: int,
    rng: np.random.Generator,
    num_envs: int | None = None,
) -> tuple[Trajectories, str]:
    """Run exactly ``n_episodes`` complete episodes under ``behaviour``.

    Every sub-env runs episodes back to back (Gymnasium's ``NEXT_STEP``
    autoreset: the step after an episode ends only resets, and is not logged).
    Episodes are numbered in the order they start; the first ``n_episodes``
    are run to their end and the sub-envs that would start more are stopped,
    so no episode is cut short by the end of collection. Whether an episode is
    among the first ``n_episodes`` depends only on earlier episodes, so they are
    independent draws. The registered time limit applies, as in ``gym.make``.

    Args:
        env_id: A registered task.
        env_kwargs: Its keyword arguments.
        behaviour: Chooses the actions; its table must match the task's sizes
            and put no mass on invalid actions.
        n_episodes: Episodes to run.
        rng: Seeds the env and draws the behaviour's actions.
        num_envs: Sub-envs; ``min(n_episodes, DEFAULT_NUM_ENVS)`` when None.

    Returns:
        The trajectories and the vectorization mode used.

    Raises:
        ValueError: If the behaviour's table does not fit the task, or
            ``n_episodes`` is negative.
    """
    n_episodes = check_integer("n_episodes", n_episodes, low=0)
    mdp, limit = made_task(env_id, env_kwargs)
    check_behaviour(behaviour, mdp, env_id)
    n_envs = min(max(n_episodes, 1), num_envs or DEFAULT_NUM_ENVS)
    env, mode = make_vector_env(env_id, n_envs, env_kwargs, limit)
    outcome_codes = {name: index for index, name in enumerate(mdp.table.outcomes)}
    try:
        observations, info = env.reset(seed=int(rng.integers(2**31)))
        masks = np.asarray(info["action_mask"])
        episode = np.arange(n_envs, dtype=np.int64)
        active = episode < n_episodes
        next_episode = n_envs
        step = np.zeros(n_envs, dtype=np.int16)
        resetting = np.zeros(n_envs, dtype=bool)
        records: list[tuple[NDArray[Any], ...]] = []
        while active.any():
            live = np.flatnonzero(active & ~resetting)
            states = np.asarray(observations, dtype=np.int64)
            actions, propensities = behaviour.sample(states, rng)
            mask_now = mask_bits(masks[live])
            observations, rewards, terminated, truncated, info = env.step(actions)
            records.append(
                (
                    episode[live],
                    step[live],
                    states[live].astype(np.int16),
                    mask_now,
                    actions[live].astype(np.int16),
                    propensities[live],
                    np.asarray(rewards, dtype=np.float64)[live],
                    np.asarray(observations, dtype=np.int16)[live],
                    np.asarray(terminated)[live],
                    np.asarray(truncated)[live],
                    np.asarray(info["cost"], dtype=np.float32)[live],
                    _outcome_codes(np.asarray(info["outcome"]), outcome_codes)[live],
                )
            )
            step[live] += 1
            restarted = np.flatnonzero(resetting & active)
            if restarted.size:
                numbers = next_episode + np.arange(restarted.size)
                next_episode += restarted.size
                episode[restarted] = numbers
                active[restarted] = numbers < n_episodes
                step[restarted] = 0
            resetting = np.asarray(terminated) | np.asarray(truncated)
            masks = np.asarray(info["action_mask"])
    finally:
        env.close()
    names = ("episode", *_TRAJECTORY_DTYPES)
    if records:
        columns = [np.concatenate(parts) for parts in zip(*records, strict=True)]
    else:
        columns = [np.zeros(0, dtype=np.int64)] + [
            np.zeros(0, dtype=dtype) for dtype in _TRAJECTORY_DTYPES.values()
        ]
    order = np.argsort(columns[0], kind="stable")
    arrays = {name: column[order] for name, column in zip(names, columns, strict=True)}
    lengths = np.bincount(arrays.pop("episode"), minlength=n_episodes)
    if np.any(lengths == 0):
        raise RuntimeError(f"simulate lost episode {int(np.argmin(lengths))}")
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Trajectories(**arrays, starts=starts), mode


_TRAJECTORY_DTYPES: dict[str, type[np.generic]] = {
    "step": np.int16,
    "state": np.int16,
    "valid_actions": np.uint32,
    "action": np.int16,
    "propensity": np.float64,
    "reward": np.float64,
    "next_state": np.int16,
    "terminated": np.bool_,
    "truncated": np.bool_,
    "cost": np.float32,
    "outcome": np.int8,
}
"""The fields of :class:`Trajectories` in the order :func:`simulate` records them."""


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar over requests, or None when not wanted."""
    if not enabled:
        return None
    return progress_bar(total, "collect", "request", required=True)


def collect(
    env_id: str,
    behaviour: BehaviourPolicy,
    schedule: DriftSchedule,
    seed: int,
    *,
    clock: WorkflowClock | None = None,
    num_envs: int | None = None,
    progress: bool = False,
) -> OfflineLog:
    """Collect a decision log and an outcome log over a schedule of periods.

    Each period's requests arrive uniformly within it and follow its world
    (its env kwargs). Each step's duration comes from ``clock``; the next
    decision is taken when the previous step's result arrives. The log stops at
    the schedule's end: decisions after it and outcomes of requests closing
    after it are not written (those requests are *open*; see
    :func:`~agents.offline.logs.join`).

    Args:
        env_id: A registered task of this package (either one).
        behaviour: The behaviour policy (known probabilities, valid actions).
        schedule: The periods; each period's env kwargs make its world.
        seed: Seeds everything (arrivals, durations, envs, actions).
        clock: Step durations and the follow-up window; the default
            :class:`~agents.offline.clock.WorkflowClock` when None (its
            follow-up window is then the longest any request can take under
            ``behaviour``, the longest over the periods).
        num_envs: Sub-envs of the vector env (see :func:`simulate`).
        progress: Show a tqdm bar over requests (the ``progress`` extra).

    Returns:
        The :class:`~agents.offline.logs.OfflineLog`.

    Raises:
        ValueError: If periods differ in state or action sets, the behaviour
            does not fit the task, or a request takes longer than the clock's
            explicit ``follow_up_days`` (raise it, or leave it None).
        ImportError: If ``progress`` is set and tqdm is not installed.
    """
    clock = clock or WorkflowClock()
    rng = np.random.default_rng(seed)
    worlds = [made_task(env_id, period.env_kwargs) for period in schedule.periods]
    first, first_limit = worlds[0]
    for period, (mdp, _) in zip(schedule.periods, worlds, strict=True):
        if (mdp.n_states, mdp.n_actions) != (first.n_states, first.n_actions):
            raise ValueError(
                f"period {period.name!r} has {mdp.n_states} states and "
                f"{mdp.n_actions} actions; the first period has "
                f"{first.n_states} and {first.n_actions}"
            )
    check_behaviour(behaviour, first, env_id)
    if clock.follow_up_days is None:
        follow_up_ms = max(
            clock.longest_route_ms(
                dataclasses.replace(mdp.workflow_arrays, horizon=limit), behaviour
            )
            for mdp, limit in worlds
        )
    else:
        follow_up_ms = int(days(clock.follow_up_days) / np.timedelta64(1, "ms"))
    follow_up = np.timedelta64(follow_up_ms, "ms")
    action_names = list(first.table.action_names)
    evidence = (
        action_names.index(clock.evidence_action)
        if clock.evidence_action in action_names
        else -1
    )
    log_end = schedule.end
    decisions: list[dict[str, NDArray[Any]]] = []
    outcomes: list[dict[str, NDArray[Any]]] = []
    next_request = 0
    mode = "vector_entry_point"
    bar = _progress_bar(schedule.n_requests, progress)
    for period in schedule.periods:
        arrivals = period.arrivals(rng)
        trajectories, mode = simulate(
            env_id, period.env_kwargs, behaviour, period.n_requests, rng, num_envs
        )
        lengths = trajectories.lengths
        request = np.repeat(
            np.arange(next_request, next_request + period.n_requests, dtype=np.int64),
            lengths,
        )
        next_request += period.n_requests
        durations = clock.durations(trajectories.action, action_names, rng)
        elapsed = np.cumsum(durations)
        before = elapsed[trajectories.starts[:-1]] - durations[trajectories.starts[:-1]]
        elapsed -= np.repeat(before, lengths)
        arrived = np.repeat(arrivals, lengths)
        observed_at = arrived + elapsed.astype("timedelta64[ms]")
        decided_at = observed_at - durations.astype("timedelta64[ms]")
        last = trajectories.starts[1:] - 1
        closed_at = observed_at[last]
        too_long = closed_at - arrivals > follow_up
        if np.any(too_long):
            index = int(np.argmax(too_long))
            took = (closed_at[index] - arrivals[index]) / np.timedelta64(1, "h") / 24
            raise ValueError(
                f"request {next_request - period.n_requests + index} took "
                f"{took:.1f} days to close, more than the clock's follow_up_days "
                f"({clock.follow_up_days}); raise follow_up_days"
            )
        evidence_rows = (trajectories.action == evidence) & ~trajectories.terminated
        sentinel = np.iinfo(np.int64).max
        evidence_ms = np.where(evidence_rows, observed_at.astype(np.int64), sentinel)
        first_evidence = (
            np.minimum.reduceat(evidence_ms, trajectories.starts[:-1])
            if evidence_ms.size
            else np.zeros(0, dtype=np.int64)
        )
        evidence_at = np.where(
            first_evidence == sentinel,
            np.datetime64("NaT", "ms"),
            first_evidence.astype("datetime64[ms]"),
        )
        decided = decided_at < log_end
        decisions.append(
            {
                "request_id": _where(decided, request),
                "step": _where(decided, trajectories.step),
                "decided_at": _where(decided, decided_at),
                "state": _where(decided, trajectories.state),
                "valid_actions": _where(decided, trajectories.valid_actions),
                "action": _where(decided, trajectories.action),
                "propensity": _where(decided, trajectories.propensity),
            }
        )
        written = np.repeat(closed_at < log_end, lengths)
        outcomes.append(
            {
                "request_id": _where(written, request),
                "step": _where(written, trajectories.step),
                "reward": _where(written, trajectories.reward),
                "next_state": _where(written, trajectories.next_state),
                "terminated": _where(written, trajectories.terminated),
                "truncated": _where(written, trajectories.truncated),
                "cost": _where(written, trajectories.cost),
                "outcome": _where(written, trajectories.outcome),
                "observed_at": _where(written, observed_at),
                "evidence_at": _where(written, np.repeat(evidence_at, lengths)),
                "closed_at": _where(written, np.repeat(closed_at, lengths)),
            }
        )
        if bar is not None:
            bar.update(period.n_requests)
    if bar is not None:
        bar.close()
    metadata = LogMetadata(
        log_id=uuid.UUID(
            int=int(rng.integers(2**63)) << 64 | int(rng.integers(2**63))
        ).hex,
        env_id=env_id,
        schedule=schedule.to_json(),
        behaviour=behaviour.to_json(),
        clock=clock.to_json(),
        seed=int(seed),
        package_version=access_review_env.__version__,
        state_names=list(first.table.state_names),
        action_names=action_names,
        outcome_names=list(first.table.outcomes),
        gamma=float(first.gamma),
        terminal_states=[int(s) for s in first.table.terminal_states],
        log_start=str(schedule.start),
        log_end=str(schedule.end),
        follow_up_days=follow_up_ms / MS_PER_DAY,
        time_limit=first_limit,
        vectorization=mode,
    )
    return OfflineLog(_concatenate(decisions), _concatenate(outcomes), metadata)


def _concatenate(parts: list[dict[str, NDArray[Any]]]) -> dict[str, NDArray[Any]]:
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _where(keep: NDArray[np.bool_], values: NDArray[Any]) -> NDArray[Any]:
    """``values[keep]``, without a copy when every row is kept."""
    return values if keep.all() else values[keep]


def period_arrays(log_or_metadata: OfflineLog | LogMetadata) -> list[TabularMDP]:
    """The exact planning arrays of each period's world, in schedule order."""
    metadata = (
        log_or_metadata.metadata
        if isinstance(log_or_metadata, OfflineLog)
        else log_or_metadata
    )
    return [
        task_arrays(metadata.env_id, period["env_kwargs"])
        for period in metadata.schedule
    ]
