"""A progress bar over training episodes, or nothing when it is not wanted."""

from __future__ import annotations

from typing import Any

from agents.common.progress import progress_bar


class Progress:
    """A tqdm progress bar over episodes, or nothing; updated in 1 % steps."""

    def __init__(self, total: int, enabled: bool, description: str) -> None:
        """Show a bar of ``total`` episodes when ``enabled``.

        Raises:
            ImportError: If ``enabled`` and tqdm is not installed, naming the extra.
        """
        self._bar: Any = None
        self._every = max(1, total // 100)
        if enabled:
            self._bar = progress_bar(total, description, "episode", required=True)

    def update(self, episode: int) -> None:
        """Advance the bar once ``episode`` (0-based) ends a 1 % step."""
        if self._bar is not None and (episode + 1) % self._every == 0:
            self._bar.update(self._every)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.update(self._bar.total - self._bar.n)
            self._bar.close()
