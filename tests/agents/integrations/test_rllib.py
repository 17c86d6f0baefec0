"""Ray RLlib's PPO learns value iteration's optimal policy; Tune runs a grid of it.

Tests marked ``ray`` skip without the ``ray`` extra, and ``.ci/run`` runs them
in a venv of their own (Ray RLlib pins gymnasium 1.2.2). RLlib seeds its
networks, sampling and env resets from ``seed``, so each one replays the same
training run. The others check, without Ray, that the job and the module say
which extra they need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from access_review_env import ENV_ID, OUTCOMES, RISK_ENV_ID
from tests.helpers import ROOT, python_without

ITERATIONS = 10
"""Training iterations of 512 env steps for the learning test (about 12 s)."""
VALUE_TOLERANCE = 6.0
"""|critic V - V*| allowed per non-terminal state after :data:`ITERATIONS`. The
critic values the current, slightly stochastic policy; at seed 0 the largest
gap after 10 iterations was 3.8 (new_request: 50.2 against 54)."""
SCRIPT = ROOT / "scripts" / "rllib_ppo.py"


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """One local Ray with 2 CPUs for the module's tests."""
    import ray

    from agents.common.ray_session import start_ray

    start_ray("local", num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.mark.processes
@pytest.mark.ray
# Restoring a checkpoint re-registers RLlib's own wrapper env id with Gymnasium.
@pytest.mark.filterwarnings("ignore:.*Overriding environment rllib-single-agent-env")
def test_ppo_learns_the_optimal_policy_at_p_025(
    ray_session: Any, tmp_path: Path
) -> None:
    """Seed 0: greedy action optimal in every non-terminal state, critic near V*.

    Also pins two RLlib facts the module relies on: ``get_module()`` is the
    inference-only copy, and a saved checkpoint restores the same policy.
    """
    from ray.rllib.algorithms.algorithm import Algorithm

    from agents.integrations.rllib import (
        check_policy,
        critic_values,
        greedy_actions,
        ppo_config,
        save_checkpoint,
        train_ppo,
    )

    config = ppo_config(ENV_ID, {"abandonment_prob": 0.25}, seed=0)
    algorithm, trained = train_ppo(config, ITERATIONS)
    try:
        final = trained.final
        assert len(trained.checks) == ITERATIONS
        assert final.agrees, final
        assert final.regret == pytest.approx(0.0, abs=1e-9)
        assert trained.first_optimal_iteration is not None
        assert final.max_value_error < VALUE_TOLERANCE, final
        assert final.exact_values[:3] == pytest.approx([54.0, 70.0, 80.0])
        assert greedy_actions(algorithm).tolist() == final.greedy
        np.testing.assert_allclose(critic_values(algorithm), final.values, rtol=1e-6)
        assert algorithm.get_module().inference_only
        checkpoint = save_checkpoint(algorithm, tmp_path / "checkpoint")
    finally:
        algorithm.stop()
    assert (checkpoint / "learner_group").is_dir()
    restored = Algorithm.from_checkpoint(str(checkpoint))
    try:
        again = check_policy(restored)
    finally:
        restored.stop()
    assert again.greedy == final.greedy
    np.testing.assert_allclose(again.values, final.values, rtol=1e-6)


@pytest.mark.processes
@pytest.mark.ray
def test_tune_grid_of_two_trials_reports_optimality_and_margin(
    ray_session: Any, tmp_path: Path
) -> None:
    """Two trials run side by side; each reports its grid point's exact margin.

    At p = 0.04 the best first action (request_evidence) beats human_review by
    only 0.48, so its optimality after two iterations is reported, not asserted.
    """
    from agents.integrations.rllib import tune_grid

    trials = tune_grid(
        {"abandonment_prob": [0.04, 0.25]},
        iterations=2,
        storage_path=tmp_path / "tune",
    )
    assert [t.env_kwargs["abandonment_prob"] for t in trials] == [0.04, 0.25]
    assert all(t.error is None and t.iterations == 2 for t in trials), trials
    assert [t.seed for t in trials] == [0, 0]
    checks = [t.check for t in trials]
    assert checks[0] is not None and checks[1] is not None
    assert checks[0].start_margin == pytest.approx(0.48)
    assert checks[1].start_margin == pytest.approx(23.25)
    assert checks[1].agrees, checks[1]


@pytest.mark.ray
def test_env_creator_builds_either_task_by_id_and_scales_rewards() -> None:
    """``make_env`` builds any registered id and scales its rewards."""
    from agents.integrations.rllib import make_env

    env = make_env({"env_id": ENV_ID, "env_kwargs": {"abandonment_prob": 0.0}})
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(0)
    assert reward == pytest.approx(-1.2)
    assert terminated and OUTCOMES[info["outcome"]] == "unsupported_approval"
    risk = make_env({"env_id": RISK_ENV_ID, "env_kwargs": {}})
    assert risk.observation_space.n == 6  # type: ignore[attr-defined]
    with pytest.raises(KeyError, match="'seed'"):
        make_env({"seed": 1})


@pytest.mark.ray
def test_observations_are_one_hot_as_flatten_observations_makes_them() -> None:
    """RLlib's own flattening of Discrete(S) is the identity matrix."""
    from agents.integrations.rllib import state_observations

    np.testing.assert_array_equal(state_observations(ENV_ID, {}), np.eye(4))
    with pytest.raises(TypeError, match="Discrete"):
        state_observations("CartPole-v1", {})


@pytest.mark.ray
def test_settings_out_of_range_are_named() -> None:
    """PPOSettings refuses a minibatch larger than the batch, naming both."""
    from agents.integrations.rllib import PPOSettings

    with pytest.raises(ValueError, match="minibatch_size must be an integer <= 512"):
        PPOSettings(minibatch_size=1024)
    with pytest.raises(ValueError, match="lr must be"):
        PPOSettings(lr=0.0)


def _job(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(tmp_path / "out"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.processes
@pytest.mark.ray
def test_the_job_prints_both_tables_and_saves_a_checkpoint(tmp_path: Path) -> None:
    """One iteration: policy and value tables, a checkpoint, a JSON record."""
    result = _job(tmp_path, "--iterations=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| state | greedy action (PPO) | optimal action(s) | agrees |" in (
        result.stdout
    )
    assert "| state | learned V | V* | V - V* |" in result.stdout
    assert (tmp_path / "out" / "checkpoint" / "learner_group").is_dir()
    record = json.loads((tmp_path / "out" / "rllib_ppo.json").read_text())
    assert record["env_id"] == ENV_ID and len(record["checks"]) == 1


@pytest.mark.processes
@pytest.mark.ray
def test_the_job_tune_mode_flags_the_close_call(tmp_path: Path) -> None:
    """--tune at p = 0.04: one row, its margin under one point marked as close."""
    result = _job(
        tmp_path, "--tune", '--grid={"abandonment_prob": [0.04]}', "--iterations=1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| 0.04 | 0 |" in result.stdout
    assert "0.48 (close)" in result.stdout
    assert (tmp_path / "out" / "rllib_tune.json").exists()


@pytest.mark.processes
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--env-kwargs", "{p"), "--env-kwargs is not valid JSON"),
        (("--env-kwargs", '{"speed": 1}'), "unexpected keyword argument 'speed'"),
        (("--tune", "--grid", '{"abandonment_prob": []}'), "non-empty list"),
        (("--tune", "--grid", '{"abandonment_prob": [2]}'), "--grid: abandonment"),
        (("--grid", '{"abandonment_prob": [0.1]}'), "--grid and --seeds go with"),
        (("--seeds", "3"), "--grid and --seeds go with --tune"),
        (("--address", "auto", "--num-cpus", "2"), "--num-cpus sizes a local Ray"),
        (("--address", "nonsense"), "'nonsense' is not a Ray address (allowed:"),
        (("--address", "head:99999"), "'head:99999' is not a Ray address"),
    ],
)
def test_the_job_refuses_bad_arguments_before_starting_ray(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Bad JSON or kwargs the env refuses: exit 2 with the env's own message.

    The arguments are checked first, so this holds with or without Ray.
    """
    result = _job(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Ray started" not in result.stdout


@pytest.mark.processes
def test_without_ray_the_job_exits_2_naming_the_extra(tmp_path: Path) -> None:
    """`access-review rllib` without Ray: exit 2 at once, the ray extra named."""
    code = "from agents.cli import main\nsys.exit(main(['rllib']))"
    result = python_without("ray", code, cwd=tmp_path)
    assert result.returncode == 2
    assert "pip install 'access-review-env[ray]'" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.processes
def test_rllib_module_says_what_to_install_when_ray_is_missing() -> None:
    """Without Ray the import fails with the install command."""
    result = python_without("ray", "import agents.integrations.rllib")
    assert result.returncode != 0
    assert "pip install torch==2.13.0, then pip install" in result.stderr
