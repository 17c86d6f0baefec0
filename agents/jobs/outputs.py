"""What jobs share around their work: the output folder and the progress bar.

The folder is checked before any work starts; the bar needs the ``progress``
extra and is simply left out without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agents.integrations.optional import available


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


def progress_bar(total: int, description: str, unit: str = "run") -> Any:
    """A tqdm bar, or None without the ``progress`` extra (nothing else changes)."""
    if not available("tqdm"):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit)
