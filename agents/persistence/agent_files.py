"""Saving learned tables to ``.npz`` with their metadata, and loading them back.

A file holds the agent's arrays and one JSON string of metadata (format,
algorithm, hyperparameters, env id and kwargs, package version, and for
REINFORCE the state of the agent's own generator). It is written atomically (to
a temporary file, then renamed) with the permissions an ordinary
``open(path, "w")`` would give; onto a symbolic link it writes through to the
link's target, as ``open`` would, and the link stays. It is read without
pickle and checked before anything large is allocated or decompressed: each
member's ``.npy`` header is read on its own (a few hundred bytes) and the size
it declares compared with the member's size in the zip directory; the tables'
declared shapes are compared with the task the file names (its ``env_id``,
when that is registered); and all the arrays together must fit in the
available memory. Only then are the arrays read, each straight into its own
buffer. So a file can neither run code nor exhaust memory, and an agent of one
task never loads as another's. Any file that is not a readable, consistent
agent raises :class:`AgentFileError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

import access_review_env
from agents.common.json_values import to_jsonable
from agents.common.memory import MemoryLimitError, check_memory
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


_READ_CHUNK = 1 << 20
"""Bytes of a member decompressed at a time, straight into its array."""


class AgentFileError(ValueError):
    """A file that is not a readable, consistent saved agent."""


def save_agent(agent: TabularAgent, path: str | os.PathLike[str]) -> Path:
    """Write ``agent`` to ``path`` (``.npz``) atomically; return the path.

    The file gets the permissions ``open(path, "w")`` would give it: an
    existing file keeps its mode, a new one gets ``0o666`` less the umask.
    A ``path`` that is a symbolic link is written through: its target is
    replaced (atomically, in the target's folder) and the link stays.

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
    one ``(S, A)`` shape with ``S, A >= 1``, the shape of the task ``env_id``
    names when that id is registered (made with ``env_kwargs``), finite
    values, visit counts that are non-negative integers, boolean masks,
    one-dimensional logs of equal length with finite returns and lengths >=
    1, and metadata of the right types (``env_kwargs`` a mapping,
    hyperparameters a valid config).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        AgentFileError: If the file is unreadable, foreign, of another format
            version, larger than the available memory, or any field is
            missing, unexpected or inconsistent (a table of another task than
            its ``env_id`` included, naming both); the message names the file
            and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no agent file at {path}")
    metadata, contents = _read_file(path)
    algorithm = metadata["algorithm"]
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


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` member of the zip, its header read, its data not yet."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype[Any]

    @property
    def n_bytes(self) -> int:
        """The bytes its data declares."""
        return math.prod(self.shape) * self.dtype.itemsize


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The metadata and every array of the agent file at ``path``.

    Headers first, checked against the zip directory, the metadata and the
    memory available; then the arrays (see the module's docstring).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(path, archive)
            raw = members.pop("metadata", None)
            metadata = _read_metadata(
                path, None if raw is None else _read_npy(path, archive, raw)
            )
            _check_names(path, metadata["algorithm"], members)
            _check_task(path, metadata, members)
            _check_size(path, members)
            contents = {
                name: _read_npy(path, archive, member)
                for name, member in members.items()
            }
            return metadata, contents
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


def _members(path: Path, archive: zipfile.ZipFile) -> dict[str, _Member]:
    """Every member's header, its declared size matching the zip directory's."""
    size = path.stat().st_size
    members: dict[str, _Member] = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in members:
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
        with archive.open(info) as stream:
            members[name] = _header(path, name, info, stream)
    return members


def _header(path: Path, name: str, info: zipfile.ZipInfo, stream: IO[bytes]) -> _Member:
    """A member's ``.npy`` header, read alone, checked against ``info.file_size``."""
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
    member = _Member(info, tuple(shape), bool(fortran_order), dtype)
    offset = stream.tell()
    if min(shape, default=0) < 0 or offset + member.n_bytes != info.file_size:
        raise _unreadable(
            path,
            f"{name} declares shape {member.shape} of {dtype} ({member.n_bytes} "
            f"bytes) but holds {info.file_size - offset} bytes",
        )
    return member


def _check_names(path: Path, algorithm: str, members: Mapping[str, _Member]) -> None:
    """Exactly the arrays ``algorithm``'s agent has, before reading any."""
    expected = (*_TABLES[algorithm], *_LOGS)
    _check_keys(
        members,
        expected,
        expected,
        f"{path} lacks the array(s)",
        f"{path} holds unexpected array(s)",
    )


def _check_keys(
    present: Mapping[str, Any],
    required: tuple[str, ...],
    allowed: tuple[str, ...],
    lacks: str,
    holds: str,
) -> None:
    """Refuse a missing required key, then a key not allowed, naming them."""
    missing = [key for key in required if key not in present]
    if missing:
        raise AgentFileError(f"{lacks} {', '.join(missing)}")
    unexpected = sorted(set(present) - set(allowed))
    if unexpected:
        raise AgentFileError(f"{holds} {', '.join(map(repr, unexpected))}")


def _check_task(
    path: Path, metadata: Mapping[str, Any], members: Mapping[str, _Member]
) -> None:
    """The main table's declared ``(S, A)`` against the task ``env_id`` names.

    Nothing to check without an ``env_id``, for an id not registered here,
    or for a main table that is not 2-D or is empty (refused after reading).
    """
    env_id = metadata["env_id"]
    table = _TABLES[metadata["algorithm"]][0]
    shape = members[table].shape
    if env_id is None or env_id not in gym.registry or len(shape) != 2 or 0 in shape:
        return
    task = _task_shape(path, env_id, metadata["env_kwargs"])
    if shape != task:
        known = [
            other
            for other in access_review_env.ENV_IDS
            if other != env_id and _task_shape(path, other, {}) == shape
        ]
        tables = f", the shape of {' and '.join(known)}" if known else ""
        raise AgentFileError(
            f"{path}: {table} has shape {shape}{tables}, but the file says it "
            f"was learned on {env_id}, which has {task[0]} states and {task[1]} "
            "actions: the tables contradict the env_id"
        )


def _task_shape(
    path: Path, env_id: str, env_kwargs: Mapping[str, Any]
) -> tuple[int, int]:
    """``(n_states, n_actions)`` of ``gym.make(env_id, **env_kwargs)``."""
    try:
        env = gym.make(env_id, **env_kwargs)
        shape = (int(env.observation_space.n), int(env.action_space.n))  # type: ignore[attr-defined]
        env.close()
    except Exception as error:
        raise AgentFileError(
            f"{path}: its env_id {env_id!r} with its env_kwargs does not make a "
            f"task with discrete states and actions: {type(error).__name__}: {error}"
        ) from error
    return shape


def _check_size(path: Path, members: Mapping[str, _Member]) -> None:
    """Refuse arrays that together would not fit in the available memory."""
    total = sum(member.n_bytes for member in members.values())
    try:
        check_memory(f"{path} (its arrays as declared)", total)
    except MemoryLimitError as error:
        raise AgentFileError(str(error)) from None


def _read_npy(path: Path, archive: zipfile.ZipFile, member: _Member) -> NDArray[Any]:
    """A member's array, decompressed chunk by chunk into its own buffer.

    The zip's CRC-32 is checked at the end of the member.
    """
    flat = np.empty(math.prod(member.shape), dtype=member.dtype)
    buffer = flat.view(np.uint8)
    with archive.open(member.info) as stream:
        stream.seek(member.info.file_size - member.n_bytes)
        filled = 0
        while filled < member.n_bytes:
            chunk = stream.read(min(_READ_CHUNK, member.n_bytes - filled))
            if not chunk:
                raise _unreadable(path, f"{member.info.filename} ends early")
            buffer[filled : filled + len(chunk)] = np.frombuffer(chunk, np.uint8)
            filled += len(chunk)
        if stream.read(1):
            raise _unreadable(path, f"{member.info.filename} holds extra bytes")
    if member.fortran_order:
        return flat.reshape(member.shape[::-1]).transpose().copy()
    return flat.reshape(member.shape)


def _unreadable(path: Path, what: str) -> AgentFileError:
    return AgentFileError(f"{path} is not a readable .npz agent file: {what}")


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
    _check_keys(
        metadata,
        _METADATA,
        allowed,
        f"{path}: metadata lacks",
        f"{path}: metadata holds unexpected",
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
