"""The options ``reset`` takes, checked the same way by the single and vector envs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from access_review_env.model.sparse import SparseMDP

RESET_OPTIONS = ("start_state",)


def parse_start_state(model: SparseMDP, value: object) -> int:
    """Return the index of a non-terminal state of ``model`` given by name or index.

    Raises:
        ValueError: If ``value`` names no non-terminal state, quoting the value
            as given and listing the allowed states (or their range).
    """
    names = model.state_names
    live = ~model.terminal
    if names:
        allowed = ", ".join(f"{i} ({names[i]})" for i in np.flatnonzero(live))
    else:
        allowed = f"indices in [0, {model.n_states - 1}] of non-terminal states"
    index: object = value
    if isinstance(value, str) and value in names:
        index = names.index(value)
    if (
        isinstance(index, int | np.integer)
        and not isinstance(index, bool)
        and 0 <= index < model.n_states
        and live[index]
    ):
        return int(index)
    raise ValueError(
        f"start_state {value!r} is not a non-terminal state; allowed: {allowed}"
    )


def check_reset_options(model: SparseMDP, options: object) -> int | None:
    """Return the start state that ``reset(options=...)`` asks for, if any.

    Called before ``reset`` changes anything, so a rejected call leaves the env
    (and its generator) as it was.

    Raises:
        TypeError: If ``options`` is neither None nor a mapping.
        ValueError: For an unknown option or start state.
    """
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise TypeError(
            f"options must be a dict (allowed keys: {', '.join(RESET_OPTIONS)}) "
            f"or None, got {options!r}"
        )
    opts: Mapping[Any, Any] = options
    unknown = sorted(repr(key) for key in opts if key not in RESET_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(map(repr, RESET_OPTIONS))}"
        )
    if "start_state" not in opts:
        return None
    return parse_start_state(model, opts["start_state"])
