"""Per-seed records of a batched run: sums, and checkpoints or curves on request."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agents.learners.batched.lockstep import (
    DISCOUNTED_SUM,
    EPISODES,
    LENGTH_SUM,
    RETURN_SUM,
    Lockstep,
)
from agents.learners.episodes import EpisodeLog


@dataclass(frozen=True)
class BatchedLog:
    """What K learners did, seed by seed.

    Memory is ``O(K)`` by default; ``O(C K S A)`` with ``C`` checkpoints (the
    table snapshots dominate); ``O(K n)`` only when full curves were asked for
    (24 bytes per seed and episode).

    Attributes:
        episodes: ``(K,)`` episodes each learner completed (its budget).
        return_sum: ``(K,)`` sum of its undiscounted episode returns.
        discounted_return_sum: ``(K,)`` sum of its discounted episode returns.
        length_sum: ``(K,)`` its steps over all episodes (reset steps excluded).
        checkpoints: ``(C,)`` the episode counts at which statistics were kept.
        checkpoint_return_sum: ``(C, K)`` ``return_sum`` over the first
            ``checkpoints[j]`` episodes.
        checkpoint_discounted_return_sum: ``(C, K)`` the same, discounted.
        checkpoint_length_sum: ``(C, K)`` ``length_sum`` over those episodes:
            the env steps each learner had taken by then.
        snapshots: ``(C, K, S, A)`` each learner's table (Q values or logits)
            after ``checkpoints[j]`` episodes: the table its next episode
            starts from.
        returns: ``(K, n)`` every episode's undiscounted return, or None when
            full curves were not asked for (NaN past a learner's budget).
        discounted_returns: ``(K, n)`` every episode's discounted return, or None.
        lengths: ``(K, n)`` every episode's length, or None.
    """

    episodes: NDArray[np.int64]
    return_sum: NDArray[np.float64]
    discounted_return_sum: NDArray[np.float64]
    length_sum: NDArray[np.int64]
    checkpoints: NDArray[np.int64]
    checkpoint_return_sum: NDArray[np.float64]
    checkpoint_discounted_return_sum: NDArray[np.float64]
    checkpoint_length_sum: NDArray[np.int64]
    snapshots: NDArray[np.float64]
    returns: NDArray[np.float64] | None = None
    discounted_returns: NDArray[np.float64] | None = None
    lengths: NDArray[np.int64] | None = None

    @classmethod
    def from_lockstep(
        cls, lockstep: Lockstep, snapshots: NDArray[np.float64]
    ) -> BatchedLog:
        """The records a finished :class:`Lockstep` holds.

        Args:
            lockstep: The learners' state after training.
            snapshots: ``(C, K, S, A)`` the tables recorded at the checkpoints.
        """
        curves = lockstep.curve_returns.shape[1] > 0
        return cls(
            episodes=lockstep.counters[:, EPISODES].copy(),
            return_sum=lockstep.tallies[:, RETURN_SUM].copy(),
            discounted_return_sum=lockstep.tallies[:, DISCOUNTED_SUM].copy(),
            length_sum=lockstep.counters[:, LENGTH_SUM].copy(),
            checkpoints=lockstep.checkpoints[:-1].copy(),
            checkpoint_return_sum=lockstep.checkpoint_return_sum,
            checkpoint_discounted_return_sum=lockstep.checkpoint_discounted_sum,
            checkpoint_length_sum=lockstep.checkpoint_length_sum,
            snapshots=snapshots,
            returns=lockstep.curve_returns if curves else None,
            discounted_returns=lockstep.curve_discounted if curves else None,
            lengths=lockstep.curve_lengths if curves else None,
        )

    @property
    def n_seeds(self) -> int:
        """Number of learners ``K``."""
        return int(self.episodes.shape[0])

    def mean_return(self) -> NDArray[np.float64]:
        """``(K,)`` each learner's mean undiscounted return over all its episodes."""
        return np.asarray(self.return_sum / self.episodes, dtype=np.float64)

    def checkpoint_mean_returns(self, discounted: bool = False) -> NDArray[np.float64]:
        """``(C - 1, K)`` mean return of the episodes between consecutive checkpoints.

        Row ``j`` averages episodes ``checkpoints[j] + 1 .. checkpoints[j + 1]``
        (1-based): a learning curve at checkpoint resolution, in ``O(C K)``
        memory.

        Raises:
            ValueError: With fewer than two checkpoints.
        """
        if self.checkpoints.size < 2:
            raise ValueError(
                "a binned learning curve needs at least two checkpoints, got "
                f"{self.checkpoints.tolist()}"
            )
        sums = (
            self.checkpoint_discounted_return_sum
            if discounted
            else self.checkpoint_return_sum
        )
        widths = np.diff(self.checkpoints).astype(float)
        return np.asarray(np.diff(sums, axis=0) / widths[:, None], dtype=np.float64)

    def episode_log(self, k: int) -> EpisodeLog:
        """Learner ``k``'s episodes as an agent's log (empty without full curves)."""
        returns, discounted, lengths = (
            self.returns,
            self.discounted_returns,
            self.lengths,
        )
        if returns is None or discounted is None or lengths is None:
            return EpisodeLog()
        done = int(self.episodes[k])
        return EpisodeLog(
            returns[k, :done].tolist(),
            discounted[k, :done].tolist(),
            lengths[k, :done].tolist(),
        )
