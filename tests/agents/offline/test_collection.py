"""Collection: exact episode counts, consistent rows, known propensities, the clock."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import access_review_env
from access_review_env import (
    ACTIONS,
    ENV_ID,
    MAX_EPISODE_STEPS,
    RISK_ENV_ID,
    TABLE_ENV_IDS,
    AccessReviewRiskMDP,
)
from agents.offline import (
    BehaviourPolicy,
    WorkflowClock,
    collect,
    join,
    made_task,
    monthly_drift,
    open_request_ids,
    simulate,
    steady,
    task_arrays,
    uniform_policy,
)
from agents.planning import policy_evaluation, value_iteration

SYNC_ID = "AccessReviewSyncOnly-v0"


@pytest.fixture(scope="module", autouse=True)
def _sync_only_task() -> None:
    """AccessReview-v0 registered again without a vector entry point."""
    if SYNC_ID not in gym.registry:
        gym.register(
            SYNC_ID,
            entry_point="access_review_env.env:AccessReviewEnv",
            max_episode_steps=MAX_EPISODE_STEPS,
        )


def test_task_arrays_are_the_registered_env_on_valid_actions() -> None:
    """Valid actions only, the time limit as horizon, the registered env's values."""
    for env_id in TABLE_ENV_IDS:
        mdp, limit = made_task(env_id)
        arrays = task_arrays(env_id)
        assert arrays.horizon == limit == MAX_EPISODE_STEPS
        assert np.array_equal(arrays.available_actions, mdp.valid_action_mask == 1)
        optimum = value_iteration(arrays)
        registered = value_iteration(gym.make(env_id))
        assert np.allclose(optimum.V, registered.V)
        assert np.allclose(
            policy_evaluation(arrays, optimum.policy).V,
            policy_evaluation(gym.make(env_id), optimum.policy).V,
        )


@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID, SYNC_ID])
@pytest.mark.parametrize("num_envs", [1, 7, 256])
def test_simulate_runs_exactly_n_complete_episodes(env_id: str, num_envs: int) -> None:
    """N episodes, each ending at its last row, states chained, masks respected."""
    mdp = task_arrays(env_id)
    behaviour = uniform_policy(mdp)
    trajectories, mode = simulate(
        env_id, {}, behaviour, 300, np.random.default_rng(0), num_envs
    )
    assert mode == ("sync" if env_id == SYNC_ID else "vector_entry_point")
    assert trajectories.n_episodes == 300
    first = trajectories.starts[:-1]
    last = trajectories.starts[1:] - 1
    ended = trajectories.terminated | trajectories.truncated
    assert np.all(ended[last]) and ended.sum() == 300
    assert np.all(mdp.initial_distribution[trajectories.state[first]] > 0)
    later = np.setdiff1d(np.arange(trajectories.state.size), first)
    assert np.array_equal(trajectories.state[later], trajectories.next_state[later - 1])
    assert np.array_equal(
        trajectories.step,
        np.arange(trajectories.state.size) - np.repeat(first, trajectories.lengths),
    )
    assert np.all(
        trajectories.propensity
        == behaviour.probabilities[trajectories.state, trajectories.action]
    )
    bit = (trajectories.valid_actions >> trajectories.action.astype(np.uint32)) & 1
    assert np.all(bit == 1)
    assert np.all(mdp.available_actions[trajectories.state, trajectories.action])
    assert np.all(trajectories.outcome[last] != 0)  # 0 is "pending"


def test_abandonment_rate_matches_the_task() -> None:
    """Share of request_evidence steps that abandon: within 5 standard errors of p."""
    p = 0.25
    behaviour = uniform_policy(task_arrays(ENV_ID))
    trajectories, _ = simulate(
        ENV_ID, {"abandonment_prob": p}, behaviour, 60_000, np.random.default_rng(1)
    )
    asked = (trajectories.state == 0) & (
        trajectories.action == ACTIONS.index("request_evidence")
    )
    abandoned = trajectories.outcome[asked] == access_review_env.OUTCOMES.index(
        "abandoned"
    )
    se = np.sqrt(p * (1 - p) / asked.sum())
    assert abs(abandoned.mean() - p) < 5 * se


def test_risk_task_starts_and_outcomes_follow_its_table() -> None:
    """Request kinds follow the start distribution; outcomes index the task's names.

    Shares within 5 standard errors: the clear-evidence share of starts, and
    the unjustified requesters' withdrawal share of required-review evidence
    requests (u = 0.2).
    """
    mdp = AccessReviewRiskMDP()
    behaviour = uniform_policy(task_arrays(RISK_ENV_ID))
    trajectories, _ = simulate(
        RISK_ENV_ID, {}, behaviour, 40_000, np.random.default_rng(2)
    )
    first_states = trajectories.state[trajectories.starts[:-1]]
    clear = np.mean(first_states == 1)
    assert abs(clear - 0.5) < 5 * np.sqrt(0.25 / first_states.size)
    asked = (trajectories.state == 0) & (trajectories.action == 1)
    withdrawn = trajectories.outcome[asked] == mdp.table.outcomes.index("withdrawn")
    assert abs(withdrawn.mean() - 0.2) < 5 * np.sqrt(0.16 / asked.sum())


@pytest.mark.parametrize("env_id", TABLE_ENV_IDS)
def test_collect_writes_only_what_was_known_by_the_end(env_id: str) -> None:
    """No decision or outcome after the log ends; open requests have no outcome rows."""
    schedule = steady(20_000, n_days=60)
    log = collect(env_id, uniform_policy(task_arrays(env_id)), schedule, seed=2)
    end = schedule.end
    assert np.all(log.decisions["decided_at"] < end)
    assert np.all(log.decisions["decided_at"] >= schedule.start)
    assert np.all(log.outcomes["closed_at"] < end)
    assert np.all(log.outcomes["observed_at"] <= log.outcomes["closed_at"])
    open_ids = open_request_ids(log)
    assert open_ids.size > 0
    assert not np.isin(open_ids, log.outcomes["request_id"]).any()
    episodes = join(log, open_requests="drop")
    assert episodes.n_open == open_ids.size
    later = episodes.step[1:] > 0
    assert np.all(episodes.decided_at[1:][later] > episodes.decided_at[:-1][later])
    evidence = ~np.isnat(episodes.evidence_at)
    assert evidence.any()
    assert np.all(episodes.evidence_at[evidence] > episodes.arrived_at[evidence])
    assert np.all(episodes.evidence_at[evidence] <= episodes.closed_at[evidence])
    metadata = log.metadata
    assert metadata.env_id == env_id
    assert metadata.package_version == access_review_env.__version__
    assert metadata.behaviour["name"] == "uniform"
    assert metadata.seed == 2
    assert metadata.time_limit == MAX_EPISODE_STEPS
    assert metadata.outcome_names == list(made_task(env_id)[0].table.outcomes)


def test_collect_is_reproducible() -> None:
    """The same seed gives the same log."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    first = collect(ENV_ID, behaviour, steady(2_000, n_days=10), seed=5)
    second = collect(ENV_ID, behaviour, steady(2_000, n_days=10), seed=5)
    for name, column in first.decisions.items():
        assert np.array_equal(column, second.decisions[name]), name


def test_each_period_follows_its_own_world() -> None:
    """Abandonment per month tracks the schedule (5 standard errors per month)."""
    values = [0.0, 0.2, 0.5]
    behaviour = uniform_policy(task_arrays(ENV_ID))
    log = collect(ENV_ID, behaviour, monthly_drift(values, 30_000), seed=3)
    episodes = join(log)
    month = (
        episodes.arrived_at.astype("datetime64[M]") - np.datetime64("2025-01", "M")
    ).astype(int)
    rows_month = np.repeat(month, episodes.lengths)
    asked = (episodes.state == 0) & (
        episodes.action == ACTIONS.index("request_evidence")
    )
    abandoned = access_review_env.OUTCOMES.index("abandoned")
    for index, p in enumerate(values):
        chosen = asked & (rows_month == index)
        rate = (episodes.outcome[chosen] == abandoned).mean()
        se = np.sqrt(max(p * (1 - p), 1e-12) / chosen.sum())
        assert abs(rate - p) <= 5 * se + 1e-12


def test_the_follow_up_window_is_the_longest_route_unless_given() -> None:
    """By default every request closes in time; a shorter window is refused."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    log = collect(ENV_ID, behaviour, steady(500, n_days=5), seed=0)
    assert log.metadata.follow_up_days == pytest.approx(7.1)
    assert log.metadata.clock["follow_up_days"] is None
    clock = WorkflowClock(follow_up_days=0.5)
    with pytest.raises(ValueError, match="follow_up_days"):
        collect(ENV_ID, behaviour, steady(500, n_days=5), seed=0, clock=clock)


def test_behaviour_that_does_not_fit_the_task_is_refused() -> None:
    """A table of the wrong size, or mass on an invalid action, names the problem."""
    with pytest.raises(ValueError, match="4 states"):
        simulate(
            ENV_ID,
            {},
            BehaviourPolicy(np.full((3, 4), 0.25)),
            10,
            np.random.default_rng(0),
        )
    everything = BehaviourPolicy(np.full((4, 4), 0.25))
    with pytest.raises(ValueError, match="approve_rotation in new_request"):
        collect(ENV_ID, everything, steady(10), seed=0)


def test_progress_bar_counts_requests(capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True shows a tqdm bar over requests on stderr."""
    behaviour = uniform_policy(task_arrays(ENV_ID))
    collect(ENV_ID, behaviour, monthly_drift([0.1, 0.2], 500), seed=0, progress=True)
    assert "1000/1000" in capsys.readouterr().err
