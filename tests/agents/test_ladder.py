"""The queue's ladder benchmark: its contract on the tiny level, its statistics.

The contract runs the job itself on the tiny level with small budgets and
without SB3 (a few seconds); SB3 on features is in the slow test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from access_review_env import QUEUE_ENV_ID
from agents.benchmark.ladder import (
    DEFAULT_LEVELS,
    LadderTask,
    curve_episodes,
    ladder_tasks,
    run_ladder_task,
)
from agents.benchmark.ladder_summary import iqm, stratified_bootstrap
from agents.jobs import benchmark_agents
from agents.learners import ReinforceConfig
from agents.learners.batched import train_reinforce_batched

FAST_AGENTS = ["random", "operations_rule", "optimum", "q_learning", "reinforce"]


def first_valid_agent(env: gym.Env[Any, Any], seed: int) -> Any:
    """An external agent: each state's first valid action."""
    valid = env.unwrapped.mdp.sparse.valid_action_mask  # type: ignore[attr-defined]
    return np.asarray(np.argmax(valid, axis=1), dtype=np.int64)


def _run(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any], list[Any]]:
    status = benchmark_agents.main(
        [
            "--env",
            QUEUE_ENV_ID,
            "--levels",
            "tiny",
            "--budget",
            "tiny=2000",
            "--seeds",
            "2",
            "--episodes",
            "10",
            "--output",
            str(tmp_path),
            *extra,
        ]
    )
    record = json.loads((tmp_path / "ladder.json").read_text())
    runs = [
        json.loads(line)
        for line in (tmp_path / "runs.jsonl").read_text().split("\n")
        if line
    ]
    return status, record, runs


def test_the_ladder_on_the_tiny_level_keeps_its_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Budgets printed, reference rows once, scores exact, outputs written, resumed."""
    agents = ["--agents", *FAST_AGENTS, "tests.agents.test_ladder:first_valid_agent"]
    status, record, runs = _run(tmp_path, *agents)
    out = capsys.readouterr().out
    assert status == 0
    assert "level tiny: 2,000 environment steps per run" in out
    assert "### Level tiny (2,000 environment steps per run)" in out
    assert "the operations rule's V = " in out
    assert record["budgets"] == {"tiny": 2000}
    counts = {a: sum(r["agent"] == a for r in runs) for a in {r["agent"] for r in runs}}
    assert counts["operations_rule"] == counts["optimum"] == 1
    assert counts["q_learning"] == counts["reinforce"] == counts["random"] == 2
    assert counts["tests.agents.test_ladder:first_valid_agent"] == 2
    for run in runs:
        score = run["score"]
        assert run["error"] is None and score["exact_value"] is not None
        assert score["operations"]["method"] == "exact"
        if run["agent"] in ("q_learning", "reinforce"):
            assert run["steps_used"] == 2000
            assert run["curve_steps"][0] == 0 and run["curve_steps"][-1] == 2000
    by_agent = {r["agent"]: r["score"] for r in runs if r["seed"] == 0}
    assert by_agent["operations_rule"]["baseline_gap_closed"] == pytest.approx(0.0)
    assert by_agent["optimum"]["baseline_gap_closed"] == pytest.approx(1.0, abs=1e-5)
    assert by_agent["random"]["normalized_score"] == pytest.approx(0.0, abs=1e-12)
    if (tmp_path / "ladder_headline.png").exists():
        assert (tmp_path / "ladder_curves.png").stat().st_size > 0
    again, record_again, _ = _run(tmp_path, *agents, "--resume")
    assert again == 0
    assert "resuming: 10 of 10 runs already done" in capsys.readouterr().out
    assert record_again["summaries"] == record["summaries"]


def test_a_run_depends_on_its_own_task_alone() -> None:
    """The same task gives the same score and curve, run twice."""
    task = LadderTask("reinforce", "tiny", 3, 2_000, 10)
    first, second = run_ladder_task(task), run_ladder_task(task)
    assert first.score is not None and second.score is not None
    assert first.score.exact_value == second.score.exact_value
    assert first.curve_values == second.curve_values


def test_reference_rows_run_once_per_level_and_learners_per_seed() -> None:
    """ladder_tasks: the references are exact, so one run each is enough."""
    tasks = ladder_tasks(
        FAST_AGENTS, DEFAULT_LEVELS, 5, dict.fromkeys(DEFAULT_LEVELS, 400)
    )
    for level in DEFAULT_LEVELS:
        here = [t for t in tasks if t.level == level]
        assert sum(t.agent == "optimum" for t in here) == 1
        assert sorted(t.seed for t in here if t.agent == "q_learning") == [
            0,
            1,
            2,
            3,
            4,
        ]
    assert list(curve_episodes(400)[:2]) == [0, 6]
    assert curve_episodes(400)[-1] == 400


def test_unknown_levels_and_budgets_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A level not on the ladder, or a budget below one shift, is a usage error."""
    for extra in (["--levels", "huge"], ["--budget", "tiny=100"], ["--budget", "x=5"]):
        with pytest.raises(SystemExit) as exit_info:
            benchmark_agents.main(
                ["--env", QUEUE_ENV_ID, "--output", str(tmp_path), *extra]
            )
        assert exit_info.value.code == 2
    assert "tiny, small, medium, large, xlarge" in capsys.readouterr().err


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=1, max_size=40))
def test_iqm_is_scipys_trimmed_mean(values: list[float]) -> None:
    """The IQM cuts what scipy.stats.trim_mean(x, 0.25) cuts (rliable's)."""
    x = np.array(values)
    assert iqm(x) == pytest.approx(float(stats.trim_mean(x, 0.25)), abs=1e-9)


def test_stratified_bootstrap_resamples_within_each_level() -> None:
    """Two levels with constant scores: every resample has the same mean."""
    strata = [np.zeros(3), np.ones(5)]
    point, (low, high) = stratified_bootstrap(strata, "mean", np.random.default_rng(0))
    assert point == low == high == pytest.approx(5 / 8)
    spread = [np.array([0.0, 1.0, 2.0, 3.0])]
    point, (low, high) = stratified_bootstrap(spread, "mean", np.random.default_rng(0))
    assert low < point < high


def test_reinforce_learns_from_the_shift_only_when_told() -> None:
    """The queue never terminates: REINFORCE learns from its shifts if told to."""

    def logits(config: ReinforceConfig, backend: str) -> np.ndarray:
        envs = gym.make_vec(
            QUEUE_ENV_ID,
            num_envs=2,
            vectorization_mode="vector_entry_point",
            copy=False,
            level="tiny",
            exploring_starts=True,
        )
        result = train_reinforce_batched(envs, 5, config, seeds=[0, 1], backend=backend)  # type: ignore[arg-type]
        return np.asarray(result.logits)

    assert not logits(ReinforceConfig(), "numpy").any()
    learned = logits(ReinforceConfig(horizon_ends_episode=True), "numpy")
    assert np.abs(learned).max() > 0.01
    numba = logits(ReinforceConfig(horizon_ends_episode=True), "numba")
    np.testing.assert_allclose(numba, learned, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_sb3_learners_run_on_the_tiny_level_of_the_ladder() -> None:
    """PPO, DQN and MaskablePPO train on features and are scored exactly."""
    pytest.importorskip("stable_baselines3")
    for agent in ("sb3:PPO", "sb3:DQN", "sb3:MaskablePPO"):
        record = run_ladder_task(LadderTask(agent, "tiny", 0, 1_024, 10))
        assert record.error is None and record.score is not None, record.error
        assert record.score.exact_value is not None
        assert record.steps_used is not None and record.steps_used >= 1_024
        assert record.curve_steps[0] == 0 and len(record.curve_values) >= 2


@pytest.mark.processes
@pytest.mark.parametrize(
    "fan_out",
    [
        pytest.param(["--jobs", "2"], id="processes"),
        pytest.param(["--ray", "--jobs", "2"], id="ray", marks=pytest.mark.ray),
    ],
)
def test_the_ladder_fans_out_unchanged(tmp_path: Path, fan_out: list[str]) -> None:
    """Worker processes and Ray tasks give the serial run's scores, run by run."""
    agents = ["--agents", "random", "operations_rule", "q_learning", "reinforce"]
    serial_status, _, serial = _run(tmp_path / "serial", *agents)
    status, _, fanned = _run(tmp_path / "fanned", *agents, *fan_out)
    assert serial_status == status == 0

    def scores(runs: list[Any]) -> dict[tuple[str, int], Any]:
        return {
            (run["agent"], run["seed"]): (
                run["score"]["exact_value"],
                run["score"]["operations"],
                run["curve_values"],
            )
            for run in runs
        }

    assert scores(fanned) == scores(serial)
    assert len(serial) == 7  # the rule once, each learner and random per seed
