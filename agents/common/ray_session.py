"""Starting a local Ray, or joining a cluster, one way for RLlib and for the benchmark.

Ray is imported when a function here is called, not when this module is
(the ``ray`` extra: install ``torch==2.13.0`` first; Ray RLlib 2.60 pins
``gymnasium==1.2.2``, so give it a virtual environment of its own).

A local Ray is a one-node cluster: its processes listen on the machine's
network address, and Ray 2.60's token authentication keeps others out. No
dashboard is started, and Ray's usage statistics (on by default, sent to
Ray's servers) are off unless ``RAY_USAGE_STATS_ENABLED`` says otherwise.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents.common.optional import install_hint

RAY_INSTALL = f"pip install torch==2.13.0, then {install_hint('ray')}"
"""How to install Ray RLlib (torch first: the pin resolves to a local CPU build)."""

RAY_LOGGERS = ("ray", "ray.rllib", "ray.tune")
"""Loggers quietened to errors: RLlib gives its logger a level and a handler of
its own at import, so ``ray.init(logging_level=...)`` alone does not quiet it."""


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ImportError: Without the ``ray`` extra, saying how to install it.
    """
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            f"this needs Ray (the ray extra): {RAY_INSTALL} (Ray RLlib pins "
            "gymnasium==1.2.2, so use a virtual environment of its own)"
        ) from error
    return ray


def start_ray(
    address: str = "local", num_cpus: int | None = None, *, quiet: bool = True
) -> bool:
    """Start a local Ray, or connect to a running one, unless Ray is already up.

    A local Ray's workers get this process's import path (``PYTHONPATH``), as
    spawned processes do, so a module importable here (a user's
    ``my_agents.py`` in the current folder) is importable there. On a cluster
    the package and such modules must be installed on every node.

    Args:
        address: ``"local"`` starts a new Ray here, even when ``RAY_ADDRESS``
            names a cluster; ``"auto"`` connects to the Ray running on this
            node; ``"host:port"`` to a cluster's head (with Ray 2.60's token
            authentication, ``RAY_AUTH_MODE=token`` and the cluster's token).
        num_cpus: CPUs a local Ray may use (all when None); ignored otherwise.
        quiet: Keep Ray's info messages and its workers' output out of the
            terminal.

    Returns:
        True if this call started or connected Ray (stop it with
        ``ray.shutdown()``), False if Ray was already initialized.

    Raises:
        ImportError: Without the ``ray`` extra.
        ConnectionError: If no Ray answers at ``address``, saying what to check.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if quiet:
        for name in RAY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": not quiet,
        "logging_level": logging.ERROR if quiet else logging.INFO,
    }
    if address == "local":
        path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
        options["num_cpus"] = num_cpus
        options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
    try:
        if address != "local":
            _check_answers(address)
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ConnectionError(
            f"cannot reach Ray at {address!r} ({error}); on a node of the cluster "
            "pass 'auto', from elsewhere the head's 'host:port' with "
            "RAY_AUTH_MODE=token and the cluster's token (Ray 2.60 token "
            "authentication), and the same package versions on every node"
        ) from error
    return True


@contextmanager
def ray_session(
    address: str = "local", num_cpus: int | None = None, *, quiet: bool = True
) -> Iterator[bool]:
    """:func:`start_ray` for the block, and Ray stopped after it if this started it.

    Yields:
        Whether this call started or connected Ray (False: it was already up,
        and stays up).

    Raises:
        ImportError, ConnectionError: As :func:`start_ray`, before the block.
    """
    started = start_ray(address, num_cpus, quiet=quiet)
    try:
        yield started
    finally:
        if started:
            import_ray().shutdown()


CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a Ray head to accept a connection before giving up."""


def _check_answers(address: str) -> None:
    """Fail at once if no Ray listens at ``address`` ('auto' or 'host:port').

    ``ray.init`` alone retries for many minutes (Ray 2.60 was still retrying
    after 400 s on this project's machine).

    Raises:
        ConnectionError: If 'auto' finds no Ray, or nothing accepts a
            connection at the address within :data:`CONNECT_TIMEOUT`.
    """
    from ray._private.services import canonicalize_bootstrap_address

    resolved = canonicalize_bootstrap_address(address)
    if resolved is None:
        raise ConnectionError("no running Ray found")
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise ConnectionError(f"nothing answers at {resolved}: {error}") from error
