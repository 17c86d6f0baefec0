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


def masked_argmax_rows(
    values: NDArray[np.float64], mask: NDArray[Any]
) -> NDArray[np.int64]:
    """``(...)`` :func:`masked_argmax` of every row of ``values`` ``(..., A)``.

    Lowest index on ties; a row whose ``mask`` allows no action is argmaxed over
    every action, as :func:`masked_argmax` does with an empty mask.
    """
    allowed = np.asarray(mask) != 0
    allowed = np.where(allowed.any(axis=-1, keepdims=True), allowed, True)
    return np.asarray(
        np.argmax(np.where(allowed, values, -np.inf), axis=-1), dtype=np.int64
    )


def epsilon_greedy_rows(
    values: NDArray[np.float64],
    valid: NDArray[np.bool_],
    draws: NDArray[np.float64],
    epsilon: float,
) -> NDArray[np.int64]:
    """``(N,)`` epsilon-greedy actions from one uniform draw per row.

    The distribution is :func:`epsilon_greedy`'s, from one draw instead of two:
    a draw ``u < epsilon`` explores, and ``u / epsilon`` (uniform on [0, 1)
    again) picks one of the row's valid actions; otherwise the greedy valid
    action, lowest index on ties.

    Args:
        values: ``(N, A)`` action values.
        valid: ``(N, A)`` the valid actions (at least one per row).
        draws: ``(N,)`` uniform draws in [0, 1).
        epsilon: Exploration probability in [0, 1].
    """
    greedy = np.argmax(np.where(valid, values, -np.inf), axis=1)
    exploring = draws < epsilon
    if not exploring.any():
        return np.asarray(greedy, dtype=np.int64)
    n_valid = valid.sum(axis=1)
    pick = np.minimum((draws / epsilon * n_valid).astype(np.int64), n_valid - 1)
    explored = np.argmax(valid & (np.cumsum(valid, axis=1) > pick[:, None]), axis=1)
    return np.asarray(np.where(exploring, explored, greedy), dtype=np.int64)


def sample_rows(
    probabilities: NDArray[np.float64], draws: NDArray[np.float64]
) -> NDArray[np.int64]:
    """``(N,)`` :func:`sample_index` of every row of ``probabilities`` ``(N, A)``.

    Should rounding put a scaled draw at the very top of the cumulative sum,
    the row's last action of positive probability is taken.
    """
    cumulative = np.cumsum(probabilities, axis=1)
    threshold = draws * cumulative[:, -1]
    chosen = np.count_nonzero(cumulative <= threshold[:, None], axis=1)
    n_actions = probabilities.shape[1]
    last = n_actions - 1 - np.argmax(probabilities[:, ::-1] > 0, axis=1)
    return np.asarray(np.where(chosen >= n_actions, last, chosen), dtype=np.int64)


def epsilon_greedy_probabilities(
    values: NDArray[np.float64], valid: NDArray[Any], epsilon: float
) -> NDArray[np.float64]:
    """``(..., S, A)`` the action probabilities of epsilon-greedy over ``values``.

    With probability ``epsilon`` a uniformly random valid action, else the
    greedy valid one (lowest index on ties), as :func:`epsilon_greedy` acts.
    Rows of states with no valid action are 0.

    Args:
        values: ``(..., S, A)`` action values.
        valid: ``(S, A)`` (or broadcastable) the valid actions.
        epsilon: Exploration probability in [0, 1].
    """
    valid = np.asarray(valid) != 0
    n_actions = np.shape(values)[-1]
    greedy = np.argmax(np.where(valid, values, -np.inf), axis=-1)
    n_valid = valid.sum(axis=-1, keepdims=True)
    uniform = np.where(valid, epsilon / np.maximum(n_valid, 1), 0.0)
    greedy_mass = (1.0 - epsilon) * (np.arange(n_actions) == greedy[..., None])
    return np.asarray(np.where(n_valid > 0, uniform + greedy_mass, 0.0), dtype=float)


def masked_softmax_rows(
    logits: NDArray[np.float64], valid: NDArray[Any]
) -> NDArray[np.float64]:
    """``(..., A)`` :func:`masked_softmax` of every row, 0 where no action is valid."""
    valid = np.broadcast_to(np.asarray(valid) != 0, np.shape(logits))
    some = valid.any(axis=-1, keepdims=True)
    probabilities = masked_softmax(logits, np.where(some, valid, True))
    return np.asarray(np.where(some, probabilities, 0.0), dtype=np.float64)
