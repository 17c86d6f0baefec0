"""Pictures of a task's workflow: text (``ansi``, ``human``) or an image."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from access_review_env.tasks import TaskTable


def render_text(
    table: TaskTable,
    state: int,
    last_action: int | None,
    last_reward: float | None,
    outcome: str,
    valid_actions: list[int],
) -> str:
    """Return the workflow, the current state and the last transition as text."""
    names = table.state_names
    marked = "  ".join(
        f"[{name}]" if i == state else name for i, name in enumerate(names)
    )
    if last_action is None:
        last = "last: (episode start)"
    else:
        last = (
            f"last: {table.action_names[last_action]} -> {names[state]} "
            f"(reward {last_reward:+.1f})"
        )
    choices = ", ".join(table.action_names[a] for a in valid_actions) or "none (closed)"
    return (
        f"{table.diagram}state: {marked}\n{last}\n"
        f"outcome: {outcome}\nvalid: {choices}\n"
    )


_BOX, _GAP, _MARGIN = 48, 16, 8
_IDLE = (215, 220, 228)
_CURRENT = (66, 133, 244)
_NEUTRAL = (150, 150, 150)
_COLOURS = {
    "pending": _CURRENT,
    "unsupported_approval": (219, 68, 55),
    "unfair_denial": (219, 68, 55),
    "evidence_approval": (15, 157, 88),
    "reviewed_approval": (15, 157, 88),
    "clear_approval": (15, 157, 88),
    "justified_denial": (15, 157, 88),
}
"""Colours of a closed request by outcome: green when resolved well, red for
harm (a policy violation or an unfair denial), grey otherwise (abandoned)."""


def render_rgb(
    n_states: int, terminal_states: tuple[int, ...], state: int, outcome: str
) -> NDArray[np.uint8]:
    """Return the workflow as an RGB image: one box per state, the current one filled.

    A terminal state is coloured by the outcome: green for a good resolution,
    red for harm, grey for anything else.

    Returns:
        ``(64, n_states * 48 + (n_states - 1) * 16 + 16, 3)`` uint8 array.
    """
    height = _BOX + 2 * _MARGIN
    width = n_states * _BOX + (n_states - 1) * _GAP + 2 * _MARGIN
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    for index in range(n_states):
        left = _MARGIN + index * (_BOX + _GAP)
        colour = _IDLE
        if index == state:
            colour = (
                _COLOURS.get(outcome, _NEUTRAL)
                if index in terminal_states
                else _CURRENT
            )
        image[_MARGIN : _MARGIN + _BOX, left : left + _BOX] = colour
        if index < n_states - 1:
            middle = _MARGIN + _BOX // 2
            image[middle - 1 : middle + 1, left + _BOX : left + _BOX + _GAP] = 0
    return image
