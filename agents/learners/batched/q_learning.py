"""Batched tabular Q-learning: K independent learners on a Gymnasium vector env.

Learner ``k`` owns sub-env ``k`` and its own Q table, visit counts and episode
budget; all of them step in lockstep through ``reset`` / ``step`` and
``info["action_mask"]``, under ``NEXT_STEP`` autoreset. The algorithm and the
defaults are the scalar learner's (:func:`agents.learners.train_q_learning`):
epsilon-greedy among the valid actions (ties to the lowest index), step size
``visits ** -0.6`` (or a constant ``alpha``), and the update of Sutton & Barto,
equation 6.8, whose bootstrap a *terminated* step cuts and a *truncated* one
keeps. A ``NEXT_STEP`` reset step is never learned from, and a learner whose
budget is spent stops learning while its sub-env keeps stepping.

On the native vector env with numba installed, the fused backend
(:mod:`~agents.learners.batched.fused`) runs the same steps with the env's
step compiled into the learner's loop, with the same results. Random numbers
are described in :mod:`~agents.learners.batched.streams`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from agents.learners.batched.backend import (
    Backend,
    check_threads,
    kernels,
    numba_threads,
    resolve_backend,
)
from agents.learners.batched.fused import FusedEnv, run_fused
from agents.learners.batched.lockstep import EpisodeObserver, run_lockstep
from agents.learners.batched.results import BatchedResult
from agents.learners.batched.training import Batch
from agents.learners.q_learning import QLearningAgent, QLearningConfig

_INITIAL_STEP_SIZES = 1024


@dataclass(frozen=True, kw_only=True)
class BatchedQLearning(BatchedResult):
    """K Q tables learned together by :func:`train_q_learning_batched`.

    Attributes:
        q_tables: ``(K, S, A)`` learned action values, one table per seed.
        visits: ``(K, S, A)`` updates applied to each entry.
        config: The hyperparameters (shared by all learners).
    """

    q_tables: NDArray[np.float64]
    visits: NDArray[np.int64]
    config: QLearningConfig

    @property
    def tables(self) -> NDArray[np.float64]:
        """``(K, S, A)`` the Q tables."""
        return self.q_tables

    def agent(self, k: int) -> QLearningAgent:
        """Seed ``k`` as an ordinary :class:`~agents.QLearningAgent` (copies).

        Its ``log`` holds the seed's full curves when they were recorded, and
        is empty otherwise.

        Raises:
            IndexError: If ``k`` is not in ``[0, K)``.
        """
        fields = self.seed_fields(k)
        return QLearningAgent(
            q_table=self.q_tables[k].copy(),
            visits=self.visits[k].copy(),
            config=self.config,
            **fields,
        )


class _StepSizes:
    """``table[n]`` = step size of an entry's n-th update, grown on demand.

    Computed with Python's ``**`` (as the scalar learner computes
    ``count ** -alpha_decay``), so both kernels, and the scalar learner, use
    bit-identical step sizes; a lookup is also much cheaper than ``pow``.
    """

    def __init__(self, config: QLearningConfig) -> None:
        self.config = config
        self.table = self._build(_INITIAL_STEP_SIZES)

    def _build(self, size: int) -> NDArray[np.float64]:
        alpha, decay = self.config.alpha, self.config.alpha_decay
        values = [0.0] + [
            alpha if alpha is not None else n**-decay for n in range(1, size)
        ]
        return np.array(values, dtype=np.float64)

    def ensure(self, steps: int) -> None:
        """Make room for counts up to ``steps + 1`` (one update per step at most)."""
        if steps + 2 > self.table.size:
            self.table = self._build(2 * (steps + 2))


def train_q_learning_batched(
    envs: Any,
    n_episodes: int | Sequence[int] | NDArray[Any],
    config: QLearningConfig | None = None,
    *,
    seeds: int | Sequence[int] | NDArray[Any] | None = None,
    rng: np.random.Generator | None = None,
    checkpoints: Sequence[int] | NDArray[Any] | None = None,
    record_curves: bool = False,
    backend: Backend = "auto",
    threads: int = 1,
    observer: EpisodeObserver | None = None,
) -> BatchedQLearning:
    """Train K independent Q-learners, one per sub-env of ``envs``, in lockstep.

    Args:
        envs: A Gymnasium vector env with Discrete spaces, ``info["action_mask"]``
            and ``NEXT_STEP`` autoreset, e.g. ``gym.make_vec("AccessReview-v0",
            num_envs=K, vectorization_mode="vector_entry_point", copy=False)``.
            It is reset once, sub-env ``k`` with learner ``k``'s seed.
        n_episodes: Episodes per learner: one int, or ``(K,)`` budgets.
        config: Hyperparameters shared by all learners; the scalar learner's
            defaults when None.
        seeds: Learner ``k``'s seed (one integer in ``[0, 2**64)`` per
            learner, or an int ``s`` for ``s, s + 1, ...``): it seeds sub-env
            ``k`` and keys the learner's own stream, so that on the native
            vector env learner ``k``'s results depend on its seed alone (see
            :mod:`~agents.learners.batched.streams`).
        rng: Instead of ``seeds``: a generator that draws them.
        checkpoints: Episode counts (strictly increasing, within every budget)
            after which each learner's Q table, seen actions, step count and
            return sums are recorded in ``log``; 0 records the initial table.
        record_curves: Keep every episode's return and length (memory ``K x
            n_episodes``); otherwise only per-seed sums and checkpoints.
        backend: ``"auto"`` (the fused loop where it applies, else the
            numba kernel if numba is installed, else NumPy), ``"fused"``,
            ``"numba"`` or ``"numpy"`` (see
            :mod:`~agents.learners.batched.backend`); all give the same
            results for the same seeds.
        threads: Threads of the numba kernel or the fused loop (the learners
            are split between them; results do not depend on it). More than 1
            helps large K only on otherwise idle cores: a thread that waits
            for a busy core stalls every step.
        observer: Shown the Q tables whenever episodes end (see
            :class:`~agents.learners.batched.lockstep.EpisodeObserver`).

    Returns:
        A :class:`BatchedQLearning`; ``result.agent(k)`` is seed ``k`` as an
        ordinary :class:`~agents.QLearningAgent`.

    Raises:
        TypeError: For both or neither of ``seeds`` and ``rng``, an ``rng``
            that is not a ``numpy.random.Generator``, seeds that are not
            integers, a non-vector env, non-Discrete spaces or bad budgets.
        ValueError: For a wrong autoreset mode, budget, checkpoint, backend
            (``"fused"`` on an env it cannot step) or thread count.
        KeyError: If the env reports no ``info["action_mask"]``.
        ImportError: If ``backend="numba"`` or ``"fused"`` and numba is not
            installed.
        MemoryLimitError: If the learners' state would not fit in the
            available memory (before anything is allocated; names both).
    """
    config = config or QLearningConfig()
    chosen = resolve_backend(backend, envs)
    threads = check_threads(threads, chosen)
    module = kernels(chosen)
    batch = Batch.create(
        envs, n_episodes, checkpoints, record_curves, 16, seeds=seeds, rng=rng
    )
    q = np.full(batch.shape, float(config.initial_q))
    visits = np.zeros(batch.shape, dtype=np.int64)
    batch.record_initial_checkpoint(q)
    tables = (batch.flat(q), batch.flat(visits), batch.flat(batch.seen))
    snapshots = batch.flat(batch.snapshots)
    shared = batch.lockstep.arrays()
    step_sizes = _StepSizes(config)
    parameters = (float(config.gamma), float(config.epsilon))
    slots = batch.action_slots

    if chosen == "fused":
        fused = FusedEnv.of(envs, batch.seeds)
        loop = (
            partial(module.q_learning_fused_range, 0, batch.shape[0])
            if threads == 1
            else partial(module.q_learning_fused_threads, threads)
        )

        def advance_fused(episode_limit: int) -> int:
            return int(
                loop(
                    fused.model,
                    fused.valid,
                    fused.settings,
                    tables,
                    step_sizes.table,
                    snapshots,
                    fused.memory,
                    fused.keys,
                    shared,
                    parameters,
                    slots,
                    episode_limit,
                )
            )

        with numba_threads(threads):
            n_steps = run_fused(
                batch.lockstep, advance_fused, step_sizes.ensure, observer, q
            )
    else:
        step = (
            module.q_learning_step
            if threads == 1
            else partial(module.q_learning_step_threads, threads)
        )

        def advance(
            observations: NDArray[Any],
            rewards: NDArray[Any],
            terminated: NDArray[Any],
            truncated: NDArray[Any],
            masks: NDArray[Any],
        ) -> int:
            env = (observations, rewards, terminated, truncated, masks)
            return int(
                step(
                    tables, step_sizes.table, snapshots, env, shared, parameters, slots
                )
            )

        with numba_threads(threads):
            n_steps = run_lockstep(
                envs,
                batch.seeds,
                batch.lockstep,
                advance,
                step_sizes.ensure,
                observer,
                q,
            )
    return BatchedQLearning(
        q_tables=q,
        visits=visits,
        config=config,
        n_steps=n_steps,
        backend=chosen,
        **batch.result_fields(envs),
    )
