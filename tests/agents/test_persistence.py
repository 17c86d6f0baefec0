"""Saving learned agents to .npz and loading them back."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID
from agents import (
    AgentFileError,
    load_agent,
    save_agent,
    train_q_learning,
    train_reinforce,
)


@pytest.mark.parametrize("kind", ["q_learning", "reinforce"])
def test_save_and_load_round_trip(kind: str, tmp_path: Path) -> None:
    """Tables, config, log and env metadata come back unchanged."""
    agent = _trained(kind)
    loaded = load_agent(save_agent(agent, tmp_path / "agent.npz"))
    assert type(loaded) is type(agent)
    assert loaded.config == agent.config
    assert (loaded.env_id, loaded.env_kwargs) == (ENV_ID, agent.env_kwargs)
    assert loaded.env_kwargs["abandonment_prob"] == 0.1
    np.testing.assert_array_equal(loaded.greedy_actions, agent.greedy_actions)
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


def _trained(kind: str) -> Any:
    env = gym.make(ENV_ID, exploring_starts=True, abandonment_prob=0.1)
    if kind == "q_learning":
        return train_q_learning(env, 800, rng=np.random.default_rng(0))
    return train_reinforce(env, 300, rng=np.random.default_rng(0))
