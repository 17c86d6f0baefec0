"""Scoring agents against the exact optimum, the suite's statistics, and the script."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.benchmark import SUITE, load_factory, q_learning_agent, run_suite, summarize

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark_agents.py"


@pytest.mark.slow
def test_suite_run_of_q_learning_records_progress_and_metadata() -> None:
    """Records carry env id, kwargs and seed; zero regret is reached and timed."""
    configuration = next(c for c in SUITE if c.name == "no_abandonment")
    records = run_suite(
        q_learning_agent, "q_learning", [configuration], seeds=[0], n_episodes=50
    )
    (record,) = records
    assert (record.env_id, record.env_kwargs, record.seed) == (
        "AccessReview-v0",
        {"abandonment_prob": 0.0},
        0,
    )
    assert record.score.regret == 0.0
    assert record.steps_to_zero_regret is not None and record.steps_to_zero_regret > 0
    summary = summarize(records, np.random.default_rng(0))
    (no_abandonment,) = summary.configurations
    assert no_abandonment.name == "no_abandonment"
    assert no_abandonment.zero_regret_rate == 1.0


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("math", ValueError, "must look like 'package.module:callable'"),
        (
            "no_such_module_xyz:make",
            ImportError,
            "cannot import module 'no_such_module_xyz'",
        ),
        ("math:no_such_name", AttributeError, "has no attribute 'no_such_name'"),
        ("math:pi", TypeError, "not a callable"),
    ],
)
def test_bad_agent_specs_are_clear_errors(spec: str, error: type, message: str) -> None:
    """Each malformed spec says what is wrong."""
    with pytest.raises(error, match=message):
        load_factory(spec)


def _run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user_agents.py").write_text(
        "def reviewer(env, seed):\n"
        "    return lambda state: [2, 0, 3, 0][state]\n"
        "\n"
        "def broken(env, seed):\n"
        "    return lambda state: 7\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--output", str(tmp_path / "out")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_scores_a_user_agent_given_as_module_callable(tmp_path: Path) -> None:
    """A user factory runs through the script; records carry env id, kwargs, seeds."""
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "random",
        "--configurations",
        "default",
        "no_abandonment",
        "--seeds",
        "2",
        "--episodes",
        "50",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| user_agents:reviewer | " in result.stdout
    import json

    record = json.loads((tmp_path / "out" / "benchmark_agents.json").read_text())
    assert record["seeds"] == [0, 1]
    assert {run["env_id"] for run in record["runs"]} == {"AccessReview-v0"}
    assert {"gymnasium", "numpy", "access_review_env"} <= set(record["versions"])
    assert (tmp_path / "out" / "scores.png").stat().st_size > 0
    by_config = {
        (r["agent"], r["configuration"]): r["score"]["normalized_score"]
        for r in record["runs"]
    }
    # Always reviewing is optimal at p = 0.25; at p = 0 it is worth 54 of the
    # optimal 59, where a random policy is worth (-120 + (-4 + 0.9 * 66) + 54) / 3.
    random_at_zero = (-120 + (-4 + 0.9 * 66) + 54) / 3
    assert by_config[("user_agents:reviewer", "default")] == 1.0
    assert math.isclose(
        by_config[("user_agents:reviewer", "no_abandonment")],
        (54 - random_at_zero) / (59 - random_at_zero),
    )


@pytest.mark.parametrize(
    ("agent", "status", "message"),
    [
        ("missing_module_q:make", 2, "cannot import module"),
        ("user_agents:nothing", 2, "has no attribute 'nothing'"),
        ("user_agents", 2, "must look like"),
        ("user_agents:broken", 1, "returned action 7 in state 0"),
    ],
)
def test_script_reports_bad_agents(
    tmp_path: Path, agent: str, status: int, message: str
) -> None:
    """Bad specs are usage errors (exit 2); invalid actions fail the run (exit 1)."""
    result = _run_script(
        tmp_path,
        "--agents",
        agent,
        "--configurations",
        "default",
        "--seeds",
        "1",
        "--episodes",
        "5",
    )
    assert result.returncode == status
    assert message in result.stderr
