"""What every batched learner sets up before its loop: checks, state, snapshots.

Everything is checked before anything is allocated: the vector env, the seeds,
the budgets and checkpoints, and the memory the learners' state will take
(refused with the estimate and the limit when it does not fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.common.memory import check_memory
from agents.learners.batched.lockstep import N_COUNTERS, N_TALLIES, Lockstep
from agents.learners.batched.log import BatchedLog
from agents.learners.batched.streams import learner_keys, learner_seeds
from agents.learners.batched.vector_envs import (
    check_budgets,
    check_checkpoints,
    check_vector_env,
    single_env_metadata,
)


def state_bytes(
    shape: tuple[int, int, int],
    n_checkpoints: int,
    curve_width: int,
    table_bytes: int,
) -> int:
    """Bytes of K learners' state, checkpoint snapshots and curves.

    Args:
        shape: ``(K, S, A)``.
        n_checkpoints: ``C``, the checkpoints recorded.
        curve_width: Episodes per learner whose returns are kept (0 without
            full curves).
        table_bytes: Bytes per ``(k, s, a)`` entry of the learner's own tables
            (16 for Q values and visit counts).
    """
    n_envs, n_states, n_actions = shape
    per_entry = table_bytes + 1 + 8 * n_checkpoints  # tables, seen mask, snapshots
    per_learner = 8 * (N_COUNTERS + N_TALLIES + 3 * n_checkpoints + 3 * curve_width)
    return n_envs * (n_states * n_actions * per_entry + per_learner)


@dataclass
class Batch:
    """K learners on one vector env: their shared state and checkpoint buffers.

    Attributes:
        seeds: ``(K,)`` uint64 the learners' seeds (see :mod:`.streams`).
        lockstep: The per-learner counters, tallies and logs.
        seen: ``(K, S, A)`` the action masks each learner saw per state.
        snapshots: ``(C, K, S, A)`` each learner's table at the checkpoints.
    """

    seeds: NDArray[np.uint64]
    lockstep: Lockstep
    seen: NDArray[np.bool_]
    snapshots: NDArray[np.float64]

    @classmethod
    def create(
        cls,
        envs: Any,
        n_episodes: int | Sequence[int] | NDArray[Any],
        checkpoints: Sequence[int] | NDArray[Any] | None,
        record_curves: bool,
        table_bytes: int,
        seeds: Any = None,
        rng: np.random.Generator | None = None,
    ) -> Batch:
        """Check ``envs``, the seeds, the budgets and the memory; allocate the state.

        Args:
            envs: The vector env.
            n_episodes: The budgets.
            checkpoints: The checkpoints.
            record_curves: Keep every episode's return and length.
            table_bytes: Bytes per table entry of the learner (see
                :func:`state_bytes`).
            seeds: The learners' seeds, or None to draw them from ``rng``
                (see :func:`~agents.learners.batched.streams.learner_seeds`).
            rng: Draws the seeds when ``seeds`` is None.

        Raises:
            TypeError, ValueError, KeyError: See the trainers.
            MemoryLimitError: If the state would not fit in the available
                memory (a ``MemoryError`` and a ``ValueError``).
        """
        n_envs, n_states, n_actions = check_vector_env(envs)
        resolved = learner_seeds(seeds, rng, n_envs)
        budgets = check_budgets(n_episodes, n_envs)
        counts = check_checkpoints(checkpoints, budgets)
        shape = (n_envs, n_states, n_actions)
        curve_width = int(budgets.max()) if record_curves else 0
        check_memory(
            f"{n_envs:,} learners of {n_states} states x {n_actions} actions with "
            f"{counts.size} checkpoints"
            + (f" and curves of {curve_width:,} episodes" if curve_width else ""),
            state_bytes(shape, counts.size, curve_width, table_bytes),
        )
        return cls(
            seeds=resolved,
            lockstep=Lockstep.create(
                budgets, counts, record_curves, learner_keys(resolved)
            ),
            seen=np.zeros(shape, dtype=bool),
            snapshots=np.full((counts.size, *shape), np.nan),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(K, S, A)``: the shape of every per-learner table."""
        n_envs, n_states, n_actions = self.seen.shape
        return n_envs, n_states, n_actions

    @property
    def action_slots(self) -> tuple[int, ...]:
        """``A`` zeros: numba compiles this tuple's length as a constant.

        The kernels read the action count from it, so their loops over actions
        unroll.
        """
        return (0,) * self.shape[2]

    def flat(self, table: NDArray[Any]) -> NDArray[Any]:
        """``table`` ``(..., K, S, A)`` as the kernels take it: ``(..., K, S * A)``."""
        n_envs, n_states, n_actions = self.shape
        return table.reshape(*table.shape[:-3], n_envs, n_states * n_actions)

    def record_initial_checkpoint(self, table: NDArray[np.float64]) -> None:
        """Snapshot the initial ``table`` for a checkpoint at 0 episodes, if any."""
        self.lockstep.record_initial_checkpoint(table, self.snapshots)

    def result_fields(self, envs: Any) -> dict[str, Any]:
        """What a finished batch gives a result (see ``BatchedResult``)."""
        env_id, env_kwargs = single_env_metadata(envs)
        return {
            "valid_seen": self.seen,
            "seeds": self.seeds,
            "log": BatchedLog.from_lockstep(self.lockstep, self.snapshots),
            "env_id": env_id,
            "env_kwargs": env_kwargs,
        }
