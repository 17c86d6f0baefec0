"""Saving learned agents to .npz and loading them back."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from access_review_env import ENV_ID, RISK_ENV_ID
from agents import (
    AgentFileError,
    QLearningAgent,
    QLearningConfig,
    ReinforceAgent,
    ReinforceConfig,
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


def _trained(kind: str, n_episodes: int | None = None) -> Any:
    env = gym.make(ENV_ID, exploring_starts=True, abandonment_prob=0.1)
    if kind == "q_learning":
        return train_q_learning(env, n_episodes or 800, rng=np.random.default_rng(0))
    return train_reinforce(env, n_episodes or 300, rng=np.random.default_rng(0))


# --- permissions -------------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """Set the process umask for one test, restoring the previous one after."""
    previous = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)]
)
def test_new_files_get_the_mode_the_umask_allows(
    mask: int, mode: int, tmp_path: Path, umask: Callable[[int], int]
) -> None:
    """As with open(path, "w"): 0o666 less the umask, not always 0o600."""
    umask(mask)
    assert _mode(save_agent(_trained("q_learning", 5), tmp_path / "a.npz")) == mode


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_overwriting_keeps_the_files_mode(
    mode: int, tmp_path: Path, umask: Callable[[int], int]
) -> None:
    """Saving over a file keeps its mode, whatever the umask."""
    umask(0o077)
    path = tmp_path / "a.npz"
    path.write_bytes(b"old")
    path.chmod(mode)
    save_agent(_trained("reinforce", 5), path)
    assert _mode(path) == mode
    assert isinstance(load_agent(path), ReinforceAgent)


# --- save errors -------------------------------------------------------------


def test_save_errors_name_the_target_not_the_temporary_file(tmp_path: Path) -> None:
    """A missing folder or a folder in the way: the message names the path given."""
    agent = _trained("q_learning", 5)
    target = tmp_path / "missing" / "agent.npz"
    with pytest.raises(FileNotFoundError) as missing:
        save_agent(agent, target)
    (tmp_path / "taken.npz").mkdir()
    with pytest.raises(IsADirectoryError) as taken:
        save_agent(agent, tmp_path / "taken.npz")
    for error, path in ((missing, target), (taken, tmp_path / "taken.npz")):
        message = str(error.value)
        assert f"cannot save agent to {path}:" in message
        assert ".tmp" not in message
    assert list(tmp_path.iterdir()) == [tmp_path / "taken.npz"]


# --- corrupted files ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["q_learning", "reinforce"])
def test_random_single_byte_corruptions_raise_agent_file_error(
    kind: str, tmp_path: Path
) -> None:
    """2,500 seeded corruptions per kind: each loads unchanged or is refused.

    A refusal is always AgentFileError naming the file (never TokenError,
    NotImplementedError, MemoryError, ...). A file that still loads is the
    original agent: zip's CRC-32 catches every single-byte change of the data,
    so only bytes zipfile ignores can change unnoticed.
    """
    agent = _trained(kind, 5)
    raw = save_agent(agent, tmp_path / "agent.npz").read_bytes()
    rng = np.random.default_rng(11)
    path = tmp_path / "corrupted.npz"
    outcomes = {"loaded": 0, "refused": 0}
    for position, flip in zip(
        rng.integers(0, len(raw), 2_500), rng.integers(1, 256, 2_500), strict=True
    ):
        corrupted = bytearray(raw)
        corrupted[position] ^= flip
        path.write_bytes(bytes(corrupted))
        try:
            loaded = load_agent(path)
        except AgentFileError as error:
            assert str(path) in str(error), (position, flip, error)
            outcomes["refused"] += 1
            continue
        _assert_same_agent(loaded, agent)
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 1_000 and outcomes["loaded"] > 0


def _assert_same_agent(loaded: Any, agent: Any) -> None:
    assert type(loaded) is type(agent) and loaded.config == agent.config
    for name in ("q_table", "visits", "logits", "baseline", "valid_seen"):
        if hasattr(agent, name):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(agent, name))
    assert loaded.log == agent.log
    assert (loaded.env_id, loaded.env_kwargs) == (agent.env_id, agent.env_kwargs)


def _npy(header: str, payload: bytes = b"") -> bytes:
    """A version 1.0 .npy member with ``header`` as its (unchecked) header."""
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def _replace_member(path: Path, name: str, data: bytes) -> None:
    """Rewrite ``path`` with member ``name`` replaced (valid CRCs throughout)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }",
            r"declares shape \(1000000, 1000000\) of float64 \(8000000000000 bytes\)",
        ),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4, }", "TokenError"),
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (-4, -4), }", "shape"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (4, 4), }", "pickle"),
        ("{'descr': '<f8', 'fortran_order': 1, 'shape': (4, 4), }", "fortran"),
        ("[1, 2]", "not a dictionary"),
    ],
)
def test_bad_npy_headers_are_refused_before_allocating(
    header: str, message: str, tmp_path: Path
) -> None:
    """A header claiming 7.28 TiB is refused by size, not by a MemoryError."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    _replace_member(path, "q_table.npy", _npy(header, bytes(128)))
    with pytest.raises(AgentFileError, match=message) as error:
        load_agent(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (6, 0xFF, "NotImplementedError: zip file version"),
        (10, 99, "unsupported compression method 99"),
        (10, 12, "unsupported compression method 12"),
        (8, 1, "encrypted"),
        (23, 0x7F, r"declares 21\d{8} bytes; the file holds \d+"),
    ],
)
def test_bad_zip_directory_fields_are_refused(
    offset: int, value: int, message: str, tmp_path: Path
) -> None:
    """Zip version, compression, encryption bit and size of the first entry."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"PK\x01\x02") + offset] = value
    path.write_bytes(bytes(raw))
    with pytest.raises(AgentFileError, match=message) as error:
        load_agent(path)
    assert str(path) in str(error.value)


def test_a_plain_npy_file_is_refused(tmp_path: Path) -> None:
    """np.load returns an array, not an archive, for a .npy: still AgentFileError."""
    path = tmp_path / "agent.npy"
    np.save(path, np.zeros((4, 4)))
    with pytest.raises(AgentFileError, match=r"agent\.npy is not a readable \.npz"):
        load_agent(path)


def test_members_other_than_npy_arrays_are_refused(tmp_path: Path) -> None:
    """A zip member that is not a .npy array is named in the error."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    _replace_member(path, "notes.txt", b"hello")
    with pytest.raises(AgentFileError, match="unexpected or repeated member"):
        load_agent(path)


# --- inconsistent fields -----------------------------------------------------


def _rewrite(path: Path, arrays: dict[str, Any] | None = None, **metadata: Any) -> Path:
    """Rewrite a saved agent with some arrays and metadata fields changed.

    A value of None for an array removes it.
    """
    with np.load(path) as data:
        contents = {key: data[key] for key in data.files}
    fields = json.loads(str(contents["metadata"]))
    fields.update(metadata)
    contents["metadata"] = np.array(json.dumps(fields))
    for name, value in (arrays or {}).items():
        if value is None:
            del contents[name]
        else:
            contents[name] = value
    np.savez(path, **contents)
    return path


Q_CASES: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    ({}, {"env_kwargs": [1, 2]}, "metadata env_kwargs must be an object"),
    ({}, {"env_kwargs": "abandonment_prob=0.1"}, "env_kwargs must be an object"),
    ({}, {"env_id": 5}, "metadata env_id must be a string or null"),
    ({}, {"package_version": None}, "package_version must be a string"),
    ({}, {"format_version": True}, "format version True"),
    ({}, {"surprise": 1}, "metadata holds unexpected 'surprise'"),
    ({}, {"policy_rng": {}}, "metadata holds unexpected 'policy_rng'"),
    ({}, {"hyperparameters": {"epsilon": "0.1"}}, "invalid hyperparameters"),
    ({}, {"hyperparameters": {"gamma": True}}, "invalid hyperparameters"),
    ({}, {"hyperparameters": {"speed": 1}}, "invalid hyperparameters"),
    ({"visits": -np.ones((4, 4), np.int64)}, {}, r"visits must be counts in \[0"),
    ({"visits": np.full((4, 4), 1e30)}, {}, "visits must be integer counts"),
    ({"visits": np.full((4, 4), 2**64 - 1, np.uint64)}, {}, "visits must be counts"),
    ({"visits": np.zeros((4, 3), np.int64)}, {}, "visits has shape"),
    ({"q_table": np.zeros((4, 4), bool)}, {}, "q_table must be real numbers"),
    ({"q_table": np.full((4, 4), "1")}, {}, "q_table must be real numbers"),
    ({"q_table": np.full((4, 4), np.nan)}, {}, "q_table holds non-finite"),
    ({"q_table": np.zeros(4)}, {}, "q_table must be a 2-D table"),
    ({"valid_seen": np.ones((4, 4), np.int64)}, {}, "valid_seen must be booleans"),
    ({"log_returns": np.array(["a"] * 5)}, {}, "log_returns must be a 1-D array"),
    ({"log_returns": np.zeros((5, 2))}, {}, "log_returns must be a 1-D array"),
    ({"log_returns": np.zeros(4)}, {}, "differ in length"),
    ({"log_returns": np.full(5, np.inf)}, {}, "log_returns holds non-finite"),
    ({"log_lengths": np.zeros(5, np.int64)}, {}, "log_lengths must be step counts"),
    ({"log_lengths": np.ones(5)}, {}, "log_lengths must be a 1-D array of integers"),
    ({"log_lengths": None}, {}, "lacks the array"),
    ({"extra": np.zeros(1)}, {}, "unexpected array"),
]


@pytest.mark.parametrize(("arrays", "metadata", "message"), Q_CASES)
def test_inconsistent_q_learning_files_are_refused(
    arrays: dict[str, Any], metadata: dict[str, Any], message: str, tmp_path: Path
) -> None:
    """Every field is checked against its type and range, naming the file."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    with pytest.raises(AgentFileError, match=message) as error:
        load_agent(_rewrite(path, arrays, **metadata))
    assert str(path) in str(error.value)


def test_empty_tables_are_refused(tmp_path: Path) -> None:
    """A 0 x 0 table has no state to act in."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    empty = {
        "q_table": np.zeros((0, 0)),
        "visits": np.zeros((0, 0), np.int64),
        "valid_seen": np.zeros((0, 0), bool),
    }
    with pytest.raises(AgentFileError, match="at least one state and one action"):
        load_agent(_rewrite(path, empty))


@pytest.mark.parametrize(
    ("arrays", "metadata", "message"),
    [
        ({"baseline": np.zeros(3)}, {}, r"baseline has shape \(3,\)"),
        ({"logits": np.full((4, 4), -np.inf)}, {}, "logits holds non-finite"),
        ({}, {"policy_rng": "seed 0"}, "policy_rng must be the state of one of"),
        ({}, {"policy_rng": {"bit_generator": "os"}}, "policy_rng must be the state"),
        (
            {},
            {"policy_rng": {"bit_generator": "PCG64", "state": {}}},
            "not a valid PCG64 state",
        ),
    ],
)
def test_inconsistent_reinforce_files_are_refused(
    arrays: dict[str, Any], metadata: dict[str, Any], message: str, tmp_path: Path
) -> None:
    """The baseline, the logits and the saved generator state are checked too."""
    path = save_agent(_trained("reinforce", 5), tmp_path / "agent.npz")
    with pytest.raises(AgentFileError, match=message):
        load_agent(_rewrite(path, arrays, **metadata))


def test_non_finite_json_numbers_are_refused(tmp_path: Path) -> None:
    """JSON's NaN extension is not read as a hyperparameter."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    with np.load(path) as data:
        contents = {key: data[key] for key in data.files}
    contents["metadata"] = np.array(
        str(contents["metadata"]).replace('"gamma": 0.9', '"gamma": NaN')
    )
    np.savez(path, **contents)
    with pytest.raises(AgentFileError, match="non-finite number NaN"):
        load_agent(path)


@pytest.mark.parametrize(
    "config",
    [
        QLearningConfig(gamma=1.0, epsilon=0.0, alpha=1.0, initial_q=-1e300),
        QLearningConfig(alpha_decay=1.0, initial_q=1e-300),
        ReinforceConfig(gamma=0.0, learning_rate=1e300, baseline_rate=0.0),
    ],
)
def test_every_config_that_constructs_round_trips(config: Any, tmp_path: Path) -> None:
    """Configs are validated at construction, so the file never refuses one."""
    agent = _trained(
        "q_learning" if isinstance(config, QLearningConfig) else "reinforce", 5
    )
    agent.config = config
    assert load_agent(save_agent(agent, tmp_path / "agent.npz")).config == config


# --- REINFORCE's generator after a load ---------------------------------------


def test_a_loaded_reinforce_agent_samples_like_the_original(tmp_path: Path) -> None:
    """The file stores the agent's generator: from the save on, both draw alike.

    Two loads of one file draw alike too. A Q-learning agent is greedy, so
    its predict is deterministic and needs no generator.
    """
    agent = _trained("reinforce", 50)
    agent.logits[0] = [1.0, 1.0, 1.0, -50.0]
    agent.predict(np.zeros(7, dtype=np.int64))
    path = save_agent(agent, tmp_path / "agent.npz")
    first, second = load_agent(path), load_agent(path)
    states = np.zeros(200, dtype=np.int64)
    expected = agent.predict(states)[0]
    assert len(set(expected.tolist())) == 3
    np.testing.assert_array_equal(first.predict(states)[0], expected)
    np.testing.assert_array_equal(second.predict(states)[0], expected)
    assert isinstance(first, ReinforceAgent) and first.rng is not agent.rng


def test_files_without_a_generator_state_still_load(tmp_path: Path) -> None:
    """Files saved before the state was stored get default_rng(0), as before."""
    path = save_agent(_trained("reinforce", 5), tmp_path / "agent.npz")
    with np.load(path) as data:
        contents = {key: data[key] for key in data.files}
    fields = json.loads(str(contents["metadata"]))
    del fields["policy_rng"]
    contents["metadata"] = np.array(json.dumps(fields))
    np.savez(path, **contents)
    loaded = load_agent(path)
    assert isinstance(loaded, ReinforceAgent)
    expected = np.random.default_rng(0).bit_generator.state
    assert loaded.rng.bit_generator.state == expected


@pytest.mark.parametrize("key", ["env_id", "hyperparameters", "package_version"])
def test_missing_metadata_fields_are_named(key: str, tmp_path: Path) -> None:
    """A metadata field save_agent always writes cannot be left out."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    with np.load(path) as data:
        contents = {name: data[name] for name in data.files}
    fields = json.loads(str(contents["metadata"]))
    del fields[key]
    contents["metadata"] = np.array(json.dumps(fields))
    np.savez(path, **contents)
    with pytest.raises(AgentFileError, match=f"metadata lacks {key}"):
        load_agent(path)


def test_q_learning_agents_round_trip_as_q_learning_agents(tmp_path: Path) -> None:
    """The loaded type and every table survive."""
    agent = _trained("q_learning", 20)
    loaded = load_agent(save_agent(agent, tmp_path / "agent.npz"))
    assert isinstance(loaded, QLearningAgent)
    _assert_same_agent(loaded, agent)


def test_result_files_get_ordinary_permissions_and_name_the_target(
    tmp_path: Path,
) -> None:
    """write_json gives files the modes open() would, and errors name the target.

    0o666 less the umask for a new file, the old mode on overwrite; never the
    hidden temporary file's name in an error.
    """
    from agents.persistence import write_json

    old = os.umask(0o022)
    try:
        fresh = write_json(tmp_path / "new.json", {"a": 1})
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        fresh.chmod(0o640)
        write_json(fresh, {"a": 2})
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    finally:
        os.umask(old)
    with pytest.raises(OSError) as raised:
        write_json(tmp_path / "missing" / "x.json", {})
    assert str(tmp_path / "missing" / "x.json") in str(raised.value)
    assert ".tmp" not in str(raised.value)


@pytest.mark.parametrize("kind", ["q_learning", "reinforce"])
def test_agents_of_the_second_task_round_trip(kind: str, tmp_path: Path) -> None:
    """An agent of AccessReviewRisk-v0 loads with its (6, 5) tables and env id.

    Its env kwargs come back too, and it acts as the original did.
    """
    env = gym.make(RISK_ENV_ID, exploring_starts=True, unjustified_share=0.3)
    train = train_q_learning if kind == "q_learning" else train_reinforce
    agent = train(env, 500, rng=np.random.default_rng(1))
    loaded = load_agent(save_agent(agent, tmp_path / "risk.npz"))
    assert (loaded.env_id, loaded.env_kwargs) == (
        RISK_ENV_ID,
        {"exploring_starts": True, "unjustified_share": 0.3},
    )
    assert loaded.preferences.shape == (6, 5)
    np.testing.assert_array_equal(loaded.preferences, agent.preferences)
    np.testing.assert_array_equal(loaded.greedy_actions, agent.greedy_actions)


# --- the task, sizes before decompression, links ----------------------------


def test_a_file_whose_tables_contradict_its_env_id_is_refused(tmp_path: Path) -> None:
    """(4, 4) tables, AccessReview-v0's, in a file that says AccessReviewRisk-v0."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    _rewrite(path, env_id=RISK_ENV_ID, env_kwargs={})
    with pytest.raises(
        AgentFileError,
        match=r"q_table has shape \(4, 4\), the shape of AccessReview-v0, but the "
        r"file says it was learned on AccessReviewRisk-v0, which has 6 states "
        "and 5 actions",
    ) as error:
        load_agent(path)
    assert str(path) in str(error.value)


def test_env_kwargs_the_task_refuses_are_named(tmp_path: Path) -> None:
    """The task is made with the file's kwargs to learn its shape."""
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    _rewrite(path, env_kwargs={"abandonment_prob": 7.0})
    with pytest.raises(AgentFileError, match="env_kwargs does not make a task"):
        load_agent(path)


@pytest.mark.parametrize("kind", ["q_learning", "reinforce"])
def test_an_agent_of_one_task_refuses_to_act_on_the_other(
    kind: str, tmp_path: Path
) -> None:
    """On use: evaluate names both tasks; predict and score_policy name the agent's.

    Before, these ended in NumPy's "operands could not be broadcast".
    """
    from agents.evaluation import evaluate
    from agents.evaluation.scoring import score_policy

    agent = load_agent(save_agent(_trained(kind, 5), tmp_path / "agent.npz"))
    mine = r"AccessReview-v0 \(4 states, 4 actions\)"
    with pytest.raises(
        ValueError, match=rf"{mine} and cannot act on AccessReviewRisk-v0 \(6 states"
    ):
        evaluate(gym.make(RISK_ENV_ID), agent, 5, seed=0)
    with pytest.raises(ValueError, match=rf"shape \(5,\) given to an agent .*{mine}"):
        agent.predict(np.array(0), action_masks=np.ones(5, dtype=np.int8))
    with pytest.raises(ValueError, match=mine):
        score_policy(agent, n_episodes=5, env_id=RISK_ENV_ID)


def _member_of_zeros(path: Path, name: str, header: str, n_zeros: int) -> None:
    """Replace member ``name`` by a deflated ``header`` and ``n_zeros`` zero bytes.

    Streamed in 1 MiB blocks: the file stays small and so does this test's memory.
    """
    with zipfile.ZipFile(path) as archive:
        members = {
            info.filename: archive.read(info)
            for info in archive.infolist()
            if info.filename != name
        }
    block = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
        with archive.open(name, "w", force_zip64=True) as stream:
            stream.write(_npy(header))
            for start in range(0, n_zeros, len(block)):
                stream.write(block[: min(len(block), n_zeros - start)])


PEAK_BYTES = 8 << 20
"""Loading a refused file may allocate at most this much (traced by tracemalloc)."""


def _peak_of_refused_load(path: Path, message: str) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(AgentFileError, match=message):
            load_agent(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_a_deflated_member_larger_than_its_header_says_is_never_decompressed(
    tmp_path: Path,
) -> None:
    """A (4, 4) table header over 256 MiB of deflated zeros: refused by sizes.

    The file is about 250 KB; the zip directory's size of the member (256 MiB
    and the header) disagrees with the 128 bytes the header declares, so the
    member is refused after reading its header only: peak traced memory stays
    under :data:`PEAK_BYTES` (8 MiB).
    """
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4), }"
    _member_of_zeros(path, "q_table.npy", header, 256 << 20)
    assert path.stat().st_size < 1 << 20
    peak = _peak_of_refused_load(
        path, r"q_table declares shape \(4, 4\) of float64 \(128 bytes\) but holds"
    )
    assert peak < PEAK_BYTES, peak


def test_arrays_declared_larger_than_the_memory_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consistent 64 MiB log in a small file, with 32 MiB of memory available.

    The estimate and the limit are named; nothing of the log is allocated.
    """
    path = save_agent(_trained("q_learning", 5), tmp_path / "agent.npz")
    n = 8 << 20
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n},), }}"
    _member_of_zeros(path, "log_returns.npy", header, 8 * n)
    monkeypatch.setattr(
        "agents.common.memory.memory_limit", lambda: (32 << 20, "this test's limit")
    )
    peak = _peak_of_refused_load(
        path, r"needs about 64\.\d MiB of memory, more than the 32\.0 MiB available"
    )
    assert peak < PEAK_BYTES, peak


@pytest.mark.parametrize("dangling", [False, True])
def test_saving_onto_a_symbolic_link_writes_through_to_its_target(
    dangling: bool, tmp_path: Path
) -> None:
    """As open(path, "w") does: the target is replaced, the link stays a link."""
    target = tmp_path / "runs" / "agent-7.npz"
    target.parent.mkdir()
    if not dangling:
        save_agent(_trained("reinforce", 5), target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    agent = _trained("q_learning", 5)
    assert save_agent(agent, link) == link
    assert link.is_symlink() and link.resolve() == target.resolve()
    _assert_same_agent(load_agent(target), agent)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "agent-7.npz",
        "latest.npz",
        "runs",
    ]


def test_a_cycle_of_links_is_an_error_naming_the_path(tmp_path: Path) -> None:
    """Nothing is written, and the links stay as they were."""
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    first.symlink_to(second)
    second.symlink_to(first)
    with pytest.raises(OSError, match=r"a\.npz"):
        save_agent(_trained("q_learning", 5), first)
    assert first.is_symlink() and second.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]
