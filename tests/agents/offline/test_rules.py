"""Every logged row against the task and configuration its log names.

Each test breaks one row (or one metadata field) of a valid log in one way and
expects the refusal to name the table, the row and the rule; valid logs of
every configuration (both tasks, presets, exploring starts, drift,
truncation) pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from access_review_env import ACTIONS, ENV_ID, RISK_ENV_ID, STATES
from agents.offline import (
    LogMetadata,
    OfflineLog,
    OfflineLogError,
    collect,
    epsilon_greedy_policy,
    estimate_model,
    join,
    monthly_drift,
    steady,
    tabulate_policy,
    task_arrays,
    uniform_policy,
)
from agents.offline.logs import join_keys
from agents.offline.rules import TaskRules

NEW_REQUEST, EVIDENCE_READY, REVIEW_QUEUE, CLOSED = (
    STATES.index(name)
    for name in ("new_request", "evidence_ready", "review_queue", "closed")
)
AUTO_APPROVE, REQUEST_EVIDENCE, HUMAN_REVIEW, APPROVE_ROTATION = (
    ACTIONS.index(name)
    for name in ("auto_approve", "request_evidence", "human_review", "approve_rotation")
)


@pytest.fixture(scope="module")
def log() -> OfflineLog:
    """20,000 AccessReview-v0 requests under a uniform behaviour."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    return collect(ENV_ID, behaviour, steady(20_000, n_days=40), seed=51)


Tables = tuple[dict[str, Any], dict[str, Any]]


def tables(log: OfflineLog) -> Tables:
    """Writable copies of both tables' columns."""
    return (
        {k: v.copy() for k, v in log.decisions.items()},
        {k: v.copy() for k, v in log.outcomes.items()},
    )


def outcome_of(decisions: dict[str, Any], outcomes: dict[str, Any], row: int) -> int:
    """The outcome row of decision ``row``."""
    keys = join_keys(outcomes)
    index = int(np.searchsorted(keys, join_keys(decisions)[row]))
    assert keys[index] == join_keys(decisions)[row]
    return index


def closed_row(
    decisions: dict[str, Any], outcomes: dict[str, Any], state: int, action: int
) -> tuple[int, int]:
    """A decision of ``action`` in ``state`` of a closed request; its outcome row."""
    closed = np.isin(decisions["request_id"], outcomes["request_id"])
    chosen = (decisions["state"] == state) & (decisions["action"] == action)
    row = int(np.flatnonzero(closed & chosen)[0])
    return row, outcome_of(decisions, outcomes, row)


def test_a_terminated_step_must_end_in_a_terminal_state(
    log: OfflineLog, tmp_path: Path
) -> None:
    """The issue's row: terminated with next_state review_queue.

    Accepted, it made review_queue terminal and the model estimate read -18
    against an exact 54; now the log is refused when built and when read.
    """
    decisions, outcomes = tables(log)
    _, row = closed_row(decisions, outcomes, REVIEW_QUEUE, APPROVE_ROTATION)
    outcomes["next_state"][row] = REVIEW_QUEUE
    rule = rf"outcome log, row {row} .*terminated is True but next_state review_queue"
    with pytest.raises(OfflineLogError, match=rule + " is not terminal"):
        replace(log, outcomes=outcomes)
    outcomes["next_state"][row] = CLOSED
    outcomes["terminated"][row] = False
    with pytest.raises(OfflineLogError, match=rf"row {row} .*closed is terminal"):
        replace(log, outcomes=outcomes)

    pytest.importorskip("pyarrow")
    from agents.offline.storage import read_log, write_log

    write_log(log, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OfflineLog, "__post_init__", lambda self: None)
        outcomes["terminated"][row] = True
        outcomes["next_state"][row] = REVIEW_QUEUE
        write_log(replace(log, outcomes=outcomes), tmp_path)
    with pytest.raises(
        OfflineLogError, match=rf"outcomes\.parquet, row {row} .*terminated is True"
    ):
        read_log(tmp_path)


def test_the_next_state_must_be_reachable(log: OfflineLog) -> None:
    """human_review's result logged under auto_approve, which only closes."""
    decisions, outcomes = tables(log)
    row, outcome_row = closed_row(decisions, outcomes, NEW_REQUEST, HUMAN_REVIEW)
    decisions["action"][row] = AUTO_APPROVE
    broken = replace(log, decisions=decisions)
    with pytest.raises(
        OfflineLogError,
        match=rf"outcome log, row {outcome_row} .*next_state review_queue cannot "
        "follow auto_approve in new_request; the task reaches closed",
    ):
        join(broken)


def test_the_reward_must_be_one_the_task_pays(log: OfflineLog) -> None:
    """80 for a reviewed approval is the table's; 81 is not."""
    decisions, outcomes = tables(log)
    _, row = closed_row(decisions, outcomes, REVIEW_QUEUE, APPROVE_ROTATION)
    outcomes["reward"][row] = 81.0
    with pytest.raises(
        OfflineLogError, match=rf"row {row} .*reward 81.0 is not one the task pays"
    ):
        join(replace(log, outcomes=outcomes))


def test_rewards_of_another_reward_specification_are_refused() -> None:
    """A speed_only log whose metadata claims the default rewards."""
    kwargs = {"rewards": "speed_only"}
    behaviour = uniform_policy(task_arrays(ENV_ID, kwargs))
    log = collect(ENV_ID, behaviour, steady(2_000, kwargs, n_days=30), seed=52)
    join(log)
    schedule = [{**period, "env_kwargs": {}} for period in log.metadata.schedule]
    claimed = replace(log, metadata=replace(log.metadata, schedule=schedule))
    with pytest.raises(OfflineLogError, match=r"not one the task pays .* pays -"):
        join(claimed)


def test_cost_and_outcome_must_be_the_results(log: OfflineLog) -> None:
    """The right next state and reward with another outcome name."""
    decisions, outcomes = tables(log)
    _, row = closed_row(decisions, outcomes, REVIEW_QUEUE, APPROVE_ROTATION)
    outcomes["outcome"][row] = log.metadata.outcome_names.index("evidence_approval")
    with pytest.raises(
        OfflineLogError, match=rf"row {row} .*outcome evidence_approval .*do not match"
    ):
        join(replace(log, outcomes=outcomes))


def test_a_propensity_must_be_the_logged_behaviours(log: OfflineLog) -> None:
    """The uniform behaviour gives 1/3 at new_request; 0.5 is refused."""
    decisions, _ = tables(log)
    row = int(np.flatnonzero(decisions["state"] == NEW_REQUEST)[3])
    decisions["propensity"][row] = 0.5
    with pytest.raises(
        OfflineLogError,
        match=rf"decision log, row {row} .*propensity 0.5 is not the logged "
        r"behaviour's probability 0\.333",
    ):
        replace(log, decisions=decisions)


def test_a_behaviour_that_never_takes_a_logged_action_is_refused(
    log: OfflineLog,
) -> None:
    """Metadata naming a deterministic behaviour for a log of a uniform one."""
    mdp = task_arrays(ENV_ID)
    claimed = tabulate_policy(mdp, np.array([HUMAN_REVIEW, AUTO_APPROVE, 3, 0]))
    metadata = replace(log.metadata, behaviour=claimed.to_json())
    taken = claimed.probabilities[log.decisions["state"], log.decisions["action"]]
    first = int(np.argmax(taken == 0))
    with pytest.raises(
        OfflineLogError,
        match=rf"row {first} .*the logged behaviour gives probability 0 to",
    ):
        replace(log, metadata=metadata)


def with_kwargs(kwargs: dict[str, Any]) -> Callable[[LogMetadata], dict[str, Any]]:
    """A metadata change: every period's env kwargs replaced by ``kwargs``."""
    return lambda metadata: {
        "schedule": [{**period, "env_kwargs": kwargs} for period in metadata.schedule]
    }


def fixed(change: dict[str, Any]) -> Callable[[LogMetadata], dict[str, Any]]:
    """A metadata change that does not depend on the metadata."""
    return lambda _: change


BAD_METADATA: dict[str, tuple[Callable[[LogMetadata], dict[str, Any]], str]] = {
    "gamma": (fixed({"gamma": 0.95}), r"metadata gamma is 0\.95, but AccessReview-v0"),
    "terminal states": (
        fixed({"terminal_states": [REVIEW_QUEUE, CLOSED]}),
        "metadata terminal_states is",
    ),
    "state names": (
        fixed({"state_names": ["a", "b", "c", "d"]}),
        "metadata state_names is",
    ),
    "time limit": (fixed({"time_limit": 5}), "metadata time_limit is 5"),
    "log end": (
        fixed({"log_end": "2030-01-01T00:00:00.000"}),
        "metadata log_end is '2030-01-01T00:00:00.000', but the schedule's",
    ),
    "follow-up window": (
        fixed({"follow_up_days": float("nan")}),
        "metadata follow_up_days is nan",
    ),
    "unknown task": (fixed({"env_id": "NoSuchTask-v0"}), "cannot be made"),
    "bad kwargs": (
        with_kwargs({"abandonment_prob": 2.0}),
        "cannot be made .*abandonment_prob",
    ),
    "behaviour shape": (
        fixed({"behaviour": {"probabilities": [[1.0]]}}),
        r"behaviour's table has shape \(1, 1\)",
    ),
    "behaviour on an invalid action": (
        fixed({"behaviour": {"probabilities": [[0, 0, 0, 1]] * 3 + [[1, 0, 0, 0]]}}),
        "gives probability to approve_rotation in new_request",
    ),
}


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_metadata_must_match_the_task(log: OfflineLog, case: str) -> None:
    """Names, discount, terminal states, time limit, task, kwargs and behaviour."""
    change, message = BAD_METADATA[case]
    metadata = replace(log.metadata, **change(log.metadata))
    with pytest.raises(OfflineLogError, match=rf"^decision log: .*{message}"):
        replace(log, metadata=metadata)


def test_mask_bits_beyond_the_tasks_actions_are_refused(
    log: OfflineLog, tmp_path: Path
) -> None:
    """Bit 31 set: it once passed the read and the join, then OPE asked for 32 GiB."""
    decisions, _ = tables(log)
    decisions["valid_actions"][9] |= np.uint32(1 << 31)
    rule = r"row 9 .*valid_actions 0b1\d+ has bits beyond the task's 4 actions"
    with pytest.raises(OfflineLogError, match=rule):
        replace(log, decisions=decisions)

    pytest.importorskip("pyarrow")
    from agents.offline.storage import read_log, write_log

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(OfflineLog, "__post_init__", lambda self: None)
        write_log(replace(log, decisions=decisions), tmp_path)
    with pytest.raises(OfflineLogError, match=r"decisions\.parquet, " + rule):
        read_log(tmp_path)


def test_a_decision_in_a_terminal_state_is_refused(log: OfflineLog) -> None:
    """No decision is taken once a request has closed."""
    decisions, _ = tables(log)
    decisions["state"][4] = CLOSED
    with pytest.raises(OfflineLogError, match=r"row 4 .*terminal state closed"):
        replace(log, decisions=decisions)


def test_a_request_starts_where_the_task_starts(log: OfflineLog) -> None:
    """AccessReview-v0 starts every request in new_request."""
    decisions, _ = tables(log)
    row = int(np.flatnonzero(decisions["step"] == 0)[5])
    decisions["state"][row] = EVIDENCE_READY
    decisions["valid_actions"][row] = 0b101
    with pytest.raises(OfflineLogError, match=rf"row {row} .*starts in evidence_ready"):
        replace(log, decisions=decisions)


def test_truncation_is_the_time_limit(log: OfflineLog) -> None:
    """Only the 20th step can be truncated, and it always is."""
    _, outcomes = tables(log)
    outcomes["truncated"][2] = True
    with pytest.raises(
        OfflineLogError, match=r"row 2 .*truncated must be True exactly at step 19"
    ):
        replace(log, outcomes=outcomes)
    decisions, outcomes = tables(log)
    decisions["step"][1] = 20
    with pytest.raises(OfflineLogError, match=r"row 1 .*beyond the task's time limit"):
        replace(log, decisions=decisions)


def test_request_ids_and_arrivals_follow_the_schedule(log: OfflineLog) -> None:
    """Ids number the schedule's requests; each arrives within its period."""
    decisions, _ = tables(log)
    decisions["request_id"][-1] = 20_000
    with pytest.raises(OfflineLogError, match=r"request_id must be in \[0, 19999\]"):
        replace(log, decisions=decisions)
    drift = collect(
        ENV_ID,
        uniform_policy(task_arrays(ENV_ID)),
        monthly_drift([0.0, 0.3], 500),
        seed=53,
    )
    decisions, _ = tables(drift)
    row = int(np.flatnonzero(decisions["step"] == 0)[10])
    decisions["decided_at"][row] += np.timedelta64(40, "D")
    with pytest.raises(OfflineLogError, match=rf"row {row} .*outside period 2025-01"):
        replace(drift, decisions=decisions)


def test_each_period_is_checked_under_its_own_configuration() -> None:
    """January without abandonment, February with.

    February's abandonments pass, and fail once the metadata says February had
    none either.
    """
    mdp = task_arrays(ENV_ID)
    log = collect(ENV_ID, uniform_policy(mdp), monthly_drift([0.0, 0.3], 3_000), 54)
    episodes = join(log)
    abandoned = log.metadata.outcome_names.index("abandoned")
    assert np.any(episodes.outcome == abandoned)
    schedule = [
        {**period, "env_kwargs": {"abandonment_prob": 0.0}}
        for period in (log.metadata.schedule)
    ]
    claimed = replace(log, metadata=replace(log.metadata, schedule=schedule))
    with pytest.raises(
        OfflineLogError,
        match="next_state closed cannot follow request_evidence in new_request "
        r"\(period 2025-02\); the task reaches evidence_ready",
    ):
        join(claimed)


CONFIGURATIONS: list[tuple[str, dict[str, Any], list[int] | None]] = [
    (ENV_ID, {}, None),
    (ENV_ID, {"rewards": "speed_only", "abandonment_prob": 0.0}, None),
    (ENV_ID, {"exploring_starts": True}, None),
    (RISK_ENV_ID, {}, None),
    (
        RISK_ENV_ID,
        {"clear_evidence_share": 0.9, "rewards": {"clear_approval": 5}},
        None,
    ),
    # Asks clear-evidence requests for evidence again and again: the time
    # limit truncates some episodes.
    (RISK_ENV_ID, {}, [2, 1, 0, 3, 4, 0]),
]


@pytest.mark.parametrize(("env_id", "kwargs", "greedy"), CONFIGURATIONS)
def test_valid_logs_pass(
    env_id: str, kwargs: dict[str, Any], greedy: list[int] | None
) -> None:
    """Logs of every configuration are accepted whole, truncated episodes too."""
    mdp = task_arrays(env_id, kwargs)
    behaviour = (
        uniform_policy(mdp)
        if greedy is None
        else epsilon_greedy_policy(mdp, np.array(greedy), 0.05)
    )
    log = collect(env_id, behaviour, steady(5_000, kwargs, n_days=400), seed=55)
    episodes = join(log)
    assert episodes.n_episodes > 1_000
    assert (greedy is not None) == bool(episodes.truncated.any())
    model = estimate_model(episodes, log.metadata.task)
    assert model.terminal.tolist() == mdp.terminal.tolist()


def test_rules_hold_every_result_the_task_has() -> None:
    """Every branch of a valid action is allowed, and nothing else.

    With one field changed, only the rows that are another branch of the same
    action stay allowed.
    """
    rules = TaskRules.of(RISK_ENV_ID, steady(10).to_json())
    mdp = rules.mdp
    outcome = mdp.table.outcomes.index
    rows = [
        (s, a, b.next_state, b.reward, b.cost, outcome(b.outcome), b.terminated)
        for s in range(mdp.n_states)
        for a in range(mdp.n_actions)
        if mdp.valid_action_mask[s, a] and s not in mdp.table.terminal_states
        for b in mdp.branches[s][a]
    ]
    branches = set(rows)
    columns = [np.array(column) for column in zip(*rows, strict=True)]
    columns[4] = columns[4].astype(np.float32)
    assert rules.allowed(None, *columns).all()
    changes = {
        2: (columns[2] + 1) % mdp.n_states,
        3: columns[3] + 0.5,
        4: 1 - columns[4],
        5: (columns[5] + 1) % len(mdp.table.outcomes),
        6: ~columns[6],
    }
    for index, values in changes.items():
        broken = [*columns[:index], values, *columns[index + 1 :]]
        expected = [
            tuple(column[i].item() for column in broken) in branches
            for i in range(len(rows))
        ]
        assert rules.allowed(None, *broken).tolist() == expected, index
        assert not all(expected)
