"""Evaluating policies through the env, and saving / loading learned tables."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, AccessReviewMDP
from agents import (
    AgentFileError,
    PolicyPredictor,
    as_predictor,
    evaluate,
    load_agent,
    policy_evaluation,
    save_agent,
    train_q_learning,
    train_reinforce,
)

OPTIMAL = [2, 0, 3, 0]


def test_evaluating_the_optimal_policy() -> None:
    """The optimal route closes by review: returns 62 (54 discounted), no violation."""
    result = evaluate(gym.make(ENV_ID), OPTIMAL, n_episodes=50, seed=0)
    assert (result.mean_return, result.mean_discounted_return) == (62.0, 54.0)
    assert result.return_se == 0.0 and result.violations == 0.0
    assert result.outcomes == {"reviewed_approval": 50}


def test_always_auto_approving_counts_every_violation() -> None:
    """Every unsupported approval costs 1."""
    result = evaluate(gym.make(ENV_ID), lambda state: 0, n_episodes=40, seed=0)
    assert result.violations == 40.0 and result.violations_per_episode == 1.0
    assert result.outcomes == {"unsupported_approval": 40}


def test_monte_carlo_mean_covers_the_exact_value() -> None:
    """request_evidence first: 4,000 episodes land within 4 standard errors of 30.75."""
    policy = np.array([1, 0, 3, 0])
    exact = policy_evaluation(AccessReviewMDP().arrays, policy).V[0]
    result = evaluate(gym.make(ENV_ID), policy, n_episodes=4_000, seed=3)
    assert math.isclose(exact, 30.75)
    assert abs(result.mean_discounted_return - exact) < 4 * result.discounted_return_se
    abandoned = result.outcomes["abandoned"]
    assert abs(abandoned - 1_000) < 4 * math.sqrt(4_000 * 0.25 * 0.75)


def test_invalid_actions_and_truncation_are_counted() -> None:
    """A policy stuck on an invalid action is cut by the time limit after 20 steps."""
    result = evaluate(gym.make(ENV_ID), [3, 3, 0, 0], n_episodes=3, seed=0)
    assert result.invalid_actions == 60 and result.outcomes == {"pending": 3}
    assert result.mean_return == -200.0


def test_policies_of_every_kind_satisfy_the_protocol() -> None:
    """Functions, tables and agents all become PolicyPredictors."""
    agent = train_q_learning(gym.make(ENV_ID), 500, rng=np.random.default_rng(0))
    for policy in (lambda s: 2, OPTIMAL, np.array(OPTIMAL), agent):
        assert isinstance(as_predictor(policy), PolicyPredictor)
    with pytest.raises(TypeError, match="predict"):
        as_predictor(3)  # type: ignore[arg-type]


def test_agents_predict_like_sb3_models() -> None:
    """Predict takes batches and masks and returns (actions, None)."""
    agent = train_q_learning(gym.make(ENV_ID), 3_000, rng=np.random.default_rng(0))
    actions, state = agent.predict(np.array([0, 1, 2]), deterministic=True)
    assert actions.tolist() == [2, 0, 3] and state is None
    masked, _ = agent.predict(np.array(0), action_masks=np.array([1, 1, 0, 0]))
    assert int(masked) == 1


def _trained(kind: str) -> Any:
    env = gym.make(ENV_ID, exploring_starts=True, abandonment_prob=0.1)
    if kind == "q_learning":
        return train_q_learning(env, 800, rng=np.random.default_rng(0))
    return train_reinforce(env, 300, rng=np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["q_learning", "reinforce"])
def test_save_and_load_round_trip(kind: str, tmp_path: Path) -> None:
    """Tables, config, log and env metadata come back unchanged."""
    agent = _trained(kind)
    loaded = load_agent(save_agent(agent, tmp_path / "agent.npz"))
    assert type(loaded) is type(agent)
    assert loaded.config == agent.config
    assert (loaded.env_id, loaded.env_kwargs) == (ENV_ID, agent.env_kwargs)
    assert loaded.env_kwargs["abandonment_prob"] == 0.1
    np.testing.assert_array_equal(loaded.greedy_policy, agent.greedy_policy)
    assert loaded.log.returns == agent.log.returns
    assert list(tmp_path.iterdir()) == [tmp_path / "agent.npz"]


def test_a_crash_mid_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """If writing fails, the previous file is intact and no temporary file remains."""
    path = save_agent(_trained("q_learning"), tmp_path / "agent.npz")
    before = path.read_bytes()

    def crash(stream: Any, **arrays: Any) -> None:
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_agent(_trained("reinforce"), path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_loading_a_missing_file_fails(tmp_path: Path) -> None:
    """A missing path is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="no agent file"):
        load_agent(tmp_path / "nothing.npz")


def test_loading_a_corrupted_file_fails(tmp_path: Path) -> None:
    """Bytes that are not an .npz give a clear error."""
    path = tmp_path / "agent.npz"
    save_agent(_trained("q_learning"), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(AgentFileError, match="not a readable"):
        load_agent(path)


def test_loading_a_foreign_npz_fails(tmp_path: Path) -> None:
    """An .npz from elsewhere is refused."""
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(AgentFileError, match="not an access-review-env agent file"):
        load_agent(path)


def test_loading_pickled_objects_is_refused(tmp_path: Path) -> None:
    """Object arrays (which need pickle) are never loaded."""
    path = tmp_path / "pickled.npz"
    np.savez(path, metadata=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(AgentFileError, match="not a readable"):
        load_agent(path)


def test_loading_tables_of_the_wrong_shape_fails(tmp_path: Path) -> None:
    """Tables whose shapes disagree are refused, naming the table."""
    path = save_agent(_trained("q_learning"), tmp_path / "agent.npz")
    with np.load(path) as data:
        contents = {key: data[key] for key in data.files}
    contents["visits"] = np.zeros((3, 4), dtype=np.int64)
    np.savez(path, **contents)
    with pytest.raises(
        AgentFileError, match=r"visits has shape \(3, 4\); expected \(4, 4\)"
    ):
        load_agent(path)


def test_loading_a_newer_format_version_fails(tmp_path: Path) -> None:
    """A file of another format version is refused with both versions named."""
    path = save_agent(_trained("reinforce"), tmp_path / "agent.npz")
    with np.load(path) as data:
        contents = {key: data[key] for key in data.files}
    contents["metadata"] = np.array(
        str(contents["metadata"]).replace('"format_version": 1', '"format_version": 2')
    )
    np.savez(path, **contents)
    with pytest.raises(AgentFileError, match="format version 2; this version reads 1"):
        load_agent(path)


def test_saved_files_are_plain_npz(tmp_path: Path) -> None:
    """The file is an ordinary zip of .npy arrays, readable without this package."""
    path = save_agent(_trained("q_learning"), tmp_path / "agent.npz")
    with zipfile.ZipFile(path) as archive:
        assert (
            "q_table.npy" in archive.namelist() and "metadata.npy" in archive.namelist()
        )


@pytest.mark.parametrize("answer", [2.5, True, 7, [1, 2]])
def test_evaluate_refuses_actions_that_are_not_one_valid_integer(answer: Any) -> None:
    """A float is refused, never truncated; so are booleans, out of range, batches."""
    from agents import AgentError

    with pytest.raises(AgentError, match=r"policy returned action .* in state 0"):
        evaluate(gym.make(ENV_ID), lambda state: answer, n_episodes=1, seed=0)


def test_an_action_table_of_floats_is_refused() -> None:
    """[2.0, 0.0, 3.0, 0.0] is not silently read as integers."""
    from agents import AgentError

    with pytest.raises(AgentError, match=r"returned action 2\.0"):
        evaluate(gym.make(ENV_ID), np.array([2.0, 0.0, 3.0, 0.0]), n_episodes=1, seed=0)
