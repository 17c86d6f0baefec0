"""The jobs behind scripts/: the lesson's labs, the main job, the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import png_size

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a script in a fresh interpreter; fail with its stderr if it fails."""
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def lesson() -> Any:
    """The lesson's labs (the module behind scripts/lesson.py)."""
    from agents.jobs import lesson

    return lesson


@pytest.fixture
def config(lesson: Any) -> Any:
    """Small budgets for the sampled labs."""
    return lesson.Config(seed=7, routes=4_000, episodes=20_000, pulls=400)


def test_lab_discounted_returns(lesson: Any, config: Any) -> None:
    """Routes are worth -120, 59 and 54."""
    assert lesson.lab_discounted_returns(config) == {
        "auto_approve": -120.0,
        "request_evidence": 59.0,
        "human_review": 54.0,
    }


def test_lab_bellman_backup(lesson: Any, config: Any) -> None:
    """Q = -120 / 59 / 54, greedy request_evidence."""
    assert lesson.lab_bellman_backup(config) == {
        "q": [-120.0, 59.0, 54.0],
        "greedy": "request_evidence",
    }


def test_lab_value_iteration(lesson: Any, config: Any) -> None:
    """Sweeps -4/70/80, 59/70/80, unchanged; the lesson's policy."""
    result = lesson.lab_value_iteration(config)
    assert result["history"] == [
        [-4.0, 70.0, 80.0],
        [59.0, 70.0, 80.0],
        [59.0, 70.0, 80.0],
    ]
    assert result["policy"] == {
        "new_request": "request_evidence",
        "evidence_ready": "auto_approve",
        "review_queue": "approve_rotation",
    }


def test_lab_stochastic_backup(lesson: Any, config: Any) -> None:
    """request_evidence 30.75, human_review 54, choice human_review."""
    assert lesson.lab_stochastic_backup(config) == {
        "request_evidence": 30.75,
        "human_review": 54.0,
        "choice": "human_review",
    }


def test_lab_monte_carlo(lesson: Any, config: Any) -> None:
    """The mean lies within 4 standard errors of 30.75; abandonments near a quarter."""
    result = lesson.lab_monte_carlo(config)
    assert abs(result["mean"] - 30.75) < 4 * result["se"]
    assert abs(result["abandoned"] - 1_000) < 4 * np.sqrt(4_000 * 0.25 * 0.75)


def test_lab_q_learning(lesson: Any, config: Any) -> None:
    """Q(new_request) near -120 / 30.75 / 54 (tolerance as in test_learners)."""
    result = lesson.lab_q_learning(config)
    auto, request, human = result["q"]
    assert auto == pytest.approx(-120.0) and human == pytest.approx(54.0)
    assert abs(request - 30.75) < 15.0
    assert result["start_action"] == "human_review"


def test_lab_exploration(lesson: Any, config: Any) -> None:
    """Epsilon 0 locks onto request_evidence (1 / 399 / 0); 0.1 finds human_review."""
    result = lesson.lab_exploration(config)
    assert result[0.0] == {"visits": [1, 399, 0], "selected": "request_evidence"}
    assert result[0.1]["selected"] == "human_review"


def test_lab_reward_specification(lesson: Any, config: Any) -> None:
    """speed_only picks auto_approve (100); outcome_aware human_review (54)."""
    assert lesson.lab_reward_specification(config) == {
        "speed_only": {"choice": "auto_approve", "value": 100.0},
        "outcome_aware": {"choice": "human_review", "value": 54.0},
    }


def test_lab_reinforce_update(lesson: Any, config: Any) -> None:
    """0.333 each -> 0.089 / 0.403 / 0.508."""
    result = lesson.lab_reinforce_update(config)
    np.testing.assert_allclose(result["after"], [0.089, 0.403, 0.508], atol=5e-4)


def test_lab_held_out_evaluation(lesson: Any, config: Any) -> None:
    """The held-out lab on AccessReviewRisk-v0 prints the lesson's figures.

    always_auto -25 with 2 severe errors, always_review 54 and risk_aware 62,
    both exact and on the held-out sample; risk_aware is optimal.
    """
    result = lesson.lab_held_out_evaluation(config)
    for policy, (value, severe) in {
        "always_auto": (-25.0, 2),
        "always_review": (54.0, 0),
        "risk_aware": (62.0, 0),
    }.items():
        assert result[policy]["exact"] == pytest.approx(value)
        assert result[policy]["mean"] == pytest.approx(value)
        assert result[policy]["severe_errors"] == severe
    assert result["optimal_is_risk_aware"] == {"value": 1.0}


def test_lab_safety_constraint(lesson: Any) -> None:
    """With the shield no violation reaches the workflow while learning.

    The learned return is the same; without the shield, exploration violates.
    """
    result = lesson.lab_safety_constraint(lesson.Config(seed=7, episodes=3_000))
    for task in ("AccessReview-v0", "AccessReviewRisk-v0"):
        unshielded = result[f"{task} / none"]
        assert unshielded["violations_in_training"] > 0
        for label in ("block", "block, env's mask", "reroute, env's mask"):
            row = result[f"{task} / {label}"]
            assert row["violations_in_training"] == 0
            assert row["mean_return"] == pytest.approx(unshielded["mean_return"], abs=2)
        assert result[f"{task} / block"]["intercepted_attempts"] == 0
        assert result[f"{task} / block, env's mask"]["intercepted_attempts"] > 0


def test_lab_abandonment_threshold(lesson: Any, config: Any) -> None:
    """Bisection finds 5/113; the sweep's first winning p is the next grid point."""
    result = lesson.lab_abandonment_threshold(config)
    assert result["bisection"] == pytest.approx(5 / 113, abs=1e-12)
    assert 5 / 113 < result["sweep"] <= 5 / 113 + 0.001


def test_lab_time_ordered_held_out(lesson: Any, config: Any) -> None:
    """A random split hides the drift that the time-ordered split exposes.

    The time split's held-out DR estimate lies within 4 of its standard errors
    of the plan's exact value on the last two months, at least 1.5 points
    below the promise; the random split's agrees with its promise (within 1
    point) and leaks the future.
    """
    result = lesson.lab_time_ordered_held_out(config)
    time, shuffled = result["time"], result["random"]
    assert abs(time["held_out"] - time["exact_future"]) <= 4 * time["held_out_se"]
    assert time["promised"] - time["held_out"] > 1.5
    assert abs(shuffled["promised"] - shuffled["held_out"]) < 1.0
    assert (time["leaks"], shuffled["leaks"]) == (False, True)
    assert result["rejected_features"] == ["evidence_at", "next_state", "outcome"]
    assert result["optimal_first"] == ["request_evidence", "human_review"]


@pytest.mark.processes
def test_lesson_script_prints_all_thirteen_labs(tmp_path: Path) -> None:
    """The lesson script run without options prints every lab."""
    result = run(
        "lesson.py",
        "--routes",
        "500",
        "--episodes",
        "500",
        "--pulls",
        "50",
        "--requests-per-month",
        "5000",
        cwd=tmp_path,
    )
    assert result.stdout.count("\n## ") == 13


@pytest.mark.processes
def test_lesson_script_rejects_unknown_labs(tmp_path: Path) -> None:
    """An unknown lab name is refused with the valid choices."""
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "lesson.py"), "--lab", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.slow
@pytest.mark.processes
def test_main_job_writes_its_table_plots_and_record(tmp_path: Path) -> None:
    """Small budgets, no SB3: a table, four 800x450 PNGs and main.json."""
    output = tmp_path / "out"
    result = run(
        "main.py",
        "--no-sb3",
        "--q-episodes",
        "3000",
        "--reinforce-episodes",
        "3000",
        "--output",
        str(output),
        cwd=tmp_path,
    )
    assert "| Q-learning (agents) |" in result.stdout
    assert str(output.resolve()) in result.stdout
    for name in ("value_iteration", "q_learning", "reinforce", "abandonment"):
        assert png_size(output / f"{name}.png") == (800, 450)
    record = json.loads((output / "main.json").read_text())
    assert record["exact"]["policy"] == [
        "human_review",
        "auto_approve",
        "approve_rotation",
    ]
    assert [row["learner"] for row in record["learners"]][:1] == ["Q-learning (agents)"]


@pytest.mark.slow
@pytest.mark.processes
def test_speed_script_runs_and_writes_json(tmp_path: Path) -> None:
    """--quick prints the table and writes every row's ratio."""
    result = run(
        "speed.py", "--quick", "--output", str(tmp_path / "b.json"), cwd=tmp_path
    )
    assert "| comparison | ours | baseline | ratio | target |" in result.stdout
    assert "--jobs 2 vs serial (cores used" in result.stdout
    assert "results identical to the serial run: yes" in result.stdout
    record = json.loads((tmp_path / "b.json").read_text())
    assert all(row["ratio"] > 0 for row in record["rows"])
    if record["offline_rows"] is not None:  # with pyarrow: the offline timings
        assert "| stage | seconds | detail | target |" in result.stdout
        assert sum(row["limit"] is not None for row in record["offline_rows"]) == 3
    assert "queue vector env, level tiny" in result.stdout
    assert "exact solve of AccessReviewQueue-v0, level tiny" in result.stdout
    assert "build the model" in result.stdout
    solve = record["queue_solve"]
    assert solve["agree"] and solve["n_states"] == 90


@pytest.mark.slow
@pytest.mark.processes
def test_speed_queue_rows_alone(tmp_path: Path) -> None:
    """--queue-only times the exact solve and the vector env of one level."""
    result = run(
        "speed.py",
        "--queue-only",
        "--queue-level",
        "tiny",
        "--output",
        str(tmp_path / "q.json"),
        cwd=tmp_path,
    )
    record = json.loads((tmp_path / "q.json").read_text())
    assert [row["name"] for row in record["rows"]] == [
        "queue vector env, level tiny, N = 1,024, random actions"
    ]
    assert record["queue_solve"]["agree"]
    assert "pymdptoolbox" in result.stdout or "pymdptoolbox is not" in result.stderr


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.sb3
def test_sb3_crosscheck_script_runs(tmp_path: Path) -> None:
    """One seed of A2C at p = 0.25 through the script: a table and a JSON record."""
    result = run(
        "sb3_crosscheck.py",
        "--seeds",
        "1",
        "--algorithms",
        "A2C",
        "--abandonment-probs",
        "0.25",
        "--output",
        str(tmp_path / "x.json"),
        cwd=tmp_path,
    )
    assert "| A2C | 0.25 | 1 | 100% |" in result.stdout
    record = json.loads((tmp_path / "x.json").read_text())
    assert record["runs"][0]["agrees"] is True


@pytest.mark.processes
def test_main_job_without_matplotlib_still_writes_its_table_and_record(
    tmp_path: Path,
) -> None:
    """With matplotlib unimportable the job says so in one line and loses nothing."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from agents.jobs.main_job import main\n"
        "sys.exit(main(['--no-sb3', '--q-episodes', '500', "
        "'--reinforce-episodes', '500', '--output', 'out']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the plots were skipped (pip install 'access-review-env[plots]')" in (
        result.stdout
    )
    record = json.loads((tmp_path / "out" / "main.json").read_text())
    assert record["exact"]["values"] == "finite horizon of 20 steps (the time limit)"
    assert not list((tmp_path / "out").glob("*.png"))


@pytest.mark.processes
def test_main_job_refuses_an_output_that_is_a_file_before_training(
    tmp_path: Path,
) -> None:
    """--output naming a file: exit 2 at once, the file untouched."""
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "main.py"), "--output", str(blocker)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "is a file" in result.stderr
    assert blocker.read_text() == "mine"


def test_a_missed_batched_target_is_profiled() -> None:
    """The profile splits a short batched run: env step, kernel, draws, the rest."""
    from agents.jobs.speed import profile_batched

    found = profile_batched(16, 30, "numpy")
    assert set(found.shares) >= {"env step", "kernel", "Python loop and the rest"}
    assert found.shares["env step"] > 0 and found.shares["kernel"] > 0
    assert sum(found.shares.values()) == pytest.approx(1.0)
    assert found.top
