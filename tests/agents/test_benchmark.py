"""Scoring agents against the exact optimum, the suite's statistics, and the script."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    assert record.score is not None and record.score.regret == 0.0
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


USER_AGENTS = """
def reviewer(env, seed):
    return lambda state: [2, 0, 3, 0][state]

def broken(env, seed):
    return lambda state: 7

def explodes(env, seed):
    raise RuntimeError("boom")

def not_a_policy(env, seed):
    return 42

def stall(env, seed):
    return lambda state: 3
"""


def _run_script(
    tmp_path: Path, *args: str, output: Path | None = None, pythonpath: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the benchmark script in ``tmp_path`` beside a user's user_agents.py."""
    (tmp_path / "user_agents.py").write_text(USER_AGENTS)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(tmp_path)
    output = tmp_path / "out" if output is None else output
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--output", str(output)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _strict_json(path: Path) -> Any:
    """Parse ``path`` refusing NaN and Infinity, as strict JSON parsers do."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


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


def test_a_failing_agent_among_good_ones_keeps_every_good_run(tmp_path: Path) -> None:
    """Failing agents are recorded; every good run is on disk; the exit is 1.

    One agent raises, one returns no policy, one stalls where stalls are refused.
    """
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "user_agents:explodes",
        "user_agents:not_a_policy",
        "user_agents:stall",
        "random",
        "--configurations",
        "default",
        "invalid_raise",
        "--seeds",
        "2",
        "--episodes",
        "20",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    out = tmp_path / "out"
    lines = (out / "runs.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in lines]
    assert len(runs) == 5 * 2 * 2
    failed = {(r["agent"], r["configuration"]) for r in runs if r["error"]}
    assert {a for a, _ in failed} == {
        "user_agents:explodes",
        "user_agents:not_a_policy",
        "user_agents:stall",
    }
    assert ("user_agents:stall", "default") not in failed  # stalls are penalized
    assert ("user_agents:stall", "invalid_raise") in failed  # and refused here
    assert all(
        r["error"] is None
        for r in runs
        if r["agent"] in ("user_agents:reviewer", "random")
    )
    assert "RuntimeError: boom" in result.stderr
    assert "InvalidActionError" in result.stderr
    record = _strict_json(out / "benchmark_agents.json")
    assert len(record["runs"]) == 20
    assert "FAILED 2 of 2" in result.stdout
    assert (out / "scores.png").stat().st_size > 0


def test_resume_skips_runs_already_on_disk(tmp_path: Path) -> None:
    """A second call with more seeds and --resume runs only the new seeds."""
    common = ("--agents", "user_agents:reviewer", "--configurations", "default")
    first = _run_script(tmp_path, *common, "--seeds", "1", "--episodes", "10")
    assert first.returncode == 0, first.stderr[-2000:]
    again = _run_script(
        tmp_path, *common, "--seeds", "2", "--episodes", "10", "--resume"
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming: 1 of 2 runs already done" in again.stdout
    runs = (tmp_path / "out" / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["seed"] for line in runs] == [0, 1]
    fresh = _run_script(tmp_path, *common, "--seeds", "1", "--episodes", "10")
    assert "kept the previous runs as" in fresh.stdout
    assert len(list((tmp_path / "out").glob("runs-*.jsonl"))) == 1


def test_a_custom_configuration_is_scored_like_the_suite(tmp_path: Path) -> None:
    """--env-kwargs adds a configuration named custom; alone with --configurations."""
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "--env-kwargs",
        '{"abandonment_prob": 0.1}',
        "--configurations",
        "custom",
        "--seeds",
        "1",
        "--episodes",
        "10",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = _strict_json(tmp_path / "out" / "benchmark_agents.json")["runs"]
    assert run["configuration"] == "custom"
    assert run["env_kwargs"] == {"abandonment_prob": 0.1}
    assert run["score"]["regret"] == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env-kwargs", "{abandonment"), "--env-kwargs is not valid JSON"),
        (("--env-kwargs", "[1]"), "--env-kwargs must be a JSON object"),
        (
            ("--env-kwargs", '{"abandonment_prob": 2}'),
            "abandonment_prob must be a finite real number in [0, 1], got 2",
        ),
        (("--env-kwargs", '{"speed": 1}'), "unexpected keyword argument 'speed'"),
        (("--configurations", "custom"), "--configurations custom needs --env-kwargs"),
        (("--agents", "q_learnin"), "built-in agents are q_learning, reinforce"),
        (("--agents", "sb3:SAC"), "unknown algorithm 'SAC'"),
    ],
)
def test_usage_errors_exit_2_before_any_training(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Bad kwargs, JSON or names: exit 2 with the reason, and nothing written."""
    result = _run_script(tmp_path, *args, "--seeds", "1")
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert not (tmp_path / "out" / "runs.jsonl").exists()


def test_an_output_path_that_is_a_file_is_refused_at_once(tmp_path: Path) -> None:
    """--output naming a file: exit 2 at once, the file untouched."""
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    result = _run_script(tmp_path, "--agents", "random", output=blocker)
    assert result.returncode == 2 and "is a file; give a folder" in result.stderr
    assert blocker.read_text() == "mine"


def test_the_readme_recipe_finds_my_agents_in_the_current_folder(
    tmp_path: Path,
) -> None:
    """`--agents user_agents:reviewer` works with no PYTHONPATH, as python -m would."""
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "--configurations",
        "default",
        "--seeds",
        "1",
        "--episodes",
        "10",
        pythonpath=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_without_matplotlib_tables_and_json_are_still_written(tmp_path: Path) -> None:
    """Without matplotlib one line says the plot was skipped; all else is written."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from agents.jobs.benchmark_agents import main\n"
        "sys.exit(main(['--agents', 'random', '--configurations', 'default', "
        "'--seeds', '1', '--episodes', '10', '--output', 'out']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the plot skipped (pip install 'access-review-env[plots]')" in result.stdout
    assert (tmp_path / "out" / "benchmark_agents.json").exists()
    assert not (tmp_path / "out" / "scores.png").exists()


def test_the_second_task_is_benchmarked_on_its_own_suite(tmp_path: Path) -> None:
    """--env AccessReviewRisk-v0 scores agents on that task's configurations."""
    result = _run_script(
        tmp_path,
        "--env",
        "AccessReviewRisk-v0",
        "--agents",
        "q_learning",
        "random",
        "--configurations",
        "held_out",
        "speed_only",
        "--seeds",
        "1",
        "--episodes",
        "50",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = _strict_json(tmp_path / "out" / "benchmark_agents.json")
    assert record["env_id"] == "AccessReviewRisk-v0"
    runs = {(r["agent"], r["configuration"]): r for r in record["runs"]}
    learned = runs[("q_learning", "held_out")]["score"]
    assert learned["optimal_value"] == pytest.approx(62.0)
    assert learned["regret"] == pytest.approx(0.0, abs=1e-9)
    assert runs[("q_learning", "speed_only")]["score"]["violations_per_episode"] > 0
    wrong = _run_script(
        tmp_path, "--env", "AccessReviewRisk-v0", "--configurations", "no_abandonment"
    )
    assert wrong.returncode == 2 and "not in the suite of" in wrong.stderr
