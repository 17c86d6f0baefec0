"""Saving learned tables to ``.npz`` with their metadata, and loading them back.

A file holds the agent's arrays and one JSON string of metadata (format,
algorithm, hyperparameters, env id and kwargs, package version); it is written
atomically (to a temporary file, then renamed) and read with
``allow_pickle=False``, so a file can never run code.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

import access_review_env
from agents.learners.episodes import EpisodeLog
from agents.learners.q_learning import QLearningAgent, QLearningConfig
from agents.learners.reinforce import ReinforceAgent, ReinforceConfig
from agents.persistence.results import to_jsonable, write_atomic

FORMAT = "access-review-env/tabular-agent"
FORMAT_VERSION = 1
TabularAgent = QLearningAgent | ReinforceAgent

_TABLES: dict[str, tuple[str, ...]] = {
    QLearningAgent.ALGORITHM: ("q_table", "visits", "valid_seen"),
    ReinforceAgent.ALGORITHM: ("logits", "baseline", "valid_seen"),
}


class AgentFileError(ValueError):
    """A file that is not a readable, consistent saved agent."""


def save_agent(agent: TabularAgent, path: str | os.PathLike[str]) -> Path:
    """Write ``agent`` to ``path`` (``.npz``) atomically; return the path.

    Raises:
        TypeError: If ``agent`` is not one of this package's tabular agents.
    """
    if not isinstance(agent, QLearningAgent | ReinforceAgent):
        raise TypeError(
            "can only save QLearningAgent or ReinforceAgent, got "
            f"{type(agent).__name__}"
        )
    path = Path(path)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": agent.ALGORITHM,
        "hyperparameters": agent.hyperparameters(),
        "env_id": agent.env_id,
        "env_kwargs": agent.env_kwargs,
        "package_version": access_review_env.__version__,
    }
    arrays = {name: getattr(agent, name) for name in _TABLES[agent.ALGORITHM]}
    arrays |= {f"log_{key}": value for key, value in agent.log.as_arrays().items()}
    arrays["metadata"] = np.array(json.dumps(to_jsonable(metadata)))
    write_atomic(path, lambda stream: np.savez(stream, **arrays))
    return path


def load_agent(path: str | os.PathLike[str]) -> TabularAgent:
    """Read an agent written by :func:`save_agent`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        AgentFileError: If the file is corrupted, foreign, of another format
            version, or its tables have inconsistent shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no agent file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise AgentFileError(
            f"{path} is not a readable .npz agent file: {error}"
        ) from error
    metadata = _read_metadata(path, contents)
    algorithm = metadata["algorithm"]
    tables = {name: contents.get(name) for name in _TABLES[algorithm]}
    missing = [name for name, table in tables.items() if table is None]
    if missing:
        raise AgentFileError(f"{path} lacks the table(s) {', '.join(missing)}")
    _check_shapes(path, algorithm, tables)
    log = EpisodeLog(
        contents.get("log_returns", np.zeros(0)).tolist(),
        contents.get("log_discounted_returns", np.zeros(0)).tolist(),
        contents.get("log_lengths", np.zeros(0, dtype=np.int64)).tolist(),
    )
    common: dict[str, Any] = {
        "log": log,
        "env_id": metadata.get("env_id"),
        "env_kwargs": metadata.get("env_kwargs") or {},
    }
    try:
        if algorithm == QLearningAgent.ALGORITHM:
            return QLearningAgent(
                tables["q_table"].astype(float),  # type: ignore[union-attr]
                tables["visits"].astype(np.int64),  # type: ignore[union-attr]
                tables["valid_seen"].astype(bool),  # type: ignore[union-attr]
                QLearningConfig(**metadata["hyperparameters"]),
                **common,
            )
        return ReinforceAgent(
            tables["logits"].astype(float),  # type: ignore[union-attr]
            tables["baseline"].astype(float),  # type: ignore[union-attr]
            tables["valid_seen"].astype(bool),  # type: ignore[union-attr]
            ReinforceConfig(**metadata["hyperparameters"]),
            **common,
        )
    except (TypeError, ValueError) as error:
        raise AgentFileError(f"{path} has invalid hyperparameters: {error}") from error


def _read_metadata(path: Path, contents: dict[str, np.ndarray]) -> dict[str, Any]:
    raw = contents.get("metadata")
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise AgentFileError(
            f"{path} is not an access-review-env agent file (no metadata)"
        )
    try:
        metadata = json.loads(str(raw))
    except json.JSONDecodeError as error:
        raise AgentFileError(f"{path} has corrupted metadata: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise AgentFileError(f"{path} is not an access-review-env agent file")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise AgentFileError(
            f"{path} has format version {metadata.get('format_version')!r}; "
            f"this version reads {FORMAT_VERSION}"
        )
    if metadata.get("algorithm") not in _TABLES:
        raise AgentFileError(
            f"{path} holds unknown algorithm {metadata.get('algorithm')!r}; "
            f"known: {', '.join(_TABLES)}"
        )
    if not isinstance(metadata.get("hyperparameters"), dict):
        raise AgentFileError(f"{path} has no hyperparameters")
    return metadata


def _check_shapes(path: Path, algorithm: str, tables: dict[str, Any]) -> None:
    main = tables["q_table" if algorithm == QLearningAgent.ALGORITHM else "logits"]
    if main.ndim != 2:
        raise AgentFileError(
            f"{path}: the {algorithm} table must be 2-D, got shape {main.shape}"
        )
    n_states, n_actions = main.shape
    for name, table in tables.items():
        expected = (n_states,) if name == "baseline" else (n_states, n_actions)
        if table.shape != expected:
            raise AgentFileError(
                f"{path}: {name} has shape {table.shape}; expected {expected}"
            )
        if table.dtype.kind not in "biuf":
            raise AgentFileError(f"{path}: {name} is not numeric ({table.dtype})")
        if table.dtype.kind == "f" and not np.all(np.isfinite(table)):
            raise AgentFileError(f"{path}: {name} holds non-finite values")
