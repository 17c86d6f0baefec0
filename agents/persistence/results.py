"""Writing results to disk: atomic files, strict JSON, the metadata of every run.

A file is written to a temporary file beside its target and renamed over it, so
an interrupted write never leaves a half-written file. A target that is a
symbolic link is written through, as ``open(path, "w")`` would: the file it
points to is replaced and the link stays. JSON is strict (see
:mod:`agents.common.json_values`), so any JSON parser reads it.
"""

from __future__ import annotations

import errno
import os
import platform
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import gymnasium as gym
import numpy as np

import access_review_env
from agents.common.json_values import dumps


def write_atomic(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]
) -> Path:
    """Write a file through ``write(stream)`` atomically; return its path.

    The data goes to a hidden temporary file in the same folder, is flushed to
    disk, then renamed over ``path``. On any error (Ctrl-C included) the
    temporary file is removed and an existing file at ``path`` is untouched.
    The file gets the permissions ``open(path, "w")`` would give it: an
    existing file keeps its mode, a new one gets ``0o666`` less the umask.
    A ``path`` that is a symbolic link (or whose folder is reached through
    one) is written through: the final target is replaced, in its own folder,
    and the link stays; a dangling link gets its target created.

    Raises:
        OSError: If the file cannot be written (a cycle of links included);
            the message names ``path``, not the temporary file.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    mode = _open_mode(target)
    temporary: str | None = None
    try:
        if target.is_symlink():  # realpath stopped inside a cycle of links
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            # mkstemp creates 0o600; give the file the mode it replaces.
            if hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except OSError as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if error.errno is None:
            raise type(error)(f"cannot write {path}: {error}") from error
        raise OSError(error.errno, error.strerror, str(path)) from error
    except BaseException:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _open_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave ``path`` with."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask (read from /proc where possible: setting it races)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way to read it is to set it; set a restrictive one
    # for that instant.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write ``value`` as strict JSON to ``path`` atomically; return the path."""
    text = dumps(value).encode()
    return write_atomic(path, lambda stream: stream.write(text))


def run_metadata(
    env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What every run records beside its results: env and library versions."""
    metadata: dict[str, Any] = {}
    if env_id is not None:
        metadata["env_id"] = env_id
        metadata["env_kwargs"] = dict(env_kwargs or {})
    metadata["versions"] = {
        "python": platform.python_version(),
        "access_review_env": access_review_env.__version__,
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
    }
    return metadata
