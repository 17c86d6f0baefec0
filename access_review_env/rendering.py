"""Pictures of the workflow: text (``ansi``, ``human``) or an image (``rgb_array``)."""

from __future__ import annotations

import numpy as np

from access_review_env.table import ACTIONS, STATES

_WORKFLOW = (
    "new_request --request_evidence--> evidence_ready --auto_approve--> closed\n"
    "     |                                  |\n"
    "     +--human_review--> review_queue <--+--approve_rotation--> closed\n"
    "     +--auto_approve (policy violation) --------------------> closed\n"
)


def render_text(
    state: int,
    last_action: int | None,
    last_reward: float | None,
    outcome: str,
    valid_actions: list[int],
) -> str:
    """Return the workflow, the current state and the last transition as text."""
    marked = "  ".join(
        f"[{name}]" if i == state else name for i, name in enumerate(STATES)
    )
    if last_action is None:
        last = "last: (episode start)"
    else:
        last = (
            f"last: {ACTIONS[last_action]} -> {STATES[state]} "
            f"(reward {last_reward:+.1f})"
        )
    choices = ", ".join(ACTIONS[a] for a in valid_actions) or "none (closed)"
    return f"{_WORKFLOW}state: {marked}\n{last}\noutcome: {outcome}\nvalid: {choices}\n"


_BOX, _GAP, _MARGIN = 48, 16, 8
_COLOURS = {
    "idle": (215, 220, 228),
    "current": (66, 133, 244),
    "pending": (66, 133, 244),
    "unsupported_approval": (219, 68, 55),
    "evidence_approval": (15, 157, 88),
    "reviewed_approval": (15, 157, 88),
    "abandoned": (150, 150, 150),
}


def render_rgb(state: int, outcome: str) -> np.ndarray:
    """Return the workflow as an RGB image: one box per state, the current one filled.

    ``closed`` is coloured by the outcome: green for an approval, red for the
    policy violation, grey for an abandoned request.

    Returns:
        ``(64, 4 * 48 + 3 * 16 + 16, 3)`` uint8 array.
    """
    n = len(STATES)
    height = _BOX + 2 * _MARGIN
    width = n * _BOX + (n - 1) * _GAP + 2 * _MARGIN
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    for index in range(n):
        left = _MARGIN + index * (_BOX + _GAP)
        colour = _COLOURS["idle"]
        if index == state:
            colour = (
                _COLOURS[outcome] if index == len(STATES) - 1 else _COLOURS["current"]
            )
        image[_MARGIN : _MARGIN + _BOX, left : left + _BOX] = colour
        if index < n - 1:
            middle = _MARGIN + _BOX // 2
            image[middle - 1 : middle + 1, left + _BOX : left + _BOX + _GAP] = 0
    return image
