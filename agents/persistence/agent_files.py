"""Saving learned tables to ``.npz`` with their metadata, and loading them back.

A file holds the agent's arrays and one JSON string of metadata (format,
algorithm, hyperparameters, env id and kwargs, package version, and for
REINFORCE the state of the agent's own generator). It is written atomically (to
a temporary file, then renamed) with the permissions an ordinary
``open(path, "w")`` would give, and read without pickle: every member's header
is checked, and its declared size compared with the bytes actually there,
before anything is allocated, so a file can neither run code nor exhaust
memory. Any file that is not a readable, consistent agent raises
:class:`AgentFileError` naming the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

import access_review_env
from agents.common.json_values import to_jsonable
from agents.learners.episodes import EpisodeLog
from agents.learners.q_learning import QLearningAgent, QLearningConfig
from agents.learners.reinforce import ReinforceAgent, ReinforceConfig
from agents.persistence.results import write_atomic

FORMAT = "access-review-env/tabular-agent"
FORMAT_VERSION = 1
TabularAgent = QLearningAgent | ReinforceAgent

_TABLES: dict[str, tuple[str, ...]] = {
    QLearningAgent.ALGORITHM: ("q_table", "visits", "valid_seen"),
    ReinforceAgent.ALGORITHM: ("logits", "baseline", "valid_seen"),
}
_LOGS = ("log_returns", "log_discounted_returns", "log_lengths")
_METADATA = (
    "format",
    "format_version",
    "algorithm",
    "hyperparameters",
    "env_id",
    "env_kwargs",
    "package_version",
)
_POLICY_RNG = "policy_rng"
"""Metadata key of a REINFORCE agent's generator state (optional: files saved
before it existed load with a fresh ``default_rng(0)``)."""
ConfigT = TypeVar("ConfigT", QLearningConfig, ReinforceConfig)
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
"""``np.savez`` stores; ``np.savez_compressed`` deflates. Other methods (bzip2,
lzma) are refused: their expansion ratio is unbounded."""


class AgentFileError(ValueError):
    """A file that is not a readable, consistent saved agent."""


def save_agent(agent: TabularAgent, path: str | os.PathLike[str]) -> Path:
    """Write ``agent`` to ``path`` (``.npz``) atomically; return the path.

    The file gets the permissions ``open(path, "w")`` would give it: an
    existing file keeps its mode, a new one gets ``0o666`` less the umask.

    Raises:
        TypeError: If ``agent`` is not one of this package's tabular agents.
        OSError: If the file cannot be written; the message names ``path``.
    """
    if not isinstance(agent, QLearningAgent | ReinforceAgent):
        raise TypeError(
            "can only save QLearningAgent or ReinforceAgent, got "
            f"{type(agent).__name__}"
        )
    path = Path(path)
    metadata: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algorithm": agent.ALGORITHM,
        "hyperparameters": agent.hyperparameters(),
        "env_id": agent.env_id,
        "env_kwargs": agent.env_kwargs,
        "package_version": access_review_env.__version__,
    }
    if isinstance(agent, ReinforceAgent):
        metadata[_POLICY_RNG] = agent.rng.bit_generator.state
    arrays = {name: getattr(agent, name) for name in _TABLES[agent.ALGORITHM]}
    arrays |= {f"log_{key}": value for key, value in agent.log.as_arrays().items()}
    arrays["metadata"] = np.array(json.dumps(to_jsonable(metadata)))
    try:
        write_atomic(path, lambda stream: np.savez(stream, **arrays))
    except OSError as error:
        message = f"cannot save agent to {path}: {error.strerror or error}"
        if error.errno is None:
            raise type(error)(message) from error
        raise OSError(error.errno, message) from error
    return path


def load_agent(path: str | os.PathLike[str]) -> TabularAgent:
    """Read an agent written by :func:`save_agent`.

    Every field is checked against its documented type and range: tables of
    one ``(S, A)`` shape with ``S, A >= 1``, finite values, visit counts that
    are non-negative integers, boolean masks, one-dimensional logs of equal
    length with finite returns and lengths >= 1, and metadata of the right
    types (``env_kwargs`` a mapping, hyperparameters a valid config).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        AgentFileError: If the file is unreadable, foreign, of another format
            version, or any field is missing, unexpected or inconsistent; the
            message names the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no agent file at {path}")
    contents = _read_arrays(path)
    metadata = _read_metadata(path, contents.pop("metadata", None))
    algorithm = metadata["algorithm"]
    expected = (*_TABLES[algorithm], *_LOGS)
    missing = [name for name in expected if name not in contents]
    if missing:
        raise AgentFileError(f"{path} lacks the array(s) {', '.join(missing)}")
    unexpected = sorted(set(contents) - set(expected))
    if unexpected:
        raise AgentFileError(
            f"{path} holds unexpected array(s) {', '.join(map(repr, unexpected))}"
        )
    log = _read_log(path, contents)
    common: dict[str, Any] = {
        "log": log,
        "env_id": metadata["env_id"],
        "env_kwargs": dict(metadata["env_kwargs"]),
    }
    hyperparameters = metadata["hyperparameters"]
    if algorithm == QLearningAgent.ALGORITHM:
        q_table = _real_table(path, "q_table", contents["q_table"], None)
        shape = q_table.shape
        return QLearningAgent(
            q_table,
            _visits(path, contents["visits"], shape),
            _mask(path, contents["valid_seen"], shape),
            _config(path, QLearningConfig, hyperparameters),
            **common,
        )
    logits = _real_table(path, "logits", contents["logits"], None)
    shape = logits.shape
    agent = ReinforceAgent(
        logits,
        _real_table(path, "baseline", contents["baseline"], shape[:1]),
        _mask(path, contents["valid_seen"], shape),
        _config(path, ReinforceConfig, hyperparameters),
        **common,
    )
    if _POLICY_RNG in metadata:
        agent.rng = _generator(path, metadata[_POLICY_RNG])
    return agent


def _config(
    path: Path, kind: type[ConfigT], hyperparameters: dict[str, Any]
) -> ConfigT:
    """The config, validated by its own constructor."""
    try:
        return kind(**hyperparameters)
    except (TypeError, ValueError) as error:
        raise AgentFileError(f"{path} has invalid hyperparameters: {error}") from error


def _read_arrays(path: Path) -> dict[str, NDArray[Any]]:
    """Every ``.npy`` member of the zip at ``path``, checked before allocating."""
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            arrays: dict[str, NDArray[Any]] = {}
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                if name == info.filename or name in arrays:
                    raise _unreadable(
                        path,
                        f"unexpected or repeated member {info.filename!r} (an "
                        "agent file holds .npy arrays only)",
                    )
                if info.compress_type not in _COMPRESSIONS:
                    raise _unreadable(
                        path,
                        f"member {info.filename!r} uses unsupported compression "
                        f"method {info.compress_type}",
                    )
                if info.compress_size > size:
                    raise _unreadable(
                        path,
                        f"member {info.filename!r} declares {info.compress_size} "
                        f"bytes; the file holds {size}",
                    )
                arrays[name] = _parse_npy(path, name, archive.read(info))
            return arrays
    except AgentFileError:
        raise
    except Exception as error:
        # zipfile and NumPy's header parser signal malformed bytes with a dozen
        # exception types (BadZipFile, EOFError, NotImplementedError for an
        # unknown version or method, RuntimeError for an "encrypted" bit,
        # zlib.error, struct.error, SyntaxError, tokenize.TokenError, ...).
        # Sizes are checked before any allocation, so each of them means one
        # thing here: the file is unreadable.
        raise _unreadable(path, f"{type(error).__name__}: {error}") from error


def _unreadable(path: Path, what: str) -> AgentFileError:
    return AgentFileError(f"{path} is not a readable .npz agent file: {what}")


def _parse_npy(path: Path, name: str, data: bytes) -> NDArray[Any]:
    """One ``.npy`` member's array, after checking its header against its size."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _unreadable(path, f"{name} has unsupported .npy version {version}")
    if dtype.hasobject:
        raise _unreadable(path, f"{name} holds Python objects, which need pickle")
    if dtype.itemsize == 0:
        raise _unreadable(path, f"{name} has unsupported dtype {dtype}")
    offset = stream.tell()
    count = math.prod(shape)
    if min(shape, default=0) < 0 or offset + count * dtype.itemsize != len(data):
        raise _unreadable(
            path,
            f"{name} declares shape {shape} of {dtype} ({count * dtype.itemsize} "
            f"bytes) but holds {len(data) - offset} bytes",
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    if fortran_order:
        return flat.reshape(shape[::-1]).transpose().copy()
    return flat.reshape(shape).copy()


def _read_metadata(path: Path, raw: NDArray[Any] | None) -> dict[str, Any]:
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise AgentFileError(
            f"{path} is not an access-review-env agent file (no metadata)"
        )
    try:
        metadata = json.loads(str(raw), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise AgentFileError(f"{path} has corrupted metadata: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise AgentFileError(f"{path} is not an access-review-env agent file")
    version = metadata.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise AgentFileError(
            f"{path} has format version {version!r}; this version reads "
            f"{FORMAT_VERSION}"
        )
    algorithm = metadata.get("algorithm")
    if not isinstance(algorithm, str) or algorithm not in _TABLES:
        raise AgentFileError(
            f"{path} holds unknown algorithm {algorithm!r}; known: {', '.join(_TABLES)}"
        )
    allowed = (*_METADATA, _POLICY_RNG) if algorithm == "reinforce" else _METADATA
    missing = [key for key in _METADATA if key not in metadata]
    if missing:
        raise AgentFileError(f"{path}: metadata lacks {', '.join(missing)}")
    unexpected = sorted(set(metadata) - set(allowed))
    if unexpected:
        raise AgentFileError(
            f"{path}: metadata holds unexpected {', '.join(map(repr, unexpected))}"
        )
    kinds: dict[str, tuple[tuple[type, ...], str]] = {
        "hyperparameters": ((dict,), "an object"),
        "env_id": ((str, type(None)), "a string or null"),
        "env_kwargs": ((dict,), "an object (a mapping of make-kwargs)"),
        "package_version": ((str,), "a string"),
    }
    for key, (types, allowed_types) in kinds.items():
        if not isinstance(metadata[key], types):
            raise AgentFileError(
                f"{path}: metadata {key} must be {allowed_types}, got {metadata[key]!r}"
            )
    return metadata


def _refuse_constant(name: str) -> None:
    raise ValueError(f"non-finite number {name} (strict JSON has none)")


def _real_table(
    path: Path, name: str, table: NDArray[Any], shape: tuple[int, ...] | None
) -> NDArray[np.float64]:
    """A finite real table; ``shape`` None asks for the ``(S, A)`` main table."""
    if table.dtype.kind not in "iuf":
        raise AgentFileError(f"{path}: {name} must be real numbers, got {table.dtype}")
    if shape is None:
        if table.ndim != 2 or 0 in table.shape:
            raise AgentFileError(
                f"{path}: {name} must be a 2-D table with at least one state and "
                f"one action, got shape {table.shape}"
            )
    elif table.shape != shape:
        raise AgentFileError(
            f"{path}: {name} has shape {table.shape}; expected {shape}"
        )
    with np.errstate(over="ignore"):
        values = table.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise AgentFileError(f"{path}: {name} holds non-finite values")
    return values


def _visits(
    path: Path, visits: NDArray[Any], shape: tuple[int, ...]
) -> NDArray[np.int64]:
    if visits.shape != shape:
        raise AgentFileError(
            f"{path}: visits has shape {visits.shape}; expected {shape}"
        )
    if visits.dtype.kind not in "iu":
        raise AgentFileError(
            f"{path}: visits must be integer counts, got {visits.dtype}"
        )
    if visits.size and (visits.min() < 0 or int(visits.max()) > np.iinfo(np.int64).max):
        raise AgentFileError(
            f"{path}: visits must be counts in [0, 2**63 - 1], got values in "
            f"[{visits.min()}, {visits.max()}]"
        )
    return visits.astype(np.int64)


def _mask(path: Path, mask: NDArray[Any], shape: tuple[int, ...]) -> NDArray[np.bool_]:
    if mask.shape != shape:
        raise AgentFileError(
            f"{path}: valid_seen has shape {mask.shape}; expected {shape}"
        )
    if mask.dtype != np.bool_:
        raise AgentFileError(f"{path}: valid_seen must be booleans, got {mask.dtype}")
    return mask.copy()


def _read_log(path: Path, contents: Mapping[str, NDArray[Any]]) -> EpisodeLog:
    """The per-episode log: three 1-D arrays of one length."""
    arrays = {name: contents[name] for name in _LOGS}
    for name, array in arrays.items():
        kinds = "iu" if name == "log_lengths" else "iuf"
        if array.ndim != 1 or array.dtype.kind not in kinds:
            raise AgentFileError(
                f"{path}: {name} must be a 1-D array of "
                f"{'integers' if kinds == 'iu' else 'real numbers'}, got "
                f"{array.dtype} of shape {array.shape}"
            )
    lengths = {array.shape[0] for array in arrays.values()}
    if len(lengths) != 1:
        raise AgentFileError(
            f"{path}: the log's arrays differ in length "
            f"({', '.join(f'{k} {v.shape[0]}' for k, v in arrays.items())})"
        )
    returns = _real_log(path, "log_returns", arrays["log_returns"])
    discounted = _real_log(
        path, "log_discounted_returns", arrays["log_discounted_returns"]
    )
    episode_lengths = arrays["log_lengths"]
    if episode_lengths.size and (
        episode_lengths.min() < 1 or int(episode_lengths.max()) > np.iinfo(np.int64).max
    ):
        raise AgentFileError(
            f"{path}: log_lengths must be step counts >= 1, got values in "
            f"[{episode_lengths.min()}, {episode_lengths.max()}]"
        )
    return EpisodeLog(
        returns.tolist(), discounted.tolist(), [int(n) for n in episode_lengths]
    )


def _real_log(path: Path, name: str, array: NDArray[Any]) -> NDArray[np.float64]:
    with np.errstate(over="ignore"):
        values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise AgentFileError(f"{path}: {name} holds non-finite values")
    return values


def _generator(path: Path, state: object) -> np.random.Generator:
    """The REINFORCE agent's generator, rebuilt from its saved state."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise AgentFileError(
            f"{path}: metadata {_POLICY_RNG} must be the state of one of "
            f"{', '.join(_BIT_GENERATORS)}, got {state!r}"
        )
    bit_generator = getattr(np.random, str(name))(0)
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise AgentFileError(
            f"{path}: metadata {_POLICY_RNG} is not a valid {name} state: {error}"
        ) from error
    return np.random.Generator(bit_generator)
