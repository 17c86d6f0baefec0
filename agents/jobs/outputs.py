"""Where jobs write: an output folder checked before any work starts."""

from __future__ import annotations

import os
from pathlib import Path


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
