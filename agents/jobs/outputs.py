"""Where and how jobs write: the output folder checked first, the outputs last.

Every job ends the same way (:func:`write_outputs`): its JSON record written
atomically, then its figures if matplotlib is installed, else one line naming
the extra that brings them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents.common.optional import available, install_hint
from agents.persistence import write_json

PLOTS_SKIPPED = (
    "matplotlib is not installed: the plots were skipped "
    f"({install_hint('matplotlib')})"
)
"""The one line a job prints instead of drawing its figures."""


def prepare_output(output: Path) -> None:
    """Create the output folder, or refuse at once if it cannot hold results.

    Called before any training, so a typo in ``--output`` costs nothing.

    Raises:
        ValueError: If a file is in the way or the folder is not writable.
    """
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output} is a file; give a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"{output} cannot hold results: {error}") from None


def write_outputs(
    path: Path,
    record: Any,
    plots: Callable[[], Sequence[Path]] | None = None,
) -> list[Path]:
    """Write ``record`` as strict JSON to ``path`` atomically, then the figures.

    Args:
        path: The JSON file.
        record: Anything :func:`agents.common.json_values.to_jsonable` reads.
        plots: Draws and writes the job's figures, returning their paths;
            called only when matplotlib is installed (without it,
            :data:`PLOTS_SKIPPED` is printed instead). None for a job without
            figures.

    Returns:
        The JSON file's path, then each figure's.
    """
    written = [write_json(path, record)]
    if plots is not None:
        if available("matplotlib"):
            written.extend(plots())
        else:
            print(PLOTS_SKIPPED)
    return written
