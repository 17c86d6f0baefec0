"""Choosing actions among the valid ones: epsilon-greedy, masked softmax and argmax.

Small helpers the learners, the bandit and the policies share. Draws come
through :class:`UniformStream`, because a scalar ``Generator.random()`` costs
more than a whole tabular update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

_UNIFORM_BLOCK = 1024


class UniformStream:
    """Uniform draws in [0, 1) from a generator, fetched in blocks.

    A scalar ``Generator.random()`` costs more than a whole tabular update, so
    learners draw through this. The sequence is a deterministic function of the
    generator's state.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        """Draw from ``rng``."""
        self._rng = rng
        self._block: list[float] = []

    def __call__(self) -> float:
        """Return the next uniform draw."""
        if not self._block:
            self._block = self._rng.random(_UNIFORM_BLOCK).tolist()
        return self._block.pop()


_VALID_ACTIONS_CACHE: dict[bytes, tuple[int, ...]] = {}


def valid_actions(mask: NDArray[np.int8]) -> tuple[int, ...]:
    """Indices of the 1s of an ``info["action_mask"]``, cached by the mask's bytes."""
    key = mask.tobytes()
    found = _VALID_ACTIONS_CACHE.get(key)
    if found is None:
        found = tuple(int(a) for a in np.flatnonzero(mask))
        _VALID_ACTIONS_CACHE[key] = found
    return found


def epsilon_greedy(
    q_row: Sequence[float],
    valid: Sequence[int],
    epsilon: float,
    uniform: Callable[[], float],
) -> int:
    """Return a random valid action with probability ``epsilon``, else the best one.

    Args:
        q_row: Action values of the current state.
        valid: The valid actions (non-empty); no other action is ever returned.
        epsilon: Exploration probability in [0, 1].
        uniform: A source of uniform draws in [0, 1).

    Returns:
        The chosen action; ties between greedy actions go to the lowest index.
    """
    if uniform() < epsilon:
        return valid[int(uniform() * len(valid))]
    return max(valid, key=q_row.__getitem__)


def masked_softmax(
    logits: NDArray[np.float64], mask: NDArray[Any]
) -> NDArray[np.float64]:
    """Softmax over the actions where ``mask`` is nonzero; 0 elsewhere.

    Args:
        logits: ``(A,)`` or ``(N, A)`` preferences.
        mask: Same shape; at least one nonzero entry per row.
    """
    allowed = np.asarray(mask) != 0
    shifted = np.where(allowed, logits, -np.inf)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return np.asarray(weights / weights.sum(axis=-1, keepdims=True), dtype=np.float64)


def masked_argmax(values: NDArray[np.float64], mask: NDArray[Any] | None) -> int:
    """Lowest-index argmax of ``values`` ``(A,)`` among the actions ``mask`` allows."""
    if mask is None or not np.any(mask):
        return int(np.argmax(values))
    return int(np.argmax(np.where(np.asarray(mask) != 0, values, -np.inf)))


def sample_index(probabilities: NDArray[np.float64], draw: float) -> int:
    """The index a uniform ``draw`` in [0, 1) selects from ``probabilities``.

    The draw is scaled by the total, so rounding in the cumulative sum can never
    select a trailing zero-probability (masked) entry.
    """
    cumulative = np.cumsum(probabilities)
    return int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
