"""What a batched run returns: K tables, per-seed logs, and any seed as an agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.learners.batched.log import BatchedLog
from agents.policies.selection import masked_argmax_rows


@dataclass(frozen=True, kw_only=True)
class BatchedResult:
    """The part every batched learner's result shares.

    Attributes:
        valid_seen: ``(K, S, A)`` the action masks each learner saw per state.
        seeds: ``(K,)`` uint64 each learner's seed: learner ``k``'s results
            depend on ``seeds[k]`` alone (see
            :mod:`~agents.learners.batched.streams`).
        log: Per-seed records (see :class:`BatchedLog`).
        env_id: The registered id of the env, if any.
        env_kwargs: The single env's make-kwargs (``make_vec``'s own removed).
        backend: ``"fused"``, ``"numba"`` or ``"numpy"``: which kernel ran
            (see :mod:`~agents.learners.batched.backend`).
        n_steps: Batched ``envs.step`` calls made.
    """

    valid_seen: NDArray[np.bool_]
    seeds: NDArray[np.uint64]
    log: BatchedLog
    env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    backend: str = "numpy"
    n_steps: int = 0

    @property
    def tables(self) -> NDArray[np.float64]:
        """``(K, S, A)`` the learned preferences (Q values or logits)."""
        raise NotImplementedError

    @property
    def n_seeds(self) -> int:
        """Number of learners ``K``."""
        return int(self.valid_seen.shape[0])

    @property
    def greedy_policies(self) -> NDArray[np.int64]:
        """``(K, S)`` each seed's greedy action per state, as its agent's ``predict``.

        Among the valid actions seen in a state (all actions where none was
        seen), lowest index on ties.
        """
        return masked_argmax_rows(self.tables, self.valid_seen)

    def seed_fields(self, k: int) -> dict[str, Any]:
        """What seed ``k``'s agent takes from the batch, copied.

        The masks it saw, its log (full curves when they were recorded, else
        empty) and the env's id and kwargs.

        Raises:
            IndexError: If ``k`` is not in ``[0, K)``.
        """
        k = self.check_seed_index(k)
        return {
            "valid_seen": self.valid_seen[k].copy(),
            "log": self.log.episode_log(k),
            "env_id": self.env_id,
            "env_kwargs": dict(self.env_kwargs),
        }

    def check_seed_index(self, k: int) -> int:
        """Return ``k`` if it indexes one of the K learners.

        Raises:
            IndexError: Otherwise, naming the allowed range.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise IndexError(
                f"seed index must be an integer in [0, {self.n_seeds}), got {k!r}"
            )
        if not 0 <= k < self.n_seeds:
            raise IndexError(f"seed index {k} is out of range [0, {self.n_seeds})")
        return int(k)
