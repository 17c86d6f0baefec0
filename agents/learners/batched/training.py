"""What every batched learner sets up before its loop: checks, state, snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.learners.batched.lockstep import Lockstep
from agents.learners.batched.log import BatchedLog
from agents.learners.batched.vector_envs import (
    check_budgets,
    check_checkpoints,
    check_vector_env,
    single_env_metadata,
)


@dataclass
class Batch:
    """K learners on one vector env: their shared state and checkpoint buffers.

    Attributes:
        lockstep: The per-learner counters, tallies and logs.
        seen: ``(K, S, A)`` the action masks each learner saw per state.
        snapshots: ``(C, K, S, A)`` each learner's table at the checkpoints.
    """

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
    ) -> Batch:
        """Check ``envs`` and the budgets; allocate the learners' state.

        Raises:
            TypeError, ValueError, KeyError: See the trainers.
        """
        n_envs, n_states, n_actions = check_vector_env(envs)
        budgets = check_budgets(n_episodes, n_envs)
        counts = check_checkpoints(checkpoints, budgets)
        shape = (n_envs, n_states, n_actions)
        return cls(
            lockstep=Lockstep.create(budgets, counts, record_curves),
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
            "log": BatchedLog.from_lockstep(self.lockstep, self.snapshots),
            "env_id": env_id,
            "env_kwargs": env_kwargs,
        }
