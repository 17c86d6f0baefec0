"""Plain-text picture of the workflow, for the ``ansi`` and ``human`` render modes."""

from __future__ import annotations

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
