"""Progress bars (the ``progress`` extra): one place that knows tqdm."""

from __future__ import annotations

from typing import Any

from agents.common.optional import available, install_hint


def progress_bar(
    total: int, description: str, unit: str = "run", *, required: bool = False
) -> Any:
    """A tqdm bar of ``total`` units, or None without tqdm.

    Args:
        total: Units of work.
        description: The bar's label.
        unit: What a unit is called.
        required: Raise instead of returning None when tqdm is missing (for
            callers that asked for a bar explicitly).

    Raises:
        ImportError: If ``required`` and tqdm is not installed, naming the extra.
    """
    if not available("tqdm"):
        if required:
            raise ImportError(f"a progress bar needs tqdm: {install_hint('tqdm')}")
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit=unit)
