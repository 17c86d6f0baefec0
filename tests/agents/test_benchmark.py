"""Scoring agents against the exact optimum, the suite's statistics, and the script."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import errno
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID
from agents.benchmark import (
    RISK_SUITE,
    SUITE,
    BatchedFactory,
    ManySeedFactory,
    RunRecord,
    RunSpec,
    Trained,
    batches,
    checkpoint_grid,
    load_factory,
    markdown,
    q_learning_agent,
    run_many,
    run_one,
    run_specs,
    run_suite,
    still_to_run,
    summarize,
)
from agents.benchmark.store import RunStore
from agents.benchmark.summary import hardness_table
from agents.common.json_values import to_jsonable
from agents.evaluation.scoring import score_policies, score_policy
from agents.evaluation.statistics import wilson_interval
from agents.jobs.benchmark_agents import main as benchmark_main
from agents.learners import train_q_learning
from agents.policies import as_predictor

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "benchmark_agents.py"


def _pythonpath(*folders: Path) -> str:
    """A PYTHONPATH of ``folders``, then this checkout.

    A script then imports the code under test, not another installed copy.
    """
    return os.pathsep.join(str(folder) for folder in (*folders, ROOT))


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
import argparse

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

def exits(env, seed):
    argparse.ArgumentParser(prog="my_agent").parse_args(["--surprise"])
"""


def _run_script(
    tmp_path: Path, *args: str, output: Path | None = None, pythonpath: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the benchmark script in ``tmp_path`` beside a user's user_agents.py.

    With ``pythonpath=False`` only this checkout is on PYTHONPATH, not
    ``tmp_path``: the user's module must be found as ``python -m`` finds it.
    """
    (tmp_path / "user_agents.py").write_text(USER_AGENTS)
    env = dict(os.environ)
    env["PYTHONPATH"] = _pythonpath(tmp_path) if pythonpath else _pythonpath()
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


@pytest.mark.slow
@pytest.mark.processes
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


@pytest.mark.processes
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


@pytest.mark.slow
@pytest.mark.processes
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


@pytest.mark.slow
@pytest.mark.processes
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


def test_a_second_benchmark_on_the_same_output_exits_2_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two jobs appending to one runs.jsonl could cut each other's records."""
    out = tmp_path / "out"
    out.mkdir()
    with RunStore(out / "runs.jsonl").exclusive(), pytest.raises(SystemExit) as stopped:
        benchmark_main(["--agents", "random", "--seeds", "1", "--output", str(out)])
    assert stopped.value.code == 2
    assert "another benchmark is writing to" in capsys.readouterr().err
    assert not (out / "runs.jsonl").exists()


@pytest.mark.processes
def test_a_custom_configuration_is_scored_on_its_own_horizon(tmp_path: Path) -> None:
    """--env-kwargs adds a configuration named custom, time limit included.

    Each configuration's exact values are for its own horizon, and the output
    says which horizon each used.
    """
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:reviewer",
        "--env-kwargs",
        '{"abandonment_prob": 0.1, "max_episode_steps": 5}',
        "--configurations",
        "default",
        "custom",
        "--seeds",
        "1",
        "--episodes",
        "10",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "  default: finite horizon of 20 steps" in result.stdout
    assert "  custom: finite horizon of 5 steps" in result.stdout
    record = _strict_json(tmp_path / "out" / "benchmark_agents.json")
    assert record["exact_values"] == {
        "default": "finite horizon of 20 steps (the time limit)",
        "custom": "finite horizon of 5 steps (the time limit)",
    }
    default, custom = record["runs"]
    assert custom["configuration"] == "custom"
    assert custom["env_kwargs"] == {"abandonment_prob": 0.1, "max_episode_steps": 5}
    assert (default["score"]["horizon"], custom["score"]["horizon"]) == (20, 5)
    assert custom["score"]["regret"] == 0.0


@pytest.mark.slow
@pytest.mark.processes
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


@pytest.mark.processes
def test_an_output_path_that_is_a_file_is_refused_at_once(tmp_path: Path) -> None:
    """--output naming a file: exit 2 at once, the file untouched."""
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    result = _run_script(tmp_path, "--agents", "random", output=blocker)
    assert result.returncode == 2 and "is a file; give a folder" in result.stderr
    assert blocker.read_text() == "mine"


@pytest.mark.processes
def test_the_documented_recipe_finds_my_agents_in_the_current_folder(
    tmp_path: Path,
) -> None:
    """`--agents user_agents:reviewer` works without the folder on PYTHONPATH."""
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


@pytest.mark.processes
def test_without_matplotlib_tables_and_json_are_still_written(tmp_path: Path) -> None:
    """Without matplotlib one line says the plots were skipped; all else is written."""
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
    assert (
        "matplotlib is not installed: the plots were skipped "
        "(pip install 'access-review-env[plots]')"
    ) in result.stdout
    assert (tmp_path / "out" / "benchmark_agents.json").exists()
    assert not (tmp_path / "out" / "scores.png").exists()
    assert not (tmp_path / "out" / "headline.png").exists()


@pytest.mark.slow
@pytest.mark.processes
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


SMALL_Q = BatchedFactory("q_learning", 400)
SMALL_REINFORCE = BatchedFactory("reinforce", 300, exploring_starts=True)
NO_ABANDONMENT = next(c for c in SUITE if c.name == "no_abandonment")
BELOW = next(c for c in SUITE if c.name == "below_crossover")


@pytest.mark.parametrize("factory", [SMALL_Q, SMALL_REINFORCE])
@pytest.mark.parametrize("env_id", [ENV_ID, RISK_ENV_ID])
def test_train_many_traces_every_seed(factory: BatchedFactory, env_id: str) -> None:
    """One agent per seed, each with the exact regret at every checkpoint."""
    trained = factory.train_many(env_id, {}, [4, 5, 6])
    assert len(trained) == 3
    grid = tuple(int(e) for e in checkpoint_grid(factory.n_episodes))
    for done in trained:
        trace = done.trace
        assert trace is not None and trace.episodes == grid
        assert trace.steps[0] == 0 and all(np.diff(trace.steps) > 0)
        assert trace.cumulative_regret[0] == 0.0
        assert all(np.diff(trace.cumulative_regret) >= 0)
        assert min(trace.greedy_regret) >= -1e-9
        assert min(trace.behaviour_regret) > 0  # exploration always costs
        assert as_predictor(done.policy).predict(np.array([0]))[0].shape == (1,)


def test_train_many_takes_an_integer_array_and_refuses_other_seeds() -> None:
    """np.array(seeds) trains as the list does; floats, strings and bools do not.

    Before, an array failed on its truth value and 1.5 or "3" became seeds.
    """
    listed = SMALL_Q.train_many(ENV_ID, {}, [3, 4])
    arrayed = SMALL_Q.train_many(ENV_ID, {}, np.array([3, 4]))
    assert [t.trace for t in arrayed] == [t.trace for t in listed]
    cases: list[tuple[Any, type[Exception], str]] = [
        (np.array([3.0, 4.0]), TypeError, "seed 0 is float64"),
        ([3, 1.5], TypeError, "seed 1 is float 1.5"),
        (["3"], TypeError, "seed 0 is str '3'"),
        ([True], TypeError, "seed 0 is bool True"),
        ([-1], ValueError, "seed 0 is -1"),
        (np.zeros((2, 2), np.int64), ValueError, "1-D array of integers"),
        ([], ValueError, "at least one seed"),
    ]
    for seeds, error, message in cases:
        with pytest.raises(error, match=message):
            SMALL_Q.train_many(ENV_ID, {}, seeds)


def test_train_many_depends_on_the_seeds_not_only_on_their_number() -> None:
    """The batch's generator is seeded by its seeds.

    The same seeds reproduce a run; new seeds give new runs.
    """
    first, again, other = (
        SMALL_Q.train_many(ENV_ID, {}, seeds) for seeds in ([0, 1], [0, 1], [2, 3])
    )
    assert first[0].trace == again[0].trace
    assert first[0].trace != other[0].trace


def test_run_many_gives_one_record_per_spec_like_run_one() -> None:
    """Scores, traces and steps to zero regret, for every seed of a batch."""
    specs = [RunSpec("q_learning", NO_ABANDONMENT, seed, 50) for seed in range(3)]
    records = run_many(specs, SMALL_Q)
    single = run_one(specs[0], SMALL_Q)
    assert [r.seed for r in records] == [0, 1, 2]
    for record in records:
        assert not record.failed and record.score is not None
        assert record.score.regret == pytest.approx(0.0, abs=1e-9)
        assert record.trace is not None and record.train_seconds > 0
        assert record.steps_to_zero_regret is not None
        assert record.key == RunSpec("q_learning", NO_ABANDONMENT, record.seed, 50).key
    assert single.trace is None and single.score is not None
    assert single.score.optimal_value == records[0].score.optimal_value  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="differ only in their seeds"):
        run_many([specs[0], RunSpec("q_learning", BELOW, 0, 50)], SMALL_Q)


def test_records_with_traces_survive_the_runs_file(tmp_path: Path) -> None:
    """A record with a trace reads back equal; older records still load.

    Those without a trace, and those of earlier versions naming their batch.
    """
    (record,) = run_many([RunSpec("q_learning", NO_ABANDONMENT, 0, 20)], SMALL_Q)
    store = RunStore(tmp_path / "runs.jsonl")
    store.append(record)
    (loaded,) = store.load()
    assert loaded == record
    old = json.loads(json.dumps(to_jsonable(record)))
    del old["trace"]
    assert RunRecord.from_json(old).trace is None
    assert record.batch is None  # seeds stand alone: no batch is recorded
    batched = {**old, "batch": "3 seeds, sha256 5d1f2a96c1a3b0e4"}
    assert RunRecord.from_json(batched).batch == batched["batch"]
    del batched["batch"]
    assert RunRecord.from_json(batched).batch is None


def _without_timing(records: list[RunRecord]) -> list[RunRecord]:
    return [dataclasses.replace(record, train_seconds=0.0) for record in records]


def test_a_resumed_batched_benchmark_equals_an_uninterrupted_one() -> None:
    """Interrupted mid-batch, then resumed: the uninterrupted records.

    The interrupted run holds two seeds of one batch, one of the other and a
    failed run; still_to_run gives exactly the rest, which trains as smaller
    batches and gives the same records as the whole batches (seeds stand
    alone). A record of an earlier version trained in a batch reruns.
    """
    factories = {"q_learning": SMALL_Q}
    specs = [
        RunSpec("q_learning", configuration, seed, 20)
        for configuration in (NO_ABANDONMENT, BELOW)
        for seed in range(4)
    ]
    uninterrupted = run_specs(specs, factories)
    interrupted = {
        r.key: r for r in run_specs([specs[1], specs[3], specs[6]], factories)
    }
    lost = dataclasses.replace(uninterrupted[4], score=None, error="Killed: 9")
    interrupted[lost.key] = lost

    todo = still_to_run(specs, interrupted)
    assert todo == [specs[i] for i in (0, 2, 4, 5, 7)]
    resumed = {**interrupted, **{r.key: r for r in run_specs(todo, factories)}}
    assert _without_timing([resumed[s.key] for s in specs]) == _without_timing(
        uninterrupted
    )
    assert still_to_run(specs, resumed) == []
    old = dataclasses.replace(resumed[specs[2].key], batch="4 seeds, sha256 0f")
    assert still_to_run(specs, {**resumed, old.key: old}) == [specs[2]]


class _Exploding:
    """A many-seed factory whose training fails."""

    def __call__(self, env: Any, seed: int) -> Any:
        raise RuntimeError("one seed boom")

    def train_many(self, env_id: str, env_kwargs: Any, seeds: Any) -> list[Trained]:
        raise RuntimeError("batch boom")


def test_a_failing_batch_fails_its_runs_and_the_others_go_on() -> None:
    """train_many raising fails every run of its batch, with the error.

    The other agents' runs are unaffected.
    """
    assert isinstance(_Exploding(), ManySeedFactory)
    specs = [
        RunSpec(agent, NO_ABANDONMENT, seed, 20)
        for agent in ("bad", "q")
        for seed in (0, 1)
    ]
    seen: list[RunRecord] = []
    records = run_specs(specs, {"bad": _Exploding(), "q": SMALL_Q}, seen.append)
    assert seen == records
    assert [r.failed for r in records] == [True, True, False, False]
    assert all("RuntimeError: batch boom" in str(r.error) for r in records[:2])


def test_batches_group_seeds_of_one_agent_and_configuration() -> None:
    """Batches keep the first-seen order and never exceed their size."""
    specs = [
        RunSpec(agent, configuration, seed, 20)
        for agent in ("a", "b")
        for configuration in (NO_ABANDONMENT, BELOW)
        for seed in range(5)
    ]
    found = list(batches(specs, max_batch=3))
    assert [len(b) for b in found] == [3, 2] * 4
    assert all(len({s.group for s in b}) == 1 for b in found)
    assert [s for b in found for s in b] == specs


def test_score_policies_scores_tables_as_score_policy_does() -> None:
    """Exact values and agreement are the same; Monte Carlo agrees within noise.

    A policy that is not a table of available actions (a stall under
    invalid_action="raise") is scored alone, and crashes there as it would.
    """
    optimal = [2, 0, 3, 0]
    request = [1, 0, 3, 0]
    stall = [3, 3, 3, 0]
    policies = [optimal, request, stall]
    together = score_policies(
        policies, {"invalid_action": "raise"}, seeds=[0, 1, 2], n_episodes=400
    )
    alone = [
        score_policy(policy, {"invalid_action": "raise"}, n_episodes=400, seed=seed)
        for seed, policy in enumerate(policies)
    ]
    for batched, single in zip(together[:2], alone[:2], strict=True):
        assert batched.exact_value == single.exact_value
        assert batched.agreement == single.agreement
        assert batched.regret == single.regret
        low, high = batched.mc_ci
        assert low - 2 <= single.mc_value <= high + 2
        assert set(batched.outcomes) <= {
            "reviewed_approval",
            "evidence_approval",
            "abandoned",
        }
    assert together[2].crashed and together[2] == alone[2]
    with pytest.raises(ValueError, match="one seed per policy"):
        score_policies(policies, seeds=[0])


def test_summaries_give_wilson_intervals_curves_and_hardness() -> None:
    """The zero-regret share with its interval, learning curves, hardness, tables."""
    specs = [RunSpec("q_learning", BELOW, seed, 20) for seed in range(8)]
    records = run_many(specs, SMALL_Q)
    (configuration,) = summarize(records, np.random.default_rng(0)).configurations
    zero = configuration.zero_regret
    assert zero is not None and zero.trials == 8
    assert zero.low <= zero.share <= zero.high
    curves = configuration.curves
    assert curves is not None and curves.seeds == 8
    assert curves.episodes == tuple(int(e) for e in checkpoint_grid(400))
    assert curves.cumulative_low[-1] <= curves.cumulative_regret[-1]
    assert curves.cumulative_regret[-1] <= curves.cumulative_high[-1]
    hardness = hardness_table([BELOW], ENV_ID)
    assert hardness[0].hardness.smallest_gap == pytest.approx(0.48)
    text = markdown([summarize(records, np.random.default_rng(0))], hardness)
    assert "of 8 |" in text and "0.480 (new_request, human_review)" in text
    assert "exact expected cumulative regret" in text


def test_wilson_interval_matches_the_formula() -> None:
    """Wilson's interval: inside [0, 1], informative at 0 and n successes."""
    low, high = wilson_interval(25, 300)
    assert (float(low), float(high)) == pytest.approx((0.0571, 0.1201), abs=1e-4)
    low, high = wilson_interval(np.array([0, 10]), 10)
    assert low[0] == 0.0 and high[0] == pytest.approx(0.2775, abs=1e-4)
    assert high[1] == pytest.approx(1.0) and low[1] == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


USER_BATCH = """
import json, os
from agents.benchmark import Trained

class Reviewer:
    def __call__(self, env, seed):
        return lambda state: [2, 0, 3, 0][state]

    def train_many(self, env_id, env_kwargs, seeds):
        with open(os.environ["BATCH_LOG"], "a") as log:
            log.write(json.dumps(list(seeds)) + "\\n")
        return [Trained(lambda state: [2, 0, 3, 0][state]) for _ in seeds]

reviewer = Reviewer()
"""


@pytest.mark.slow
@pytest.mark.processes
def test_a_users_many_seed_factory_is_batched_and_resumed(tmp_path: Path) -> None:
    """A module:callable with train_many gets a configuration's seeds at once.

    --resume trains only the missing seeds, in one call per configuration.
    """
    (tmp_path / "user_batch.py").write_text(USER_BATCH)
    calls = tmp_path / "calls.jsonl"
    env = dict(os.environ, PYTHONPATH=_pythonpath(tmp_path), BATCH_LOG=str(calls))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                "--agents",
                "user_batch:reviewer",
                "--configurations",
                "default",
                "no_abandonment",
                "--episodes",
                "20",
                "--output",
                str(tmp_path / "out"),
                *args,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    first = run("--seeds", "3")
    assert first.returncode == 0, first.stderr[-2000:]
    again = run("--seeds", "5", "--resume")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming: 6 of 10 runs already done; running 4" in again.stdout
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        [0, 1, 2],
        [0, 1, 2],
        [3, 4],
        [3, 4],
    ]
    assert "100.0% [56.6%, 100.0%] of 5" in again.stdout
    for name in ("headline.png", "scores.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert not (tmp_path / "out" / "curves.png").exists()  # no agent traces


# --- agents that misbehave, and a job that cannot write ----------------------

HERE = "tests.agents.test_benchmark"
DEFAULT = SUITE[0]


def reviews(env: Any, seed: int) -> Any:
    """Always review: optimal on the default configuration."""
    return lambda state: [2, 0, 3, 0][state]


def parses_the_command_line(env: Any, seed: int) -> Any:
    """An agent that calls argparse: under pytest's argv it exits with status 2."""
    argparse.ArgumentParser(prog="agent").parse_args(["--no-such-option"])
    return reviews(env, seed)


def hangs(env: Any, seed: int) -> Any:
    """An agent that never returns."""
    time.sleep(600)
    return reviews(env, seed)


def edits_the_registry(env: Any, seed: int) -> Any:
    """Reviews, after making every later AccessReview-v0 harder and shorter."""
    spec = gym.registry[ENV_ID]
    spec.kwargs["abandonment_prob"] = 0.9
    gym.registry[ENV_ID] = dataclasses.replace(spec, max_episode_steps=2)
    return reviews(env, seed)


def learned_on_the_first_task(env: Any, seed: int) -> Any:
    """A Q-learning agent of AccessReview-v0, whatever env it is given."""
    return train_q_learning(gym.make(ENV_ID), 5, rng=np.random.default_rng(seed))


def _specs(*agents: str, env_id: str = ENV_ID) -> list[RunSpec]:
    configuration = DEFAULT if env_id == ENV_ID else RISK_SUITE[0]
    return [RunSpec(f"{HERE}:{a}", configuration, 0, 20, env_id) for a in agents]


def _factories(specs: list[RunSpec]) -> dict[str, Any]:
    return {spec.agent: load_factory(spec.agent) for spec in specs}


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.processes)])
def test_an_agent_that_exits_fails_its_own_run_only(jobs: int) -> None:
    """SystemExit from argparse is that run's error, serially and in workers."""
    specs = _specs("parses_the_command_line", "reviews")
    records = run_specs(specs, _factories(specs), jobs=jobs)
    assert [r.failed for r in records] == [True, False]
    assert str(records[0].error).startswith(
        "SystemExit: the agent exited with status 2 (at "
    )
    assert records[1].score is not None and records[1].score.regret == 0.0


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.processes)])
def test_a_hanging_agent_fails_at_the_time_limit_and_the_rest_go_on(jobs: int) -> None:
    """A 2 s limit: the hanging run fails with the time it took, where it hung."""
    specs = _specs("hangs", "reviews")
    records = run_specs(specs, _factories(specs), jobs=jobs, run_timeout=2.0)
    assert [r.failed for r in records] == [True, False], records[1].error
    assert str(records[0].error).startswith(
        "TimeLimitExceeded: stopped at its time limit of 2 s (at "
    )
    assert "in hangs)" in str(records[0].error)
    assert 2.0 <= records[0].train_seconds < 600


def test_run_timeout_must_be_positive() -> None:
    """Zero, negative and boolean limits are refused before any run."""
    specs = _specs("reviews")
    for bad in (0, -5.0, True):
        with pytest.raises(ValueError, match="run_timeout must be > 0 seconds"):
            run_specs(specs, _factories(specs), run_timeout=bad)


def test_an_agent_that_edits_the_registry_changes_no_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The runs after it, and its own score, are those of the registered task.

    The editor returns the reviewer's policy, so its record must equal the
    reviewer's; and the reviewer after it must equal the reviewer alone.
    """
    monkeypatch.setitem(gym.registry, ENV_ID, copy.deepcopy(gym.registry[ENV_ID]))
    alone = run_specs(_specs("reviews"), _factories(_specs("reviews")))
    specs = _specs("edits_the_registry", "reviews")
    editor, after = run_specs(specs, _factories(specs))
    assert gym.registry[ENV_ID].max_episode_steps != 2
    for record in (editor, after):
        assert not record.failed
        assert record.score == alone[0].score


def test_an_agent_of_the_other_task_fails_naming_both() -> None:
    """Before, scoring it ended in NumPy's "operands could not be broadcast"."""
    specs = _specs("learned_on_the_first_task", env_id=RISK_ENV_ID)
    (record,) = run_specs(specs, _factories(specs))
    assert record.failed
    assert "learned on AccessReview-v0 (4 states, 4 actions) and cannot act on " in (
        str(record.error)
    )
    assert "AccessReviewRisk-v0 (6 states, 5 actions)" in str(record.error)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_job_records_an_agent_that_exits_as_a_failed_run(
    tmp_path: Path, jobs: str
) -> None:
    """Exit status 1 (a failed run), not 2 (ours, a usage error); JSON written."""
    result = _run_script(
        tmp_path,
        "--agents",
        "user_agents:exits",
        "user_agents:reviewer",
        "--configurations",
        "default",
        "--seeds",
        "2",
        "--episodes",
        "10",
        "--jobs",
        jobs,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert (
        "error: agent user_agents:exits failed on default (seed 0): SystemExit: "
        "the agent exited with status 2" in result.stderr
    )
    assert "usage: benchmark_agents.py" not in result.stderr
    record = _strict_json(tmp_path / "out" / "benchmark_agents.json")
    assert [run["error"] is None for run in record["runs"]] == [False] * 2 + [True] * 2


def test_an_agent_module_that_exits_on_import_is_named(tmp_path: Path) -> None:
    """SystemExit while importing it: an ImportError naming the spec and status."""
    (tmp_path / "exits_on_import.py").write_text(
        "import argparse\nargparse.ArgumentParser().parse_args(['--x'])\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(
            ImportError,
            match=r"agent spec 'exits_on_import:make': it exited with status 2",
        ):
            load_factory("exits_on_import:make")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("exits_on_import", None)


def _refuse_space_when(
    monkeypatch: pytest.MonkeyPatch, applies: Callable[[str], bool]
) -> None:
    """``os.fsync`` raises ENOSPC for files whose path ``applies`` to."""
    sync = os.fsync

    def fsync(fd: int) -> None:
        if applies(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        sync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize(
    ("full", "named"),
    [
        (lambda path: path.endswith("runs.jsonl"), "runs.jsonl"),
        (lambda path: path.endswith(".tmp"), "benchmark_agents.json"),
    ],
    ids=["runs file", "result file"],
)
def test_a_full_disk_is_one_line_and_an_exit_status_of_its_own(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    full: Callable[[str], bool],
    named: str,
) -> None:
    """ENOSPC: exit 3, one line naming the file and --resume, no traceback."""
    _refuse_space_when(monkeypatch, full)
    out = tmp_path / "out"
    options = ["--configurations", "default", "--seeds", "2", "--episodes", "5"]
    code = benchmark_main(["--agents", "random", *options, "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert str(out / named) in line
    assert "No space left on device (the disk is full)" in line
    assert "--resume" in line
    assert "Traceback" not in err


def test_exit_statuses_are_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help ends with every exit status the job uses."""
    with pytest.raises(SystemExit):
        benchmark_main(["--help"])
    help_text = capsys.readouterr().out
    statuses = help_text[help_text.index("exit status:") :]
    for status in ("0", "1", "2", "3", "130"):
        assert f"\n  {status} " in statuses


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", ""], r"'' names no folder \(an empty path would write into"),
        (["--output", "  "], "names no folder"),
        (
            ["--seeds", str(10**12)],
            r"--seeds 1000000000000 \(7,000,000,000,000 runs: 1 agent\(s\) x 7 "
            r"configuration\(s\) x 1000000000000 seeds, about 3 x 14,600 bytes "
            r"each\) needs about \d+\.\d PiB of memory, more than the",
        ),
        (["--run-timeout", "0"], "'0' is out of range"),
        (["--run-timeout", "soon"], "'soon' is not a number"),
    ],
)
def test_usage_errors_refused_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    """An empty --output, more runs than memory holds, a limit that is no limit."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        benchmark_main(["--agents", "random", *args])
    assert stopped.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []
