"""Command-line argument types shared by the jobs: each names what is allowed."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.common.memory import MemoryLimitError, check_memory


def integer_at_least(low: int) -> Callable[[str], int]:
    """An argparse type for integers >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer (allowed: integers >= {low})"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(
                f"{text!r} is too small (allowed: integers >= {low})"
            )
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive_int = integer_at_least(1)
"""An integer >= 1."""

seed = integer_at_least(0)
"""A seed: an integer >= 0, as NumPy's generators take."""


def probability(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number (allowed: numbers in [0, 1])"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside [0, 1] (allowed: numbers in [0, 1])"
        )
    return value


COMMAND: ContextVar[str | None] = ContextVar("COMMAND", default=None)
"""The console command running the job (``access-review lesson``), set by
:mod:`agents.cli` so that usage lines name it; None for ``scripts/``."""


def ray_address(text: str) -> str:
    """A Ray address: ``local``, ``auto``, or a cluster head's ``host:port``."""
    allowed = "allowed: 'local', 'auto' or a cluster head's 'host:port'"
    if text in ("local", "auto"):
        return text
    host, colon, port = text.rpartition(":")
    if not (colon and host.strip() and port.isdigit() and 0 < int(port) < 65_536):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Ray address ({allowed})")
    return text


ray_address.__name__ = "Ray address"


def output_folder(text: str) -> Path:
    """A folder to write into; an empty string is refused, not read as ``.``."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} names no folder (an empty path would write into the "
            "current folder); give a folder, or '.' for the current one"
        )
    return Path(text)


output_folder.__name__ = "folder"


def seconds_or_none(text: str) -> float | None:
    """A positive, finite number of seconds, or ``none`` for no limit."""
    if text.strip().lower() == "none":
        return None
    allowed = "allowed: a number of seconds > 0, or none"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number ({allowed})"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range ({allowed})")
    return value


seconds_or_none.__name__ = "seconds"


def refuse_if_too_large(
    parser: argparse.ArgumentParser, what: str, n_bytes: float
) -> None:
    """A usage error, before any work, if ``what`` cannot fit in memory.

    Args:
        parser: The job's parser (its ``error`` exits with status 2).
        what: The options that ask for it, as the message should name them.
        n_bytes: The estimate.
    """
    try:
        check_memory(what, n_bytes)
    except MemoryLimitError as error:
        parser.error(str(error))


class _HelpFormatter(
    argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter
):
    """Defaults shown, and the epilog's lines kept as written.

    An option without a value by default (None, or False for a flag) shows no
    default: its help says what leaving it out does.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def job_parser(doc: str | None, epilog: str | None = None) -> argparse.ArgumentParser:
    """A job's parser: its docstring's first line as description, defaults shown.

    Args:
        doc: The job's docstring.
        epilog: Text after the options (e.g. the exit statuses), line breaks
            kept.
    """
    return argparse.ArgumentParser(
        prog=COMMAND.get(),
        description=(doc or "").split("\n")[0],
        epilog=epilog,
        formatter_class=_HelpFormatter,
    )


def json_object(option: str, text: str) -> dict[str, Any]:
    """Parse ``text``, given to ``option``, as a JSON object.

    Raises:
        ValueError: Naming the option, for text that is not a JSON object.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{option} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object, got {text}")
    return value


def env_kwargs(option: str, kwargs: Mapping[str, Any], env_id: str) -> dict[str, Any]:
    """``gym.make`` kwargs given to ``option``, checked by making the env once.

    Raises:
        ValueError: With the env's own message, for kwargs it refuses.
    """
    try:
        gym.make(env_id, **kwargs).close()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{option}: {error}") from None
    return dict(kwargs)
